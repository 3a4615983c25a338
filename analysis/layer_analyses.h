// Model-based layer analyses (docs/methods.md sections 2, 3, 5, 6) on top of the core's capture and intervention
// points: hidden states for the sensitivity scores, RoPE influence (gradient / perturb / nope), layer
// redundancy and drop plans, previous-token manipulations. Pure functions of (model, prepared task, params);
// no Qt, no I/O. Each returns its payload plus what produced it (params, counts, timings).
#pragma once

#include <algorithm>
#include <array>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include <Eigen/Core>

#include "analysis/paper_semantics.h"
#include "analysis/sensitivity_metrics.h"
#include "analysis/statistics.h"
#include "core/base/job_control.h"
#include "core/model/model.h"
#include "core/model/scoring.h"

namespace layerscope::analysis {

/// What every model analysis reads: the loaded model, the tokenizer, the task tokenized once and the base
/// evaluation of that task (per-item correctness, log-likelihoods).
/// This process's share of a data-parallel run (docs/distributed.md): sensitivity captures, RoPE influence and
/// redundancy compute only the rows (items, calibration sequences) in range() and add their per-row buffers over
/// the processes with sum(); the evaluations (base, manipulations, drop plans) score the items in range() and
/// join the per-item results of all processes with gather() (analysis/sharded_eval.h). A row one process fills and the others leave at zero comes out of the sum exactly as a
/// single process computes it; sums of sufficient statistics (redundancy) differ only in summation order.
struct ItemShard {
  int rank = 0, size = 1;
  std::function<void(double* data, std::size_t count)> sum;  ///< element-wise sum over the processes, in place
  std::function<void()> barrier;                             ///< returns when every process has called it
  std::function<std::vector<std::string>(const std::string&)> gather;  ///< every process's text, in rank order
  /// [first, second) of `count` rows: contiguous, in order, sizes differing by at most one.
  std::pair<std::size_t, std::size_t> range(std::size_t count) const {
    const std::size_t n = std::size_t(size), r = std::size_t(rank), base = count / n, extra = count % n;
    const std::size_t begin = r * base + std::min(r, extra);
    return {begin, begin + base + (r < extra ? 1 : 0)};
  }
  void sumInPlace(double* data, std::size_t count) const {
    if (size > 1 && sum && count > 0) sum(data, count);
  }
};

struct ModelTaskInputs {
  const core::LlamaModel* model = nullptr;
  const core::Tokenizer* tokenizer = nullptr;
  const core::PreparedTask* task = nullptr;
  const core::EvalResult* eval = nullptr;  ///< base evaluation of `task` (needed by outcome mode, drop, manipulations)
  const ItemShard* shard = nullptr;        ///< data-parallel share; null = this process computes every row
};

// ---------------------------------------------------------------------------------------------------------
// Sensitivity (section 2): hidden states at the chosen token position, then analysis/sensitivity_metrics.

/// Token position of the state that is compared (docs/methods.md section 2).
enum class TokenPosition {
  Auto,             ///< last_prompt in outcome mode, completion_mean in pairs mode (the last prompt token is shared there)
  LastPrompt,       ///< the decision token (default in outcome mode)
  CompletionMean,   ///< mean over the completion tokens (outcome: the gold completion, teacher-forced)
  FirstCompletion,  ///< the first completion token
};
std::string positionName(TokenPosition p);
TokenPosition parsePosition(std::string_view name);

struct SensitivityAnalysisParams {
  SensitivityMode mode = SensitivityMode::Outcome;
  TokenPosition position = TokenPosition::Auto;
  /// Metrics computed (all are reported; the first is the profile used for co-localization).
  std::vector<SensitivityMetric> metrics = {SensitivityMetric::RelL2, SensitivityMetric::RawL2, SensitivityMetric::Cos,
                                            SensitivityMetric::Fisher, SensitivityMetric::Probe};
  SensitivityParams metric;        ///< bootstrap B (1000), confidence, seed, fisher eps, probe options
  std::size_t probeBootstrap = 0;  ///< bootstrap B for the probe metric (each replicate refits k probes); 0 = none
  int batchSize = 8;               ///< sequences per forward
};

struct SensitivityAnalysis {
  std::vector<LayerStates> states;  ///< per layer: the compared states (resid_post of layer l)
  /// Item index (into the task) of each sensitivity item: outcome: correct rows then incorrect rows; pairs: pair j.
  std::vector<std::size_t> items;
  std::vector<std::pair<SensitivityMetric, SensitivityResult>> profiles;
  SensitivityAnalysisParams params;  ///< position resolved (never Auto)
  /// The states came from the base evaluation's forward (EvalResult::decisionStates: outcome mode at the last prompt
  /// token), not from forwards of their own (forwardPasses 0).
  bool statesFromEvaluation = false;
  std::size_t forwardPasses = 0;
  double seconds = 0;
};

/// Captures resid_post[l] for every layer at the chosen position and computes every requested metric with
/// its bootstrap interval. Outcome mode needs both correct and incorrect items in `in.eval`; pairs mode needs
/// a pairs task (or a multiple-choice task: gold choice vs the best-scoring wrong choice).
SensitivityAnalysis analyseSensitivity(const ModelTaskInputs& in, const SensitivityAnalysisParams& params,
                                       const core::JobControl* job = nullptr);

// ---------------------------------------------------------------------------------------------------------
// RoPE influence (section 3)

enum class RopeMode { Gradient, Perturb, Nope };
std::string ropeModeName(RopeMode m);
RopeMode parseRopeMode(std::string_view name);

/// Which tokens the gradient-mode loss covers.
enum class RopeLoss {
  Prompt,      ///< next-token cross-entropy over the prompt (default)
  Completion,  ///< cross-entropy of the gold completion after the prompt
};
std::string ropeLossName(RopeLoss l);
RopeLoss parseRopeLoss(std::string_view name);

struct RopeInfluenceParams {
  RopeMode mode = RopeMode::Gradient;
  RopeLoss loss = RopeLoss::Prompt;  ///< gradient mode
  double eps = 0.1;                  ///< perturb mode: frequencies x (1 +- eps)
  bool perHead = true;               ///< perturb / nope: also perturb one KV group at a time (2 L G or L G extra passes)
  int batchSize = 8;                 ///< sequences per forward (all modes)
};

struct RopeInfluenceResult {
  Eigen::MatrixXd perHead;   ///< R_{l,g}, [L, G] (perturb / nope without perHead: empty)
  Eigen::VectorXd perLayer;  ///< R_l, [L] (gradient: sum over g)
  Eigen::MatrixXd itemLayer; ///< per-item values [N, L] (mean over items = perLayer), for the bootstrap
  Eigen::MatrixXd itemHead;  ///< per-item values [N, L*G] (row-major l*G+g), empty when perHead is
  RopeInfluenceParams params;
  std::size_t forwardPasses = 0;   ///< forward passes (gradient: forward+backward pairs)
  double seconds = 0;
};

/// gradient: beta [L,G] = 0 attached to every layer of every item (alpha = exp(beta)); one forward + backward per
/// batch gives every item's L x G values |dLoss/dbeta|; R = mean over items. perturb: mean over items of
/// (KL(p || p_{1+eps}) + KL(p || p_{1-eps}))/2 of the next-token distribution at the decision token, layer l's
/// frequencies scaled (per head: one KV group's). nope: same KL with alpha = 0 at layer l (or group g).
RopeInfluenceResult ropeInfluence(const ModelTaskInputs& in, const RopeInfluenceParams& params,
                                  const core::JobControl* job = nullptr);

/// Mean of rows `items` of a per-item matrix (the bootstrap's recomputed profile).
Eigen::VectorXd meanOfRows(const Eigen::MatrixXd& perItem, const std::vector<std::size_t>& rows);

// ---------------------------------------------------------------------------------------------------------
// Redundancy (section 5)

struct RedundancyParams {
  bool angular = false;  ///< ShortGPT BI as arccos(sim)/pi instead of 1 - sim
  int batchSize = 8;
  core::Interventions skips{};  ///< modules already dropped (iterative plans): only skipAttention / skipMlp are read
  /// layerscope (default) | llm-drop | shortgpt (paper_semantics.h; afcl defines no redundancy).
  Semantics semantics = Semantics::LayerScope;
  bool dropNorm = true;     ///< llm-drop layer_drop_norm: false = cos(norm(x), sub-block output), no residual
  int chunkTokens = 2048;   ///< llm-drop calibration chunk (capped at the model's max positions)
  int shortgptStride = 256; ///< shortgpt calibration window
};

struct RedundancyResult {
  Eigen::VectorXd attn, mlp, block;  ///< mean per-token cosine similarity, [L]
  Eigen::VectorXd blockBi;            ///< ShortGPT Block Influence: 1 - block (or arccos(block)/pi when angular)
  std::size_t tokens = 0;             ///< calibration tokens (all prompt tokens of all items)
  std::size_t sequences = 0;          ///< calibration sequences (prompts, llm-drop chunks or shortgpt windows)
  RedundancyParams params;
  double seconds = 0;
};

/// cos(resid_pre, resid_mid), cos(resid_mid, resid_post), cos(resid_pre, resid_post) per token in float32,
/// averaged over every prompt token of every item (mean, not sum). Computed inside a capture sink, so memory
/// does not grow with layers. llm-drop: calibration = packed chunks, dropNorm = false compares the normalised
/// input with the sub-block output. shortgpt: calibration = windows, per-token sim with NaN -> 0.5, the last
/// layer's output read after the final norm, blockBi = mean of the per-token BI (docs/analyses.md).
RedundancyResult redundancy(const ModelTaskInputs& in, const RedundancyParams& params = {},
                            const core::JobControl* job = nullptr);

/// The cosine sums behind redundancy(), taken in any forward that computes the calibration tokens: redundancy()
/// runs its own forwards over the calibration sequences; the analysis pipeline takes them during the base
/// evaluation instead (core::ScoringOptions::promptSink), whose rows compute every prompt token exactly as a
/// prompt-only row does, so the prompts need no second forward (docs/analyses.md).
class RedundancySums {
 public:
  /// Whether the calibration is the task's prompts and nothing is skipped: the only case another stage's forward
  /// can serve (layerscope semantics).
  static bool reusable(const RedundancyParams& params);
  RedundancySums(const core::LlamaModel& model, const RedundancyParams& params);
  /// A sink for one forward: adds the cosines of the tokens where `mask` [B,T] is nonzero (and counts them).
  std::shared_ptr<core::CaptureSink> sink(const torch::Tensor& mask);
  /// shortgpt: the last block compares its input with the final norm's output (a no-op for other semantics).
  void finishShortGpt(core::CaptureSink& sink, const torch::Tensor& finalHidden);
  /// Means over every process's tokens (ItemShard::sum); throws Error unless they are `expectedTokens`, i.e. unless
  /// every calibration token was counted exactly once.
  RedundancyResult finish(const ItemShard* shard, std::size_t sequences, std::size_t expectedTokens);

