#!/usr/bin/python3
"""Independent reference values for analysis_tests (LayerScope statistics and sensitivity metrics).

Computed with numpy/scipy from Debian 12 (python3-scipy 1.10.1, python3-numpy 1.24.2), never with
LayerScope code. Run from anywhere:  /usr/bin/python3 tests/reference/stats/make_stats_reference.py
It rewrites stats_reference.json next to this file; commit both. The JSON records the versions and date.

Conventions mirrored from docs/statistics.md:
- Spearman p: scipy.stats.spearmanr (Student t, n-2 df). Permutation p (two-sided): share of permutations
  of y with |r_perm| >= |r_obs| (exact: all n!; Monte Carlo: (count+1)/(draws+1)).
- Kendall: scipy.stats.kendalltau defaults (tau-b, method='auto').
- Metrics: docs/methods.md section 2, written out here in numpy.
"""
import datetime
import itertools
import json
import math
import os

import numpy as np
import scipy
from scipy import stats

HERE = os.path.dirname(os.path.abspath(__file__))
FISHER_EPS = 1e-12  # variance floor of the fisher score, must equal SensitivityParams::fisherEpsilon


def f32(a):
    """Round to float32 so the C++ side (which takes float32 hidden states) sees identical inputs."""
    return np.asarray(a, dtype=np.float32).astype(np.float64)


def exact_perm_p(x, y):
    rx = stats.rankdata(x)
    ry = stats.rankdata(y)
    cx = rx - rx.mean()
    cy = ry - ry.mean()
    obs = abs(float(np.dot(cx, cy)))
    count = 0
    total = 0
    for perm in itertools.permutations(range(len(y))):
        total += 1
        if abs(float(np.dot(cx, cy[list(perm)]))) >= obs - 1e-9:
            count += 1
    return count / total


def mc_perm_p(x, y, draws, seed):
    rng = np.random.default_rng(seed)
    rx = stats.rankdata(x)
    ry = stats.rankdata(y)
    cx = rx - rx.mean()
    cy = ry - ry.mean()
    obs = abs(float(np.dot(cx, cy)))
    count = 0
    chunk = 20000
    done = 0
    while done < draws:
        m = min(chunk, draws - done)
        perms = np.argsort(rng.random((m, len(y))), axis=1)
        vals = np.abs(cy[perms] @ cx)
        count += int(np.sum(vals >= obs - 1e-9))
        done += m
    return (count + 1) / (draws + 1)


def spearman_case(name, x, y, mc_draws=0):
    x = np.asarray(x, dtype=float)
    y = np.asarray(y, dtype=float)
    res = stats.spearmanr(x, y)
    case = {"name": name, "x": x.tolist(), "y": y.tolist(), "r": float(res.correlation),
            "p": float(res.pvalue)}
    if len(x) <= 9:
        case["p_exact_perm"] = exact_perm_p(x, y)
        if len(set(x)) == len(x) and len(set(y)) == len(y) and len(x) >= 3:
            # Without ties the null distribution is symmetric, so scipy's two-sided convention
            # (2 * min of the one-sided p) agrees with ours.
            ry = stats.rankdata(y)

            def rs(a, axis=-1):  # r_s of each permuted x (rows) against the fixed y
                ra = stats.rankdata(a, axis=axis)
                ra = ra - ra.mean(axis=axis, keepdims=True)
                cy = ry - ry.mean()
                return (ra @ cy) / np.sqrt((ra * ra).sum(axis=axis) * (cy @ cy))

            pt = stats.permutation_test((x,), rs, permutation_type="pairings", n_resamples=np.inf,
                                        vectorized=True)
            assert abs(pt.pvalue - case["p_exact_perm"]) < 1e-12, (name, pt.pvalue, case["p_exact_perm"])
    if mc_draws:
        case["p_mc_perm"] = mc_perm_p(x, y, mc_draws, 12345)
        case["p_mc_draws"] = mc_draws
    return case


