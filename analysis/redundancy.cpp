// Layer redundancy (docs/methods.md section 5): per-token cosine similarities of the residual stream around each
// sub-block, computed in a capture sink in float32 and averaged over all prompt tokens; ShortGPT Block
// Influence; one-shot / iterative / joint drop plans through the core's skipAttention / skipMlp, evaluated for
// accuracy and measured forward speedup.
#include <algorithm>
#include <array>
#include <chrono>
#include <cmath>
#include <numeric>

#include "analysis/layer_analyses.h"
#include "core/base/error.h"

namespace layerscope::analysis {
namespace {

using Clock = std::chrono::steady_clock;
using core::Site;

// Sums the per-token cosine of (pre, mid), (mid, post), (pre, post) over real tokens, per layer.
class CosineSink : public core::CaptureSink {
 public:
  CosineSink(int layers, torch::Tensor mask) : mask_(mask.to(torch::kFloat64)), sums_(size_t(layers), {0, 0, 0}) {
    pre_.resize(size_t(layers));
    mid_.resize(size_t(layers));
  }
  bool wants(const core::SiteKey& k) const override {
    return k.site == Site::ResidPre || k.site == Site::ResidMid || k.site == Site::ResidPost;
  }
  void record(const core::SiteKey& k, const torch::Tensor& x) override {
    const auto l = size_t(k.layer);
    auto xf = x.to(torch::kFloat32);  // docs/methods.md section 5: cosine in float32
    if (k.site == Site::ResidPre) {
      pre_[l] = xf;
    } else if (k.site == Site::ResidMid) {
      mid_[l] = xf;
      sums_[l][0] += masked(cosine(pre_[l], xf));
    } else {
      sums_[l][1] += masked(cosine(mid_[l], xf));
      sums_[l][2] += masked(cosine(pre_[l], xf));
      pre_[l] = mid_[l] = torch::Tensor();
    }
  }
  const std::vector<std::array<double, 3>>& sums() const { return sums_; }

