#!/usr/bin/env python3
"""Writes fuzz/data/{llama3_small,llama2_small}/tokenizer.json: the Llama 3.1 and Llama 2 tokenizer pipelines
(normalizers, Split regex, ByteLevel / Metaspace-style, byte fallback, templates) with the vocabulary cut to the
base alphabet plus the tokens of the first MERGES merges, renumbered densely. Inputs: the tokenizer files that
tests/text/CMakeLists.txt extracts into the build tree. Usage: fuzz/data/make_small_tokenizers.py [BUILD_DIR]"""
import json
import pathlib
import sys

MERGES = 400
ROOT = pathlib.Path(__file__).resolve().parent
build = pathlib.Path(sys.argv[1] if len(sys.argv) > 1 else ROOT.parent.parent / "build")


def shrink(src, dst, base_tokens, keep_added):
    j = json.loads(src.read_text())
    vocab = j["model"]["vocab"]
    merges = j["model"]["merges"][:MERGES]
    keep = [t for t in base_tokens(vocab)]
    seen = set(keep)
    for m in merges:
        a, b = m.split(" ") if isinstance(m, str) else m
        for t in (a, b, a + b):
            if t not in seen:
                seen.add(t)
                keep.append(t)
    keep.sort(key=lambda t: vocab[t])
    new_vocab = {t: i for i, t in enumerate(keep)}
    remap = {vocab[t]: i for t, i in new_vocab.items()}
    added = [a for a in j["added_tokens"] if a["content"] in keep_added]
    next_id = len(new_vocab)
    for a in added:
        if a["id"] in remap:
            a["id"] = remap[a["id"]]
        else:
            remap[a["id"]] = next_id
            a["id"] = next_id
            next_id += 1
    j["added_tokens"] = added

    def fix(node):
        if isinstance(node, dict):
            if "ids" in node and isinstance(node["ids"], list):
                node["ids"] = [remap[i] for i in node["ids"]]
            for v in node.values():
                fix(v)
        elif isinstance(node, list):
            for v in node:
                fix(v)

    fix(j["post_processor"])
    j["model"]["vocab"] = new_vocab
    j["model"]["merges"] = merges
    dst.mkdir(parents=True, exist_ok=True)
    (dst / "tokenizer.json").write_text(json.dumps(j, ensure_ascii=False, indent=0) + "\n")


def bytelevel_alphabet(vocab):
    return [t for t in vocab if len(t) == 1]


def llama2_base(vocab):
    return [t for t in vocab if vocab[t] < 259]  # <unk>, <s>, </s>, <0x00>..<0xFF>


data = build / "tests/text/tokenizer_data"
shrink(data / "llama3_1/tokenizer.json", ROOT / "llama3_small", bytelevel_alphabet,
       {"<|begin_of_text|>", "<|end_of_text|>", "<|eot_id|>", "<|start_header_id|>", "<|end_header_id|>"})
shrink(data / "llama2/tokenizer.json", ROOT / "llama2_small", llama2_base, {"<unk>", "<s>", "</s>"})
