// What an analysis will cost before it starts (issue 14, docs/scale.md "Cost estimate and memory budget"): peak
// resident memory and time per stage, derived from the model config, the task's token counts and rates measured
// on decoder layers of the model's shape (random weights); and the memory plan that fits the run into a budget by choosing the
// batch of the forward-only stages and the micro-batch of the gradient RoPE influence (per-item gradients do not
// depend on how items are batched, so a smaller micro-batch changes no result beyond summation order).
// Torch-free header.
#pragma once

#include <cstddef>
#include <cstdint>
#include <functional>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "analysis/pipeline.h"
#include "core/base/job_control.h"

namespace layerscope::core {
struct ModelConfig;
}

namespace layerscope::analysis {

/// Resident bytes per byte of tensors that autograd keeps for a backward (allocator fragmentation, graph nodes),
/// calibrated against measured peaks (docs/scale.md).
inline constexpr double kSavedTensorOverhead = 1.3;

/// Shapes the memory arithmetic needs, independent of a loaded model.
struct MemoryShape {
  int batch = 1;            ///< rows per forward pass
  int tokens = 1;           ///< padded length T
  int logitPositions = 1;   ///< positions per row whose logits are computed (P)
  int elementBytes = 4;     ///< compute dtype: 4 float32, 2 bfloat16, 8 float64
};

/// Bytes of transient activations at the peak of one inference forward of `s` (largest layer intermediates,
/// float32 attention blocks of 64 query rows, the attention bias, the float32 widening of bfloat16 operands, logits).
double forwardActivationBytes(const core::ModelConfig& c, const MemoryShape& s);
/// Bytes held by autograd for one forward + backward of `s` with frozen weights (the gradient RoPE influence):
/// every layer's saved tensors, full T x T float32 probabilities, logits and their gradient.
double gradientActivationBytes(const core::ModelConfig& c, const MemoryShape& s);
/// Bytes autograd keeps for one decoder layer of `s` that a backward will pass through (frozen weights), with
/// the measured overhead factor; gradientActivationBytes counts it for every layer.
double savedBytesPerLayer(const core::ModelConfig& c, const MemoryShape& s);
/// Resident bytes of the weights: the stored bytes when they alias the file mapping (host, stored in the compute
/// dtype), else a converted copy in the compute dtype.
double weightResidentBytes(const core::ModelConfig& c, int storedElementBytes, int computeElementBytes, bool aliasMapping);

/// "9.5 s", "42 s", "7 min", "17 h": a duration as the estimate tables print it.
std::string durationText(double seconds);

/// Bytes per element of a safetensors dtype name as Checkpoint::storedDtype() gives it ("mixed" counts as 4).
int storedElementBytes(const std::string& stored);

/// `--batch auto` (AnalyzeRequest::batchSize 0): rows per forward pass so that a batch holds about kAutoBatchTokens
/// tokens at the task's mean row length, between 1 and kAutoBatchRows; the memory plan may then choose fewer. Small
/// models run their forward and backward passes at a fraction of the GEMM rate with a few rows (the per-operation
/// cost dominates; docs/performance.md, "Batch size"), and 8B-class models are held to fewer rows by the memory plan.
inline constexpr double kAutoBatchTokens = 2048;
inline constexpr int kAutoBatchRows = 64;
int autoBatchRows(double meanTokens);

/// Where an analysis takes the full model's layer similarities from; one decision for the pipeline and the estimate.
/// The evaluation's forward sums them (RedundancySums, analysis/redundancy.cpp) when the redundancy's semantics is
/// layerscope (the default; the request's semantics where it defines a redundancy), the task is multiple choice or
/// pairs (short-answer evaluations generate), and the redundancy or a drop plan of that semantics wants them. A drop
/// plan of the redundancy's semantics ranks the redundancy's similarities (computed either way) instead of running
/// its first round itself.
struct SimilaritySources {
  bool fromEvaluation = false;        ///< no redundancy forward of its own
  bool dropReusesRedundancy = false;  ///< the drop plan's first similarity round runs no forward
};
SimilaritySources similaritySources(const AnalyzeRequest& req, bool shortAnswerTask);

/// The largest batch in 1..maxBatch whose `fixedBytes + perBatch(b)` fits `budgetBytes`; 0 when not even 1 fits.
int largestBatchWithin(double budgetBytes, double fixedBytes, int maxBatch, const std::function<double(int)>& perBatch);

/// The default budget: this process's resident bytes plus the system's MemAvailable (/proc/meminfo), i.e. what
/// the process could grow to without swapping. 0 when /proc cannot be read.
double defaultMemoryBudgetBytes();
/// The process's current and peak resident bytes (/proc/self/status VmRSS, VmHWM); 0 when unreadable.
double residentBytes();
double peakResidentBytes();

/// Speeds measured on decoder layers of a model's shape (random weights, the compute dtype and device).
struct LayerRates {
  double forwardPerToken = 0, backwardPerToken = 0;  ///< one layer, seconds per row-token (backward: forward + backward)
  double forwardPerPass = 0, backwardPerPass = 0;    ///< seconds per pass outside the layers (embedding, norms, set-up)
  double flopRate = 0;                               ///< the layer's floating-point operations per second
};
/// Times 1- and 2-layer models of `config`'s shape on `batch` rows of `tokens` tokens, forward alone and forward +
/// backward to per-row RoPE multipliers; the difference is one layer's cost, the rest the per-pass cost. About
/// 2-6 s on an 8B shape on this machine's 2 cores.
/// `dtype` and `device` as the CLI spells them ("bfloat16", "cpu", "cuda:0").
LayerRates measureLayerRates(const core::ModelConfig& config, const std::string& dtype, const std::string& device,
                             int batch, int tokens, const core::JobControl* job = nullptr);

/// Cost of one stage of the pipeline.
struct StageCost {
  std::string name;        ///< "eval", "sensitivity", "rope influence", ...
  double rowTokens = 0;    ///< padded tokens through the model (rows x T, summed over batches and passes)
  double logitPositions = 0;  ///< positions whose logits are computed, summed over rows and passes
  double passes = 0;       ///< forward passes (batches x repetitions)
  bool backward = false;   ///< forward + backward (gradient RoPE influence)
  double seconds = 0;      ///< expected time
  double peakBytes = 0;    ///< activations at the stage's peak (on top of the weights and the base)
  int batch = 0;           ///< rows per pass the plan chose
};

/// The plan and estimate of one analysis request.
struct CostEstimate {
  std::vector<StageCost> stages;
  double budgetBytes = 0;        ///< the memory budget the plan respects
  double baseBytes = 0;          ///< the process before the model (runtime, libraries), measured
  double weightBytes = 0;        ///< resident weights
  double peakBytes = 0;          ///< base + weights + the largest stage peak + retained per-item states
  double retainedBytes = 0;      ///< per-item states kept across stages (captures, scores)
  double seconds = 0;            ///< load + every stage
  double loadSeconds = 0;        ///< reading the weights (measured read rate of the checkpoint's first megabytes)
  int batchCap = 0;              ///< the most rows per forward: `--batch`, or auto's choice (autoBatchRows)
  int forwardBatch = 0;          ///< rows per forward of the inference stages
  int gradientBatch = 0;         ///< micro-batch of the gradient RoPE influence
  std::size_t items = 0;
  double meanTokens = 0;         ///< mean prompt (+ gold completion) tokens per item
  int maxTokens = 0;
  double layerForwardSecondsPerToken = 0;   ///< one layer, per row-token, measured on layers of this shape
  double layerBackwardSecondsPerToken = 0;  ///< forward + backward, same layer and shape
  int probeTokens = 0;                      ///< the probe's sequence length
  int probeBatch = 0;                       ///< the probe's rows
  double forwardSecondsPerPass = 0;         ///< per forward pass outside the layers (embedding, norms, set-up)
  double backwardSecondsPerPass = 0;        ///< the same with a backward
  double logitSecondsPerPosition = 0;       ///< output projection per position, from the same probe's rate
  std::string dtype, device;
  nlohmann::json toJson() const;
  /// The table the CLI prints (`analyze --dry-run`) and the GUI shows before Run.
  std::string table() const;
};

/// Plans the request within `request.memoryBudgetGb` (0 = defaultMemoryBudgetBytes) without loading the
/// weights: reads the config and the task, tokenizes the task, and (when `measure`) times one- and two-layer
/// models of the model's shape on random weights for the rates. Throws InvalidArgument before any work when even batch 1
/// does not fit, naming the budget that would be needed.
CostEstimate estimateAnalysis(const AnalyzeRequest& request, bool measure = true, const core::JobControl* job = nullptr);

}  // namespace layerscope::analysis
