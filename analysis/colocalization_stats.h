// The pipeline's co-localization stage (docs/methods.md section 4) for any two per-layer profiles: the statistics
// of coLocalization() plus the bootstrap interval of r_s over items, as the stats.json document of
// docs/results-format.md. The first profile is the "sensitivity side" (S_sens, k_sens), the second the "rope
// side" (S_rope, k_rope), whatever keys they are. Torch-free: the caller says how to recompute a profile on a
// resample of items.
#pragma once

#include <cstddef>
#include <functional>
#include <span>
#include <string>
#include <vector>

#include <Eigen/Core>
#include <nlohmann/json.hpp>

#include "analysis/statistics.h"
#include "core/base/job_control.h"

namespace layerscope::analysis {

/// A profile recomputed on one resample: `idx` are the resampled unit indices (with repeats), `rows` the task
/// item index of each.
using ResampledProfile =
    std::function<Eigen::VectorXd(std::span<const std::size_t> idx, const std::vector<std::size_t>& rows)>;

/// One side of the compared pair.
struct ColocalizationProfile {
  std::string key;            ///< its layer_scores key (stats.json "profiles")
  Eigen::VectorXd values;     ///< [L]
  ResampledProfile resample;  ///< empty when the key has no per-item values (then no bootstrap interval)
};

/// The units the r_s bootstrap resamples (the sensitivity items).
struct ColocalizationBootstrap {
  std::vector<std::size_t> items;  ///< task item index of each unit; empty = no bootstrap possible
  std::size_t count = 0;           ///< units resampled (Nc + Ni in outcome mode, N in pairs mode)
  BootstrapParams params;          ///< resamples = 0: no interval and no ci_* keys
  std::string unavailable;         ///< why there are no units (stats.spearman.ci_error), when items is empty
};

/// The stats.json document of the pair (format layerscope.stats/1). Throws InvalidArgument from coLocalization()
/// (lengths, k > L, non-finite values); a bootstrap that cannot run is recorded as "stats.spearman.ci_error".
nlohmann::json colocalizationStats(const ColocalizationProfile& first, const ColocalizationProfile& second,
                                   const CoLocalizationParams& params, const ColocalizationBootstrap& bootstrap,
                                   const core::JobControl* job = nullptr);

}  // namespace layerscope::analysis
