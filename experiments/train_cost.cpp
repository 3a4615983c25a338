// Cost estimate of an adapter training run (experiments/train_cost.h, docs/scale.md "Training").
#include "experiments/train_cost.h"

#include <algorithm>
#include <cmath>
#include <iomanip>
#include <set>
#include <sstream>

#include "core/base/error.h"
#include "core/model/checkpoint.h"
#include "core/model/config.h"
#include "core/model/model.h"
#include "core/model/names.h"
#include "core/model/runtime.h"
#include "core/text/tokenizer.h"
#include "core/train/adapter_training.h"
#include "experiments/common.h"

namespace layerscope::experiments {

using nlohmann::json;

namespace {

constexpr double kGiB = 1024.0 * 1024.0 * 1024.0;
constexpr double kWidenSlice = double(1 << 24);  // elements of a widened weight slice (core/model/model.cpp)

// Input and output widths of a projection.
std::pair<double, double> projDims(const core::ModelConfig& c, core::Proj p) {
  const double D = c.hiddenSize, F = c.intermediateSize, q = double(c.numHeads) * c.headDim,
               kv = double(c.numKvHeads) * c.headDim;
  switch (p) {
    case core::Proj::Q: return {D, q};
    case core::Proj::K:
    case core::Proj::V: return {D, kv};
    case core::Proj::O: return {q, D};
    case core::Proj::Gate:
    case core::Proj::Up: return {D, F};
    case core::Proj::Down: return {F, D};
  }
  return {0, 0};
}

int firstAdaptedLayer(const core::AdapterSpec& spec, int L) {
  int first = L;
  for (int l : spec.lora.layers) first = std::min(first, l);
  for (int l : spec.garfa.layers) first = std::min(first, l);
  return first;
}

}  // namespace

double trainingActivationBytes(const core::ModelConfig& c, const core::AdapterSpec& spec, int batch, int tokens,
                               int elementBytes) {
  const int L = c.numLayers;
  const int backward = L - firstAdaptedLayer(spec, L);
  const double BT = double(batch) * tokens, e = elementBytes;
  const analysis::MemoryShape shape{batch, tokens, 0, elementBytes};
  // LoRA's extra saved tensors per adapted layer and token (core/model/model.cpp `addLora`): with dropout, every
  // slot keeps its float32 masked input (the mask itself is regenerated from its seed in the backward,
  // core/model/dropout.h applyDropout); without, each shared input's float32 copy (bfloat16 only; a float32 input is
  // the tensor the layer keeps anyway). Every slot keeps its rank-r intermediate and its scaled copy.
  double loraPerToken = 0;
  if (!spec.lora.layers.empty()) {
    std::set<double> sharedInputs;  // q, k, v read one input, gate and up another
    double perLayer = 0;
    for (core::Proj p : spec.lora.targets) {
      const double in = projDims(c, p).first;
      const int group = (p == core::Proj::Q || p == core::Proj::K || p == core::Proj::V) ? 0
                        : (p == core::Proj::Gate || p == core::Proj::Up)                   ? 1
                        : p == core::Proj::O                                              ? 2
                                                                                           : 3;
      if (spec.lora.dropout > 0) perLayer += in * 4;
      else if (e != 4 && sharedInputs.insert(group).second) perLayer += in * 4;
      perLayer += 2.0 * spec.lora.rank * 4;
    }
    loraPerToken = perLayer * double(spec.lora.layers.size());
  }
  const double saved = double(backward) * analysis::savedBytesPerLayer(c, {batch, tokens, tokens, elementBytes}) +
                       analysis::kSavedTensorOverhead * BT * loraPerToken;
  // Logits at every position: the compute-dtype logits, their float32 copy, the log-softmax kept for the backward,
  // its gradient and the input gradient; bfloat16 adds the widened slice of the output projection.
  const double logits = BT * double(c.vocabSize) * (12 + (e == 2 ? 2 : 0)) +
                        (e == 2 ? std::min(double(c.vocabSize) * c.hiddenSize, kWidenSlice) * 4 : 0);
  return saved + analysis::forwardActivationBytes(c, shape) + logits;
}

TrainCostEstimate estimateTraining(const TrainRunRequest& r, bool measure, const core::JobControl* job) {
  if ((r.loraLayers.empty() || r.loraLayers == "none") && (r.garfaLayers.empty() || r.garfaLayers == "none"))
    throw InvalidArgument("both layer sets are empty: give LS-LoRA and/or GARFA layers (--lora-layers, --garfa-layers)");
  if (r.options.batchSize < 1) throw InvalidArgument("batch size must be >= 1");
  if (r.options.gradAccum < 1) throw InvalidArgument("gradient accumulation must be >= 1");
  TrainCostEstimate est;
  const auto ck = core::Checkpoint::open(r.modelDir);
  const core::ModelConfig& c = ck.config();
  const int L = c.numLayers;
  core::AdapterSpec spec = r.spec;
  spec.lora.layers = parseLayerSet(r.loraLayers, L, "LS-LoRA layers");
  spec.garfa.layers = parseLayerSet(r.garfaLayers, L, "GARFA layers");
  const auto dtype = core::parseComputeDtype(r.dtype);
  const auto device = core::parseDevice(r.device);
  est.dtype = r.dtype;
  est.device = core::deviceName(device);
  const int e = int(c10::elementSize(dtype));
  const int stored = analysis::storedElementBytes(ck.storedDtype());
  const bool alias = device.is_cpu() && stored == e && ck.storedDtype() != "mixed";
  est.weightBytes = device.is_cpu() ? analysis::weightResidentBytes(c, stored, e, alias) : 0;
  est.budgetBytes = analysis::defaultMemoryBudgetBytes();

  // The sequences and the micro-batches exactly as trainAdapters forms them.
  const auto tok = core::Tokenizer::fromFile(r.modelDir);
  const auto seqs = core::trainingSequences(tok, loadTrainingTask(r.train, r.options.seed), r.options.completionSuffix);
  est.baseBytes = analysis::residentBytes();
  est.items = seqs.size();
  std::vector<int> lengths;
  for (const auto& s : seqs) lengths.push_back(int(s.context.size() + s.completion.size()));
  double sum = 0;
  for (int n : lengths) sum += n, est.maxTokens = std::max(est.maxTokens, n);
  est.meanTokens = sum / double(lengths.size());
  est.steps = r.options.steps;
  est.batch = r.options.batchSize;
  est.microBatches = r.options.steps * r.options.gradAccum;
  for (int64_t step = 0; step < r.options.steps; ++step)
    for (int micro = 0; micro < r.options.gradAccum; ++micro) {
      int T = 0;
      for (size_t i : core::batchIndices(r.options.seed, seqs.size(), step, micro, r.options.batchSize, r.options.gradAccum))
        T = std::max(T, lengths[i]);
      est.rowTokens += double(T) * r.options.batchSize;
      est.longestBatchTokens = std::max(est.longestBatchTokens, T);
    }
  est.backwardLayers = L - firstAdaptedLayer(spec, L);

  // Adapters: float32 parameters, gradients and the two AdamW moments.
  int64_t params = int64_t(spec.garfa.layers.size()) * c.numKvHeads;
  for (core::Proj p : spec.lora.targets) {
    const auto [in, out] = projDims(c, p);
    params += int64_t(spec.lora.layers.size()) * spec.lora.rank * int64_t(in + out);
  }
  est.trainableParameters = params;
  est.adapterBytes = double(params) * 4 * 4;
  est.activationBytes = trainingActivationBytes(c, spec, est.batch, std::max(1, est.longestBatchTokens), e);
  est.peakBytes = est.baseBytes + est.weightBytes + est.adapterBytes + est.activationBytes;
  est.loadSeconds = double(c.parameterCount()) * stored / 1e9;  // 1 GB/s, as the analysis estimate counts it

  // Time per micro-batch: the adapted layers run forward + backward, the layers below them forward only; the
  // output projection runs forward and its input gradient over every position, plus LoRA's rank-r products.
  est.probeTokens = std::max(8, std::min(512, int(std::lround(est.meanTokens))));
  const double layerFlopsPerToken = 2.0 * (double(c.parameterCount()) - 2.0 * c.vocabSize * c.hiddenSize) / L;
  est.probeBatch = std::max(1, std::min(est.batch, int(50e9 / std::max(1.0, layerFlopsPerToken * est.probeTokens))));
  if (measure) {
    est.rates = analysis::measureLayerRates(c, r.dtype, r.device, est.probeBatch, est.probeTokens, job);
    est.logitSecondsPerPosition = 2.0 * c.hiddenSize * double(c.vocabSize) / std::max(1.0, est.rates.flopRate);
  }
  double loraFlopsPerToken = 0;
  for (core::Proj p : spec.lora.targets) {
    const auto [in, out] = projDims(c, p);
    loraFlopsPerToken += 3 * 2.0 * spec.lora.rank * (in + out) * double(spec.lora.layers.size());  // forward + 2 gradients
  }
  const double perToken = est.backwardLayers * est.rates.backwardPerToken +
                          (L - est.backwardLayers) * est.rates.forwardPerToken + 2 * est.logitSecondsPerPosition +
                          (est.rates.flopRate > 0 ? loraFlopsPerToken / est.rates.flopRate : 0);
  const double run = est.rowTokens * perToken + double(est.microBatches) * est.rates.backwardPerPass;
  est.secondsPerStep = est.steps > 0 ? run / double(est.steps) : 0;
  est.seconds = est.loadSeconds + run;
  return est;
}

json TrainCostEstimate::toJson() const {
  return {{"steps", steps}, {"micro_batches", microBatches}, {"batch", batch}, {"items", items},
          {"mean_tokens", meanTokens}, {"max_tokens", maxTokens}, {"longest_batch_tokens", longestBatchTokens},
          {"row_tokens", rowTokens}, {"backward_layers", backwardLayers}, {"trainable_parameters", trainableParameters},
          {"budget_bytes", budgetBytes}, {"base_bytes", baseBytes}, {"weight_bytes", weightBytes},
          {"adapter_bytes", adapterBytes}, {"activation_bytes", activationBytes}, {"peak_bytes", peakBytes},
          {"load_seconds", loadSeconds}, {"seconds_per_step", secondsPerStep}, {"seconds", seconds},
          {"layer_forward_seconds_per_token", rates.forwardPerToken},
          {"layer_backward_seconds_per_token", rates.backwardPerToken},
          {"backward_seconds_per_pass", rates.backwardPerPass}, {"logit_seconds_per_position", logitSecondsPerPosition},
          {"probe_batch", probeBatch}, {"probe_tokens", probeTokens}, {"dtype", dtype}, {"device", device}};
}

std::string TrainCostEstimate::table() const {
  auto gib = [](double b) { return b / kGiB; };
  const auto dur = analysis::durationText;
  std::ostringstream os;
  os << std::fixed << std::setprecision(1);
  os << "estimate (" << dtype << " on " << device << "; " << items << " training sequences, " << meanTokens
     << " tokens on average, at most " << maxTokens << "):\n";
  os << "  " << steps << " steps of " << (microBatches / std::max<int64_t>(1, steps)) << " x " << batch << " rows, "
     << std::setprecision(0) << rowTokens << " padded row-tokens; backward through " << backwardLayers
     << " layers; " << trainableParameters << " trainable parameters\n";
  os << std::setprecision(2) << "  peak resident memory " << gib(peakBytes) << " GiB (runtime " << gib(baseBytes)
     << ", weights " << gib(weightBytes) << ", adapters and optimizer " << gib(adapterBytes)
     << ", the longest micro-batch (" << longestBatchTokens << " tokens) " << gib(activationBytes) << ") of "
     << gib(budgetBytes) << " GiB available\n";
  if (budgetBytes > 0 && peakBytes > budgetBytes)
    os << "  warning: this exceeds the memory available; lower --batch (with --grad-accum to keep the global batch)\n";
  os << "  time " << dur(seconds) << " (load " << dur(loadSeconds) << ", " << dur(secondsPerStep)
     << " per step; evaluation files not included); rates measured on layers of this shape, " << probeBatch << " x "
     << probeTokens << " tokens: " << std::setprecision(3) << rates.backwardPerToken * 1e3
     << " ms/token forward + backward\n";
  return os.str();
}

}  // namespace layerscope::experiments
