#!/usr/bin/python3
"""The PyTorch-eager peer for `layerscope-cli bench forward`: a plain Hugging Face-style Llama forward.

Loads the same safetensors checkpoint (config.json + model.safetensors or an index) with its own reader and runs
the eager forward HF transformers' LlamaAttention uses: F.linear projections, RMSNorm in float32, cos/sin in
float32 then cast, rotate_half with torch.cat, repeat_interleave of K/V (repeat_kv), q @ k^T * 1/sqrt(Dh) plus an
additive causal mask, softmax in float32, probs @ v. Benchmarks only: needs Debian's python3-torch (see
scripts/bench/README.md); the app and the tests never import it.

Prints one JSON object per cell: {"batch", "tokens", "dtype", "tokens_per_second", "seconds_best"}.
"""
import argparse
import json
import math
import mmap
import os
import struct
import sys
import time

import torch
import torch.nn.functional as F

DTYPES = {"F32": torch.float32, "BF16": torch.bfloat16, "F16": torch.float16}


def read_safetensors(path):
    with open(path, "rb") as f:
        mm = mmap.mmap(f.fileno(), 0, access=mmap.ACCESS_READ)
    (n,) = struct.unpack("<Q", mm[:8])
    header = json.loads(mm[8:8 + n])
    out = {}
    for name, meta in header.items():
        if name == "__metadata__":
            continue
        a, b = meta["data_offsets"]
        dt = DTYPES[meta["dtype"]]
        t = torch.frombuffer(bytearray(mm[8 + n + a:8 + n + b]), dtype=dt) if b > a else torch.empty(0, dtype=dt)
        out[name] = t.view(meta["shape"])
    return out


def load(model_dir, dtype):
    cfg = json.load(open(os.path.join(model_dir, "config.json")))
    index = os.path.join(model_dir, "model.safetensors.index.json")
    files = sorted(set(json.load(open(index))["weight_map"].values())) if os.path.exists(index) else ["model.safetensors"]
    w = {}
    for f in files:
        w.update(read_safetensors(os.path.join(model_dir, f)))
    return cfg, {k: v.to(dtype) for k, v in w.items()}


class Peer:
    def __init__(self, cfg, w, dtype):
        self.c, self.w, self.dtype = cfg, w, dtype
        self.H = cfg["num_attention_heads"]
        self.G = cfg.get("num_key_value_heads", self.H)
        self.D = cfg["hidden_size"]
        self.Dh = cfg.get("head_dim") or self.D // self.H
        self.L = cfg["num_hidden_layers"]
        self.eps = cfg.get("rms_norm_eps", 1e-6)
        theta = cfg.get("rope_theta", 10000.0)
        self.inv_freq = 1.0 / (theta ** (torch.arange(0, self.Dh, 2, dtype=torch.int64).float() / self.Dh))
        self.lm_head = w["model.embed_tokens.weight"] if cfg.get("tie_word_embeddings") else w["lm_head.weight"]

    def rms(self, x, weight):
        xf = x.to(torch.float32)
        xf = xf * torch.rsqrt(xf.pow(2).mean(-1, keepdim=True) + self.eps)
        return weight * xf.to(x.dtype)

    @staticmethod
    def rotate_half(x):
        x1, x2 = x[..., : x.shape[-1] // 2], x[..., x.shape[-1] // 2:]
        return torch.cat((-x2, x1), dim=-1)

    def forward(self, ids):
        B, T = ids.shape
        H, G, Dh, w = self.H, self.G, self.Dh, self.w
        h = F.embedding(ids, w["model.embed_tokens.weight"])
        pos = torch.arange(T, dtype=torch.float32)
        freqs = pos[:, None] * self.inv_freq[None, :]
        emb = torch.cat((freqs, freqs), dim=-1)
        cos, sin = emb.cos().to(self.dtype)[None, None], emb.sin().to(self.dtype)[None, None]  # [1,1,T,Dh]
        mask = torch.full((T, T), torch.finfo(self.dtype).min, dtype=self.dtype).triu(1)[None, None]  # [1,1,T,T]
        for l in range(self.L):
            p = f"model.layers.{l}."
            x = self.rms(h, w[p + "input_layernorm.weight"])
            q = F.linear(x, w[p + "self_attn.q_proj.weight"]).view(B, T, H, Dh).transpose(1, 2)
            k = F.linear(x, w[p + "self_attn.k_proj.weight"]).view(B, T, G, Dh).transpose(1, 2)
            v = F.linear(x, w[p + "self_attn.v_proj.weight"]).view(B, T, G, Dh).transpose(1, 2)
            q = q * cos + self.rotate_half(q) * sin
            k = k * cos + self.rotate_half(k) * sin
            k = k.repeat_interleave(H // G, dim=1)
            v = v.repeat_interleave(H // G, dim=1)
            s = q @ k.transpose(2, 3) / math.sqrt(Dh) + mask
            probs = F.softmax(s, dim=-1, dtype=torch.float32).to(self.dtype)
            ctx = (probs @ v).transpose(1, 2).reshape(B, T, H * Dh)
            h = h + F.linear(ctx, w[p + "self_attn.o_proj.weight"])
            x = self.rms(h, w[p + "post_attention_layernorm.weight"])
            gate = F.linear(x, w[p + "mlp.gate_proj.weight"])
            up = F.linear(x, w[p + "mlp.up_proj.weight"])
            h = h + F.linear(F.silu(gate) * up, w[p + "mlp.down_proj.weight"])
        h = self.rms(h, w["model.norm.weight"])
        return F.linear(h, self.lm_head).float()


def bench(peer, batch, tokens, reps):
    torch.manual_seed(0)
    ids = torch.randint(0, peer.c["vocab_size"], (batch, tokens))
    t0 = time.perf_counter()
    peer.forward(ids)  # warm-up; with --reps 0 the only (timed) forward
    if reps == 0:
        return time.perf_counter() - t0
    best = float("inf")
    for _ in range(reps):
        t0 = time.perf_counter()
        peer.forward(ids)
        best = min(best, time.perf_counter() - t0)
    return best


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("model_dir")
    ap.add_argument("--batch", default="1", help="comma-separated list")
    ap.add_argument("--tokens", default="128", help="comma-separated list")
    ap.add_argument("--dtype", default="float32", help="comma-separated: float32, bfloat16")
    ap.add_argument("--reps", type=int, default=5, help="timed forwards per cell after one warm-up; best reported (0: time the warm-up alone)")
    ap.add_argument("--threads", type=int, default=os.cpu_count())
    a = ap.parse_args()
    if os.environ.get("OMP_WAIT_POLICY", "").upper() != "PASSIVE":
        print("peer_forward.py: warning: OMP_WAIT_POLICY is not PASSIVE (LayerScope sets it)", file=sys.stderr)
    torch.set_num_threads(a.threads)
    names = {"float32": torch.float32, "fp32": torch.float32, "bfloat16": torch.bfloat16, "bf16": torch.bfloat16}
    with torch.inference_mode():
        for dn in a.dtype.split(","):
            cfg, w = load(a.model_dir, names[dn])
            peer = Peer(cfg, w, names[dn])
            for b in (int(x) for x in a.batch.split(",")):
                for t in (int(x) for x in a.tokens.split(",")):
                    s = bench(peer, b, t, a.reps)
                    print(json.dumps({"batch": b, "tokens": t, "dtype": "bfloat16" if names[dn] == torch.bfloat16 else "float32",
                                      "threads": a.threads, "seconds_best": s, "tokens_per_second": b * t / s}), flush=True)


if __name__ == "__main__":
    main()
