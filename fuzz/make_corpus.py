#!/usr/bin/env python3
"""Writes the seed corpora fuzz/corpus/<target>/: the project's own valid files (resources/, the small
tokenizers under fuzz/data/) and the malformed classes the unit tests cover, each a few kilobytes at most.
Reproducers of fixed findings are added by hand as fuzz/corpus/<target>/regress-*; this script keeps them.
Usage: fuzz/make_corpus.py"""
import json
import pathlib
import struct

ROOT = pathlib.Path(__file__).resolve().parent
SRC = ROOT.parent
OUT = ROOT / "corpus"


def put(target, name, data):
    d = OUT / target
    d.mkdir(parents=True, exist_ok=True)
    if isinstance(data, str):
        data = data.encode()
    (d / name).write_bytes(data)


def st(header, data=b"", raw_header=None):
    h = raw_header if raw_header is not None else json.dumps(header, separators=(",", ":")).encode()
    return struct.pack("<Q", len(h)) + h + data


# --- safetensors (model shards and adapter weights) ---
f32 = lambda n: struct.pack("<%df" % n, *[0.5] * n)
put("safetensors", "valid_two", st({"__metadata__": {"format": "pt"},
                                    "a": {"dtype": "F32", "shape": [2, 2], "data_offsets": [0, 16]},
                                    "b": {"dtype": "BF16", "shape": [3], "data_offsets": [16, 22]}}, f32(4) + b"\0" * 6))
put("safetensors", "valid_adapter", st({
    "base_model.model.model.layers.0.self_attn.q_proj.lora_A.weight": {"dtype": "F32", "shape": [2, 4], "data_offsets": [0, 32]},
    "base_model.model.model.layers.0.self_attn.q_proj.lora_B.weight": {"dtype": "F32", "shape": [4, 2], "data_offsets": [32, 64]},
    "layers.0.beta": {"dtype": "F32", "shape": [2], "data_offsets": [64, 72]}}, f32(18)))
put("safetensors", "valid_empty", st({}))
put("safetensors", "scalar_and_zero", st({"s": {"dtype": "I64", "shape": [], "data_offsets": [0, 8]},
                                          "z": {"dtype": "F16", "shape": [0, 5], "data_offsets": [8, 8]}}, b"\1" * 8))
put("safetensors", "all_dtypes", st({d: {"dtype": d, "shape": [1], "data_offsets": [i * 8, i * 8 + s]} for i, (d, s) in enumerate(
    [("BOOL", 1), ("U8", 1), ("I8", 1), ("I16", 2), ("U16", 2), ("F16", 2), ("BF16", 2), ("I32", 4), ("U32", 4),
     ("F32", 4), ("F64", 8), ("I64", 8), ("U64", 8), ("F8_E5M2", 1), ("F8_E4M3", 1)])}, b""))
put("safetensors", "bad_duplicate_key", st(None, f32(2), raw_header=b'{"a":{"dtype":"F32","shape":[1],"data_offsets":[0,4]},'
                                           b'"a":{"dtype":"F32","shape":[1],"data_offsets":[4,8]}}'))
put("safetensors", "bad_overlap", st({"a": {"dtype": "F32", "shape": [2], "data_offsets": [0, 8]},
                                      "b": {"dtype": "F32", "shape": [1], "data_offsets": [4, 8]}}, f32(2)))
put("safetensors", "bad_gap", st({"a": {"dtype": "F32", "shape": [1], "data_offsets": [4, 8]}}, f32(2)))
put("safetensors", "bad_shape_overflow", st({"a": {"dtype": "F64", "shape": [4294967296, 4294967296], "data_offsets": [0, 8]}}, f32(2)))
put("safetensors", "bad_truncated", st({"a": {"dtype": "F32", "shape": [4], "data_offsets": [0, 16]}}, f32(2)))
put("safetensors", "bad_header_length", struct.pack("<Q", 1 << 40) + b"{}")
put("safetensors", "bad_utf8", st(None, b"", raw_header=b'{"\xff\xfe":{"dtype":"F32","shape":[0],"data_offsets":[0,0]}}'))
put("safetensors", "bad_metadata", st({"__metadata__": {"format": 1}}))
put("safetensors", "bad_dtype", st({"a": {"dtype": "F4", "shape": [1], "data_offsets": [0, 1]}}, b"\0"))

