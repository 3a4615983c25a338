// Adapter fine-tuning (docs/methods.md section 7): LS-LoRA and/or GARFA trained with the shared Trainer on a JSONL task
// file, base weights frozen and untouched, loss on completion tokens only, seeded data order, checkpoints and
// exact resume. Also the evaluation hook that applies an adapter, and the GEMM-rate probe of `bench train`.
#pragma once

#include <cstdint>
#include <filesystem>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "core/train/adapters.h"
#include "core/data/dataset.h"
#include "core/base/job_control.h"
#include "core/model/model.h"
#include "core/model/scoring.h"
#include "core/text/tokenizer.h"
#include "core/train/trainer.h"

namespace layerscope::core {

struct AdapterTrainOptions {
  double loraLr = 2e-4;           ///< peak lr of the LoRA group
  double loraWeightDecay = 0.0;   ///< decoupled weight decay of the LoRA group
  double garfaLr = 1e-3;          ///< peak lr of the GARFA group (never weight decay)
  int64_t steps = 200;            ///< optimizer steps
  int64_t warmupSteps = -1;       ///< -1: 5% of steps (rounded, at least 1)
  double minLrRatio = 0.1;        ///< cosine floor, fraction of the peak
  int batchSize = 8;              ///< sequences per micro-batch
  int gradAccum = 1;              ///< micro-batches per step
  double clipNorm = 1.0;          ///< global gradient-norm clip (<= 0: off)
  uint64_t seed = 0;              ///< adapter init, data order, dropout
  int64_t checkpointEvery = 50;   ///< 0: only at the end
  int keepCheckpoints = 2;
  std::string completionSuffix = "\n";  ///< appended to each gold completion (the eval stop string)
  /// Data-parallel run (docs/distributed.md): every micro-batch of batchSize sequences is split over the ranks in
  /// contiguous shares (batchSize >= ranks); not part of the recorded options, so any world size resumes any run.
  DataParallel parallel;
  /// Held-out loss (docs/methods.md section 7): the mean completion cross-entropy of up to `evalItems` items of
  /// `evalTask` (a seeded subset, the same for the whole run; 0 = every item), adapters applied without dropout,
  /// after every `evalEvery`-th step and after the last (-1: every max(1, steps / 10) steps; 0: off). Not part of
  /// the recorded options: it does not change the trained parameters.
  std::shared_ptr<const Task> evalTask;
  int64_t evalEvery = -1;
  int evalItems = 100;
};

/// One training sequence: context (BOS per the tokenizer, never doubled) and the completion tokens the loss covers.
struct TrainSequence {
  std::vector<int32_t> context;
  std::vector<int32_t> completion;
};

/// MC items train on prompt + gold choice, short answer on prompt + target, pairs on prompt + correct; each
/// completion gets `suffix` appended. Split as lm-evaluation-harness does (encodePair).
std::vector<TrainSequence> trainingSequences(const Tokenizer& tok, const Task& task, const std::string& suffix);

/// A training task from the demo suite's *train* split (disjoint from every eval item by construction,
/// core/data/task_suite.h): `spec` is "demo:N" (the pretraining mix) or "demo:FAMILY:N" (one family, e.g.
/// "demo:kv_recall:500"); short-answer items whose target is the gold answer. Returns nullopt when `spec` does
/// not start with "demo:" (it is then a file path); throws InvalidArgument on a malformed spec.
std::optional<Task> demoTrainingTask(const std::string& spec, uint64_t seed);

/// The example indices of micro-batch `micro` of step `step`: a fresh seeded permutation per epoch, a pure
/// function of (seed, n, step, micro) so resume is exact.
std::vector<size_t> batchIndices(uint64_t seed, size_t n, int64_t step, int micro, int batchSize, int gradAccum);

/// Mean next-token cross-entropy over the completion tokens of the sequences (right padded), and the number
/// of real tokens in the batch.
std::pair<torch::Tensor, double> completionLoss(const LlamaModel& model, const Interventions& iv,
                                                const std::vector<const TrainSequence*>& batch);

/// The held-out items of AdapterTrainOptions::evalItems: indices into `n` items, a seeded subset in file order
/// (all of them when maxItems is 0 or at least n).
std::vector<size_t> heldOutSubset(size_t n, int maxItems, uint64_t seed);

struct AdapterTrainResult {
  std::vector<double> losses;        ///< per step from step 1 (replayed steps included on resume)
  std::vector<EvalPoint> evalLosses;  ///< held-out loss points (AdapterTrainOptions::evalEvery), earlier runs' included
  std::size_t evalItems = 0;          ///< items the held-out loss covers
  int64_t resumedFromStep = 0;
  double seconds = 0;                ///< this run
  double tokensPerSecond = 0;        ///< this run
  int64_t loraParameters = 0, garfaParameters = 0;
  nlohmann::json log;                ///< training_log.json
};

/// Trains `adapters` in place (data parallel when opt.parallel.size > 1: rank 0 alone writes). With a non-empty `outDir`: writes train_options.json first (a resumed run must
/// match it), checkpoints to outDir/checkpoints/step-XXXXXXXX every `checkpointEvery` steps and at the end,
/// then the adapter files and finally training_log.json (its presence marks a finished run). `resume`
/// continues from the newest complete checkpoint and reproduces the uninterrupted loss sequence exactly.
AdapterTrainResult trainAdapters(const LlamaModel& model, AdapterSet& adapters, const Tokenizer& tok, const Task& train,
                                 const AdapterTrainOptions& opt, const std::filesystem::path& outDir = {},
                                 bool resume = false, const std::function<void(const StepReport&)>& onStep = {},
                                 const JobControl* job = nullptr);

/// Evaluates a prepared task with the adapter applied (null adapter = base model).
EvalResult evaluateWithAdapter(const LlamaModel& model, const AdapterSet* adapter, const Tokenizer& tok,
                               const PreparedTask& task, const ScoringOptions& so = {}, const JobControl* job = nullptr);

/// The tokenizer's BOS policy in words ("BOS <|bos|> (id 256) added once, never doubled" or "no BOS").
std::string bosPolicy(const Tokenizer& tok);

/// Sustained GEMM rate of this machine for `dtype` on [M,K] x [K,N], FLOP/s (best of 5 bursts of 0.3 s; on the CPU
/// the better of LibTorch's GEMM and the one the forward uses: oneDNN's sgemm for float32, the widened float32
/// GEMM for bfloat16), on `device` (timed to completion).
double measureGemmRate(torch::ScalarType dtype, int64_t M, int64_t K, int64_t N, c10::Device device = hostDevice());

}  // namespace layerscope::core