 private:
  // [B,T]: x.y / sqrt(|x|^2 |y|^2), 0 where a norm is 0 (docs/statistics.md: a zero vector has cosine 0).
  // sqrt of the product (not |x| |y|) makes cos(x, x) exactly 1: sqrt(s*s) == s in IEEE arithmetic.
  static torch::Tensor cosine(const torch::Tensor& a, const torch::Tensor& b) {
    auto dot = (a * b).sum(-1);
    auto den = ((a * a).sum(-1) * (b * b).sum(-1)).sqrt();
    return torch::where(den > 0, dot / den.clamp_min(std::numeric_limits<float>::min()), torch::zeros_like(dot));
  }
  double masked(const torch::Tensor& c) const { return (c.to(torch::kFloat64) * mask_.to(c.device())).sum().item<double>(); }
  torch::Tensor mask_;
  std::vector<torch::Tensor> pre_, mid_;
  std::vector<std::array<double, 3>> sums_;
};

}  // namespace

RedundancyResult redundancy(const ModelTaskInputs& in, const RedundancyParams& p, const core::JobControl* job) {
  c10::InferenceMode guard;
  const auto t0 = Clock::now();
  const int L = in.model->config().numLayers;
  const auto& items = in.task->items;
  std::vector<std::array<double, 3>> sums(size_t(L), {0, 0, 0});
  std::size_t tokens = 0;
  const size_t bs = size_t(std::max(1, p.batchSize));
  const size_t nb = (items.size() + bs - 1) / bs;
  const bool skips = !p.skips.skipAttention.empty() || !p.skips.skipMlp.empty();
  core::Interventions iv;
  iv.skipAttention = p.skips.skipAttention;
  iv.skipMlp = p.skips.skipMlp;
  for (size_t b = 0; b < nb; ++b) {
    core::checkCancelled(job);
    const size_t lo = b * bs, hi = std::min(items.size(), lo + bs);
    std::vector<const std::vector<int32_t>*> ptrs;
    for (size_t i = lo; i < hi; ++i) ptrs.push_back(&items[i].prompt), tokens += items[i].prompt.size();
    auto pb = core::padRight(ptrs);
    CosineSink sink(L, pb.mask);
    core::ForwardOptions fo;
    fo.computeLogits = false;
    in.model->forward({pb.ids, pb.mask, {}}, skips ? &iv : nullptr, &sink, fo);
    for (int l = 0; l < L; ++l)
      for (int s = 0; s < 3; ++s) sums[size_t(l)][size_t(s)] += sink.sums()[size_t(l)][size_t(s)];
    core::reportProgress(job, {"redundancy", double(b + 1), double(nb)});
  }
  RedundancyResult r;
  r.params = p;
  r.tokens = tokens;
  r.attn.resize(L), r.mlp.resize(L), r.block.resize(L), r.blockBi.resize(L);
  for (int l = 0; l < L; ++l) {
    r.attn[l] = sums[size_t(l)][0] / double(tokens);
    r.mlp[l] = sums[size_t(l)][1] / double(tokens);
    r.block[l] = sums[size_t(l)][2] / double(tokens);
    r.blockBi[l] = p.angular ? std::acos(std::clamp(r.block[l], -1.0, 1.0)) / M_PI : 1.0 - r.block[l];
  }
  r.seconds = std::chrono::duration<double>(Clock::now() - t0).count();
  return r;
}

std::string dropPlanName(DropPlanKind k) {
  switch (k) {
    case DropPlanKind::OneShot: return "one-shot";
    case DropPlanKind::Iterative: return "iterative";
    case DropPlanKind::Joint: return "joint";
  }
  return "one-shot";
}

DropPlanKind parseDropPlan(std::string_view name) {
  for (auto k : {DropPlanKind::OneShot, DropPlanKind::Iterative, DropPlanKind::Joint})
    if (dropPlanName(k) == name) return k;
  throw InvalidArgument("unknown drop plan '" + std::string(name) + "' (expected one-shot, iterative or joint)");
}

core::Interventions dropInterventions(const std::vector<DroppedModule>& dropped, int L) {
  core::Interventions iv;
  iv.skipAttention.assign(size_t(L), false);
  iv.skipMlp.assign(size_t(L), false);
  for (const auto& d : dropped) {
    if (d.layer < 0 || d.layer >= L) throw InvalidArgument("drop: layer " + std::to_string(d.layer) + " out of range");
    (d.module == "attn" ? iv.skipAttention : iv.skipMlp)[size_t(d.layer)] = true;
  }
  return iv;
}

double timeForwardPass(const ModelTaskInputs& in, int batchSize, const core::Interventions* iv, int repeats) {
  c10::InferenceMode guard;
  std::vector<std::vector<int32_t>> seqs;
  for (const auto& it : in.task->items)
    for (const auto& c : it.continuations) {
      seqs.push_back(it.prompt);
      seqs.back().insert(seqs.back().end(), c.begin(), c.end());
    }
  std::sort(seqs.begin(), seqs.end(), [](const auto& a, const auto& b) { return a.size() > b.size(); });
  std::vector<core::PaddedBatch> batches;
  const size_t bs = size_t(std::max(1, batchSize));
  for (size_t lo = 0; lo < seqs.size(); lo += bs) {
    std::vector<const std::vector<int32_t>*> ptrs;
    for (size_t i = lo; i < std::min(seqs.size(), lo + bs); ++i) ptrs.push_back(&seqs[i]);
    batches.push_back(core::padRight(ptrs));
  }
  double best = 1e300;
  for (int r = 0; r < std::max(1, repeats); ++r) {
    const auto t0 = Clock::now();
    for (const auto& b : batches) {
      core::ForwardOptions fo;
      fo.logitPositions = torch::tensor(std::vector<int64_t>(b.length.begin(), b.length.end()), torch::kInt64) - 1;
      in.model->forward({b.ids, b.mask, {}}, iv, nullptr, fo);
    }
    best = std::min(best, std::chrono::duration<double>(Clock::now() - t0).count());
  }
  return best;
}

DropResult dropPlan(const ModelTaskInputs& in, const DropParams& p, const core::JobControl* job) {
  const auto t0 = Clock::now();
  const int L = in.model->config().numLayers;
  if (p.module != "attn" && p.module != "mlp" && p.module != "block")
    throw InvalidArgument("drop: module must be attn, mlp or block, got '" + p.module + "'");
  const int perLayer = (p.plan == DropPlanKind::Joint) ? 2 : 1;
  if (p.n < 1 || p.n > L * perLayer)
    throw InvalidArgument("drop: --n must be in 1.." + std::to_string(L * perLayer) + ", got " + std::to_string(p.n));
  if (!in.eval) throw InvalidArgument("drop: needs the base evaluation");
  DropResult res;
  res.params = p;
  RedundancyParams rp;
  rp.batchSize = p.batchSize;
  res.similarity = redundancy(in, rp, job);

  // candidates (layer, module, similarity) not yet dropped, most similar first; ties: lower layer, attn first
  auto rank = [&](const RedundancyResult& sim, const std::vector<DroppedModule>& done) {
    std::vector<DroppedModule> c;
    auto isDropped = [&](int l, const std::string& m) {
      return std::any_of(done.begin(), done.end(), [&](const DroppedModule& d) { return d.layer == l && d.module == m; });
    };
    for (int l = 0; l < L; ++l) {
      if (p.plan == DropPlanKind::Joint || p.module == "attn")
        if (!isDropped(l, "attn")) c.push_back({l, "attn", sim.attn[l]});
      if (p.plan == DropPlanKind::Joint || p.module == "mlp")
        if (!isDropped(l, "mlp")) c.push_back({l, "mlp", sim.mlp[l]});
      if (p.plan != DropPlanKind::Joint && p.module == "block")
        if (!isDropped(l, "attn")) c.push_back({l, "block", sim.block[l]});
    }
    std::stable_sort(c.begin(), c.end(), [](const auto& a, const auto& b) { return a.similarity > b.similarity; });
    return c;
  };
  auto add = [&](const DroppedModule& d) {
    if (d.module == "block") {
      res.dropped.push_back({d.layer, "attn", d.similarity});
      res.dropped.push_back({d.layer, "mlp", d.similarity});
    } else {
      res.dropped.push_back(d);
    }
  };
  if (p.plan == DropPlanKind::Iterative) {
    RedundancyResult sim = res.similarity;
    for (int s = 0; s < p.n; ++s) {
      if (s > 0) {
        rp.skips = dropInterventions(res.dropped, L);
        sim = redundancy(in, rp, job);
      }
      add(rank(sim, res.dropped).front());
    }
  } else {
    auto c = rank(res.similarity, {});
    for (int s = 0; s < p.n; ++s) add(c[size_t(s)]);
  }
  const auto iv = dropInterventions(res.dropped, L);
  core::ScoringOptions so = in.eval->options;
  so.batchSize = p.batchSize;
  res.eval = core::evaluate(*in.model, *in.tokenizer, *in.task, so, job,
                            [&](const core::BatchInfo&, int) { return iv; });
  res.accuracy = res.eval.accuracy;
  res.baseAccuracy = in.eval->accuracy;
  core::reportProgress(job, {"drop: timing", 0, 2});
  res.baseForwardSeconds = timeForwardPass(in, p.batchSize, nullptr, p.timingRepeats);
  core::reportProgress(job, {"drop: timing", 1, 2});
  res.droppedForwardSeconds = timeForwardPass(in, p.batchSize, &iv, p.timingRepeats);
  res.speedup = res.baseForwardSeconds / res.droppedForwardSeconds;
  res.seconds = std::chrono::duration<double>(Clock::now() - t0).count();
  return res;
}

}  // namespace layerscope::analysis