def kendall_case(name, x, y):
    x = np.asarray(x, dtype=float)
    y = np.asarray(y, dtype=float)
    res = stats.kendalltau(x, y)
    ties = len(set(x)) < len(x) or len(set(y)) < len(y)
    tot = len(x) * (len(x) - 1) // 2
    # method='auto' rule of scipy 1.10, recorded so the test checks the C++ picks the same method.
    dis = sum(1 for i in range(len(x)) for j in range(i + 1, len(x)) if (x[i] - x[j]) * (y[i] - y[j]) < 0)
    exact = (not ties) and (len(x) <= 33 or min(dis, tot - dis) <= 1)
    return {"name": name, "x": x.tolist(), "y": y.tolist(), "tau": float(res.correlation),
            "p": float(res.pvalue), "method": "exact" if exact else "asymptotic"}


def metrics_outcome(c, i):
    mu_c = c.mean(axis=0)
    mu_i = i.mean(axis=0)
    diff = np.linalg.norm(mu_c - mu_i)
    nc, ni = len(c), len(i)
    var_pooled = ((nc - 1) * c.var(axis=0, ddof=1) + (ni - 1) * i.var(axis=0, ddof=1)) / (nc + ni - 2)
    return {
        "rel_l2": float(diff / ((np.linalg.norm(mu_c) + np.linalg.norm(mu_i)) / 2)),
        "raw_l2": float(diff),
        "cos": float(1 - mu_c @ mu_i / (np.linalg.norm(mu_c) * np.linalg.norm(mu_i))),
        "fisher": float(np.mean(np.abs(mu_c - mu_i) / np.sqrt(var_pooled + FISHER_EPS))),
    }


def metrics_pairs(a, b):
    d = np.linalg.norm(a - b, axis=1)
    na = np.linalg.norm(a, axis=1)
    nb = np.linalg.norm(b, axis=1)
    out = metrics_outcome(a, b)  # fisher in pairs mode: the two sides as two groups (pooled std)
    out["rel_l2"] = float(np.mean(d / ((na + nb) / 2)))
    out["raw_l2"] = float(np.mean(d))
    out["cos"] = float(np.mean(1 - np.sum(a * b, axis=1) / (na * nb)))
    return out


def auc_pairwise(scores, labels):
    """AUC as P(score_pos > score_neg) + 0.5 P(equal), by brute force over all pairs."""
    pos = scores[labels == 1]
    neg = scores[labels == 0]
    gt = (pos[:, None] > neg[None, :]).sum()
    eq = (pos[:, None] == neg[None, :]).sum()
    return float((gt + 0.5 * eq) / (len(pos) * len(neg)))


def logistic_newton(x, y, lam, intercept_lam):
    """L2-regularised logistic regression by plain Newton: minimise
    sum_i log(1 + exp(-s_i (w.x_i + b))) + lam/2 |w|^2 + intercept_lam/2 b^2, s_i = +-1."""
    n, d = x.shape
    z = np.hstack([x, np.ones((n, 1))])
    pen = np.full(d + 1, lam)
    pen[-1] = intercept_lam
    w = np.zeros(d + 1)
    for _ in range(100):
        p = 1 / (1 + np.exp(-(z @ w)))
        g = z.T @ (p - y) + pen * w
        h = z.T @ (z * (p * (1 - p))[:, None]) + np.diag(pen)
        step = np.linalg.solve(h, g)
        w -= step
        if np.max(np.abs(step)) < 1e-13:
            break
    return w


