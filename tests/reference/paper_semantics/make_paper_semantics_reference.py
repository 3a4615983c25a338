#!/usr/bin/python3
"""Independent reference values for the paper-exact semantics (analysis/paper_semantics.h).

Each rule below is re-implemented in numpy from the official code of the paper, never from LayerScope code.
Run from anywhere:  /usr/bin/python3 tests/reference/paper_semantics/make_paper_semantics_reference.py
It rewrites paper_semantics_reference.json next to this file; commit both. The JSON records versions and date.

Provenance (repositories read at these commits):
- LLM-Drop   https://github.com/CASE-Lab-UMD/LLM-Drop  28b5dd14c2474c7110b2b42f5862a6dbdbe71a2d
    src/llmtuner/compression/prune/layer_drop.py:23-141  get_layer_similarities (skipped layers: 50-60;
        layer_drop_norm True/False: 75-79, 107-112; mean over all calibration tokens: 115-116)
    src/llmtuner/compression/prune/layer_drop.py:144-162 discrete_layer_dropping (torch.cat(attn, mlp), sort)
    src/llmtuner/compression/prune/block_drop.py:92-181  get_block_similarities_consecutive (sim[i, gap-1])
    src/llmtuner/compression/prune/block_drop.py:202-219 consecutive_block_dropping (column drop_n)
    scripts/dropping/layer_drop_iterative.sh:16-77       drop_n=1 per epoch, reload the dropped model
    src/llmtuner/data/preprocess.py:19-35                "pt" data: text + eos, concatenated, cutoff_len chunks
- ShortGPT   https://github.com/icip-cas/ShortGPT      9a2ee8dfe9e28d0bee430e83c140b787c02ddd6c
    shortgpt/metrics.py:4-22      block_influence (diag(X Y^T)/(|x||y|), nan -> 0.5, arccos/pi or 1 - sim)
    shortgpt/shortgpt.py:37-47    compute_bi (sum over tokens; hidden_states[L] is after the final norm)
    shortgpt/shortgpt.py:26-35    remove_layers (argsort ascending, first n)
    shortgpt/shortgpt.py:49-95    eval_importance (prompt windows of stride 256)
- Attend First, Consolidate Later  https://github.com/schwartz-lab-NLP/Attend-First-Consolidate-Later
                                   ec54e16ef8784348974e63f948e6f9517f1694d2
    convert_models/llama_manipulate.py:104,115-118  use_cache = False; manipulation_tokens = range(T - 1)
    convert_models/manipulations_utils.py:100-110   shuffle: torch.manual_seed(idx * token_idx); randperm(D)

torch.randperm on the CPU generator (aten/src/ATen/native/TensorFactories.cpp randperm_cpu, small n):
for i in 0..n-2: z = mt19937() % (n - i); swap(r[i], r[i + z]); manual_seed(s) seeds mt19937 with s (Knuth
init_genrand), which numpy's MT19937._legacy_seeding reproduces. When python3-torch is importable the
permutations are cross-checked against torch itself (recorded as torch_crosscheck).
"""
import datetime
import json
import math
import os

import numpy as np

HERE = os.path.dirname(os.path.abspath(__file__))


def f32(a):
    return np.asarray(a, dtype=np.float32).astype(np.float64)


def cos_rows(x, y):
    """F.cosine_similarity / LayerScope's cosine: 0 for a zero vector."""
    dot = (x * y).sum(-1)
    den = np.sqrt((x * x).sum(-1) * (y * y).sum(-1))
    return np.where(den > 0, dot / np.where(den > 0, den, 1.0), 0.0)


# ------------------------------------------------------------------ ShortGPT block influence (metrics.py:4-22)
def shortgpt_block_influence(x, y, angular):
    nx = np.linalg.norm(x, axis=-1, keepdims=True)
    ny = np.linalg.norm(y, axis=-1, keepdims=True)
    with np.errstate(invalid="ignore", divide="ignore"):
        sim = np.diagonal(x @ y.T) / (nx * ny)[:, 0]
    sim = np.nan_to_num(sim, nan=0.5)
    if angular:
        return np.arccos(np.clip(sim, -1, 1)) / np.pi, sim  # clip: see paper_semantics.h
    return 1 - sim, sim


