// Previous-token manipulations (docs/methods.md section 6, "Attend First, Consolidate Later"): random, freeze,
// shuffle, swap and skip_attention at the input of layer k, built from the core's state replacements and skips;
// accuracy against k. Semantics afcl: the official position rule and shuffle seeding (paper_semantics.h).
// All k of one batch are evaluated after one base capture of the batch.
#include <algorithm>
#include <chrono>

#include "analysis/layer_analyses.h"
#include "analysis/sharded_eval.h"
#include "core/base/error.h"
#include "core/model/host_random.h"

namespace layerscope::analysis {
namespace {

using Clock = std::chrono::steady_clock;

std::uint64_t mix(std::uint64_t x) {  // splitmix64 finaliser
  x += 0x9E3779B97F4A7C15ull;
  x = (x ^ (x >> 30)) * 0xBF58476D1CE4E5B9ull;
  x = (x ^ (x >> 27)) * 0x94D049BB133111EBull;
  return x ^ (x >> 31);
}

std::uint64_t rowSeed(std::uint64_t seed, std::size_t item, int k, int what) {
  return mix(mix(mix(seed) ^ item) ^ std::uint64_t(k) * 131 ^ std::uint64_t(what));
}

}  // namespace

std::string manipulationName(ManipulationMode m) {
  switch (m) {
    case ManipulationMode::Random: return "random";
    case ManipulationMode::Freeze: return "freeze";
    case ManipulationMode::Shuffle: return "shuffle";
    case ManipulationMode::Swap: return "swap";
    case ManipulationMode::SkipAttention: return "skip_attention";
  }
  return "random";
}

std::vector<ManipulationMode> allManipulations() {
  return {ManipulationMode::Random, ManipulationMode::Freeze, ManipulationMode::Shuffle, ManipulationMode::Swap,
          ManipulationMode::SkipAttention};
}

ManipulationMode parseManipulation(std::string_view name) {
  for (auto m : allManipulations())
    if (manipulationName(m) == name) return m;
  throw InvalidArgument("unknown manipulation '" + std::string(name) +
                        "' (expected random, freeze, shuffle, swap or skip_attention)");
}

ManipulationContext captureManipulationContext(const ModelTaskInputs& in, const core::BatchInfo& batch, bool donors) {
  const int L = in.model->config().numLayers;
  ManipulationContext ctx;
  auto run = [&](const torch::Tensor& ids, const torch::Tensor& mask) {
    core::TensorCapture cap;
    cap.requestAllLayers(core::Site::ResidPre, L).storeAs(in.model->computeDtype() == torch::kFloat64 ? torch::kFloat64
                                                                                                      : torch::kFloat32);
    core::ForwardOptions fo;
    fo.computeLogits = false;
    in.model->forward({ids, mask, {}}, nullptr, &cap, fo);
    std::vector<torch::Tensor> out;
    for (int l = 0; l < L; ++l) out.push_back(cap.get(l, core::Site::ResidPre));
    return out;
  };
  ctx.base = run(batch.inputIds, batch.attentionMask);
  if (donors) {
    const auto& items = in.task->items;
    const int64_t B = batch.inputIds.size(0), T = batch.inputIds.size(1);
    auto ids = torch::zeros({B, T}, torch::kInt64), mask = torch::zeros({B, T}, torch::kInt64);
    for (int64_t r = 0; r < B; ++r) {
      const auto& d = items[(batch.item[size_t(r)] + 1) % items.size()].prompt;
      const int64_t n = std::min<int64_t>(T, int64_t(d.size()));
      for (int64_t t = 0; t < n; ++t) ids[r][t] = int64_t(d[size_t(t)]), mask[r][t] = 1;
      ctx.donorLength.push_back(int(n));
    }
    ctx.donor = run(ids, mask);
  }
  return ctx;
}

std::vector<int64_t> manipulatedPositions(ManipulationMode mode, const core::BatchInfo& batch,
                                          const ManipulationContext& ctx, Semantics semantics) {
  const int64_t B = batch.inputIds.size(0), T = batch.inputIds.size(1);
  std::vector<int64_t> n(static_cast<size_t>(B));
  for (int64_t r = 0; r < B; ++r) {
    // layerscope: every prompt token except the decision token; afcl (llama_manipulate.py, manipulation_tokens =
    // range(input_ids.shape[1] - 1)): every position of the fed sequence except its last real one
    int64_t c = semantics == Semantics::Afcl ? int64_t(batch.length.at(size_t(r))) - 1
                                             : int64_t(batch.promptLength.at(size_t(r))) - 1;
    if (mode == ManipulationMode::Swap) c = std::min<int64_t>(c, ctx.donorLength.at(size_t(r)));
    n[size_t(r)] = std::clamp<int64_t>(c, 0, T);
  }
  return n;
}

core::Interventions manipulationInterventions(ManipulationMode mode, int k, const core::BatchInfo& batch,
                                              const ManipulationContext& ctx, std::uint64_t seed, int L,
                                              Semantics semantics) {
  core::Interventions iv;
  if (k >= L) return iv;
  if (k < 0) throw InvalidArgument("manipulation: layer k = " + std::to_string(k) + " is negative");
  if (mode == ManipulationMode::SkipAttention) {
    iv.skipAttention.assign(size_t(L), false);
    for (int l = k; l < L; ++l) iv.skipAttention[size_t(l)] = true;
    return iv;
  }
  const bool afcl = semantics == Semantics::Afcl;
  const int64_t B = batch.inputIds.size(0), T = batch.inputIds.size(1);
  const auto& x = ctx.base.at(size_t(k));  // [B,T,D]
  const int64_t D = x.size(2);
  const auto count = manipulatedPositions(mode, batch, ctx, semantics);
  auto mask = torch::zeros({B, T}, torch::TensorOptions().dtype(torch::kBool).device(core::hostDevice()));
  for (int64_t r = 0; r < B; ++r)
    if (count[size_t(r)] > 0) mask[r].narrow(0, 0, count[size_t(r)]).fill_(true);
  torch::Tensor values;
  if (mode == ManipulationMode::Random || mode == ManipulationMode::Shuffle) {
    values = x.clone();
    for (int64_t r = 0; r < B; ++r) {
      if (afcl && mode == ManipulationMode::Shuffle) {
        // manipulations_utils.py apply_shuffle_random: torch.manual_seed(k * t); randperm(D) per token t
        for (int64_t t = 0; t < count[size_t(r)]; ++t) values[r][t].copy_(x[r][t].index_select(0, afclShufflePermutation(D, k, t)));
        continue;
      }
      const int64_t n = afcl ? count[size_t(r)] : std::min<int64_t>(T, batch.promptLength[size_t(r)]);
      if (n <= 0) continue;
      auto gen = core::hostGenerator(rowSeed(seed, batch.item[size_t(r)], k, int(mode)));  // same draws on every device
      auto xr = x[r].narrow(0, 0, n);  // [n,D]
      if (mode == ManipulationMode::Random) {
        // Gaussian noise rescaled to each original vector's L2 norm (afcl draws from the unseeded global
        // generator, which cannot be reproduced; the per-(seed, item, k) stream is kept)
        auto noise = core::hostNormal({n, D}, gen);
        auto scaled = noise * (xr.to(torch::kFloat64).norm(2, -1, true) / noise.norm(2, -1, true));
        values[r].narrow(0, 0, n).copy_(scaled);
      } else {
        auto perm = core::hostUniform({n, D}, gen).argsort(int64_t(-1));  // [n,D]
        values[r].narrow(0, 0, n).copy_(xr.gather(1, perm));
      }
    }
  } else if (mode == ManipulationMode::Swap) {
    values = ctx.donor.at(size_t(k));
  } else {  // Freeze: resid_pre[k-1] (the embeddings for k = 0) is the input of every layer >= k
    values = ctx.base.at(size_t(std::max(k - 1, 0)));
  }
  const int last = mode == ManipulationMode::Freeze ? L : k + 1;
  for (int l = k; l < last; ++l) iv.replacements.push_back({l, mask, values});
  return iv;
}

ManipulationResult manipulate(const ModelTaskInputs& in, const ManipulationParams& p, const core::JobControl* job) {
  const auto t0 = Clock::now();
  const int L = in.model->config().numLayers;
  ManipulationResult res;
  res.params = p;
  res.k = p.layers;
  if (res.k.empty())
    for (int k = 0; k < L; ++k) res.k.push_back(k);
  for (int k : res.k)
    if (k < 0 || k > L)
      throw InvalidArgument("manipulate: layer k = " + std::to_string(k) + " is out of range 0.." + std::to_string(L));
  if (!in.eval) throw InvalidArgument("manipulate: needs the base evaluation");
  if (!semanticsDefines(p.semantics, "manipulation"))
    throw InvalidArgument("manipulate: semantics " + semanticsName(p.semantics) +
                          " defines no manipulation (use layerscope or afcl)");
  const bool swap = p.mode == ManipulationMode::Swap;
  if (swap && in.task->items.size() < 2) throw InvalidArgument("manipulate: swap needs at least 2 items");
  std::size_t cachedSerial = SIZE_MAX;
  int cachedStep = -1;
  ManipulationContext ctx;
  std::size_t extra = 0;
  auto hook = [&](const core::BatchInfo& b, int v) {
    if (p.mode != ManipulationMode::SkipAttention && (b.serial != cachedSerial || b.step != cachedStep)) {
      ctx = captureManipulationContext(in, b, swap);
      cachedSerial = b.serial, cachedStep = b.step;
      extra += swap ? 2 : 1;
    }
    return manipulationInterventions(p.mode, res.k[size_t(v)], b, ctx, p.seed, L, p.semantics);
  };
  core::ScoringOptions so = in.eval->options;
  so.batchSize = p.batchSize;
  // Data-parallel: each process evaluates its share of the items; the hook sees task-wide item indices, so the
  // seeds and the swap donors are the single-process ones.
  res.evals = evaluateShards(*in.model, *in.task, in.shard, int(res.k.size()), false,
                             [&](const core::PreparedTask& share, std::size_t first) {
                               return core::evaluateVariants(*in.model, *in.tokenizer, share, so, int(res.k.size()),
                                                             taskIndexedHook(hook, first), job);
                             });
  for (const auto& e : res.evals) res.accuracy.push_back(e.accuracy);
  res.baseAccuracy = in.eval->accuracy;
  res.forwardPasses = res.evals.front().forwardPasses + extra;
  res.seconds = std::chrono::duration<double>(Clock::now() - t0).count();
  return res;
}

}  // namespace layerscope::analysis