def main():
    rng = np.random.default_rng(20240607)
    out = {
        "provenance": {
            "generator": "tests/reference/stats/make_stats_reference.py",
            "scipy": scipy.__version__,
            "numpy": np.__version__,
            "date": datetime.date.today().isoformat(),
            "note": "independent numpy/scipy computation; see docs/statistics.md",
        }
    }

    # ---- Spearman
    x32 = rng.normal(size=32)
    y32 = -0.45 * x32 + rng.normal(size=32)
    x9 = rng.normal(size=9)
    y9 = 0.5 * x9 + rng.normal(size=9)
    sp = [
        spearman_case("ties_n8", [1, 2, 2, 3, 4, 4, 4, 5], [2, 1, 3, 3, 5, 4, 6, 6]),
        spearman_case("n3", [1.0, 2.0, 3.0], [1.0, 3.0, 2.0]),
        spearman_case("n3_ties", [1.0, 1.0, 3.0], [2.0, 3.0, 1.0]),
        spearman_case("n9_no_ties", x9, y9),
        spearman_case("n32", x32, y32, mc_draws=200000),
        spearman_case("perfect_pos_n10", np.arange(10.0), 2 * np.arange(10.0) + 1),
        spearman_case("perfect_neg_n12", np.arange(12.0), np.exp(-np.arange(12.0))),
        spearman_case("zero_n4", [1.0, 2.0, 3.0, 4.0], [2.0, 4.0, 1.0, 3.0]),
        spearman_case("ties_n32", np.round(x32 * 2) / 2, np.round(y32 * 2) / 2),
    ]
    out["spearman"] = sp
    r, n = -0.735, 32
    t = r * math.sqrt((n - 2) / (1 - r * r))
    out["paper_check"] = {"r": r, "n": n, "p": float(2 * stats.t.sf(abs(t), n - 2)), "t": t}

    # ---- Kendall
    x40 = rng.normal(size=40)
    y40 = 0.3 * x40 + rng.normal(size=40)
    out["kendall"] = [
        kendall_case("no_ties_n10", x9.tolist() + [3.0], y9.tolist() + [2.5]),
        kendall_case("no_ties_n32", x32, y32),
        kendall_case("no_ties_n40", x40, y40),
        kendall_case("perfect_n50", np.arange(50.0), np.arange(50.0) ** 2),
        kendall_case("n3", [1.0, 2.0, 3.0], [1.0, 3.0, 2.0]),
        kendall_case("ties_n8", [1, 2, 2, 3, 4, 4, 4, 5], [2, 1, 3, 3, 5, 4, 6, 6]),
        kendall_case("ties_n32", np.round(x32 * 2) / 2, np.round(y32 * 2) / 2),
    ]

    # ---- Sensitivity metrics on random float32 data
    d = 7
    c = f32(rng.normal(loc=0.3, size=(9, d)))
    i = f32(rng.normal(loc=-0.1, scale=1.5, size=(6, d)))
    c[:, 4] = 0.25  # a dimension constant and equal in both classes: zero variance, zero difference
    i[:, 4] = 0.25
    a = f32(rng.normal(size=(8, 5)) + 1.0)
    b = f32(a + 0.4 * rng.normal(size=(8, 5)))
    out["metrics"] = {
        "fisher_epsilon": FISHER_EPS,
        "outcome": {"correct": c.tolist(), "incorrect": i.tolist(), "expected": metrics_outcome(c, i)},
        "pairs": {"correct": a.tolist(), "incorrect": b.tolist(), "expected": metrics_pairs(a, b)},
    }

    # ---- AUC (Mann-Whitney with ties) by brute force
    scores = np.round(rng.normal(size=40), 1)  # rounding makes ties
    labels = (rng.random(40) < 0.4).astype(int)
    out["auc"] = {"scores": scores.tolist(), "labels": labels.tolist(),
                  "auc": auc_pairwise(scores, labels)}

    # ---- Logistic regression fit (Newton) on the outcome data
    x = np.vstack([c, i])
    y = np.r_[np.ones(len(c)), np.zeros(len(i))]
    lam, lam_b = 1.0, 1e-8
    w = logistic_newton(x, y, lam, lam_b)
    out["logistic"] = {"lambda": lam, "intercept_lambda": lam_b, "x": x.tolist(), "y": y.tolist(),
                       "weights": w[:-1].tolist(), "intercept": float(w[-1])}

    # Wider than tall (D + 1 > N): exercises the Woodbury form of the Newton step in C++.
    xw = f32(rng.normal(size=(8, 12)))
    yw = np.r_[np.ones(4), np.zeros(4)]
    ww = logistic_newton(xw, yw, lam, lam_b)
    out["logistic_wide"] = {"lambda": lam, "intercept_lambda": lam_b, "x": xw.tolist(), "y": yw.tolist(),
                            "weights": ww[:-1].tolist(), "intercept": float(ww[-1])}

    path = os.path.join(HERE, "stats_reference.json")
    with open(path, "w") as f:
        json.dump(out, f, indent=1)
        f.write("\n")
    print("wrote", path)


if __name__ == "__main__":
    main()
