// Paper-exact semantics (docs/analyses.md "LayerScope definition vs each paper's code", docs/methods.md
// sections 5 and 6): which definition the redundancy, drop-plan and manipulation analyses follow. LayerScope's own
// definitions are the default; `llm-drop`, `shortgpt` and `afcl` follow the official code of CASE-Lab-UMD/LLM-Drop,
// icip-cas/ShortGPT and schwartz-lab-NLP/Attend-First-Consolidate-Later rule by rule (file and line in
// docs/methods.md). The rules that need no model are pure functions here, tested against numpy references
// (tests/reference/paper_semantics/make_paper_semantics_reference.py).
#pragma once

#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include <Eigen/Core>
#include <torch/torch.h>

#include "analysis/semantics.h"

namespace layerscope::analysis {

// Semantics, its names and semanticsFor: analysis/semantics.h (torch-free).

// ---------------------------------------------------------------------------------------------------------
// ShortGPT (shortgpt/metrics.py block_influence)

/// Per-token similarity x.y / (|x| |y|) over the last dimension, NaN (a zero vector) -> 0.5. [..., D] -> [...].
torch::Tensor shortgptTokenSimilarity(const torch::Tensor& in, const torch::Tensor& out);
/// Per-token Block Influence from the similarity: 1 - sim, or arccos(sim) / pi when `angular` (sim clamped to
/// [-1, 1] first: the official code gives NaN for a rounding overshoot above 1).
torch::Tensor shortgptTokenBi(const torch::Tensor& sim, bool angular);

/// ShortGPT's calibration windows: each prompt cut into consecutive windows of `stride` tokens, each run as its
/// own sequence (shortgpt.py eval_importance).
std::vector<std::vector<int32_t>> shortgptWindows(const std::vector<std::vector<int32_t>>& prompts, int stride);

// ---------------------------------------------------------------------------------------------------------
// LLM-Drop

/// LLM-Drop's "pt" calibration data (LLaMA-Factory preprocess_pretrain_dataset): each prompt without its leading
/// BOS, followed by EOS, all concatenated and cut into chunks of `chunk` tokens; the remainder is dropped. When
/// fewer than `chunk` tokens exist (the official code would then have no data) all of them form one chunk.
std::vector<std::vector<int32_t>> llmDropCalibrationChunks(const std::vector<std::vector<int32_t>>& prompts,
                                                           std::optional<int32_t> bos, std::optional<int32_t> eos,
                                                           int chunk);

/// RMSNorm as the model applies it (float32 normalisation, cast back, times the weight): LLM-Drop's
/// layer_drop_norm=False compares this normalised input with the sub-block's output.
torch::Tensor rmsNormLike(const torch::Tensor& x, const torch::Tensor& weight, double eps);

/// Similarities of the attention and MLP sub-blocks measured along one trajectory (a model with the given
/// modules skipped), [L] each.
struct SubBlockSimilarities {
  Eigen::VectorXd attn, mlp;
};
using TrajectoryScorer =
    std::function<SubBlockSimilarities(const std::vector<bool>& skipAttention, const std::vector<bool>& skipMlp)>;

/// One dropped module of a plan: layer, kind and the similarity that ranked it.
struct PlannedDrop {
  int layer = 0;
  bool mlp = false;
  double similarity = 0;
};

/// Iterative plans: n rounds, one module per round. `kinds` is "attn", "mlp" or "all" (joint: either kind).
/// LayerScope: every round scores the model as actually dropped (one trajectory), ranks the kinds together
/// (ties: lower layer, attention first). LLM-Drop (layer_drop.py get_layer_similarities): kind K is scored on a
/// trajectory that skips every layer whose K module is dropped as a whole (its other sub-block too), those layers
/// score -inf; the candidates are [attn..., mlp...] sorted descending (ties: the earlier entry).
std::vector<PlannedDrop> iterativeDropPlan(int numLayers, int n, const std::string& kinds, bool llmDrop,
                                           const TrajectoryScorer& score);

/// Consecutive block drop from the similarity matrix sim(i, g-1) = mean cos(h_i, h_{i+g}) ([L, L], -inf where
/// i + g > L; h_L is the last layer's output). Returns the first dropped layer; the plan drops [begin, begin+n).
/// LayerScope reads gap n; LLM-Drop (block_drop.py consecutive_block_dropping) reads column n, i.e. gap n + 1
/// (and needs n < L). Ties: the lowest begin.
int consecutiveBlockStart(const Eigen::MatrixXd& sim, int n, bool llmDrop);

// ---------------------------------------------------------------------------------------------------------
// Attend First, Consolidate Later (convert_models/manipulations_utils.py)

/// The shuffle of token t at layer k: torch.manual_seed(k * t); torch.randperm(D) (CPU generator). int64 [D].
torch::Tensor afclShufflePermutation(int64_t dims, int k, int64_t token);

}  // namespace layerscope::analysis
