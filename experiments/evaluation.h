// Evaluation of one task file (docs/methods.md section 9), optionally with an adapter: the `eval` command and
// the GUI's "Evaluate vs base".
#pragma once

#include <filesystem>
#include <optional>
#include <string>

#include "core/base/job_control.h"
#include "core/data/benchmarks.h"
#include "core/train/adapters.h"
#include "core/train/trainer.h"
#include "experiments/common.h"

namespace layerscope::experiments {

struct EvalRequest {
  std::filesystem::path modelDir;
  std::filesystem::path adapterDir;        ///< empty: the base model
  std::filesystem::path taskFile;          ///< LayerScope task JSONL or a benchmark layout
  std::string format = "native";           ///< native | auto | mmlu | arc | gpqa | mgsm | math
  core::BenchmarkOptions benchmark;        ///< seed (GPQA choice order), few-shot file and count
  core::ScoringOptions scoring;            ///< batch, stop string, max new tokens
  std::optional<std::string> extraction;   ///< none | last_number | boxed; unset: the layout's default
  std::string dtype = "float32";
  std::string device = "auto";     ///< cpu | cuda | cuda:N | auto (cuda when available, else cpu)
  std::filesystem::path itemsOut;          ///< per-item JSONL written atomically; empty: none
  core::DataParallel parallel;             ///< several processes: each scores its share, rank 0 writes itemsOut
};

struct EvalRunResult {
  std::string taskName;
  std::string bosPolicy;   ///< how BOS was handled, in words
  bool withAdapter = false;
  core::EvalResult result;
};

/// evaluateWithAdapter over processes (docs/distributed.md): each rank scores its contiguous share of the items and
/// every rank gets the per-item results of all, in item order, with the accuracies of the whole task (the
/// single-process result; forwardPasses summed, seconds the slowest rank's). One process: evaluateWithAdapter.
core::EvalResult evaluateDataParallel(const core::LlamaModel& model, const core::AdapterSet* adapter,
                                      const core::Tokenizer& tok, const core::PreparedTask& task,
                                      const core::ScoringOptions& so, const core::DataParallel& parallel,
                                      const core::JobControl* job = nullptr);

/// Loads the model (with the adapter folded in when given), the task in its layout, and evaluates it.
EvalRunResult runEvaluation(const EvalRequest& request, const core::JobControl* job = nullptr);

}  // namespace layerscope::experiments
