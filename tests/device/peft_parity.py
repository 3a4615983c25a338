#!/usr/bin/env python3
"""LayerScope's LS-LoRA adapter files are PEFT files (scripts/device-check.sh, docs/gpu.md).

Trains a small LS-LoRA adapter with `layerscope-cli train --device DEV` on the bundled demo model (a Llama
checkpoint with a byte-level tokenizer), loads it with peft.PeftModel.from_pretrained on transformers'
LlamaForCausalLM, and compares the logits with `layerscope-cli logits --adapter`. Also checks that the adapter
changed the model (B != 0 after training), so the comparison cannot pass with an identity adapter.

Target (issue 13): logits within 1e-4 relative (max |ours - peft| / max |peft|), float32.
Usage: peft_parity.py --cli build-device/app/layerscope-cli --out DIR [--device cuda] [--model resources/models/demo]
Writes DIR/peft_parity.json. Exit status 1 when the target is missed.
"""
import argparse
import json
import os
import subprocess
import sys
import tempfile

import numpy as np
import peft
import torch
import transformers

TOL = 1e-4


def rel_err(a, b):
    a = np.asarray(a, dtype=np.float64)
    b = np.asarray(b, dtype=np.float64)
    return float(np.abs(a - b).max() / max(np.abs(b).max(), 1e-30))


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--cli", required=True)
    ap.add_argument("--out", required=True)
    ap.add_argument("--device", default="cuda")
    ap.add_argument("--model", default="resources/models/demo")
    ap.add_argument("--steps", type=int, default=30)
    args = ap.parse_args()
    os.makedirs(args.out, exist_ok=True)
    torch.backends.cuda.matmul.allow_tf32 = False
    ids = [256] + list(b"Which comes first, the cat or the dog? Answer:")  # BOS + bytes (byte-level tokenizer)
    with tempfile.TemporaryDirectory() as work:
        adapter = os.path.join(work, "adapter")
        # A larger learning rate than the default so that B moves well away from 0 in a few steps.
        subprocess.run([args.cli, "train", "--model", args.model, "--train", "demo:64", "--lora-layers", "all",
                        "--lora-rank", "8", "--lora-alpha", "16", "--lora-dropout", "0.1", "--steps", str(args.steps),
                        "--lr", "5e-3", "--batch", "8", "--seed", "3", "--device", args.device, "--out", adapter],
                       check=True, stdout=subprocess.DEVNULL)
        out = os.path.join(work, "logits.npy")
        subprocess.run([args.cli, "logits", args.model, "--adapter", adapter, "--ids", ",".join(map(str, ids)),
                        "--dtype", "float32", "--device", args.device, "--out", out], check=True,
                       stdout=subprocess.DEVNULL)
        ours = np.load(out)
        try:
            base = transformers.LlamaForCausalLM.from_pretrained(args.model, dtype=torch.float32,
                                                                 attn_implementation="eager")
        except TypeError:  # transformers < 4.56 knows only torch_dtype
            base = transformers.LlamaForCausalLM.from_pretrained(args.model, torch_dtype=torch.float32,
                                                                 attn_implementation="eager")
        model = peft.PeftModel.from_pretrained(base, adapter).to(args.device).eval()
        with torch.no_grad():
            ref = model(torch.tensor([ids], device=args.device)).logits[0].float().cpu().numpy()
            with model.disable_adapter():
                plain = model(torch.tensor([ids], device=args.device)).logits[0].float().cpu().numpy()
    err = rel_err(ours, ref)
    moved = rel_err(ref, plain)  # how far the adapter moved the logits
    ok = err <= TOL and moved > 100 * TOL
    print(f"peft LoRA logits rel {err:.2e} (adapter moved logits by {moved:.2e})  {'ok' if ok else 'FAIL'}", flush=True)
    with open(os.path.join(args.out, "peft_parity.json"), "w") as f:
        json.dump({"peft": peft.__version__, "transformers": transformers.__version__, "device": args.device,
                   "logits_rel": err, "adapter_effect_rel": moved, "tolerance": TOL, "pass": ok}, f, indent=2)
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
