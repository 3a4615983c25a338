// Analyses refuse to compute scores from non-finite hidden states. NaN or inf weights (or an overflow in the
// compute dtype) make every downstream number meaningless, and the statistics would quietly turn them into
// verdicts; instead the run stops with an error that names the first layer whose states are not finite
// (docs/hardening.md). One check shared by the pipeline (before any analysis) and the per-analysis paths.
#pragma once

#include <string>

#include <torch/torch.h>

#include "core/model/model.h"
#include "core/model/scoring.h"

namespace layerscope::analysis {

/// `finite` [L] bool (true where layer l's states are all finite): throws layerscope::Error naming `what` and
/// the first layer that is not finite. Does nothing when every entry is true.
void requireFiniteLayers(const torch::Tensor& finite, const std::string& what);

/// One forward over the first item of `task` (prompt + gold continuation) capturing every layer's output
/// (resid_post): throws layerscope::Error naming the first layer whose states contain NaN or inf, and the
/// first non-finite weight of that layer when there is one. A no-op for an empty task.
void checkFiniteStates(const core::LlamaModel& model, const core::PreparedTask& task);

}  // namespace layerscope::analysis
