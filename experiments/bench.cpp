#include "experiments/bench.h"

#include <algorithm>
#include <chrono>
#include <fstream>
#include <sstream>

#include "analysis/cost_estimate.h"
#include "analysis/layer_analyses.h"
#include "analysis/pipeline.h"
#include "core/base/error.h"
#include "core/base/stopwatch.h"
#include "core/data/dataset.h"
#include "core/model/checkpoint.h"
#include "core/model/model.h"
#include "core/model/runtime.h"
#include "core/model/scoring.h"
#include "core/text/tokenizer.h"
#include "core/train/adapter_training.h"
#include "core/train/adapters.h"
#include "core/train/trainer.h"
#include "experiments/common.h"

namespace layerscope::experiments {
namespace fs = std::filesystem;
using nlohmann::json;
using core::Clock;

namespace {

// The machine's own limit, measured now: the best of a large square GEMM and the model's MLP shapes.
double gemmRate(torch::ScalarType dtype, std::int64_t M, const core::ModelConfig& c, c10::Device device) {
  return std::max({core::measureGemmRate(dtype, 2048, 2048, 2048, device),
                   core::measureGemmRate(dtype, M, c.hiddenSize, c.intermediateSize, device),
                   core::measureGemmRate(dtype, M, c.intermediateSize, c.hiddenSize, device)});
}

// The best of `reps` timed runs of `run` after one warm-up, on `device` (GPU work is timed to completion).
double bestSeconds(int reps, c10::Device device, const std::function<void()>& run) {
  run();
  core::synchronize(device);
  double best = 1e300;
  for (int i = 0; i < reps; ++i) {
    auto s = Clock::now();
    run();
    core::synchronize(device);
    best = std::min(best, core::secondsSince(s));
  }
  return best;
}

// The forward's own limit: its weight products alone, on its weights, for `rows` input rows (LlamaModel::runProducts),
// against the step they belong to (`stepSeconds`) and the GEMM rate (`gemm`, FLOP/s). Unlike the GEMM rate (one
// matrix reused from cache), the weights stream from memory as in the forward.
json productsOnly(const core::LlamaModel& model, std::int64_t rows, bool inputGradients, int reps, double stepSeconds,
                  double gemm, c10::Device device) {
  double flops = 0;
  const double best = bestSeconds(reps, device, [&] { flops = model.runProducts(rows, inputGradients); });
  return {{"products_seconds_best", best},
          {"products_gflops", flops / best / 1e9},
          {"products_fraction_of_gemm", flops / best / gemm},
          {"fraction_of_products", best / stepSeconds}};
}

// Random token ids on the host from the seeded host generator: the same inputs on every device.
torch::Tensor randomIds(std::int64_t vocab, std::int64_t rows, std::int64_t cols) {
  torch::manual_seed(0);
  return torch::randint(0, vocab, {rows, cols}, torch::TensorOptions().dtype(torch::kInt64).device(core::hostDevice()));
}
}  // namespace

long long peakRssBytes() {
  const double bytes = analysis::peakResidentBytes();  // the /proc reader of the cost estimate; 0 when unreadable
  return bytes > 0 ? static_cast<long long>(bytes) : -1;
}

json benchForward(const ForwardBenchRequest& r) {
  if (r.tokens < 1 || r.batch < 1 || r.reps < 1) throw InvalidArgument("--tokens, --batch and --reps must be positive");
  const auto dtype = core::parseComputeDtype(r.dtype);
  const auto device = core::parseDevice(r.device);
  const int threads = core::configureRuntime();
  const long long rssBefore = peakRssBytes();
  auto t0 = Clock::now();
  auto ck = core::Checkpoint::open(r.modelDir);
  auto model = core::LlamaModel::fromCheckpoint(ck, dtype, device);
  core::synchronize(device);
  const double loadSeconds = core::secondsSince(t0);
  const long long rssAfterLoad = peakRssBytes();
  const auto& c = model->config();

  c10::InferenceMode guard;
  core::ForwardInput in;
  in.inputIds = randomIds(c.vocabSize, r.batch, r.tokens).to(device);
  // The warm-up also faults in the mapped weights.
  const double best = bestSeconds(r.reps, device, [&] { model->forward(in); });
  const long long rssAfterForward = peakRssBytes();
  const double gemm = gemmRate(dtype, r.batch * r.tokens, c, device);
  const json products = productsOnly(*model, r.batch * r.tokens, false, r.reps, best, gemm, device);
  const double flops = 2.0 * double(c.parameterCount()) * double(r.batch * r.tokens);
  const double achieved = flops / best;
  json out = {{"model", r.modelDir.string()},
             {"parameters", c.parameterCount()},
             {"dtype", core::computeDtypeName(dtype)},
             {"device", core::deviceName(device)},
             {"attention", core::usesFusedAttention(device) ? "fused" : "eager"},
             {"stored_dtype", ck.storedDtype()},
             {"threads", threads},
             {"batch", r.batch},
             {"tokens", r.tokens},
             {"forward_seconds_best", best},
             {"tokens_per_second", double(r.batch * r.tokens) / best},
             {"forward_gflops", achieved / 1e9},
             {"gemm_gflops", gemm / 1e9},
             {"fraction_of_gemm", achieved / gemm},
             {"load_seconds", loadSeconds},
             {"file_bytes", ck.fileBytes()},
             {"peak_rss_bytes_before_load", rssBefore},
             {"peak_rss_bytes_after_load", rssAfterLoad},
             {"peak_rss_bytes_after_forward", rssAfterForward},
             {"peak_rss_after_forward_over_file_size", double(rssAfterForward) / double(ck.fileBytes())}};
  out.update(products);
  return out;
}

void benchForwardSweep(const ForwardSweepRequest& r, const std::function<void(const json&)>& onCell) {
  if (r.reps < 1) throw InvalidArgument("--reps must be positive");
  core::configureRuntime();
  const auto device = core::parseDevice(r.device);
  auto ck = core::Checkpoint::open(r.modelDir);
  for (const auto& dtypeName : r.dtypes) {
    const auto dtype = core::parseComputeDtype(dtypeName);
    auto model = core::LlamaModel::fromCheckpoint(ck, dtype, device);
    const auto& c = model->config();
    c10::InferenceMode guard;
    for (const auto batch : r.batches)
      for (const auto tokens : r.tokens) {
        if (batch < 1 || tokens < 1) throw InvalidArgument("batch sizes and token counts must be positive");
        core::ForwardInput in;
        in.inputIds = randomIds(c.vocabSize, batch, tokens).to(device);
        const double best = bestSeconds(r.reps, device, [&] { model->forward(in); });
        json cell = {{"batch", batch}, {"tokens", tokens}, {"dtype", core::computeDtypeName(dtype)},
                     {"threads", torch::get_num_threads()}, {"seconds_best", best},
                     {"tokens_per_second", double(batch * tokens) / best}};
        if (r.gemmRate) {
          const double flops = 2.0 * double(c.parameterCount()) * double(batch * tokens);
          const double gemm = gemmRate(dtype, batch * tokens, c, device);
          cell["gemm_gflops"] = gemm / 1e9;
          cell["fraction_of_gemm"] = flops / best / gemm;
          cell.update(productsOnly(*model, batch * tokens, false, r.reps, best, gemm, device));
        }
        onCell(cell);
      }
  }
}

json benchTrain(const TrainBenchRequest& r) {
  if (r.tokens < 2 || r.batch < 1 || r.steps < 2) throw InvalidArgument("--tokens >= 2, --batch >= 1 and --steps >= 2 are needed");
  const auto dtype = core::parseComputeDtype(r.dtype);
  const auto device = core::parseDevice(r.device);
  const int threads = core::configureRuntime();
  auto model = core::LlamaModel::load(r.modelDir, dtype, device);
  const auto& c = model->config();
  core::AdapterSpec spec;
  spec.lora.layers = parseLayerSet(r.loraLayers, c.numLayers, "--lora-layers");
  spec.garfa.layers = parseLayerSet(r.garfaLayers, c.numLayers, "--garfa-layers");
  spec.lora.rank = r.loraRank;
  auto adapters = core::AdapterSet::create(c, spec, 0);
  // Random sequences, loss on every token after the first (what a packed fine-tuning batch costs).
  const torch::Tensor allIds = randomIds(c.vocabSize, r.batch, r.tokens);  // host
  std::vector<core::TrainSequence> seqs(static_cast<size_t>(r.batch));
  for (size_t b = 0; b < seqs.size(); ++b) {
    auto ids = allIds[int64_t(b)];
    auto& s = seqs[b];
    s.context = {int32_t(ids[0].item<int64_t>())};
    for (int64_t i = 1; i < r.tokens; ++i) s.completion.push_back(int32_t(ids[i].item<int64_t>()));
  }
  std::vector<const core::TrainSequence*> ptrs;
  for (auto& s : seqs) ptrs.push_back(&s);
  std::vector<core::ParamGroup> groups;
  if (adapters.hasLora()) groups.push_back({"lora", adapters.loraParameters(), 2e-4, 0.0, {}});
  if (adapters.hasGarfa()) groups.push_back({"garfa", adapters.garfaParameters(), 1e-3, 0.0, {}});
  core::TrainerOptions to;
  to.steps = r.steps + 1;  // the first step is a warm-up
  core::Trainer trainer(groups, to);
  std::vector<double> stepSeconds;
  auto last = Clock::now();
  trainer.run([&](int64_t, int) { return core::completionLoss(*model, adapters.interventions(true), ptrs); },
              [&](const core::StepReport&) {
                core::synchronize(device);
                const auto now = Clock::now();
                stepSeconds.push_back(std::chrono::duration<double>(now - last).count());
                last = now;
              });
  const double best = *std::min_element(stepSeconds.begin() + 1, stepSeconds.end());
  const int64_t M = r.batch * r.tokens;
  const double gemm = gemmRate(dtype, M, c, device);
  // Frozen-base adapter step: forward 2PT + input gradients 2PT (no weight gradients for the base): ~4PT.
  const double flops = 4.0 * double(c.parameterCount()) * double(M);
  const double achieved = flops / best;
  const json products = productsOnly(*model, M, true, r.steps, best, gemm, device);
  json out = {{"model", r.modelDir.string()},
             {"parameters", c.parameterCount()},
             {"trainable_parameters", adapters.loraParameterCount() + adapters.garfaParameterCount()},
             {"lora_layers", core::formatLayerList(spec.lora.layers)},
             {"garfa_layers", core::formatLayerList(spec.garfa.layers)},
             {"lora_rank", r.loraRank},
             {"dtype", core::computeDtypeName(dtype)},
             {"device", core::deviceName(device)},
             {"attention", core::usesFusedAttention(device) ? "fused" : "eager"},
             {"threads", threads},
             {"batch", r.batch},
             {"tokens", r.tokens},
             {"step_seconds_best", best},
             {"step_seconds", stepSeconds},
             {"tokens_per_second", double(M) / best},
             {"flops_per_step_counted", flops},
             {"train_gflops", achieved / 1e9},
             {"gemm_gflops", gemm / 1e9},
             {"fraction_of_gemm", achieved / gemm}};
  out.update(products);
  return out;
}

AnalyzeBenchResult benchAnalyze(const AnalyzeBenchRequest& r) {
  if (!fs::exists(r.modelDir / "config.json"))
    throw InvalidArgument("bench analyze: no model at '" + r.modelDir.string() + "' (pass --model DIR)");
  const auto dtype = core::parseComputeDtype(r.dtype);
  const auto device = core::parseDevice(r.device);
  auto m = core::LlamaModel::load(r.modelDir, dtype, device);
  auto tok = core::Tokenizer::fromFile(r.modelDir);
  auto task = core::readTask(r.taskFile);
  auto prepared = core::prepareTask(tok, task);
  const auto& c = m->config();
  AnalyzeBenchResult out;
  std::ostringstream header;
  header << "model " << r.modelDir.string() << ": L " << c.numLayers << ", D " << c.hiddenSize << ", H " << c.numHeads
         << ", G " << c.numKvHeads << "; task " << task.name << " (" << prepared.items.size() << " items); batch " << r.batch;
  out.header = header.str();
  analysis::ModelTaskInputs in{m.get(), &tok, &prepared, nullptr};
  out.forwardSeconds = analysis::timeForwardPass(in, r.batch, nullptr, 3);
  core::ScoringOptions so;
  so.batchSize = r.batch;
  auto eval = core::evaluate(*m, tok, prepared, so);
  in.eval = &eval;
  out.rows.push_back({"eval", eval.seconds, "acc " + std::to_string(eval.accuracy)});
  if (eval.correct > 0 && eval.correct < eval.items.size()) {
    analysis::SensitivityAnalysisParams sp;
    sp.batchSize = r.batch;
    sp.metrics = {analysis::SensitivityMetric::RelL2};
    out.rows.push_back({"sensitivity rel_l2 (B=1000)", analysis::analyseSensitivity(in, sp).seconds, ""});
    sp.metrics = {analysis::SensitivityMetric::RelL2, analysis::SensitivityMetric::RawL2, analysis::SensitivityMetric::Cos,
                  analysis::SensitivityMetric::Fisher, analysis::SensitivityMetric::Probe};
    out.rows.push_back({"sensitivity all 5 metrics", analysis::analyseSensitivity(in, sp).seconds, ""});
  } else {
    out.notes.push_back("sensitivity skipped: the model gets " + std::to_string(eval.correct) + " of " +
                        std::to_string(eval.items.size()) + " right");
  }
  for (auto mode : {analysis::RopeMode::Gradient, analysis::RopeMode::Perturb, analysis::RopeMode::Nope}) {
    analysis::RopeInfluenceParams rp;
    rp.mode = mode;
    rp.batchSize = r.batch;
    rp.perHead = false;
    auto res = analysis::ropeInfluence(in, rp);
    out.rows.push_back({"rope influence " + analysis::ropeModeName(mode) +
                            (mode == analysis::RopeMode::Gradient ? " (L x G)" : " (per layer)"),
                        res.seconds, std::to_string(res.forwardPasses) + " passes"});
  }
  {
    analysis::RedundancyParams rp;
    rp.batchSize = r.batch;
    out.rows.push_back({"redundancy", analysis::redundancy(in, rp).seconds, ""});
  }
  if (r.pipeline) {
    analysis::AnalyzeRequest req;
    req.modelDir = r.modelDir;
    req.taskFile = r.taskFile;
    req.batchSize = r.batch;
    req.dtype = core::computeDtypeName(dtype);
    req.device = core::deviceName(device);
    try {
      auto res = analysis::runAnalysis(req);
      out.rows.push_back({"analyze (defaults, total)", res.timings["total"], ""});
      for (const auto& [k, v] : res.timings)
        if (k != "total") out.rows.push_back({"  stage " + k, v, ""});
      if (!res.stats.is_null()) out.verdict = res.stats.value("verdict_text", "");
    } catch (const InvalidArgument& e) {
      out.notes.push_back(std::string("analyze (defaults): not run: ") + e.what());
    }
  }
  return out;
}

TokenizeBenchResult benchTokenize(const TokenizeBenchRequest& r) {
  std::ifstream in(r.input, std::ios::binary);
  if (!in) throw InvalidArgument("bench tokenize: cannot open --input " + r.input.string());
  std::ostringstream ss;
  ss << in.rdbuf();
  const std::string text = ss.str();
  TokenizeBenchResult out;
  auto t0 = Clock::now();
  const auto tok = core::Tokenizer::fromFile(r.tokenizer);
  out.loadSeconds = core::secondsSince(t0);
  out.bytes = text.size();
  const double mb = static_cast<double>(text.size()) / 1e6;
  double first = 0, best = 1e300;
  for (long long i = 0; i < 1 + std::max(1LL, r.repeat); ++i) {
    auto t = Clock::now();
    out.ids = tok.encode(text).size();
    const double s = core::secondsSince(t);
    if (i == 0) first = s;
    else best = std::min(best, s);
  }
  out.firstPassMBps = mb / first;
  out.bestMBps = mb / best;
  return out;
}

}  // namespace layerscope::experiments