# --- model.safetensors.index.json ---
put("safetensors_index", "valid", json.dumps({"metadata": {"total_size": 64}, "weight_map": {
    "model.embed_tokens.weight": "model-00001-of-00002.safetensors", "lm_head.weight": "model-00002-of-00002.safetensors",
    "model.norm.weight": "model-00002-of-00002.safetensors"}}, indent=1))
put("safetensors_index", "bad_escape", json.dumps({"weight_map": {"a": "../outside.safetensors"}}))
put("safetensors_index", "bad_separator", json.dumps({"weight_map": {"a": "sub/x.safetensors", "b": "c:\\x"}}))
put("safetensors_index", "bad_type", json.dumps({"weight_map": {"a": 3}}))
put("safetensors_index", "bad_duplicate", '{"weight_map": {"a": "x.safetensors", "a": "y.safetensors"}}')
put("safetensors_index", "bad_no_map", json.dumps({"metadata": {}}))

# --- config.json ---
demo = json.loads((SRC / "resources/models/demo/config.json").read_text())
put("config", "demo", json.dumps(demo, indent=1))
put("config", "llama3_rope", json.dumps({**demo, "rope_scaling": {"rope_type": "llama3", "factor": 8.0, "low_freq_factor": 1.0,
                                         "high_freq_factor": 4.0, "original_max_position_embeddings": 8192},
                                         "rope_theta": 500000.0, "tie_word_embeddings": True}))
put("config", "linear_rope", json.dumps({**demo, "rope_scaling": {"type": "linear", "factor": 2.0}}))
put("config", "qwen2", json.dumps({**demo, "model_type": "qwen2", "architectures": ["Qwen2ForCausalLM"],
                                   "sliding_window": 32, "use_sliding_window": False, "max_window_layers": 28}))
put("config", "mistral", json.dumps({**demo, "model_type": "mistral", "architectures": ["MistralForCausalLM"], "sliding_window": 64}))
put("config", "biases", json.dumps({**demo, "attention_bias": True, "mlp_bias": True, "head_dim": None}))
put("config", "bad_layers", json.dumps({**demo, "num_hidden_layers": 1000000000}))
put("config", "bad_negative_eps", json.dumps({**demo, "rms_norm_eps": -1e-5}))
put("config", "bad_gqa", json.dumps({**demo, "num_key_value_heads": 3}))
put("config", "bad_types", json.dumps({**demo, "hidden_size": "128", "rope_scaling": [1]}))
put("config", "bad_missing", json.dumps({"model_type": "llama"}))
put("config", "bad_not_object", "[1, 2, 3]")

# --- tokenizer.json (+ tokenizer_config.json, text) ---
demo_tok = (SRC / "resources/models/demo/tokenizer.json").read_text()
demo_cfg = (SRC / "resources/models/demo/tokenizer_config.json").read_text()
put("tokenizer", "demo", demo_tok + "\n@@ tokenizer_config.json\n" + demo_cfg)
put("tokenizer", "demo_text", demo_tok + "\n@@ text\nHello <|bos|> world 123\n")
for name in ("llama3_small", "llama2_small"):
    put("tokenizer", name, (ROOT / "data" / name / "tokenizer.json").read_text() + "\n@@ text\nThe cat's 1234 caf\u00e9  \n\n")
put("tokenizer", "bad_model_type", json.dumps({**json.loads(demo_tok), "model": {"type": "Unigram", "vocab": []}}))
put("tokenizer", "bad_merges", json.dumps({**json.loads(demo_tok), "model": {**json.loads(demo_tok)["model"], "merges": [["x"], 3]}}))
put("tokenizer", "bad_regex", json.dumps({**json.loads(demo_tok), "pre_tokenizer": {"type": "Split", "pattern": {"Regex": "(?<"},
                                          "behavior": "Isolated", "invert": False}}))

