// The 4-way cross-layer ablation (docs/methods.md section 8): C1-C4 place LS-LoRA and GARFA on the
// sensitivity (S_sens) or RoPE (S_rope) top-k layers of an analysis, C5 on random layer sets of the same sizes
// over several seeds; every arm gets the same training budget and data, and is evaluated with the base model
// on every evaluation file. Resumable arm by arm: an arm with a complete result.json is not run again, an
// interrupted arm resumes from its newest checkpoint. The `ablate` command and the GUI's ablation panel run this.
#pragma once

#include <cstdint>
#include <filesystem>
#include <functional>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "core/base/job_control.h"
#include "core/train/adapter_training.h"
#include "core/train/adapters.h"
#include "experiments/common.h"

namespace layerscope::experiments {

struct AblationRequest {
  std::filesystem::path modelDir;
  std::filesystem::path analysisDir;             ///< results directory whose stats.json has top_k.S_sens / S_rope
  std::string train;                             ///< task JSONL, or demo:N / demo:FAMILY:N
  std::vector<std::filesystem::path> evalFiles;  ///< at least one
  std::string evalFormat = "auto";
  int controlSeeds = 3;                          ///< C5 runs (seeds seed, seed+1, ...)
  core::AdapterSpec spec;                        ///< rank, alpha, dropout, targets, clamp (layers come from the arms)
  core::AdapterTrainOptions options;             ///< the common training budget; options.seed seeds C1-C4 and C5's first run
  std::string dtype = "float32";
  std::string device = "auto";     ///< cpu | cuda | cuda:N | auto (cuda when available, else cpu)
  std::filesystem::path outDir;                  ///< base.json, arms/<name>/, logs/, report.json, report.csv
  ModelHandle preloaded;                         ///< used instead of loading modelDir when it matches
  std::function<void(const std::string&)> log;   ///< human-readable lines (arm plans, results)
};

/// One training run of the ablation.
struct AblationArm {
  std::string name;   ///< C1..C4, C5-s0, C5-s1, ...
  std::string group;  ///< C1..C5
  std::vector<int> lora, garfa;
  std::uint64_t seed = 0;
};

/// The arms for the given top-k sets: C1 (S_sens, S_sens), C2 (S_sens, S_rope), C3 (S_rope, S_sens), C4 (S_rope,
/// S_rope) with `seed`, then C5 with random sets of sizes |S_sens| and |S_rope| for seeds seed .. seed+controlSeeds-1.
std::vector<AblationArm> ablationArms(const std::vector<int>& sSens, const std::vector<int>& sRope, int numLayers,
                                      std::uint64_t seed, int controlSeeds);

/// The top_k sets of a results directory's stats.json (throws InvalidArgument naming the file when absent).
std::pair<std::vector<int>, std::vector<int>> readTopK(const std::filesystem::path& analysisDir);

struct AblationResult {
  nlohmann::json report;  ///< report.json (format layerscope.ablation/1)
  std::string csv;        ///< report.csv
};

/// Runs (or resumes) the ablation into request.outDir and writes report.json and report.csv atomically.
/// Progress: overall fraction over the base evaluation and every arm's steps and evaluation.
AblationResult runAblation(const AblationRequest& request, const core::JobControl* job = nullptr);

}  // namespace layerscope::experiments
