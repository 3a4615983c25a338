// What an adapter training run will cost before it starts (issue 14, docs/scale.md "Training"): peak resident
// memory and time, from the model config, the exact micro-batches the trainer will form (core::batchIndices over
// the tokenized training set, so padding is counted as the run will pay it) and decoder-layer rates measured on
// the model's shape (analysis::measureLayerRates). `train --dry-run` prints it; the GUI's training panel shows it.
#pragma once

#include <cstdint>
#include <string>

#include <nlohmann/json.hpp>

#include "analysis/cost_estimate.h"
#include "core/base/job_control.h"
#include "experiments/training_run.h"

namespace layerscope::experiments {

struct TrainCostEstimate {
  int64_t steps = 0;              ///< optimizer steps
  int64_t microBatches = 0;       ///< steps x gradient accumulation
  int batch = 0;                  ///< rows per micro-batch
  std::size_t items = 0;          ///< training sequences
  double meanTokens = 0;          ///< mean context + completion tokens per sequence
  int maxTokens = 0;              ///< the longest sequence
  int longestBatchTokens = 0;     ///< padded length of the longest micro-batch the run forms
  double rowTokens = 0;           ///< padded tokens through the model over the whole run
  int backwardLayers = 0;         ///< layers the backward passes through (from the first adapted layer up)
  int64_t trainableParameters = 0;
  double budgetBytes = 0;         ///< what the process may grow to (default: resident + MemAvailable)
  double baseBytes = 0;           ///< the runtime with the tokenizer and the task loaded, measured
  double weightBytes = 0;         ///< resident frozen weights
  double adapterBytes = 0;        ///< adapter parameters, gradients and AdamW moments (float32)
  double activationBytes = 0;     ///< the largest micro-batch's forward + backward
  double peakBytes = 0;           ///< base + weights + adapters + activations
  double loadSeconds = 0;
  double secondsPerStep = 0;      ///< mean over the run's steps
  double seconds = 0;             ///< load + every step (evaluation files not included)
  analysis::LayerRates rates;     ///< measured (zero when not measured)
  double logitSecondsPerPosition = 0;
  int probeBatch = 0, probeTokens = 0;
  std::string dtype, device;
  nlohmann::json toJson() const;
  /// The lines `train --dry-run` prints and the GUI shows.
  std::string table() const;
};

/// Bytes held during one training micro-batch of `batch` rows padded to `tokens` on top of the weights: autograd's
/// saved tensors of every layer from the first adapted one up (LoRA's float32 inputs, dropout masks and rank-r
/// intermediates included), the largest transient of a frozen layer, and the float32 logits, log-softmax and
/// their gradients over the vocabulary at every position. `spec` has its layers resolved.
double trainingActivationBytes(const core::ModelConfig& c, const core::AdapterSpec& spec, int batch, int tokens,
                               int elementBytes);

/// Plans `request` without loading the weights: reads the config, tokenizes the training set, forms every
/// micro-batch as the trainer will, and (when `measure`) times decoder layers of the model's shape. Throws
/// InvalidArgument on what runTraining would refuse (empty layer sets, a bad layer list, no training items).
TrainCostEstimate estimateTraining(const TrainRunRequest& request, bool measure = true,
                                   const core::JobControl* job = nullptr);

}  // namespace layerscope::experiments