# --- tokenizer_config.json ---
put("tokenizer_config", "demo", demo_cfg)
put("tokenizer_config", "objects", json.dumps({"add_bos_token": True, "add_eos_token": True,
                                               "bos_token": {"content": "<|bos|>", "lstrip": False, "__type": "AddedToken"},
                                               "eos_token": {"content": "<|eos|>"}}))
put("tokenizer_config", "nulls", json.dumps({"bos_token": None, "eos_token": None, "add_bos_token": None}))
put("tokenizer_config", "unknown_token", json.dumps({"bos_token": "<s>", "add_bos_token": True}))
put("tokenizer_config", "bad_types", json.dumps({"bos_token": 5, "add_bos_token": "yes", "eos_token": [1]}))
put("tokenizer_config", "bad_json", '{"bos_token": "<|bos|>",')

# --- text to encode ---
for i, text in enumerate(["Hello world", "  leading and trailing  ", "caf\u00e9 na\u00efve \u4e2d\u6587 \U0001f600",
                          "<|bos|>x<|eos|><|begin_of_text|><s></s>", "12345678901 3.14 -7", "tab\there\r\nnew\n\n\nlines",
                          "'s 't 're 've 'm 'll 'd", "\u0301\u00a0\u2028\u200b"]):
    put("encode", "text%d" % i, text)
put("encode", "invalid_utf8", b"abc\xff\xfe\xc3(\xe2\x82 \xf0\x9f\x98")

# --- task files: LayerScope JSONL (every kind) and the benchmark layouts ---
for f in sorted((SRC / "resources/tasks/demo").glob("*.jsonl")):
    put("tasks", f.stem, "".join(f.read_text().splitlines(keepends=True)[:4]))
put("tasks", "mmlu", '{"question": "2+2?", "choices": ["3", "4", "5", "6"], "answer": 1}\n'
                     '{"question": "Sky?", "choices": ["blue", "red"], "answer": "A"}\n')
put("tasks", "arc", '{"id": "q1", "question": "Hot?", "choices": {"text": ["sun", "ice"], "label": ["A", "B"]}, "answerKey": "A"}\n'
                    '{"id": "q2", "question": "Cold?", "choices": {"text": ["sun", "ice"], "label": ["1", "2"]}, "answerKey": "2"}\n')
put("tasks", "gpqa", '{"Question": "Q?", "Correct Answer": "right", "Incorrect Answer 1": "w1", "Incorrect Answer 2": "w2", "Incorrect Answer 3": "w3"}\n')
put("tasks", "gpqa_lower", '{"question": "Q?", "correct_answer": "right", "incorrect_answers": ["w1", "w2", "w3"]}\n')
put("tasks", "mgsm", '{"question": "3 apples + 4?", "answer_number": 7}\n{"question": "Ten minus two?", "answer": "Ten minus two is 8. The answer is 8."}\n')
put("tasks", "math", '{"problem": "Half of 1?", "solution": "It is $\\\\boxed{\\\\frac{1}{2}}$."}\n{"problem": "x", "answer": "1,000"}\n')
put("tasks", "bad_duplicate_id", '{"id": "a", "prompt": "p", "target": "t"}\n{"id": "a", "prompt": "q", "target": "u"}\n')
put("tasks", "bad_mixed_kinds", '{"id": "a", "prompt": "p", "target": "t"}\n{"id": "b", "prompt": "p", "choices": [" x", " y"], "answer": 0}\n')
put("tasks", "bad_answer_range", '{"id": "a", "prompt": "p", "choices": [" x", " y"], "answer": 7}\n')
put("tasks", "bad_types", '{"id": 1, "prompt": ["p"], "choices": " x", "answer": "0"}\n')
put("tasks", "bad_json", '{"id": "a", "prompt": "p", \n')

# --- session files ---
session = {"format": "layerscope.session/1", "model": "/m", "adapter": "", "tasks": ["/t/a.mc.jsonl"],
           "options": {"n_items": 64, "seed": 1, "profile": "paper"}, "results": ["/r/1", "/r/2"], "selection": [0, 3, 5]}