def shortgpt_case(rng):
    x = f32(rng.normal(size=(12, 16)))
    y = f32(x + 0.8 * rng.normal(size=(12, 16)))
    x[3] = 0.0            # zero vector: 0/0 -> nan -> 0.5
    y[5] = f32(2 * x[5])  # parallel
    y[7] = f32(-x[7])     # opposite
    y[9] = f32(rng.normal(size=16))
    bi, sim = shortgpt_block_influence(x, y, False)
    bia, _ = shortgpt_block_influence(x, y, True)
    ls_cos = cos_rows(x, y)  # LayerScope: mean cosine (zero vector -> 0), then arccos of the mean
    return {"x": x.tolist(), "y": y.tolist(), "token_sim": sim.tolist(), "token_bi": bi.tolist(),
            "token_bi_angular": bia.tolist(), "mean_bi": float(bi.mean()), "mean_bi_angular": float(bia.mean()),
            "layerscope_bi": float(1 - ls_cos.mean()),
            "layerscope_bi_angular": float(math.acos(min(1.0, ls_cos.mean())) / math.pi)}


# ------------------------------------------------------------------ calibration sets
def shortgpt_windows(prompts, stride):  # shortgpt.py:69-73, one prompt at a time
    return [p[s:s + stride] for p in prompts for s in range(0, len(p), stride)]


