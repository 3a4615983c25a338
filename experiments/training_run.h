// An adapter training run with its evaluation (docs/methods.md section 7): LS-LoRA and/or GARFA on the chosen
// layers of a frozen base, trained on a task file or the demo suite's train split, then each evaluation file
// scored with and without the adapter. The `train` command and the GUI's training panel run this.
#pragma once

#include <filesystem>
#include <functional>
#include <string>
#include <vector>

#include "core/base/job_control.h"
#include "core/train/adapter_training.h"
#include "core/train/adapters.h"
#include "experiments/common.h"

namespace layerscope::experiments {

struct TrainRunRequest {
  std::filesystem::path modelDir;
  std::string train;                             ///< task JSONL, or demo:N / demo:FAMILY:N
  std::vector<std::filesystem::path> evalFiles;  ///< scored base vs adapted after training (eval.json)
  std::string evalFormat = "auto";               ///< layout of the evaluation files
  /// Held-out loss during training (a loss curve point every options.evalEvery steps, on up to options.evalItems
  /// items): a task JSONL or benchmark file; empty: none. The CLI uses the first evaluation file.
  std::filesystem::path evalLossFile;
  std::string loraLayers = "none";               ///< "all", "none", "23-31", "0,2,5-7"
  std::string garfaLayers = "none";
  core::AdapterSpec spec;                        ///< rank, alpha, dropout, targets, clamp (layers: from the texts above)
  core::AdapterTrainOptions options;             ///< steps, lrs, batch, seed, checkpoints
  std::string dtype = "float32";                 ///< compute dtype of the frozen base
  std::string device = "auto";     ///< cpu | cuda | cuda:N | auto (cuda when available, else cpu)
  std::filesystem::path outDir;                  ///< adapter folder (PEFT files, checkpoints/, train.log)
  bool resume = false;                           ///< continue from outDir's newest complete checkpoint
  ModelHandle preloaded;                         ///< used instead of loading modelDir when it matches
  std::function<void(const std::string&)> log;   ///< human-readable lines (plan, every 10th step, evaluations)
  std::function<void(const core::StepReport&)> onStep;  ///< every optimizer step (loss curves)
};

/// Base versus adapted accuracy on one evaluation file.
struct TaskComparison {
  std::string task;
  std::filesystem::path file;
  core::EvalResult base, adapted;
};

struct TrainRunResult {
  core::AdapterTrainResult train;
  std::vector<TaskComparison> evals;
  std::vector<int> loraLayers, garfaLayers;  ///< resolved
  std::size_t trainItems = 0;
};

/// Trains (train.log gets every step line) and evaluates; eval.json in outDir when evaluation files are given.
TrainRunResult runTraining(const TrainRunRequest& request, const core::JobControl* job = nullptr);

/// Base versus adapter on one evaluation file (the GUI's "Evaluate vs base"); the adapter is read from its folder.
TaskComparison compareWithBase(const ModelHandle& model, const std::filesystem::path& adapterDir,
                               const std::filesystem::path& evalFile, const core::ScoringOptions& scoring,
                               std::uint64_t seed, const core::JobControl* job = nullptr);

/// Overwrites `spec` and `options` with the ones recorded in outDir/train_options.json, so a resume repeats the
/// interrupted run exactly (throws InvalidArgument when there is nothing to resume).
void readRecordedTrainOptions(const std::filesystem::path& outDir, core::AdapterSpec& spec,
                              core::AdapterTrainOptions& options);

/// "step 3/200  loss 0.4123  lr 2.00e-04  grad 0.812  1770 tok/s  ETA 12 s" (with an optional label before it), and
/// "  eval loss 0.3981" after it at a step with a held-out loss.
std::string stepLine(const std::string& label, const core::StepReport& r);

}  // namespace layerscope::experiments
