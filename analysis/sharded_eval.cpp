#include "analysis/sharded_eval.h"

#include "core/base/error.h"
#include "core/model/eval_parts.h"

namespace layerscope::analysis {

std::vector<core::EvalResult> evaluateShards(const core::LlamaModel& model, const core::PreparedTask& task,
                                             const ItemShard* shard, int variants, bool keepStates,
                                             const ShareEvaluation& run) {
  if (!shard || shard->size <= 1) return run(task, 0);
  if (!shard->gather) throw InvalidArgument("data-parallel evaluation needs the all-gather of the process group");
  const auto [first, last] = shard->range(task.items.size());
  core::PreparedTask share = task;
  share.items.assign(task.items.begin() + std::ptrdiff_t(first), task.items.begin() + std::ptrdiff_t(last));
  std::vector<core::EvalResult> part(static_cast<std::size_t>(variants));
  for (auto& p : part) p.kind = task.kind;
  if (!share.items.empty()) part = run(share, first);
  if (part.size() != std::size_t(variants))
    throw InvalidArgument("data-parallel evaluation: " + std::to_string(part.size()) + " results for " +
                          std::to_string(variants) + " variants");
  auto all = core::joinEvalParts(shard->gather(core::evalPartsText(part)), part.front(), variants, task.items.size());
  if (keepStates) {
    const auto& cfg = model.config();
    const int64_t n = int64_t(task.items.size()), d = cfg.hiddenSize;
    const auto& mine = part.front().decisionStates;  // [L] x [last - first, D], empty for an empty share
    for (int l = 0; l < cfg.numLayers; ++l) {
      auto rows = torch::zeros({n, d}, torch::kFloat64);
      if (!mine.empty()) rows.narrow(0, int64_t(first), int64_t(last - first)).copy_(mine.at(size_t(l)));
      shard->sumInPlace(rows.data_ptr<double>(), std::size_t(rows.numel()));
      all.front().decisionStates.push_back(rows.to(torch::kFloat32));  // one non-zero term per entry: exact
    }
  }
  return all;
}

core::InterventionHook taskIndexedHook(const core::InterventionHook& hook, std::size_t first) {
  if (!hook || first == 0) return hook;
  return [hook, first](const core::BatchInfo& batch, int variant) {
    core::BatchInfo b = batch;
    for (auto& i : b.item) i += first;
    return hook(b, variant);
  };
}

}  // namespace layerscope::analysis