put("session", "valid", json.dumps(session, indent=1))
put("session", "bad_format", json.dumps({**session, "format": "layerscope.session/2"}))
put("session", "bad_types", json.dumps({**session, "tasks": "x", "selection": [1.5, "a", None], "options": []}))
put("session", "bad_json", '{"format": "layerscope.session/1", ')

# --- results directories (sections, fuzz_util.h) ---
L = 4
scores = {"format": "layerscope.scores/1", "num_layers": L, "num_kv_heads": 2, "created_utc": "2026-11-24T02:00:00Z",
          "model": {"path": "m"}, "task": {"path": "t"}, "options": {"seed": 1}, "timings_seconds": {"forward": 1.2},
          "layer_scores": {"sensitivity.rel_l2": [0.1, 0.2, None, 0.4], "rope_influence.gradient": [1, 2, 3, 4]},
          "layer_head_scores": {"rope_influence.gradient.per_head": [[0.1, 0.2]] * L}}
stats = {"format": "layerscope.stats/1", "profiles": {"sensitivity": "sensitivity.rel_l2", "rope": "rope_influence.gradient"},
         "stats.spearman.r": -0.7, "stats.spearman.p": 1e-3, "top_k": {"k_sens": 2, "k_rope": 2, "S_sens": [2, 3], "S_rope": [0, 1]},
         "jaccard": 0.0, "centre_of_mass": {"sensitivity": 2.1, "rope": 0.9}, "verdict": "anti-localized", "verdict_text": "..."}
csv = "layer,sensitivity.rel_l2,rope_influence.gradient\n0,0.1,1\n1,0.2,2\n2,nan,3\n3,0.4,\n"
manip = {"format": "layerscope.manipulation/1", "mode": "random", "k": [0, 1, 2, 3], "accuracy": [0.9, 0.8, 0.5, 0.3], "base_accuracy": 0.9}
manip_all = {"format": "layerscope.manipulation/1", "k": [0, 1], "curves": {"random": [0.9, 0.5], "freeze": [0.9, 0.7]}}
drop = {"format": "layerscope.drop/1", "plan": "one-shot", "n": 2, "dropped": [{"layer": 3, "module": "attn"}, {"layer": 2, "module": "mlp"}],
        "similarity": {"attn": [0.9, 0.8, 0.95, 0.99], "mlp": [0.5, 0.6, 0.7, 0.8]}, "accuracy": 0.8, "base_accuracy": 0.9, "speedup": 1.2}
report = {"format": "layerscope.ablation/1", "tasks": ["add", "copy"], "base": {"accuracy": {"add": 0.2, "copy": 0.3}},
          "arms": [{"name": "lora", "lora_layers": [0, 1], "garfa_layers": [], "trainable_parameters": 1234, "wall_seconds": 3.5,
                    "accuracy": {"add": 0.5, "copy": 0.6}}]}
sec = lambda name, obj: "@@ %s\n%s\n" % (name, obj if isinstance(obj, str) else json.dumps(obj))
put("results", "analyze", sec("scores.json", scores) + sec("stats.json", stats) + sec("layers.csv", csv))
put("results", "manipulate", sec("manipulation.json", manip))
put("results", "manipulate_all", sec("manipulation.json", manip_all))
put("results", "drop", sec("drop.json", drop))
put("results", "ablate", sec("report.json", report))
put("results", "bad_layers_mismatch", sec("scores.json", scores) + sec("layers.csv", "layer,x\n0,1\n"))
put("results", "bad_csv", sec("layers.csv", "layer,x\nzero,1\n1,abc\n"))
put("results", "bad_types", sec("drop.json", {**drop, "dropped": {"layer": 1}}) + sec("report.json", {**report, "arms": [{"name": 3}]}))
put("results", "bad_format", sec("scores.json", {**scores, "format": "layerscope.scores/2"}))

