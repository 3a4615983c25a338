// HumanEval / HumanEval+ pass@1 of a model (optionally with an adapter): greedy completions with HumanEval's stop
// sequences, each tested in the sandbox (core/base/sandbox.h), results per item. The `humaneval` command, and the
// code benchmark of the reproduce protocol. Layouts: docs/tasks.md section 5; protocol: docs/reproduce.md.
#pragma once

#include <filesystem>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "core/base/job_control.h"
#include "core/base/sandbox.h"
#include "core/data/humaneval.h"
#include "core/model/generation.h"

namespace layerscope::experiments {

/// One problem's outcome (a line of items.jsonl).
struct CodeItem {
  std::string taskId;
  std::string completion;       ///< the generated text (cut before the stop sequence)
  std::string stop;             ///< the stop sequence that ended it, "<eos>" or "max_tokens"
  int tokens = 0;               ///< tokens generated
  core::SandboxStatus status = core::SandboxStatus::Error;
  std::string reason;           ///< sandbox reason ("" when passed)
  double seconds = 0;           ///< test program wall-clock time (s)
  bool passed() const { return status == core::SandboxStatus::Passed; }
};

struct CodeEvalResult {
  std::string benchmark;          ///< file name without extension
  std::string format;             ///< "humaneval" | "humaneval+"
  std::string fingerprint;        ///< sha256 of the benchmark file
  std::vector<CodeItem> items;
  std::size_t passed = 0;
  double passAt1 = 0;             ///< greedy pass@1 = passed / items (Chen et al.'s estimator with n = 1)
  unsigned isolation = 0;         ///< sandbox layers common to every run (core::SandboxIsolation bits)
  double generationSeconds = 0, executionSeconds = 0;
};

/// Tests given completions (one per problem, in order) in the sandbox; no model involved. Progress stage "sandbox".
CodeEvalResult scoreCompletions(const core::CodeBenchmark& benchmark, const std::vector<core::Generation>& completions,
                                const core::SandboxOptions& sandbox, const core::JobControl* job = nullptr);

/// items.jsonl line: task_id, completion, stop, tokens, status, reason, seconds, passed.
nlohmann::json codeItemJson(const CodeItem& item);
/// result.json: pass@1, counts per status, options and provenance (everything but the items).
nlohmann::json codeResultJson(const CodeEvalResult& result);

struct CodeEvalRequest {
  std::filesystem::path modelDir;
  std::filesystem::path adapterDir;      ///< empty: the base model
  std::filesystem::path benchmarkFile;   ///< HumanEval or HumanEval+ JSONL
  std::size_t limit = 0;                 ///< first N problems (0 = all)
  core::GenerationOptions generation;    ///< stop sequences, max new tokens, batch
  core::SandboxOptions sandbox;          ///< limits, parallel programs
  std::string dtype = "float32";
  std::string device = "auto";
  std::filesystem::path outDir;          ///< items.jsonl + result.json, written as one directory; empty: none
  bool overwrite = false;                ///< replace an existing outDir
};

/// Loads the benchmark (errors before the model loads), the model (adapter applied), generates and tests.
/// Progress: "generate" then "sandbox"; cancellable in both.
CodeEvalResult runCodeEvaluation(const CodeEvalRequest& request, const core::JobControl* job = nullptr);

}  // namespace layerscope::experiments
