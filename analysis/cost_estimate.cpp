// Cost estimate and memory plan of an analysis (analysis/cost_estimate.h, docs/scale.md).
#include "analysis/cost_estimate.h"

#include <algorithm>
#include <chrono>
#include <cmath>
#include <fstream>
#include <iomanip>
#include <numeric>
#include <sstream>

#include "analysis/layer_analyses.h"
#include "analysis/paper_semantics.h"
#include "core/base/error.h"
#include "core/data/dataset.h"
#include "core/model/checkpoint.h"
#include "core/model/model.h"
#include "core/model/names.h"
#include "core/model/runtime.h"
#include "core/model/scoring.h"
#include "core/text/tokenizer.h"

namespace layerscope::analysis {

namespace fs = std::filesystem;
using nlohmann::json;

namespace {

constexpr double kGiB = 1024.0 * 1024.0 * 1024.0;
constexpr double kWidenSlice = double(1 << 24);  // elements of a widened weight slice, at most (core/model/model.cpp)
constexpr double kPlanFraction = 0.9;             // the plan fills at most this share of the budget

// A "kB" field of a /proc file in bytes, or 0.
double procKb(const char* file, const std::string& field) {
  std::ifstream in(file);
  std::string line;
  while (std::getline(in, line))
    if (line.rfind(field + ":", 0) == 0) return std::strtod(line.c_str() + field.size() + 1, nullptr) * 1024.0;
  return 0;
}

}  // namespace

double residentBytes() { return procKb("/proc/self/status", "VmRSS"); }
double peakResidentBytes() { return procKb("/proc/self/status", "VmHWM"); }

double defaultMemoryBudgetBytes() {
  const double avail = procKb("/proc/meminfo", "MemAvailable");
  return avail > 0 ? avail + residentBytes() : 0;
}

// The arithmetic below follows LlamaModel::forward (core/model/model.cpp) tensor by tensor; docs/scale.md lists
// the terms and compares them with measured peaks.
double forwardActivationBytes(const core::ModelConfig& c, const MemoryShape& s) {
  const double B = s.batch, T = s.tokens, e = s.elementBytes, D = c.hiddenSize, F = c.intermediateSize;
  const double qDim = double(c.numHeads) * c.headDim, kvDim = double(c.numKvHeads) * c.headDim;
  const double acc = e == 8 ? 8 : 4;
  const bool widen = e == 2;  // bfloat16 products run on widened float32 operands
  const double BT = B * T;
  const double bias = B * T * T * acc * (c.slidingWindow ? 2 : 1);
  // attention sub-block: h, xn, q, rotated q (+ rotate_half temporary), k, v (+ rotations), context, scores of one
  // 64-row query block in float32 (matmul, bias add, softmax)
  const double attn = BT * (2 * D + 3 * qDim + 4 * kvDim + D) * e + 3 * B * c.numHeads * std::min(T, 64.0) * T * acc +
                      (widen ? BT * (qDim + 2 * kvDim) * 4 : 0);
  // MLP sub-block: h, xn, gate, up, silu(gate), product; widened: the float32 input, output and weight of the GEMM
  const double mlp = BT * (2 * D + 4 * F) * e + (widen ? BT * (D + F) * 4 + std::min(F * D, kWidenSlice) * 4 : 0);
  // logits (compute dtype and float32), log-softmax; widened: the slice of the output projection
  const double logits = s.logitPositions > 0 ? B * s.logitPositions * double(c.vocabSize) * (acc * 2 + e) +
                                                   (widen ? std::min(double(c.vocabSize) * D, kWidenSlice) * 4 : 0)
                                             : 0;
  return bias + std::max(attn, mlp) + logits;
}

double savedBytesPerLayer(const core::ModelConfig& c, const MemoryShape& s) {
  const double B = s.batch, T = s.tokens, e = s.elementBytes, D = c.hiddenSize, F = c.intermediateSize;
  const double qDim = double(c.numHeads) * c.headDim, kvDim = double(c.numKvHeads) * c.headDim;
  const double acc = e == 8 ? 8 : 4;
  const double BT = B * T;
  // Saved per layer: two RMSNorms (float32 input and normalised value), RoPE of q and k (value and rotated value,
  // and the per-row cos/sin), the float32 operands of the score and value products, the float32 probabilities (the
  // query blocks cover about half of T x T, kept twice: softmax output and widened copy), silu(gate), gate, up.
  // kSavedTensorOverhead: what the process holds beyond these tensors while they live (allocator fragmentation, autograd's
  // graph nodes); calibrated against measured peaks (docs/scale.md).
  const double probs = B * c.numHeads * T * T * acc * (e == 2 ? 2 : 1);
  return kSavedTensorOverhead *
         (BT * (4 * D * acc + 2 * (qDim + kvDim) * e + 2 * kvDim * e + (qDim + 2 * kvDim) * acc + 3 * F * e) + probs);
}

double gradientActivationBytes(const core::ModelConfig& c, const MemoryShape& s) {
  const double logits = double(s.batch) * s.logitPositions * double(c.vocabSize) * (s.elementBytes == 8 ? 8 : 4) * 3;  // logits, log-softmax, gradient
  return savedBytesPerLayer(c, s) * c.numLayers + forwardActivationBytes(c, {s.batch, s.tokens, 0, s.elementBytes}) + logits;
}

double weightResidentBytes(const core::ModelConfig& c, int storedElementBytes, int computeElementBytes, bool aliasMapping) {
  return double(c.parameterCount()) * (aliasMapping ? storedElementBytes : computeElementBytes);
}

int storedElementBytes(const std::string& stored) {
  if (stored == "BF16" || stored == "F16") return 2;
  if (stored == "F64") return 8;
  return 4;  // F32 or mixed (counted at the widest common one)
}

SimilaritySources similaritySources(const AnalyzeRequest& req, bool shortAnswerTask) {
  RedundancyParams red;
  red.semantics = semanticsFor(req.semantics, "redundancy");
  const bool dropSame = !req.dropPlan.empty() && parseSemantics(req.semantics) == red.semantics;
  SimilaritySources s;
  s.fromEvaluation = (req.redundancy || dropSame) && RedundancySums::reusable(red) && !shortAnswerTask;
  s.dropReusesRedundancy = dropSame && (req.redundancy || s.fromEvaluation);
  return s;
}

int autoBatchRows(double meanTokens) {
  if (!(meanTokens > 0)) return 1;
  return int(std::clamp<double>(std::floor(kAutoBatchTokens / meanTokens), 1.0, double(kAutoBatchRows)));
}

int largestBatchWithin(double budgetBytes, double fixedBytes, int maxBatch, const std::function<double(int)>& perBatch) {
  int best = 0;
  for (int b = 1; b <= std::max(1, maxBatch); ++b)
    if (fixedBytes + perBatch(b) <= budgetBytes) best = b;
  return best;
}

namespace {

int elementBytes(torch::ScalarType t) { return int(c10::elementSize(t)); }

// The rows a stage sends through the model: their lengths and the logit positions per row.
struct Rows {
  std::vector<int> lengths;
  int logitPositions = 1;
};

// Padded row-tokens and passes of `rows` in batches of `batch` (in the given order, as the stages form them).
std::pair<double, double> paddedTokens(const std::vector<int>& lengths, int batch) {
  double tokens = 0, passes = 0;
  for (std::size_t i = 0; i < lengths.size(); i += std::size_t(batch)) {
    const auto end = std::min(lengths.size(), i + std::size_t(batch));
    tokens += double(*std::max_element(lengths.begin() + long(i), lengths.begin() + long(end))) * double(end - i);
    passes += 1;
  }
  return {tokens, passes};
}

// Times decoder layers of the model's shape on random weights, `batch` rows of `tokens` tokens: the forward alone,
// and forward + backward to per-row RoPE multipliers as the gradient RoPE influence runs it, each for a 1-layer
// and a 2-layer model, so that the per-layer cost and the per-pass cost (embedding, final norm, set-up: what
// dominates a small model) separate. The weights are drawn here (a layer of an 8B model is 0.4 GB in bfloat16);
// the model's own weights are not read.
}  // namespace

LayerRates measureLayerRates(const core::ModelConfig& full, const std::string& dtypeName, const std::string& deviceName,
                             int batch, int tokens, const core::JobControl* job) {
  const auto dtype = core::parseComputeDtype(dtypeName);
  const auto device = core::parseDevice(deviceName);
  core::ModelConfig c = full;
  c.numLayers = 2;
  c.vocabSize = std::min(full.vocabSize, 512);
  c.tieWordEmbeddings = false;
  c.slidingLayers.clear();
  std::map<std::string, torch::Tensor> w2, w1;
  {
    torch::NoGradGuard ng;
    auto opts = torch::TensorOptions().dtype(dtype).device(device);
    for (const auto& [name, shape] : core::Checkpoint::expectedTensors(c)) {
      w2[name] = shape.size() == 1 ? torch::ones(shape, opts) : torch::randn(shape, opts) * 0.02;
      if (name.find("layers.1.") == std::string::npos) w1[name] = w2[name];
    }
  }
  core::ModelConfig c1 = c;
  c1.numLayers = 1;
  const auto two = core::LlamaModel::fromTensors(c, w2, dtype), one = core::LlamaModel::fromTensors(c1, w1, dtype);
  const auto ids = torch::randint(0, c.vocabSize, {batch, tokens}, torch::TensorOptions().dtype(torch::kInt64));
  using Clock = std::chrono::steady_clock;
  auto timeIt = [&](const std::function<void()>& f) {
    f();  // warm-up (allocations, OpenBLAS/oneDNN set-up)
    double best = 1e300;
    const auto start = Clock::now();
    for (int rep = 0; rep < 7; ++rep) {
      core::checkCancelled(job);
      const auto t0 = Clock::now();
      f();
      core::synchronize(device);
      best = std::min(best, std::chrono::duration<double>(Clock::now() - t0).count());
      if (std::chrono::duration<double>(Clock::now() - start).count() > 1.5) break;
    }
    return best;
  };
  auto forward = [&](const core::LlamaModel& m) {
    return timeIt([&] {
      c10::InferenceMode guard;
      core::ForwardOptions fo;
      fo.logitPositions = torch::full({batch}, int64_t(tokens - 1), torch::kInt64);
      m.forward({ids, {}, {}}, nullptr, nullptr, fo);
    });
  };
  auto backward = [&](const core::LlamaModel& m) {
    return timeIt([&] {
      auto beta = torch::zeros({batch, m.config().numLayers, c.numKvHeads}, torch::kFloat32).requires_grad_(true);
      core::Interventions iv;
      for (int l = 0; l < m.config().numLayers; ++l) iv.ropeAlpha.push_back(torch::exp(beta.select(1, l)));
      core::ForwardOptions fo;
      fo.logitPositions = torch::full({batch}, int64_t(tokens - 1), torch::kInt64);
      m.forward({ids, {}, {}}, &iv, nullptr, fo).logits.sum().backward();
    });
  };
  const double n = double(batch) * tokens;
  const double f1 = forward(*one), f2 = forward(*two), b1 = backward(*one), b2 = backward(*two);
  LayerRates p;
  p.forwardPerToken = std::max(f2 - f1, 0.5 * f2 / 2) / n;  // timing noise never makes a layer nearly free
  p.backwardPerToken = std::max(b2 - b1, 0.5 * b2 / 2) / n;
  p.forwardPerPass = std::max(0.0, f1 - p.forwardPerToken * n);
  p.backwardPerPass = std::max(0.0, b1 - p.backwardPerToken * n);
  // The layer's multiply-adds per token (projections, causal scores and values) give the rate the output
  // projection is timed at.
  const double qDim = double(c.numHeads) * c.headDim, kvDim = double(c.numKvHeads) * c.headDim;
  const double flopsPerToken = 2.0 * (double(c.hiddenSize) * (2 * qDim + 2 * kvDim) + 3.0 * c.hiddenSize * c.intermediateSize) +
                               2.0 * qDim * tokens;
  p.flopRate = flopsPerToken / std::max(1e-12, p.forwardPerToken);
  return p;
}

CostEstimate estimateAnalysis(const AnalyzeRequest& req, bool measure, const core::JobControl* job) {
  validateRequest(req);
  CostEstimate est;
  est.budgetBytes = req.memoryBudgetGb > 0 ? req.memoryBudgetGb * kGiB : defaultMemoryBudgetBytes();
  const auto ck = core::Checkpoint::open(req.modelDir);
  const core::ModelConfig& c = ck.config();
  const auto dtype = core::parseComputeDtype(req.dtype);
  const auto device = core::parseDevice(req.device);
  est.dtype = req.dtype;
  est.device = core::deviceName(device);
  const int e = elementBytes(dtype);
  const bool alias = device.is_cpu() && storedElementBytes(ck.storedDtype()) == e && ck.storedDtype() != "mixed";
  est.weightBytes = device.is_cpu() ? weightResidentBytes(c, storedElementBytes(ck.storedDtype()), e, alias) : 0;

  const auto tok = core::Tokenizer::fromFile(req.modelDir);
  const auto prepared = core::prepareTask(tok, core::readTask(req.taskFile));
  const auto& items = prepared.items;
  est.items = items.size();
  est.baseBytes = residentBytes();  // the runtime with the tokenizer and the task loaded, as during the run
  const int L = c.numLayers, G = c.numKvHeads;

  // The rows of each stage, as the stages form them (docs/scale.md).
  // evalRows: one row per request (manipulations, and every evaluation without a shared prompt); packedRows: the
  // base evaluation's rows with the prompt shared by an item's continuations (core::ScoringOptions::sharePrompt).
  Rows prompts, withGold, evalRows, sensRows, packedRows;
  int maxCont = 1, maxPacked = 1;
  for (const auto& it : items) {
    const int p = int(it.prompt.size()), g = int(it.continuations[it.gold].size());
    prompts.lengths.push_back(p);
    withGold.lengths.push_back(p + g);
    int packed = 0;
    for (const auto& cont : it.continuations) {
      maxCont = std::max(maxCont, int(cont.size()));
      packed += int(cont.size());
      if (prepared.kind != core::TaskKind::ShortAnswer) evalRows.lengths.push_back(p + int(cont.size()));
    }
    if (prepared.kind == core::TaskKind::ShortAnswer) evalRows.lengths.push_back(p + req.maxNewTokens);
    packedRows.lengths.push_back(p + packed);
    maxPacked = std::max(maxPacked, packed);
  }
  evalRows.logitPositions = prepared.kind == core::TaskKind::ShortAnswer ? 1 : maxCont;
  packedRows.logitPositions = maxPacked;
  const bool sharedEval = req.sharePrompt && prepared.kind != core::TaskKind::ShortAnswer;
  const Rows baseEvalRows = sharedEval ? packedRows : evalRows;
  const bool sensWithCompletion = req.sensitivityMode == "pairs" || (req.position != "auto" && req.position != "last_prompt");
  if (req.sensitivityMode == "pairs") {
    for (const auto& it : items)
      for (const auto& cont : it.continuations) sensRows.lengths.push_back(int(it.prompt.size() + cont.size()));
  } else {
    sensRows = sensWithCompletion ? withGold : prompts;
  }
  sensRows.logitPositions = 0;
  const double meanTokens = items.empty() ? 0
      : std::accumulate(withGold.lengths.begin(), withGold.lengths.end(), 0.0) / double(items.size());
  est.meanTokens = meanTokens;
  int maxTokens = 1;
  for (const Rows* r : std::initializer_list<const Rows*>{&prompts, &withGold, &evalRows, &sensRows, &baseEvalRows})
    for (int n : r->lengths) maxTokens = std::max(maxTokens, n);
  est.maxTokens = maxTokens;

  const bool ropeGradient = req.rope && req.ropeMode == "gradient";
  Rows ropeRows = req.ropeLoss == "completion" ? withGold : prompts;
  int ropeMax = 1;
  for (int n : ropeRows.lengths) ropeMax = std::max(ropeMax, n);
  ropeRows.logitPositions = ropeMax;  // the loss covers every prompt (or completion) position

  // Memory plan. Per-item states kept across stages: sensitivity captures (items x L+1 x D doubles per metric
  // position), RoPE influence per item and head, redundancy.
  est.retainedBytes = double(items.size()) * (L + 1) * c.hiddenSize * 8.0 * (req.sensitivityMode == "pairs" ? 2 : 1) +
                      double(items.size()) * L * (G + 1) * 8.0 * 4;
  const double fixed = est.baseBytes + est.weightBytes + est.retainedBytes;
  auto inference = [&](int b) {
    double peak = 0;
    for (const Rows* r : std::initializer_list<const Rows*>{&evalRows, &sensRows, &prompts, &baseEvalRows}) {
      int longest = 1;
      for (int n : r->lengths) longest = std::max(longest, n);
      peak = std::max(peak, forwardActivationBytes(c, {b, longest, std::max(1, r->logitPositions), e}));
    }
    return peak;
  };
  auto gradient = [&](int b) { return gradientActivationBytes(c, {b, ropeMax, ropeMax, e}); };
  // A tenth of the budget stays free for what no estimate sees exactly (allocator, page cache pressure).
  const double usable = kPlanFraction * est.budgetBytes;
  est.batchCap = req.batchSize > 0 ? req.batchSize : autoBatchRows(meanTokens);
  est.forwardBatch = largestBatchWithin(usable, fixed, est.batchCap, inference);
  est.gradientBatch = ropeGradient ? largestBatchWithin(usable, fixed, est.batchCap, gradient) : est.forwardBatch;
  if (est.forwardBatch == 0 || est.gradientBatch == 0) {
    const double need = fixed + std::max(inference(1), ropeGradient ? gradient(1) : 0.0);
    std::ostringstream os;
    os << std::fixed << std::setprecision(1) << "memory budget " << est.budgetBytes / kGiB << " GiB is too small for '"
       << req.modelDir.string() << "' on this task: one row at a time needs about " << need / kPlanFraction / kGiB
       << " GiB (with a tenth kept free; weights "
       << est.weightBytes / kGiB << " GiB, runtime " << est.baseBytes / kGiB << " GiB, activations "
       << (need - fixed) / kGiB << " GiB for " << maxTokens << " tokens); raise --memory-budget, use a shorter task"
       << (req.dtype == "float32" ? " or --dtype bfloat16" : "");
    throw InvalidArgument(os.str());
  }

  // Stages: padded row-tokens through the model.
  const int fb = est.forwardBatch;
  auto stage = [&](const std::string& name, const Rows& rows, double repeats, bool backward, int batch) {
    StageCost s;
    s.name = name;
    s.batch = batch;
    auto [tokens, passes] = paddedTokens(rows.lengths, batch);
    s.rowTokens = tokens * repeats;
    s.passes = passes * repeats;
    s.backward = backward;
    int longest = 1;
    for (int n : rows.lengths) longest = std::max(longest, n);
    s.peakBytes = backward ? gradientActivationBytes(c, {batch, longest, longest, e})
                           : forwardActivationBytes(c, {batch, longest, std::max(1, rows.logitPositions), e});
    s.logitPositions = double(rows.logitPositions) * double(rows.lengths.size()) * repeats;
    est.stages.push_back(s);
  };
  // Short answers decode up to max-new-tokens steps, each a forward over the grown rows (no KV cache).
  const double evalRepeats = prepared.kind == core::TaskKind::ShortAnswer ? req.maxNewTokens : 1;
  Rows firstItem;  // the load's finite-states check: the first item's prompt and gold completion, no logits
  if (!withGold.lengths.empty()) firstItem.lengths = {withGold.lengths.front()};
  firstItem.logitPositions = 0;
  if (!firstItem.lengths.empty()) stage("finite-states check", firstItem, 1, false, 1);
  stage("eval", baseEvalRows, evalRepeats, false, fb);
  // The default sensitivity (outcome mode at the last prompt token) reads the evaluation's states: no pass of its own.
  const bool sensFromEval = req.sensitivityMode == "outcome" && (req.position == "auto" || req.position == "last_prompt");
  if (req.sensitivity) stage(sensFromEval ? "sensitivity (states from eval)" : "sensitivity", sensFromEval ? Rows{} : sensRows, 1,
                             false, fb);
  if (req.rope) {
    if (ropeGradient) {
      stage("rope influence (gradient)", ropeRows, 1, true, est.gradientBatch);
    } else {
      const double variants = double(L) * (1 + (req.ropePerHead ? G : 0)) * (req.ropeMode == "perturb" ? 2 : 1);
      stage("rope influence (" + req.ropeMode + ")", prompts, 1 + variants, false, fb);
    }
  }
  // The default redundancy (layerscope semantics: the prompts) takes its cosines during a multiple-choice or pairs
  // evaluation (RedundancySums): no pass of its own.
  const SimilaritySources sim = similaritySources(req, prepared.kind == core::TaskKind::ShortAnswer);
  const bool redFromEval = req.redundancy && sim.fromEvaluation;
  if (req.redundancy) stage(redFromEval ? "redundancy (states from eval)" : "redundancy", redFromEval ? Rows{} : prompts, 1,
                            false, fb);
  for (const auto& p : req.profiles) stage(p, prompts, 1, false, fb);
  if (!req.manipulations.empty()) {
    const double ks = req.manipulationLayers.empty() ? L : double(req.manipulationLayers.size());
    stage("manipulations", evalRows, double(req.manipulations.size()) * ks * evalRepeats + 1, false, fb);
  }
  if (!req.dropPlan.empty()) {
    // the similarities (once, or once per dropped module for the iterative plans), then the dropped model's
    // evaluation and the speed measurement: best of 3 timed passes over every row, for the base and the dropped
    // model (analysis/drop_plans.cpp)
    // (the full model's similarities are the redundancy's when the semantics is the same)
    const double rounds = (req.dropPlan.rfind("iterative", 0) == 0 ? req.dropN : 1) - (sim.dropReusesRedundancy ? 1 : 0) +
                          (req.dropPlan == "consecutive" ? 1 : 0);
    if (rounds > 0) stage("drop plan: similarities", prompts, rounds, false, fb);
    stage("drop plan: eval and timing", evalRows, 1 + 2 * 3, false, fb);
  }

  // Time: rates measured on decoder layers of this shape, at the stages' batch and the mean length: a GEMM's rate
  // depends on its rows (batch x tokens). Fewer rows when one layer's forward would exceed about 50 GFLOP (an 8B
  // layer at more than about 115 tokens), where the GEMMs are large enough to run near their peak anyway.
  est.probeTokens = std::max(8, std::min(512, int(std::lround(meanTokens))));
  const double layerFlopsPerToken = 2.0 * (double(c.parameterCount()) - 2.0 * c.vocabSize * c.hiddenSize) / L;
  est.probeBatch = std::max(1, std::min(fb, int(50e9 / std::max(1.0, layerFlopsPerToken * est.probeTokens))));
  if (measure) {
    const auto probe = measureLayerRates(c, req.dtype, req.device, est.probeBatch, est.probeTokens, job);
    est.layerForwardSecondsPerToken = probe.forwardPerToken;
    est.layerBackwardSecondsPerToken = probe.backwardPerToken;
    est.forwardSecondsPerPass = probe.forwardPerPass;
    est.backwardSecondsPerPass = probe.backwardPerPass;
    est.logitSecondsPerPosition = 2.0 * c.hiddenSize * double(c.vocabSize) / probe.flopRate;
  }
  double total = 0;
  for (auto& s : est.stages) {
    const double perToken = s.backward ? est.layerBackwardSecondsPerToken : est.layerForwardSecondsPerToken;
    const double perPass = s.backward ? est.backwardSecondsPerPass : est.forwardSecondsPerPass;
    // the output projection; with a backward, its input gradient and the cross-entropy's as well
    s.seconds = s.rowTokens * L * perToken + s.passes * perPass +
                s.logitPositions * est.logitSecondsPerPosition * (s.backward ? 2 : 1);
    total += s.seconds;
  }
  // Loading: the weights are read from the file (page cache or disk); counted at 1 GB/s, a conservative disk rate.
  est.loadSeconds = double(c.parameterCount()) * storedElementBytes(ck.storedDtype()) / 1e9;
  est.seconds = total + est.loadSeconds;
  double stagePeak = 0;
  for (const auto& s : est.stages) stagePeak = std::max(stagePeak, s.peakBytes);
  est.peakBytes = fixed + stagePeak;
  return est;
}

json CostEstimate::toJson() const {
  json st = json::array();
  for (const auto& s : stages)
    st.push_back({{"name", s.name}, {"row_tokens", s.rowTokens}, {"passes", s.passes}, {"backward", s.backward},
                  {"batch", s.batch}, {"seconds", s.seconds}, {"peak_activation_bytes", s.peakBytes}});
  return {{"budget_bytes", budgetBytes}, {"base_bytes", baseBytes}, {"weight_bytes", weightBytes},
          {"retained_bytes", retainedBytes}, {"peak_bytes", peakBytes}, {"seconds", seconds},
          {"load_seconds", loadSeconds}, {"batch_cap", batchCap}, {"forward_batch", forwardBatch},
          {"gradient_batch", gradientBatch},
          {"items", items}, {"mean_tokens", meanTokens}, {"max_tokens", maxTokens}, {"dtype", dtype}, {"device", device},
          {"probe_tokens", probeTokens}, {"layer_forward_seconds_per_token", layerForwardSecondsPerToken},
          {"layer_backward_seconds_per_token", layerBackwardSecondsPerToken},
          {"logit_seconds_per_position", logitSecondsPerPosition}, {"probe_batch", probeBatch},
          {"forward_seconds_per_pass", forwardSecondsPerPass}, {"backward_seconds_per_pass", backwardSecondsPerPass},
          {"stages", st}};
}

std::string durationText(double s) {
  std::ostringstream d;
  d << std::fixed << std::setprecision(s < 10 ? 1 : 0);
  if (s < 120) d << s << " s";
  else if (s < 7200) d << s / 60 << " min";
  else d << s / 3600 << " h";
  return d.str();
}

std::string CostEstimate::table() const {
  std::ostringstream os;
  auto gib = [](double b) { return b / kGiB; };
  const auto dur = durationText;
  os << std::fixed << std::setprecision(2);
  os << "estimate (" << dtype << " on " << device << "; " << items << " items, " << std::setprecision(1) << meanTokens
     << " tokens on average, at most " << maxTokens << "):\n";
  os << "  " << std::left << std::setw(30) << "stage" << std::right << std::setw(8) << "batch" << std::setw(14)
     << "row-tokens" << std::setw(12) << "time" << std::setw(16) << "activations" << "\n";
  for (const auto& s : stages)
    os << "  " << std::left << std::setw(30) << s.name << std::right << std::setw(8) << s.batch << std::setw(14)
       << std::setprecision(0) << s.rowTokens << std::setw(12) << dur(s.seconds) << std::setw(12) << std::setprecision(2)
       << gib(s.peakBytes) << " GiB\n";
  os << std::setprecision(2) << "  peak resident memory " << gib(peakBytes) << " GiB (runtime " << gib(baseBytes)
     << ", weights " << gib(weightBytes) << ", kept per-item states " << gib(retainedBytes) << ", largest stage "
     << gib(peakBytes - baseBytes - weightBytes - retainedBytes) << ") of a budget of " << gib(budgetBytes) << " GiB\n";
  os << "  time " << dur(seconds) << " (load " << dur(loadSeconds) << "); rates measured on layers of this shape, "
     << probeBatch << " x " << probeTokens << " tokens: " << std::setprecision(3) << layerForwardSecondsPerToken * 1e3 << " ms/token forward, "
     << layerBackwardSecondsPerToken * 1e3 << " ms/token forward + backward\n";
  if (gradientBatch < forwardBatch)
    os << "  the gradient RoPE influence runs in micro-batches of " << gradientBatch << " to fit the budget\n";
  return os.str();
}

}  // namespace layerscope::analysis
