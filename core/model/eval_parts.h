// Data-parallel evaluation, the part every caller shares (docs/distributed.md): each process evaluates its
// contiguous share of a task's items, sends its per-item results as text, and every process joins the texts of all
// (in rank order, which is the item order) into the whole-task result a single process computes.
#pragma once

#include <cstddef>
#include <string>
#include <vector>

#include "core/model/scoring.h"

namespace layerscope::core {

/// This process's per-item results of every variant (evaluateVariants' order) as one text for an all-gather.
/// Doubles round-trip exactly.
std::string evalPartsText(const std::vector<EvalResult>& parts);

/// Joins the texts of every process (rank order) into `variants` whole-task results of `items` items: the items in
/// order, `correct` and the accuracies counted as core::evaluateVariants counts them, forwardPasses summed, seconds
/// the slowest process's. kind, options and sharedPrompt come from `like` (any process's result of the same call).
/// decisionStates are not joined (they are tensors; analysis/sharded_eval.h adds them). Throws Error when the texts
/// do not hold `items` results per variant (processes started on different tasks).
std::vector<EvalResult> joinEvalParts(const std::vector<std::string>& texts, const EvalResult& like, int variants,
                                      std::size_t items);

}  // namespace layerscope::core