def llm_drop_chunks(prompts, bos, eos, chunk):  # preprocess.py:19-35 (+ our rule for fewer than one chunk)
    allt = []
    for p in prompts:
        body = p[1:] if p and p[0] == bos else p
        allt += body + [eos]
    if len(allt) < chunk:
        return [allt] if allt else []
    total = (len(allt) // chunk) * chunk
    return [allt[i:i + chunk] for i in range(0, total, chunk)]


def calibration_case(rng):
    prompts = [[256] + rng.integers(0, 255, size=n).tolist() for n in (4, 9, 600, 255, 256)]
    return {"prompts": prompts, "bos": 256, "eos": 257,
            "windows_stride": 256, "windows": shortgpt_windows(prompts, 256),
            "chunk": 64, "chunks": llm_drop_chunks(prompts, 256, 257, 64),
            "small_prompts": prompts[:2], "small_chunks": llm_drop_chunks(prompts[:2], 256, 257, 64)}


# ------------------------------------------------------------------ iterative plans on a toy residual network
class Toy:
    """h += tanh(h A_l) a_l (attention-like), h += tanh(h M_l) m_l (MLP-like), per token."""

    def __init__(self, rng, L, T, D):
        self.L, self.h0 = L, f32(rng.normal(size=(T, D)))
        self.A = [f32(rng.normal(size=(D, D)) / math.sqrt(D)) for _ in range(L)]
        self.M = [f32(rng.normal(size=(D, D)) / math.sqrt(D)) for _ in range(L)]
        self.a = f32(rng.uniform(0.05, 2.0, size=L))
        self.m = f32(rng.uniform(0.05, 2.0, size=L))

    def attn(self, l, h):
        return np.tanh(h @ self.A[l]) * self.a[l]

    def mlp(self, l, h):
        return np.tanh(h @ self.M[l]) * self.m[l]

    def trajectory(self, skip_a, skip_m):
        """Sub-block similarities along a model with these modules skipped (LayerScope's redundancy)."""
        h, sa, sm = self.h0.copy(), np.zeros(self.L), np.zeros(self.L)
        for l in range(self.L):
            mid = h if skip_a[l] else h + self.attn(l, h)
            sa[l] = cos_rows(h, mid).mean()
            post = mid if skip_m[l] else mid + self.mlp(l, mid)
            sm[l] = cos_rows(mid, post).mean()
            h = post
        return sa, sm

    def llm_drop_similarities(self, kind, drop_a, drop_m):
        """layer_drop.py:49-130 on the dropped model: layers whose `kind` module is dropped are skipped whole."""
        skipped = drop_a if kind == "attn" else drop_m
        sims = np.full(self.L, -np.inf)
        h = self.h0.copy()
        for i in range(self.L):
            if skipped[i]:
                continue  # similarities[i] = -inf, inputs not updated
            mid = h if drop_a[i] else h + self.attn(i, h)   # modeling_dropped_*: a dropped module is an identity
            post = mid if drop_m[i] else mid + self.mlp(i, mid)
            if kind == "attn":
                sims[i] = cos_rows(h, mid).mean()            # input_layernorm input vs input + attn output
            else:
                sims[i] = cos_rows(mid, post).mean()
            h = post
        return sims


def plan_llm_drop(toy, kinds, n):
    L = toy.L
    drop_a, drop_m, out = [False] * L, [False] * L, []
    for _ in range(n):  # layer_drop_iterative.sh: drop_n = 1 per epoch on the previously dropped model
        parts = []
        if kinds in ("attn", "all"):
            parts.append(toy.llm_drop_similarities("attn", drop_a, drop_m))
        if kinds in ("mlp", "all"):
            parts.append(toy.llm_drop_similarities("mlp", drop_a, drop_m))
        sims = np.concatenate(parts)  # torch.cat((similarities_attn, similarities_mlp))
        idx = int(np.argsort(-sims, kind="stable")[0])
        is_mlp = kinds == "mlp" or (kinds == "all" and idx >= L)
        layer = idx % L
        (drop_m if is_mlp else drop_a)[layer] = True
        out.append({"layer": layer, "module": "mlp" if is_mlp else "attn", "similarity": float(sims[idx])})
    return out


def plan_layerscope(toy, kinds, n):
    L = toy.L
    drop_a, drop_m, out = [False] * L, [False] * L, []
    for _ in range(n):  # re-score the model as actually dropped; ties: lower layer, attention first
        sa, sm = toy.trajectory(drop_a, drop_m)
        cand = []
        for l in range(L):
            if kinds in ("attn", "all") and not drop_a[l]:
                cand.append((l, "attn", sa[l]))
            if kinds in ("mlp", "all") and not drop_m[l]:
                cand.append((l, "mlp", sm[l]))
        best = cand[int(np.argsort(-np.array([c[2] for c in cand]), kind="stable")[0])]
        (drop_m if best[1] == "mlp" else drop_a)[best[0]] = True
        out.append({"layer": best[0], "module": best[1], "similarity": float(best[2])})
    return out


def iterative_case():
    L, T, D = 8, 6, 12
    for seed in range(1000):
        toy = Toy(np.random.default_rng(seed), L, T, D)
        plans = {}
        for kinds, n in (("attn", 5), ("mlp", 5), ("all", 9)):
            plans[kinds] = {"n": n, "llm_drop": plan_llm_drop(toy, kinds, n), "layerscope": plan_layerscope(toy, kinds, n)}
        key = lambda p: [(d["layer"], d["module"]) for d in p]
        if all(key(v["llm_drop"]) != key(v["layerscope"]) for v in plans.values()):
            break
    return {"seed": seed, "layers": L, "tokens": T, "dims": D, "h0": toy.h0.tolist(),
            "A": [a.tolist() for a in toy.A], "M": [m.tolist() for m in toy.M],
            "a": toy.a.tolist(), "m": toy.m.tolist(), "plans": plans}


# ------------------------------------------------------------------ consecutive block drop
def consecutive_case(rng):
    L, T, D = 8, 5, 10
    h = [f32(rng.normal(size=(T, D)))]
    for l in range(L):
        h.append(f32(h[-1] + rng.normal(scale=rng.uniform(0.2, 1.5), size=(T, D))))
    sim = np.full((L, L), -np.inf)
    for i in range(L + 1):  # block_drop.py:159-169: sim[i, gap - 1] = mean cos(h_i, h_j)
        for j in range(i + 1, L + 1):
            sim[i, j - i - 1] = cos_rows(h[i], h[j]).mean()
    official, ours = {}, {}
    for n in range(1, L):
        official[n] = int(np.argmax(sim[:, n]))     # block_drop.py:210-211: column drop_n, first maximum
    for n in range(1, L + 1):
        ours[n] = int(np.argmax(sim[:, n - 1]))     # LayerScope: gap n
    return {"layers": L, "similarity": [[(v if np.isfinite(v) else None) for v in row] for row in sim],
            "llm_drop_begin": official, "layerscope_begin": ours}


# ------------------------------------------------------------------ layer_drop_norm=False
def drop_norm_case(rng):
    T, D, eps = 7, 16, 1e-5
    x = f32(rng.normal(size=(T, D)) * 3)
    w = f32(rng.uniform(0.5, 1.5, size=D))
    o = f32(rng.normal(size=(T, D)))
    xn = w * (x / np.sqrt((x * x).mean(-1, keepdims=True) + eps))  # LlamaRMSNorm
    return {"x": x.tolist(), "weight": w.tolist(), "eps": eps, "module_out": o.tolist(), "normed": xn.tolist(),
            "sim_drop_norm_false": float(cos_rows(xn, o).mean()),   # layer_drop.py:110-115
            "sim_drop_norm_true": float(cos_rows(x, x + o).mean())}  # layer_drop.py:107-109


# ------------------------------------------------------------------ AFCL shuffle seeding
def torch_randperm(n, seed):
    bg = np.random.MT19937()
    bg._legacy_seeding(seed)
    raw = bg.random_raw(max(n - 1, 1))
    r = list(range(n))
    for i in range(n - 1):
        z = int(raw[i]) % (n - i)
        r[i], r[i + z] = r[i + z], r[i]
    return r


def afcl_case():
    cases = []
    for dims in (16, 128):
        for k, t in ((0, 5), (3, 0), (3, 7), (9, 11), (11, 30), (2, 1)):
            cases.append({"dims": dims, "k": k, "t": t, "perm": torch_randperm(dims, k * t)})
    check = "unavailable"
    try:
        import torch
        for c in cases:
            torch.manual_seed(c["k"] * c["t"])
            assert torch.randperm(c["dims"]).tolist() == c["perm"], c
        check = "torch " + torch.__version__ + ": identical"
    except ImportError:
        pass
    # position rule: rows (prompt length, fed length) -> manipulated leading positions
    rows = [(10, 11), (10, 13), (1, 2), (7, 7)]
    positions = {"rows": rows, "layerscope": [p - 1 for p, n in rows], "afcl": [n - 1 for p, n in rows]}
    return {"shuffle": cases, "torch_crosscheck": check, "positions": positions}


def main():
    rng = np.random.default_rng(20261130)
    out = {
        "generator": "tests/reference/paper_semantics/make_paper_semantics_reference.py",
        "numpy": np.__version__, "created_utc": datetime.datetime.utcnow().strftime("%Y-%m-%dT%H:%M:%SZ"),
        "provenance": {
            "llm_drop": "CASE-Lab-UMD/LLM-Drop@28b5dd14c2474c7110b2b42f5862a6dbdbe71a2d",
            "shortgpt": "icip-cas/ShortGPT@9a2ee8dfe9e28d0bee430e83c140b787c02ddd6c",
            "afcl": "schwartz-lab-NLP/Attend-First-Consolidate-Later@ec54e16ef8784348974e63f948e6f9517f1694d2"},
        "shortgpt": shortgpt_case(rng),
        "calibration": calibration_case(rng),
        "iterative": iterative_case(),
        "consecutive": consecutive_case(rng),
        "drop_norm": drop_norm_case(rng),
        "afcl": afcl_case(),
    }
    with open(os.path.join(HERE, "paper_semantics_reference.json"), "w") as f:
        json.dump(out, f, indent=1)
        f.write("\n")
    print("iterative seed", out["iterative"]["seed"], "; afcl", out["afcl"]["torch_crosscheck"])
    for k, v in out["iterative"]["plans"].items():
        print(k, [(d["layer"], d["module"]) for d in v["llm_drop"]], [(d["layer"], d["module"]) for d in v["layerscope"]])
    print("consecutive", out["consecutive"]["llm_drop_begin"], out["consecutive"]["layerscope_begin"])


if __name__ == "__main__":
    main()
