// Adapter fine-tuning with the shared Trainer (see adapter_training.h).
#include "core/train/adapter_training.h"

#include <algorithm>
#include <chrono>
#include <cmath>
#include <fstream>
#include <functional>
#include <map>
#include <mutex>
#include <numeric>
#include <random>

#include "core/base/atomic_file.h"
#include "core/base/error.h"
#include "core/base/shard_range.h"
#include "core/model/cpu_gemm.h"
#include "core/data/task_suite.h"
#include "layerscope/version.h"

namespace layerscope::core {
namespace fs = std::filesystem;
using nlohmann::json;
using Clock = std::chrono::steady_clock;

std::vector<TrainSequence> trainingSequences(const Tokenizer& tok, const Task& task, const std::string& suffix) {
  std::vector<TrainSequence> out;
  auto add = [&](const std::string& prompt, const std::string& completion) {
    auto p = encodePair(tok, prompt, completion + suffix);
    out.push_back({std::move(p.context), std::move(p.continuation)});
  };
  switch (task.kind()) {
    case TaskKind::MultipleChoice:
      for (const auto& it : task.mc()) add(it.prompt, it.choices.at(it.answer));
      break;
    case TaskKind::ShortAnswer:
      for (const auto& it : task.shortAnswer()) add(it.prompt, it.target);
      break;
    case TaskKind::Pairs:
      for (const auto& it : task.pairs()) add(it.prompt, it.correct);
      break;
  }
  if (out.empty()) throw DatasetError(task.source + ": the training task has no items");
  return out;
}

std::optional<Task> demoTrainingTask(const std::string& spec, uint64_t seed) {
  if (spec.rfind("demo:", 0) != 0) return std::nullopt;
  const std::string rest = spec.substr(5);
  const auto colon = rest.find(':');
  TrainingMix mix = TrainingMix::demo();
  std::string count = rest;
  if (colon != std::string::npos) {
    mix.weights = {{taskFamilyFromName(rest.substr(0, colon)), 1u}};
    count = rest.substr(colon + 1);
  }
  size_t n = 0;
  try {
    size_t used = 0;
    n = size_t(std::stoull(count, &used));
    if (used != count.size() || n == 0) throw std::invalid_argument(count);
  } catch (const std::exception&) {
    throw InvalidArgument("training set '" + spec + "': expected demo:N or demo:FAMILY:N with N > 0");
  }
  const TrainingTextStream stream(seed, TextSplit::Train, mix);
  std::vector<ShortItem> items;
  for (size_t i = 0; i < n; ++i) {
    auto ex = stream.example(i);
    std::string target = ex.completion;
    while (!target.empty() && target.back() == '\n') target.pop_back();  // the trainer appends the stop string
    items.push_back({"train-" + std::to_string(i), ex.prompt, target});
  }
  Task t;
  t.name = spec;
  t.source = spec;
  t.items = std::move(items);
  return t;
}

std::vector<size_t> batchIndices(uint64_t seed, size_t n, int64_t step, int micro, int batchSize, int gradAccum) {
  std::vector<size_t> idx;
  idx.reserve(size_t(batchSize));
  uint64_t cachedEpoch = ~uint64_t(0);
  std::vector<size_t> perm;
  for (int r = 0; r < batchSize; ++r) {
    const uint64_t global = (uint64_t(step) * uint64_t(gradAccum) + uint64_t(micro)) * uint64_t(batchSize) + uint64_t(r);
    const uint64_t epoch = global / n;
    if (epoch != cachedEpoch) {
      // Fisher-Yates with the platform-independent suite PRNG, seeded by (seed, epoch).
      perm.resize(n);
      for (size_t i = 0; i < n; ++i) perm[i] = i;
      SuiteRng rng(splitmix64(seed ^ splitmix64(epoch + 0x9e3779b97f4a7c15ULL)));
      for (size_t i = n; i > 1; --i) std::swap(perm[i - 1], perm[size_t(rng.below(i))]);
      cachedEpoch = epoch;
    }
    idx.push_back(perm[size_t(global % n)]);
  }
  return idx;
}

namespace {
// The tokens completionLoss averages over: every completion token that has a position before it.
// Rank `dp.rank`'s contiguous share [begin, end) of n rows (core::shardOf): training micro-batches and the
// held-out items are split as every data-parallel job splits its items.
std::pair<size_t, size_t> rankShare(size_t n, const DataParallel& dp) {
  const ShardRange s = shardOf(int64_t(n), dp.rank, std::max(1, dp.size));
  return {size_t(s.begin), size_t(s.end)};
}

int64_t lossTokens(const TrainSequence& s) {
  return int64_t(s.completion.size()) - (s.context.empty() && !s.completion.empty() ? 1 : 0);
}
}  // namespace

std::pair<torch::Tensor, double> completionLoss(const LlamaModel& model, const Interventions& iv,
                                                const std::vector<const TrainSequence*>& batch) {
  int64_t T = 0;
  for (auto* s : batch) T = std::max<int64_t>(T, int64_t(s->context.size() + s->completion.size()));
  const int64_t B = int64_t(batch.size());
  const auto host = torch::TensorOptions().device(hostDevice());  // built here, moved by the forward
  auto ids = torch::zeros({B, T}, host.dtype(torch::kInt64));
  auto mask = torch::zeros({B, T}, host.dtype(torch::kInt64));
  auto w = torch::zeros({B, T}, host.dtype(torch::kFloat32));  // weight of the token predicted at position t (target t+1)
  auto ia = ids.accessor<int64_t, 2>();
  auto ma = mask.accessor<int64_t, 2>();
  auto wa = w.accessor<float, 2>();
  double tokens = 0;
  for (int64_t r = 0; r < B; ++r) {
    const auto& s = *batch[size_t(r)];
    int64_t t = 0;
    for (int32_t id : s.context) ia[r][t] = id, ma[r][t] = 1, ++t;
    for (int32_t id : s.completion) {
      ia[r][t] = id, ma[r][t] = 1;
      if (t > 0) wa[r][t - 1] = 1.0f;
      ++t;
    }
    tokens += double(t);
  }
  auto logits = model.forward({ids, mask, {}}, &iv).logits;  // [B,T,V]
  // The batch is built on the host; targets and weights follow the logits to the model's device.
  auto targets = torch::roll(ids, -1, 1).to(logits.device());  // target of position t is token t+1
  auto nll = torch::nn::functional::cross_entropy(logits.reshape({B * T, -1}).to(torch::kFloat32), targets.reshape({-1}),
                                                  torch::nn::functional::CrossEntropyFuncOptions().reduction(torch::kNone));
  auto wf = w.reshape({-1}).to(logits.device());
  return {(nll * wf).sum() / wf.sum().clamp_min(1.0), tokens};
}

std::vector<size_t> heldOutSubset(size_t n, int maxItems, uint64_t seed) {
  std::vector<size_t> idx(n);
  std::iota(idx.begin(), idx.end(), size_t(0));
  if (maxItems <= 0 || size_t(maxItems) >= n) return idx;
  // A seeded partial Fisher-Yates (std::mt19937_64, not torch's generator, which the training steps reseed), then
  // file order.
  std::mt19937_64 rng(seed ^ 0x5eed0e7a1u);
  for (size_t i = 0; i < size_t(maxItems); ++i) std::swap(idx[i], idx[i + size_t(rng() % (n - i))]);
  idx.resize(size_t(maxItems));
  std::sort(idx.begin(), idx.end());
  return idx;
}

namespace {

json optionsJson(const AdapterSet& a, const AdapterTrainOptions& o, const Task& train) {
  const auto& s = a.spec();
  std::vector<std::string> targets;
  for (Proj p : s.lora.targets) targets.push_back(projShortName(p));
  return {{"format", "layerscope.adapter-train-options/1"},
          {"lora_layers", s.lora.layers},
          {"lora_targets", targets},
          {"lora_rank", s.lora.rank},
          {"lora_alpha", s.lora.alpha},
          {"lora_dropout", s.lora.dropout},
          {"garfa_layers", s.garfa.layers},
          {"garfa_clamp", s.garfa.clamp ? json::array({s.garfa.minAlpha, s.garfa.maxAlpha}) : json(nullptr)},
          {"lora_lr", o.loraLr},
          {"lora_weight_decay", o.loraWeightDecay},
          {"garfa_lr", o.garfaLr},
          {"steps", o.steps},
          {"warmup_steps", o.warmupSteps},
          {"min_lr_ratio", o.minLrRatio},
          {"batch", o.batchSize},
          {"grad_accum", o.gradAccum},
          {"clip_norm", o.clipNorm},
          {"seed", o.seed},
          {"completion_suffix", o.completionSuffix},
          {"train_task", train.name},
          {"train_fingerprint", train.fingerprint},
          {"base_model", s.baseModel}};
}

}  // namespace

AdapterTrainResult trainAdapters(const LlamaModel& model, AdapterSet& adapters, const Tokenizer& tok, const Task& train,
                                 const AdapterTrainOptions& optIn, const fs::path& outDir, bool resume,
                                 const std::function<void(const StepReport&)>& onStep, const JobControl* job) {
  AdapterTrainOptions opt = optIn;
  if (opt.warmupSteps < 0) opt.warmupSteps = std::max<int64_t>(1, std::llround(0.05 * double(opt.steps)));
  if (opt.batchSize < 1) throw InvalidArgument("batch size must be >= 1");
  const DataParallel& dp = opt.parallel;
  const bool writer = dp.rank == 0;  // rank 0 alone writes the output folder
  if (dp.distributed() && opt.batchSize < dp.size)
    throw InvalidArgument("--batch " + std::to_string(opt.batchSize) + " cannot be split over " + std::to_string(dp.size) +
                          " ranks: every rank needs at least one sequence of each micro-batch (use --batch >= " +
                          std::to_string(dp.size) + ")");
  if (!adapters.hasLora() && !adapters.hasGarfa())
    throw InvalidArgument("nothing to train: both the LoRA and the GARFA layer lists are empty");
  const auto seqs = trainingSequences(tok, train, opt.completionSuffix);

  std::vector<ParamGroup> groups;
  if (adapters.hasLora()) groups.push_back({"lora", adapters.loraParameters(), opt.loraLr, opt.loraWeightDecay, {}});
  if (adapters.hasGarfa()) groups.push_back({"garfa", adapters.garfaParameters(), opt.garfaLr, 0.0, adapters.garfaProjection()});
  TrainerOptions to;
  to.steps = opt.steps;
  to.warmupSteps = opt.warmupSteps;
  to.minLrRatio = opt.minLrRatio;
  to.clipNorm = opt.clipNorm;
  to.gradAccum = opt.gradAccum;
  to.seed = opt.seed;
  to.checkpointEvery = opt.checkpointEvery;
  to.keepCheckpoints = opt.keepCheckpoints;
  to.parallel = dp;

  const json options = optionsJson(adapters, opt, train);
  if (!outDir.empty() && writer) {
    to.checkpointDir = outDir / "checkpoints";
    fs::create_directories(outDir);
    const fs::path optPath = outDir / "train_options.json";
    if (resume && fs::exists(optPath)) {
      std::ifstream in(optPath);
      json old;
      try {
        old = json::parse(in);
      } catch (const json::exception& e) {
        throw CheckpointError(optPath.string() + ": invalid JSON: " + e.what());
      }
      if (old != options)
        throw InvalidArgument(optPath.string() + ": --resume with different options than the interrupted run (was " +
                              old.dump() + ", now " + options.dump() + "); use a new --out or the same options");
    } else {
      if (!resume && fs::exists(outDir / "checkpoints") && !Trainer::newestCheckpoint(outDir / "checkpoints").empty())
        throw InvalidArgument(outDir.string() + " already holds training checkpoints: pass --resume to continue, or choose a new --out");
      writeFileAtomically(optPath, options.dump(2));
    }
  }
  // Held-out loss: this rank's contiguous share of a fixed subset of the eval task, in batches of batchSize.
  std::vector<TrainSequence> heldOut;
  if (opt.evalTask && opt.evalEvery != 0) {
    const auto all = trainingSequences(tok, *opt.evalTask, opt.completionSuffix);
    for (size_t i : heldOutSubset(all.size(), opt.evalItems, opt.seed)) heldOut.push_back(all[i]);
    if (heldOut.empty()) throw InvalidArgument("the held-out loss task '" + opt.evalTask->name + "' has no items");
    const auto share = rankShare(heldOut.size(), dp);
    const size_t begin = share.first, end = share.second;
    to.evalEvery = opt.evalEvery > 0 ? opt.evalEvery : std::max<int64_t>(1, opt.steps / 10);
    to.evalLoss = [&, begin, end]() -> std::pair<double, double> {
      const Interventions iv = adapters.interventions(/*training=*/false);
      double sum = 0, count = 0;
      for (size_t b = begin; b < end; b += size_t(opt.batchSize)) {
        checkCancelled(job);
        std::vector<const TrainSequence*> batch;
        double c = 0;
        for (size_t i = b; i < std::min(end, b + size_t(opt.batchSize)); ++i) {
          batch.push_back(&heldOut[i]);
          c += double(lossTokens(heldOut[i]));
        }
        sum += completionLoss(model, iv, batch).first.item<double>() * c;  // the batch mean, weighted by its tokens
        count += c;
      }
      return {sum, count};
    };
  }
  Trainer trainer(std::move(groups), to);

  auto lossFn = [&](int64_t step, int micro) -> std::pair<torch::Tensor, double> {
    const auto idx = batchIndices(opt.seed, seqs.size(), step, micro, opt.batchSize, opt.gradAccum);
    std::vector<const TrainSequence*> batch;
    const Interventions iv = adapters.interventions(/*training=*/true);
    if (!dp.distributed()) {
      for (size_t i : idx) batch.push_back(&seqs[i]);
      return completionLoss(model, iv, batch);
    }
    // This rank's contiguous share of the micro-batch (core::shardOf). Its mean loss is weighted by
    // its share of the micro-batch's loss tokens, so the sum over ranks is the whole micro-batch's mean.
    const size_t n = idx.size();
    const auto [begin, end] = rankShare(n, dp);
    double all = 0, mine = 0;
    for (size_t k = 0; k < n; ++k) {
      const double c = double(lossTokens(seqs[idx[k]]));
      all += c;
      if (k >= begin && k < end) mine += c, batch.push_back(&seqs[idx[k]]);
    }
    auto [loss, tokens] = completionLoss(model, iv, batch);
    return {loss * (mine / std::max(all, 1.0)), tokens};
  };
  const auto t0 = Clock::now();
  TrainResult tr = trainer.run(lossFn, onStep, job, resume);
  AdapterTrainResult res;
  res.losses = tr.losses;
  res.evalLosses = tr.evalLosses;
  res.evalItems = heldOut.size();
  res.resumedFromStep = tr.resumedFromStep;
  res.seconds = std::chrono::duration<double>(Clock::now() - t0).count();
  res.loraParameters = adapters.loraParameterCount();
  res.garfaParameters = adapters.garfaParameterCount();
  double tokensThisRun = 0;
  for (int64_t s = tr.resumedFromStep; s < opt.steps; ++s)
    for (int m = 0; m < opt.gradAccum; ++m)
      for (size_t i : batchIndices(opt.seed, seqs.size(), s, m, opt.batchSize, opt.gradAccum))
        tokensThisRun += double(seqs[i].context.size() + seqs[i].completion.size());
  res.tokensPerSecond = tokensThisRun / std::max(res.seconds, 1e-9);
  res.log = {{"format", "layerscope.adapter-train-log/1"},
             {"layerscope_version", kVersion},
             {"method", "LS-LoRA + GARFA (LayerScope operationalisation, see docs/adapters.md)"},
             {"options", options},
             {"compute_dtype", computeDtypeName(model.computeDtype())},
             {"train_items", seqs.size()},
             {"lora_parameters", res.loraParameters},
             {"garfa_parameters", res.garfaParameters},
             {"resumed_from_step", res.resumedFromStep},
             {"seconds_this_run", res.seconds},
             {"tokens_per_second", res.tokensPerSecond},
             {"world_size", dp.size},
             {"bos_policy", bosPolicy(tok)},
             {"losses", res.losses}};
  if (to.evalEvery > 0) {
    json ev = json::array();
    for (const auto& e : res.evalLosses) ev.push_back({e.step, e.loss});
    res.log["eval_loss"] = {{"task", opt.evalTask->name},
                            {"task_fingerprint", opt.evalTask->fingerprint},
                            {"items", res.evalItems},
                            {"every", to.evalEvery},
                            {"definition", "mean completion cross-entropy per token, adapters without dropout"},
                            {"points", ev}};
  }
  if (!outDir.empty() && writer) {
    adapters.save(outDir);
    writeFileAtomically(outDir / "training_log.json", res.log.dump(1));  // last: marks a finished run
  }
  return res;
}

EvalResult evaluateWithAdapter(const LlamaModel& model, const AdapterSet* adapter, const Tokenizer& tok,
                               const PreparedTask& task, const ScoringOptions& so, const JobControl* job) {
  if (!adapter) return evaluate(model, tok, task, so, job);
  Interventions iv;
  {
    torch::NoGradGuard ng;
    iv = adapter->interventions(false);
    for (auto& a : iv.ropeAlpha)
      if (a.defined()) a = a.detach();
    for (auto& layer : iv.lora)
      for (auto& s : layer)
        if (s.active()) s.A = s.A.detach(), s.B = s.B.detach();
  }
  return evaluateFixed(model, tok, task, so, iv, job);
}

std::string bosPolicy(const Tokenizer& tok) {
  const auto bos = tok.bosId();
  const auto ids = tok.encode("x", {.addSpecialTokens = true});
  if (bos && !ids.empty() && ids.front() == *bos)
    return "BOS " + tok.idToToken(*bos).value_or("?") + " (id " + std::to_string(*bos) +
           ") added once by the tokenizer, never doubled";
  return "no BOS added (tokenizer config)";
}

double measureGemmRate(torch::ScalarType dtype, int64_t M, int64_t K, int64_t N, c10::Device device) {
  c10::InferenceMode guard;
  const auto opts = torch::TensorOptions().dtype(torch::kFloat32).device(device);
  auto a = torch::randn({M, K}, opts).to(dtype);
  auto w = torch::randn({N, K}, opts).to(dtype);
  // The best way this machine multiplies `dtype` operands: LibTorch's own GEMM; on the CPU also the product the
  // forward uses (cpu_gemm.h: oneDNN's sgemm for float32; for bfloat16 oneDNN's native product where the CPU has
  // bfloat16 arithmetic, and the widened float32 product with one rounding, where LibTorch 1.13 has no vectorised
  // bfloat16 GEMM). Each candidate is timed; the best rate counts.
  // A scalar bfloat16 GEMM of 2048^3 takes half a minute, so LibTorch's bfloat16 GEMM is only timed in full when a
  // 256^3 probe shows it faster than the widened one.
  std::vector<std::function<void()>> candidates{[&] { torch::linear(a, w); }};
  if (device.is_cpu() && dtype == torch::kFloat32 && cpuGemmLibrary() != "libtorch")
    candidates.push_back([&] { cpuLinear(a, w); });
  if (device.is_cpu() && dtype == torch::kBFloat16) {  // GPUs have bfloat16 GEMMs
    auto widened = [](const torch::Tensor& x, const torch::Tensor& y) {
      cpuLinear(x.to(torch::kFloat32), y.to(torch::kFloat32)).to(x.scalar_type());
    };
    auto pa = torch::randn({256, 256}, opts).to(dtype), pw = torch::randn({256, 256}, opts).to(dtype);
    auto time = [](const std::function<void()>& f) {
      f();
      auto t0 = Clock::now();
      f();
      return std::chrono::duration<double>(Clock::now() - t0).count();
    };
    if (time([&] { widened(pa, pw); }) < time([&] { torch::linear(pa, pw); }))
      candidates = {[&, widened] { widened(a, w); }};
    if (cpuNativeBf16()) candidates.push_back([&] { cpuLinearBf16Native(a, w); });  // AVX-512 BF16, AMX
  }
  double best = 0;
  for (const auto& gemm : candidates) {
    gemm();  // warm-up
    synchronize(device);
    for (int rep = 0; rep < 5; ++rep) {
      auto t0 = Clock::now();
      int iters = 0;
      double elapsed = 0;
      do {
        gemm();
        ++iters;
        synchronize(device);  // a GPU GEMM is asynchronous: time it to completion
        elapsed = std::chrono::duration<double>(Clock::now() - t0).count();
      } while (elapsed < 0.3);
      best = std::max(best, 2.0 * double(M) * double(K) * double(N) * iters / elapsed);
    }
  }
  return best;
}

}  // namespace layerscope::core
