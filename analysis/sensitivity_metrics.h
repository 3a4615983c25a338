// Correctness-differential sensitivity scores S_l (docs/methods.md section 2) from captured hidden states, as
// plain Eigen matrices: `outcome` mode (states of correctly vs incorrectly answered items) and `pairs` mode
// (the two teacher-forced states of each prompt). Metrics rel_l2, raw_l2, cos, fisher, probe; per-layer
// bootstrap intervals over items. Pure functions; no torch, no Qt. Formulas: docs/statistics.md.
#pragma once

#include <cstddef>
#include <cstdint>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include <Eigen/Core>

#include "analysis/probe.h"
#include "analysis/statistics.h"
#include "core/base/job_control.h"

namespace layerscope::analysis {

/// How correct and incorrect states are obtained (docs/methods.md section 2).
enum class SensitivityMode {
  Outcome,  ///< correct [Nc, D] and incorrect [Ni, D] states from different items
  Pairs,    ///< correct [N, D] and incorrect [N, D], row j of both from prompt j
};

/// The score of one layer (docs/methods.md section 2).
enum class SensitivityMetric {
  RelL2,   ///< |mu_c - mu_i| / ((|mu_c| + |mu_i|) / 2); pairs: per pair, averaged (default)
  RawL2,   ///< |mu_c - mu_i|; pairs: per pair, averaged
  Cos,     ///< 1 - cos(mu_c, mu_i); pairs: per pair, averaged
  Fisher,  ///< mean over dims of |mu_c - mu_i| / sqrt(pooled variance + fisherEpsilon)
  Probe,   ///< cross-validated AUC of a logistic-regression probe predicting correctness
};

/// Stable name: "rel_l2", "raw_l2", "cos", "fisher", "probe" (result keys `sensitivity.<name>`).
std::string metricName(SensitivityMetric m);
/// Inverse of metricName(); throws InvalidArgument listing the valid names.
SensitivityMetric parseMetric(std::string_view name);
/// "outcome" or "pairs".
std::string modeName(SensitivityMode m);
/// Inverse of modeName(); throws InvalidArgument listing the valid names.
SensitivityMode parseMode(std::string_view name);

/// Hidden states of one layer at the chosen token position (float32 as captured; computed in float64).
struct LayerStates {
  Eigen::MatrixXf correct;    ///< outcome: [Nc, D] states of correct items; pairs: [N, D] correct completions
  Eigen::MatrixXf incorrect;  ///< outcome: [Ni, D] states of incorrect items; pairs: [N, D], row j pairs row j
};

/// Options of the sensitivity scores.
struct SensitivityParams {
  SensitivityMode mode = SensitivityMode::Outcome;    ///< data mode
  SensitivityMetric metric = SensitivityMetric::RelL2;  ///< score
  double fisherEpsilon = 1e-12;        ///< added to the pooled per-dim variance (squared state units)
  ProbeParams probe;                   ///< folds, seed and penalty of the probe metric
  std::size_t bootstrapResamples = 1000;  ///< B of the per-layer interval over items; 0 = no interval
  double confidence = 0.95;            ///< central mass of the percentile interval
  std::uint64_t seed = kDefaultSeed;   ///< seed of the bootstrap resampling
};

/// Per-layer scores with their bootstrap intervals.
struct SensitivityResult {
  Eigen::VectorXd score;         ///< S_l, [L]
  Eigen::VectorXd low;           ///< lower percentile bound per layer, [L] (NaN when B = 0)
  Eigen::VectorXd high;          ///< upper percentile bound per layer, [L] (NaN when B = 0)
  std::vector<std::size_t> undefinedReplicates;  ///< per layer, resamples whose score was undefined (probe)
  std::size_t layers = 0;        ///< L
  std::size_t dims = 0;          ///< D
  std::size_t nCorrect = 0;      ///< Nc (outcome) or N (pairs)
  std::size_t nIncorrect = 0;    ///< Ni (outcome) or N (pairs)
  SensitivityParams params;      ///< the options that produced this result
};

/// Checks one layer's shapes for the mode: both classes non-empty (outcome: Nc >= 1, Ni >= 1, Nc + Ni >= 3
/// for fisher; pairs: N >= 1 and equal row counts), equal D, finite values. Throws InvalidArgument saying
/// what was expected and found; `layer` is only used in the message.
void validateLayerStates(const LayerStates& states, const SensitivityParams& params, std::size_t layer = 0);

/// The score of one layer on all its items (no bootstrap).
double layerScore(const LayerStates& states, const SensitivityParams& params = {},
                  const core::JobControl* job = nullptr);

/// Scores of every layer on a resample of items, for a co-localization bootstrap (bootstrapSpearman). Items
/// are numbered 0..Nc+Ni-1 (outcome: correct rows first, then incorrect) or 0..N-1 (pairs: pair j).
/// A layer whose score is undefined on the resample (a class absent, too few items for the probe) is NaN.
Eigen::VectorXd scoresOnItems(const std::vector<LayerStates>& layers, std::span<const std::size_t> items,
                              const SensitivityParams& params = {}, const core::JobControl* job = nullptr);

/// Number of items scoresOnItems() indexes: Nc + Ni (outcome) or N (pairs).
std::size_t itemCount(const std::vector<LayerStates>& layers, const SensitivityParams& params);

/// S_l for all layers with a per-layer percentile bootstrap interval over items. Outcome mode resamples the
/// correct and the incorrect items separately (stratified, so both classes keep their sizes); pairs mode
/// resamples pairs. All layers share each resample. Validates every layer before any work; Cancelled
/// through `job` between layers and resamples.
SensitivityResult sensitivityProfile(const std::vector<LayerStates>& layers, const SensitivityParams& params = {},
                                     const core::JobControl* job = nullptr);

}  // namespace layerscope::analysis
