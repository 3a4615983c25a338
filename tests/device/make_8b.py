#!/usr/bin/env python3
"""A random bfloat16 checkpoint with the Llama 3.1 8B shapes, made on the GPU (scripts/device-check.sh).

Weights N(0, 0.02) drawn on the device and written shard by shard with safetensors; norms 1 + U(-0.1, 0.1).
The byte-level tokenizer of the bundled demo model is copied in (token ids < 259 are valid in the 128256-token
vocabulary), and a 64-item multiple-choice task of about 128 tokens a prompt is written for the analysis benchmark.
Usage: make_8b.py OUT_DIR [--device cuda] [--demo resources/models/demo]
"""
import argparse
import json
import os
import random
import shutil

import torch
from safetensors.torch import save_file

CONFIG = {
    "architectures": ["LlamaForCausalLM"], "model_type": "llama", "hidden_size": 4096, "intermediate_size": 14336,
    "num_hidden_layers": 32, "num_attention_heads": 32, "num_key_value_heads": 8, "head_dim": 128,
    "vocab_size": 128256, "max_position_embeddings": 131072, "rms_norm_eps": 1e-5, "rope_theta": 500000.0,
    "rope_scaling": {"rope_type": "llama3", "factor": 8.0, "low_freq_factor": 1.0, "high_freq_factor": 4.0,
                     "original_max_position_embeddings": 8192},
    "tie_word_embeddings": False, "attention_bias": False, "mlp_bias": False, "hidden_act": "silu",
    "torch_dtype": "bfloat16", "bos_token_id": 256, "eos_token_id": 257,
}


def tensors_of_layer(l, gen, dev):
    D, F, H, G, Dh = 4096, 14336, 32, 8, 128
    p = f"model.layers.{l}."
    shapes = {"self_attn.q_proj.weight": (H * Dh, D), "self_attn.k_proj.weight": (G * Dh, D),
              "self_attn.v_proj.weight": (G * Dh, D), "self_attn.o_proj.weight": (D, H * Dh),
              "mlp.gate_proj.weight": (F, D), "mlp.up_proj.weight": (F, D), "mlp.down_proj.weight": (D, F)}
    out = {p + k: (torch.randn(s, generator=gen, device=dev) * 0.02).to(torch.bfloat16) for k, s in shapes.items()}
    for n in ("input_layernorm.weight", "post_attention_layernorm.weight"):
        out[p + n] = (1 + 0.2 * (torch.rand(D, generator=gen, device=dev) - 0.5)).to(torch.bfloat16)
    return out


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("out")
    ap.add_argument("--device", default="cuda")
    ap.add_argument("--demo", default="resources/models/demo")
    args = ap.parse_args()
    os.makedirs(args.out, exist_ok=True)
    dev = torch.device(args.device)
    gen = torch.Generator(device=dev).manual_seed(0)
    weight_map, shards = {}, []
    groups = [("embed", None)] + [("layers", list(range(i, i + 4))) for i in range(0, 32, 4)] + [("head", None)]
    for i, (kind, layers) in enumerate(groups):
        name = f"model-{i + 1:05d}-of-{len(groups):05d}.safetensors"
        if kind == "embed":
            t = {"model.embed_tokens.weight": (torch.randn(128256, 4096, generator=gen, device=dev) * 0.02).to(torch.bfloat16)}
        elif kind == "head":
            t = {"lm_head.weight": (torch.randn(128256, 4096, generator=gen, device=dev) * 0.02).to(torch.bfloat16),
                 "model.norm.weight": torch.ones(4096, dtype=torch.bfloat16, device=dev)}
        else:
            t = {}
            for l in layers:
                t.update(tensors_of_layer(l, gen, dev))
        save_file({k: v.cpu() for k, v in t.items()}, os.path.join(args.out, name), metadata={"format": "pt"})
        weight_map.update({k: name for k in t})
        del t
    with open(os.path.join(args.out, "model.safetensors.index.json"), "w") as f:
        json.dump({"metadata": {}, "weight_map": weight_map}, f)
    with open(os.path.join(args.out, "config.json"), "w") as f:
        json.dump(CONFIG, f, indent=2)
    for n in ("tokenizer.json", "tokenizer_config.json"):
        shutil.copy(os.path.join(args.demo, n), os.path.join(args.out, n))
    # 64 two-choice items, prompts of ~128 bytes (= tokens with the byte-level tokenizer).
    rng = random.Random(0)
    words = ["alpha", "beta", "gamma", "delta", "omega", "kappa", "sigma", "theta", "lambda", "zeta"]
    with open(os.path.join(args.out, "task64.mc.jsonl"), "w") as f:
        for i in range(64):
            seq = " ".join(rng.choice(words) for _ in range(40))[:110]
            a, b = rng.sample(words, 2)
            f.write(json.dumps({"id": f"item-{i:04d}", "prompt": f"{seq}. {a} or {b}? A:", "choices": [" " + a, " " + b],
                                "answer": 0}) + "\n")
    print(f"wrote {args.out}: {len(weight_map)} tensors in {len(groups)} shards")


if __name__ == "__main__":
    main()
