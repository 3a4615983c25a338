// Task evaluation on a data-parallel process's share of the items (docs/distributed.md): the base evaluation of
// `analyze`, its manipulations and its drop plans. Each process evaluates its contiguous share and every process
// gets the whole-task results, equal to one process's evaluation of the whole task (bit for bit with batches of one
// sequence; otherwise up to the float32 differences of other padding, as a change of --batch gives).
#pragma once

#include <cstddef>
#include <functional>
#include <vector>

#include "analysis/layer_analyses.h"
#include "core/model/scoring.h"

namespace layerscope::analysis {

/// Evaluates `share` (the items [first, first + share.items.size()) of the task) and returns one result per variant.
using ShareEvaluation = std::function<std::vector<core::EvalResult>(const core::PreparedTask& share, std::size_t first)>;

/// `variants` evaluations of `task`: run(task, 0) without a shard (or with one process); otherwise run() on this
/// process's share (ItemShard::range; not called for an empty share) and the per-item results joined over the
/// processes (core::joinEvalParts). With `keepStates` (ScoringOptions::keepDecisionStates) the first result's
/// decision states are assembled for every item too: each row comes from the one process that computed it (the
/// others add zeros: exact). Every process must call this with the same arguments (it runs collectives).
std::vector<core::EvalResult> evaluateShards(const core::LlamaModel& model, const core::PreparedTask& task,
                                             const ItemShard* shard, int variants, bool keepStates,
                                             const ShareEvaluation& run);

/// The hook for a share that starts at item `first`: `hook` sees task-wide item indices (BatchInfo::item), so the
/// per-item seeds of manipulations and the swap donors (the next item of the task) are those of the whole task.
/// An empty hook stays empty (the evaluation may then share prompts).
core::InterventionHook taskIndexedHook(const core::InterventionHook& hook, std::size_t first);

}  // namespace layerscope::analysis
