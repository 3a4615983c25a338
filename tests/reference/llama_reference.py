#!/usr/bin/env python3
"""Independent float64 reference for the Llama-family forward pass (docs/methods.md section 1).

Written from the structure of Hugging Face transformers' modeling_llama.py (LlamaRMSNorm, rotate_half,
apply_rotary_pos_emb, repeat_kv, eager attention) and _compute_llama3_parameters, in numpy float64, with
its own safetensors reader. Shares no code with the C++ core. Used by model_tests (ParityTest) and demo_tests.

usage: llama_reference.py MODEL_DIR --ids 1,2,3 --out logits.npy
"""
import argparse
import json
import math
import os
import struct

import numpy as np

DTYPES = {"F32": np.float32, "F16": np.float16, "F64": np.float64}


def read_safetensors(path):
    with open(path, "rb") as f:
        data = f.read()
    (n,) = struct.unpack("<Q", data[:8])
    header = json.loads(data[8:8 + n].decode("utf-8"))
    base = 8 + n
    out = {}
    for name, e in header.items():
        if name == "__metadata__":
            continue
        b, end = e["data_offsets"]
        raw = data[base + b: base + end]
        if e["dtype"] == "BF16":
            u16 = np.frombuffer(raw, dtype="<u2").astype(np.uint32) << 16
            arr = u16.view(np.float32)
        else:
            arr = np.frombuffer(raw, dtype=np.dtype(DTYPES[e["dtype"]]).newbyteorder("<"))
        out[name] = arr.astype(np.float64).reshape(e["shape"])
    return out


def load_weights(model_dir):
    index = os.path.join(model_dir, "model.safetensors.index.json")
    if os.path.exists(index):
        with open(index) as f:
            shards = sorted(set(json.load(f)["weight_map"].values()))
        w = {}
        for s in shards:
            w.update(read_safetensors(os.path.join(model_dir, s)))
        return w
    return read_safetensors(os.path.join(model_dir, "model.safetensors"))


def inv_freq(cfg, head_dim):
    base = cfg.get("rope_theta", 10000.0)
    inv = 1.0 / (base ** (np.arange(0, head_dim, 2, dtype=np.float64) / head_dim))
    rs = cfg.get("rope_scaling")
    if not rs:
        return inv
    kind = rs.get("rope_type", rs.get("type"))
    if kind == "linear":
        return inv / rs["factor"]
    if kind == "llama3":
        factor, low, high = rs["factor"], rs["low_freq_factor"], rs["high_freq_factor"]
        old = rs["original_max_position_embeddings"]
        low_wavelen, high_wavelen = old / low, old / high
        wavelen = 2 * math.pi / inv
        scaled = np.where(wavelen > low_wavelen, inv / factor, inv)
        smooth = (old / wavelen - low) / (high - low)
        smoothed = (1 - smooth) * scaled / factor + smooth * scaled
        medium = ~(wavelen < high_wavelen) & ~(wavelen > low_wavelen)
        return np.where(medium, smoothed, scaled)
    raise SystemExit("unsupported rope type " + str(kind))


def rms_norm(x, w, eps):
    return w * (x / np.sqrt(np.mean(x * x, axis=-1, keepdims=True) + eps))


def rotate_half(x):
    h = x.shape[-1] // 2
    return np.concatenate([-x[..., h:], x[..., :h]], axis=-1)


def forward(model_dir, ids):
    with open(os.path.join(model_dir, "config.json")) as f:
        cfg = json.load(f)
    W = load_weights(model_dir)
    D, H = cfg["hidden_size"], cfg["num_attention_heads"]
    G = cfg.get("num_key_value_heads") or H
    Dh = cfg.get("head_dim") or D // H
    eps = cfg.get("rms_norm_eps", 1e-6)
    T = len(ids)
    x = W["model.embed_tokens.weight"][ids]  # [T, D]
    pos = np.arange(T, dtype=np.float64)
    freqs = np.outer(pos, inv_freq(cfg, Dh))  # [T, Dh/2]
    emb = np.concatenate([freqs, freqs], axis=-1)
    cos, sin = np.cos(emb), np.sin(emb)  # [T, Dh]
    causal = np.triu(np.full((T, T), -np.inf), k=1)

    def lin(name, v):
        y = v @ W[name + ".weight"].T
        if name + ".bias" in W:
            y = y + W[name + ".bias"]
        return y

    for l in range(cfg["num_hidden_layers"]):
        p = "model.layers.%d." % l
        h = rms_norm(x, W[p + "input_layernorm.weight"], eps)
        q = lin(p + "self_attn.q_proj", h).reshape(T, H, Dh).transpose(1, 0, 2)  # [H, T, Dh]
        k = lin(p + "self_attn.k_proj", h).reshape(T, G, Dh).transpose(1, 0, 2)  # [G, T, Dh]
        v = lin(p + "self_attn.v_proj", h).reshape(T, G, Dh).transpose(1, 0, 2)
        q = q * cos + rotate_half(q) * sin
        k = k * cos + rotate_half(k) * sin
        k = np.repeat(k, H // G, axis=0)  # repeat_kv: head h reads kv head h // n_rep
        v = np.repeat(v, H // G, axis=0)
        s = q @ k.transpose(0, 2, 1) / math.sqrt(Dh) + causal
        s = np.exp(s - s.max(axis=-1, keepdims=True))
        a = s / s.sum(axis=-1, keepdims=True)
        o = (a @ v).transpose(1, 0, 2).reshape(T, H * Dh)
        x = x + lin(p + "self_attn.o_proj", o)
        h = rms_norm(x, W[p + "post_attention_layernorm.weight"], eps)
        g = lin(p + "mlp.gate_proj", h)
        u = lin(p + "mlp.up_proj", h)
        x = x + lin(p + "mlp.down_proj", (g / (1 + np.exp(-g))) * u)
    x = rms_norm(x, W["model.norm.weight"], eps)
    head = W["model.embed_tokens.weight"] if cfg.get("tie_word_embeddings") else W["lm_head.weight"]
    return x @ head.T


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("model_dir")
    ap.add_argument("--ids", required=True)
    ap.add_argument("--out", required=True)
    a = ap.parse_args()
    ids = [int(t) for t in a.ids.split(",")]
    np.save(a.out, forward(a.model_dir, ids).astype(np.float64))


if __name__ == "__main__":
    main()