# --- adapter directories (sections) ---
peft = {"peft_type": "LORA", "task_type": "CAUSAL_LM", "r": 4, "lora_alpha": 8, "lora_dropout": 0.05,
        "target_modules": ["q_proj", "v_proj"], "layers_to_transform": [0, 1, 11], "base_model_name_or_path": "demo", "bias": "none"}
garfa = {"format": "layerscope.garfa/1", "layers": [2, 3], "num_key_value_heads": 2, "clamp_alpha": [0.25, 4.0],
         "base_model_name_or_path": "demo"}
put("adapter", "lora", sec("adapter_config.json", peft))
put("adapter", "lora_all_layers", sec("adapter_config.json", {**peft, "layers_to_transform": None, "base_model_name_or_path": None}))
put("adapter", "lora_int_layer", sec("adapter_config.json", {**peft, "layers_to_transform": 3}))
put("adapter", "garfa", sec("garfa_config.json", garfa))
put("adapter", "both", sec("adapter_config.json", peft) + sec("garfa_config.json", {**garfa, "clamp_alpha": None}))
put("adapter", "bad_regex_modules", sec("adapter_config.json", {**peft, "target_modules": ".*proj"}))
put("adapter", "bad_layer", sec("adapter_config.json", {**peft, "layers_to_transform": [12]}))
put("adapter", "bad_rank", sec("adapter_config.json", {**peft, "r": 1000000000}))
put("adapter", "bad_truncating_int", sec("adapter_config.json", {**peft, "layers_to_transform": [4294967296]}))
put("adapter", "bad_heads", sec("garfa_config.json", {**garfa, "num_key_value_heads": 8}))
put("adapter", "bad_types", sec("adapter_config.json", {**peft, "r": "4", "lora_alpha": None}) + sec("garfa_config.json", {**garfa, "clamp_alpha": [1]}))

# --- reproducers of fixed findings (docs/fuzzing.md, "Findings"); each has a unit test ---
tiny = lambda extra="", vocab='{"a": 0, "b": 1}': '{"model": {"type": "BPE", "vocab": %s, "merges": []}%s}' % (vocab, ", " + extra if extra else "")
put("tokenizer", "regress-added-id-int-max", tiny('"added_tokens": [{"id": 2147483647, "content": "<x>"}]'))
put("tokenizer", "regress-vocab-id-huge", tiny("", '{"a": 0, "b": 1000000000}'))
put("tokenizer", "regress-post-id-outside", tiny('"post_processor": {"type": "TemplateProcessing", "single": [{"SpecialToken": '
                                                 '{"id": "<s>", "type_id": 0}}, {"Sequence": {"id": "A", "type_id": 0}}], '
                                                 '"special_tokens": {"<s>": {"id": "<s>", "ids": [7], "tokens": ["<s>"]}}}'))
put("tokenizer_config", "regress-add-bos-not-bool", json.dumps({"bos_token": "<|bos|>", "add_bos_token": "yes"}))
put("tokenizer_config", "regress-content-not-string", json.dumps({"bos_token": {"content": 5}}))
put("adapter", "regress-layer-truncation", sec("adapter_config.json", {**peft, "layers_to_transform": [4294967296]}))
put("adapter", "regress-rank-alloc", sec("adapter_config.json", {**peft, "r": 2000000000}))
put("results", "regress-csv-stoi", sec("layers.csv", "layer,x\nzero,1\n"))
put("results", "regress-dropped-object", sec("drop.json", {**drop, "dropped": {"layer": 1}}))
put("results", "regress-arm-name-number", sec("report.json", {"format": "layerscope.ablation/1", "arms": [{"name": 3, "accuracy": {}}]}))
put("results", "regress-curves-array", sec("manipulation.json", {"format": "layerscope.manipulation/1", "k": [0], "curves": [1]}))
put("safetensors", "regress-duplicate-tensor", st(None, f32(2), raw_header=b'{"a":{"dtype":"F32","shape":[1],"data_offsets":[0,4]},'
                                                  b'"a":{"dtype":"F32","shape":[1],"data_offsets":[4,8]}}'))
