// Drop plans (docs/methods.md section 5): one-shot / iterative / joint / iterative-joint / consecutive under the
// chosen semantics (paper_semantics.h), through the core's skipAttention / skipMlp, evaluated for accuracy and
// measured forward speedup.
#include <algorithm>
#include <chrono>

#include "analysis/layer_analyses.h"
#include "analysis/sharded_eval.h"
#include "core/base/error.h"

namespace layerscope::analysis {
namespace {

using Clock = std::chrono::steady_clock;

const std::vector<DropPlanKind>& allPlans() {
  static const std::vector<DropPlanKind> k = {DropPlanKind::OneShot, DropPlanKind::Iterative, DropPlanKind::Joint,
                                              DropPlanKind::IterativeJoint, DropPlanKind::Consecutive};
  return k;
}

}  // namespace

std::string dropPlanName(DropPlanKind k) {
  switch (k) {
    case DropPlanKind::OneShot: return "one-shot";
    case DropPlanKind::Iterative: return "iterative";
    case DropPlanKind::Joint: return "joint";
    case DropPlanKind::IterativeJoint: return "iterative-joint";
    case DropPlanKind::Consecutive: return "consecutive";
  }
  return "one-shot";
}

DropPlanKind parseDropPlan(std::string_view name) {
  for (auto k : allPlans())
    if (dropPlanName(k) == name) return k;
  throw InvalidArgument("unknown drop plan '" + std::string(name) +
                        "' (expected one-shot, iterative, joint, iterative-joint or consecutive)");
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

namespace {

DroppedModule toModule(const PlannedDrop& d) { return {d.layer, d.mlp ? "mlp" : "attn", d.similarity}; }

}  // namespace

// Which (plan, module) pairs each semantics defines; throws a clear error for the others.
void checkDropParams(const DropParams& p, int L) {
  if (p.module != "attn" && p.module != "mlp" && p.module != "block")
    throw InvalidArgument("drop: module must be attn, mlp or block, got '" + p.module + "'");
  const bool joint = p.plan == DropPlanKind::Joint || p.plan == DropPlanKind::IterativeJoint;
  const std::string sem = semanticsName(p.semantics);
  if (!semanticsDefines(p.semantics, "drop"))
    throw InvalidArgument("drop: semantics " + sem + " defines no drop plan (use layerscope, llm-drop or shortgpt)");
  if (p.semantics == Semantics::ShortGpt && (p.plan != DropPlanKind::OneShot || p.module != "block"))
    throw InvalidArgument("drop: shortgpt semantics removes whole blocks once: use --plan one-shot --module block");
  if (p.semantics == Semantics::LlmDrop && p.plan == DropPlanKind::Iterative && p.module == "block")
    throw InvalidArgument("drop: llm-drop has no iterative block plan (use one-shot or consecutive with --module block)");
  if (p.plan == DropPlanKind::Consecutive && p.module != "block")
    throw InvalidArgument("drop: the consecutive plan drops blocks: use --module block");
  const int maxN = joint ? 2 * L : (p.plan == DropPlanKind::Consecutive && p.semantics == Semantics::LlmDrop) ? L - 1 : L;
  if (p.n < 1 || p.n > maxN)
    throw InvalidArgument("drop: --n must be in 1.." + std::to_string(maxN) + ", got " + std::to_string(p.n));
}

DropResult dropPlan(const ModelTaskInputs& in, const DropParams& p, const core::JobControl* job) {
  const auto t0 = Clock::now();
  const int L = in.model->config().numLayers;
  checkDropParams(p, L);
  if (!in.eval) throw InvalidArgument("drop: needs the base evaluation");
  const bool llmDrop = p.semantics == Semantics::LlmDrop;
  DropResult res;
  res.params = p;
  RedundancyParams rp;
  rp.batchSize = p.batchSize;
  rp.semantics = p.semantics;
  rp.dropNorm = p.dropNorm;
  rp.angular = p.angular;
  if (p.fullSimilarity && (p.fullSimilarity->params.semantics != p.semantics || p.fullSimilarity->params.dropNorm != p.dropNorm ||
                           p.fullSimilarity->params.angular != p.angular))
    throw Error("drop: the given similarities were computed with other semantics or options");
  res.similarity = p.fullSimilarity ? *p.fullSimilarity : redundancy(in, rp, job);
  auto addBlock = [&](int l, double s) {
    res.dropped.push_back({l, "attn", s});
    res.dropped.push_back({l, "mlp", s});
  };
  auto scorer = [&](const std::vector<bool>& skipA, const std::vector<bool>& skipM) {
    RedundancyParams q = rp;
    q.skips.skipAttention = skipA, q.skips.skipMlp = skipM;
    const bool none = std::none_of(skipA.begin(), skipA.end(), [](bool b) { return b; }) &&
                      std::none_of(skipM.begin(), skipM.end(), [](bool b) { return b; });
    const auto r = none ? res.similarity : redundancy(in, q, job);
    return SubBlockSimilarities{r.attn, r.mlp};
  };

  if (p.plan == DropPlanKind::Consecutive) {
    const auto sim = blockSimilarityMatrix(in, rp, job);
    const int begin = consecutiveBlockStart(sim, p.n, llmDrop);
    for (int l = begin; l < begin + p.n; ++l) addBlock(l, sim(begin, llmDrop ? p.n : p.n - 1));
  } else if (p.plan == DropPlanKind::IterativeJoint || (p.plan == DropPlanKind::Iterative && p.module != "block")) {
    const auto plan = iterativeDropPlan(L, p.n, p.plan == DropPlanKind::IterativeJoint ? "all" : p.module, llmDrop, scorer);
    for (const auto& d : plan) res.dropped.push_back(toModule(d));
  } else if (p.plan == DropPlanKind::Iterative) {  // LayerScope iterative blocks: re-score the dropped model
    std::vector<bool> gone(size_t(L), false);
    RedundancyResult sim = res.similarity;
    for (int s = 0; s < p.n; ++s) {
      if (s > 0) {
        rp.skips = dropInterventions(res.dropped, L);
        sim = redundancy(in, rp, job);
      }
      int best = -1;
      for (int l = 0; l < L; ++l)
        if (!gone[size_t(l)] && (best < 0 || sim.block[l] > sim.block[best])) best = l;
      gone[size_t(best)] = true;
      addBlock(best, sim.block[best]);
    }
  } else {  // one-shot and joint rank the full model's similarities
    const auto& sim = res.similarity;
    std::vector<DroppedModule> c;
    if (p.module == "block" && p.plan == DropPlanKind::OneShot) {
      for (int l = 0; l < L; ++l)  // shortgpt: ascending Block Influence (np.argsort); otherwise descending sim
        c.push_back({l, "block", p.semantics == Semantics::ShortGpt ? -sim.blockBi[l] : sim.block[l]});
    } else if (p.plan == DropPlanKind::Joint && llmDrop) {  // torch.cat((attn, mlp)) then sort
      for (int l = 0; l < L; ++l) c.push_back({l, "attn", sim.attn[l]});
      for (int l = 0; l < L; ++l) c.push_back({l, "mlp", sim.mlp[l]});
    } else {
      for (int l = 0; l < L; ++l) {  // ties: lower layer, attention first
        if (p.plan == DropPlanKind::Joint || p.module == "attn") c.push_back({l, "attn", sim.attn[l]});
        if (p.plan == DropPlanKind::Joint || p.module == "mlp") c.push_back({l, "mlp", sim.mlp[l]});
      }
    }
    std::stable_sort(c.begin(), c.end(), [](const auto& a, const auto& b) { return a.similarity > b.similarity; });
    for (int s = 0; s < p.n; ++s) {
      const auto& d = c[size_t(s)];
      if (d.module == "block") addBlock(d.layer, p.semantics == Semantics::ShortGpt ? -d.similarity : d.similarity);
      else res.dropped.push_back(d);
    }
  }

  const auto iv = dropInterventions(res.dropped, L);
  core::ScoringOptions so = in.eval->options;
  so.batchSize = p.batchSize;
  res.eval = std::move(evaluateShards(*in.model, *in.task, in.shard, 1, false,
                                      [&](const core::PreparedTask& share, std::size_t) {
                                        return std::vector{core::evaluateFixed(*in.model, *in.tokenizer, share, so, iv, job)};
                                      }).front());
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
