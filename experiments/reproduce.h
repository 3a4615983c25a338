// The co-localization study's protocol in one call (docs/reproduce.md): pairs-mode sensitivity and RoPE influence
// on a pair file (default: 15 pairs from the benchmarks), the co-localization statistics with the paper's top-k
// (9 and 10 of 32 layers, scaled: the analysis defaults), the 4-way ablation C1-C5 evaluated on the benchmarks
// present, and HumanEval(+) pass@1 of the base model and of every arm. Each step is resumable: a step whose
// output is complete is not run again. The `reproduce` command runs this.
#pragma once

#include <cstddef>
#include <cstdint>
#include <filesystem>
#include <functional>
#include <string>

#include <nlohmann/json.hpp>

#include "core/base/job_control.h"

namespace layerscope::experiments {

struct ReproduceRequest {
  std::filesystem::path modelDir;
  std::filesystem::path benchmarksDir;  ///< docs/reproduce.md, "Benchmark directory"
  std::filesystem::path outDir;         ///< pairs.jsonl, analysis/, ablation/, humaneval/<arm>/, summary.json
  std::filesystem::path pairsFile;      ///< empty: core::defaultPairs of the benchmarks
  std::string train;                    ///< training split of the ablation (task JSONL or demo:N); required
  std::int64_t steps = 200;             ///< training steps per arm
  int controlSeeds = 3;                 ///< C5 runs
  std::size_t bootstrap = 1000;         ///< analysis bootstrap B
  std::size_t codeLimit = 0;            ///< HumanEval problems (0 = all)
  int codeMaxTokens = 512;              ///< HumanEval new tokens
  std::string dtype = "float32";
  std::string device = "auto";
  std::function<void(const std::string&)> log;  ///< human-readable lines
};

/// `quick`: the settings the CI check uses on the demo model (20 steps, 1 control seed, B = 50, 32 code tokens).
void applyQuickSettings(ReproduceRequest& r);

/// What the protocol will run and cost, before it starts (the GUI dialog shows it): the benchmarks found, the
/// pairs, the analysis estimate (analysis::estimateAnalysis, layers timed on the model's shape) and one ablation
/// arm's training estimate (experiments::estimateTraining, an upper bound: adapters from layer 0, so the backward
/// passes every layer) times the arms. Evaluations and HumanEval generation are listed, not timed.
struct ReproduceEstimate {
  nlohmann::json detail;      ///< benchmarks, pairs, arms, the two estimates as JSON
  std::string text;           ///< the plan and the estimate as lines
  double seconds = 0;         ///< analysis + every arm's training (evaluations not included)
  double peakBytes = 0;       ///< the larger of the analysis and training peaks
};
/// Reads the config, the benchmarks and the pairs; times layers when `measure`. Writes nothing into outDir.
ReproduceEstimate estimateReproduce(const ReproduceRequest& request, bool measure = true, const core::JobControl* job = nullptr);

/// Runs (or resumes) the protocol and writes outDir/summary.json last; returns it.
nlohmann::json runReproduce(const ReproduceRequest& request, const core::JobControl* job = nullptr);

}  // namespace layerscope::experiments