 private:
  const core::LlamaModel& model_;
  RedundancyParams p_;
  std::vector<std::array<double, 4>> sums_;
  std::vector<torch::Tensor> inNorm_, postNorm_;
  double tokens_ = 0;
};

/// The calibration sequences of `params.semantics` (prompts, llm-drop chunks or shortgpt windows).
std::vector<std::vector<int32_t>> calibrationSequences(const ModelTaskInputs& in, const RedundancyParams& params);

/// sim(i, g-1) = mean cos(h_i, h_{i+g}), [L, L], -inf where i + g > L; h_i = resid_pre[i], h_L = the last layer's
/// output (LLM-Drop block_drop.py get_block_similarities_consecutive). Calibration of `params.semantics`.
Eigen::MatrixXd blockSimilarityMatrix(const ModelTaskInputs& in, const RedundancyParams& params,
                                      const core::JobControl* job = nullptr);

enum class DropPlanKind { OneShot, Iterative, Joint, IterativeJoint, Consecutive };
std::string dropPlanName(DropPlanKind k);
DropPlanKind parseDropPlan(std::string_view name);

struct DroppedModule {
  int layer = 0;
  std::string module;  ///< "attn" or "mlp"
  double similarity = 0;  ///< the similarity that ranked it (on the model it was dropped from)
};

struct DropParams {
  DropPlanKind plan = DropPlanKind::OneShot;
  int n = 4;                 ///< modules to drop
  std::string module = "attn";  ///< one-shot / iterative: "attn" or "mlp" (joint ranks both together)
  int batchSize = 8;
  int timingRepeats = 3;     ///< forward timing: best of this many passes over the items
  Semantics semantics = Semantics::LayerScope;  ///< layerscope | llm-drop | shortgpt
  bool dropNorm = true;      ///< llm-drop layer_drop_norm
  bool angular = false;      ///< shortgpt: angular BI
  /// The full model's similarities when the caller has them with these semantics, dropNorm and angular (the
  /// analysis' redundancy, or its cosines from the base evaluation); null = redundancy() runs here.
  const RedundancyResult* fullSimilarity = nullptr;
};

struct DropResult {
  std::vector<DroppedModule> dropped;
  RedundancyResult similarity;  ///< of the full model
  double accuracy = 0, baseAccuracy = 0;
  double speedup = 1;           ///< full-model forward time / dropped-model forward time over the items
  double baseForwardSeconds = 0, droppedForwardSeconds = 0;
  core::EvalResult eval;        ///< evaluation of the dropped model
  DropParams params;
  double seconds = 0;
};

/// Throws InvalidArgument for a plan, module, n or semantics that does not go together (for example shortgpt
/// with anything but a one-shot block plan); the pipeline calls it before any work starts.
void checkDropParams(const DropParams& params, int numLayers);

/// Interventions that skip the listed modules.
core::Interventions dropInterventions(const std::vector<DroppedModule>& dropped, int numLayers);

/// Builds the plan (one-shot: the n most similar modules of one kind; iterative: drop 1, re-score the dropped
/// model, repeat; joint: attention and MLP ranked together; iterative-joint: one module of either kind per round;
/// consecutive: the n adjacent blocks whose ends are most similar) under `params.semantics` and evaluates it
/// (accuracy, measured speedup). shortgpt ranks blocks by Block Influence (one-shot, module block).
DropResult dropPlan(const ModelTaskInputs& in, const DropParams& params, const core::JobControl* job = nullptr);

/// Best-of-`repeats` wall time of one forward pass over every request of the task (the bench's unit).
double timeForwardPass(const ModelTaskInputs& in, int batchSize, const core::Interventions* iv, int repeats);

// ---------------------------------------------------------------------------------------------------------
// Previous-token manipulations (section 6)

enum class ManipulationMode { Random, Freeze, Shuffle, Swap, SkipAttention };
std::string manipulationName(ManipulationMode m);
ManipulationMode parseManipulation(std::string_view name);
std::vector<ManipulationMode> allManipulations();

struct ManipulationParams {
  ManipulationMode mode = ManipulationMode::Random;
  std::vector<int> layers;          ///< k values; empty = 0..L-1. k = L is allowed and means "no manipulation"
  std::uint64_t seed = kDefaultSeed;
  int batchSize = 8;
  Semantics semantics = Semantics::LayerScope;  ///< layerscope | afcl (position rule and shuffle seeding)
};

struct ManipulationResult {
  std::vector<int> k;
  std::vector<double> accuracy;  ///< per k
  double baseAccuracy = 0;
  std::vector<core::EvalResult> evals;  ///< per k
  ManipulationParams params;
  std::size_t forwardPasses = 0;
  double seconds = 0;
};

/// What the manipulations read of one batch: resid_pre of every layer ([B,T,D] each, unmanipulated model) and,
/// for swap, the same for each row's donor prompt (the next item's prompt, padded / cut to T) and its length.
struct ManipulationContext {
  std::vector<torch::Tensor> base;   ///< [L] of [B,T,D]
  std::vector<torch::Tensor> donor;  ///< [L] of [B,T,D] (swap only)
  std::vector<int> donorLength;      ///< [B] real tokens of each donor row (swap only)
};

/// The interventions of `mode` at layer k for one batch: every prompt token except the last (the decision
/// token) is manipulated; continuation tokens are left alone. k >= L gives no intervention. Random noise and
/// shuffles are seeded per (seed, item, k), so every decoding step of an item sees the same manipulation.
/// afcl: every position of the fed sequence except its last real one, shuffles seeded manual_seed(k * t).
core::Interventions manipulationInterventions(ManipulationMode mode, int k, const core::BatchInfo& batch,
                                              const ManipulationContext& ctx, std::uint64_t seed, int numLayers,
                                              Semantics semantics = Semantics::LayerScope);

/// Number of leading positions of each row that a manipulation touches ([B]): layerscope promptLength - 1
/// (swap: at most the donor's length), afcl length - 1.
std::vector<int64_t> manipulatedPositions(ManipulationMode mode, const core::BatchInfo& batch,
                                          const ManipulationContext& ctx, Semantics semantics);

/// Captures the ManipulationContext of a batch (one forward, plus one for the swap donors).
ManipulationContext captureManipulationContext(const ModelTaskInputs& in, const core::BatchInfo& batch, bool donors);

/// Accuracy against k: one evaluation of the task per k (all k evaluated per batch, one base capture each).
ManipulationResult manipulate(const ModelTaskInputs& in, const ManipulationParams& params,
                              const core::JobControl* job = nullptr);

}  // namespace layerscope::analysis
