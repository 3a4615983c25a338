// The LibTorch training loop shared by pretraining (the demo model organism) and adapter training
// (LS-LoRA / GARFA): AdamW with parameter groups, linear warmup + cosine decay, gradient clipping, gradient
// accumulation, deterministic per-step seeding, atomic checkpoints with a manifest, and exact resume on CPU.
#pragma once

#include <cstdint>
#include <filesystem>
#include <functional>
#include <limits>
#include <map>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>
#include <torch/torch.h>

#include "core/base/job_control.h"

namespace layerscope::core {

/// A named trainable tensor (leaf, requires_grad, float32).
struct NamedParam {
  std::string name;
  torch::Tensor value;
};

/// One AdamW parameter group.
struct ParamGroup {
  std::string name;               ///< "lora", "garfa", "model"
  std::vector<NamedParam> params;
  double lr = 1e-3;               ///< peak learning rate
  double weightDecay = 0.0;       ///< decoupled (AdamW) weight decay
  /// Optional projection after each update (e.g. clamp GARFA's beta so alpha stays in [0.25, 4]).
  std::function<void(torch::Tensor&)> project;
};

/// Data-parallel training (and evaluation, experiments/evaluation.h) over processes (docs/distributed.md): each rank
/// runs the same Trainer on its share of every micro-batch, and the hooks (from core::dist::World, or anything with
/// the same meaning) combine them. size 1: one process, no hook is called and the loop is the single-process one.
struct DataParallel {
  int rank = 0;  ///< this process, 0 .. size-1; rank 0 alone writes checkpoints and reads them on resume
  int size = 1;
  std::function<void(torch::Tensor&)> allReduceSum;  ///< element-wise sum over ranks, in place (float/double)
  std::function<void(torch::Tensor&)> broadcast;     ///< replaces the tensor by rank 0's, in place
  std::function<std::vector<std::string>(const std::string&)> allGather;  ///< every rank's text, in rank order
  bool distributed() const { return size > 1; }
};

struct TrainerOptions {
  int64_t steps = 100;            ///< optimizer steps
  int64_t warmupSteps = 10;       ///< linear warmup from 0 to the peak lr
  double minLrRatio = 0.1;        ///< cosine decays to minLrRatio x peak
  double beta1 = 0.9, beta2 = 0.999, eps = 1e-8;
  double clipNorm = 1.0;          ///< global L2 gradient norm clip (<= 0: off)
  int gradAccum = 1;              ///< micro-batches per optimizer step
  uint64_t seed = 0;              ///< seeds torch's generator per micro-batch (dropout); data order is the caller's
  int64_t checkpointEvery = 0;    ///< 0: only at the end
  std::filesystem::path checkpointDir;  ///< empty: no checkpoints
  int keepCheckpoints = 2;        ///< newest N complete checkpoints are kept
  /// Held-out loss (optional): after every `evalEvery`-th step and after the last one, `evalLoss` returns this
  /// rank's (sum of per-token losses, token count) under no-grad; the Trainer sums both over ranks and reports
  /// sum / count in StepReport::evalLoss and TrainResult::evalLosses. The history travels in checkpoints, so a
  /// resumed run keeps the earlier points. 0: off.
  int64_t evalEvery = 0;
  std::function<std::pair<double, double>()> evalLoss;
  /// Data parallel: the loss function returns this rank's share of each micro-batch loss, scaled so that the sum
  /// over ranks is the whole micro-batch's loss (and its own token count); the gradients, losses and token counts are
  /// summed over ranks before clipping and the step, so every rank takes the single-process step. Checkpoints are
  /// written by rank 0 only; on resume rank 0 reads the newest one and broadcasts it (any world size can resume it).
  DataParallel parallel;
};

/// What one optimizer step reports.
struct StepReport {
  int64_t step = 0;          ///< 1-based
  int64_t totalSteps = 0;
  double loss = 0;           ///< mean of the micro-batch losses
  double lr = 0;             ///< lr factor x first group's peak lr
  double gradNorm = 0;       ///< before clipping
  double tokens = 0;         ///< tokens in this step (as the loss function reported them)
  double tokensPerSecond = 0;
  double etaSeconds = 0;
  double evalLoss = std::numeric_limits<double>::quiet_NaN();  ///< held-out loss after this step, NaN when not evaluated
};

/// One held-out loss point: after optimizer step `step` (1-based).
struct EvalPoint {
  int64_t step = 0;
  double loss = 0;
};

/// Loss of micro-batch `micro` of step `step` (0-based), and the number of tokens it covered.
using LossFn = std::function<std::pair<torch::Tensor, double>(int64_t step, int micro)>;

struct TrainResult {
  std::vector<double> losses;  ///< per step, from step 1 (including steps replayed from a checkpoint)
  std::vector<EvalPoint> evalLosses;  ///< held-out loss points (TrainerOptions::evalEvery), earlier runs' included
  int64_t resumedFromStep = 0;
  double seconds = 0;
};

/// lr multiplier at 0-based `step`: linear warmup to 1, then cosine to minLrRatio at the last step.
double lrFactor(const TrainerOptions& o, int64_t step);

class Trainer {
 public:
  Trainer(std::vector<ParamGroup> groups, TrainerOptions options);

  /// Runs to options.steps. With `resume`, continues from the newest complete checkpoint in checkpointDir
  /// (restoring parameters, optimizer state and loss history), reproducing the uninterrupted run exactly.
  TrainResult run(const LossFn& loss, const std::function<void(const StepReport&)>& onStep = {},
                  const JobControl* job = nullptr, bool resume = false);

  /// Newest complete checkpoint directory in `dir` (manifest present), or empty.
  static std::filesystem::path newestCheckpoint(const std::filesystem::path& dir);
  const std::vector<ParamGroup>& groups() const { return groups_; }
  int64_t trainableCount() const;

 private:
  void saveCheckpoint(int64_t step, const TrainResult& history) const;
  int64_t loadCheckpoint(const std::filesystem::path& dir, TrainResult& history);
  void reduceOverRanks(double& lossSum, double& tokens);
  int64_t shareResumedState(int64_t start, TrainResult& history);
  double heldOutLoss();
  std::vector<ParamGroup> groups_;
  TrainerOptions opt_;
  std::vector<std::vector<torch::Tensor>> m_, v_;  // AdamW moments per group, per param
};

}  // namespace layerscope::core
