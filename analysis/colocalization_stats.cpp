// stats.json of the pipeline (see colocalization_stats.h): coLocalization() of the pair, then the percentile
// bootstrap of r_s with both profiles recomputed on the same resample of items.
#include "analysis/colocalization_stats.h"

#include "core/base/error.h"

namespace layerscope::analysis {

nlohmann::json colocalizationStats(const ColocalizationProfile& first, const ColocalizationProfile& second,
                                   const CoLocalizationParams& params, const ColocalizationBootstrap& bootstrap,
                                   const core::JobControl* job) {
  const auto co = coLocalization({first.values, second.values}, params, job);
  const std::size_t L = co.layers;
  const char* permMethod = co.spearman.permutationMethod == PermutationMethod::Exact        ? "exact"
                           : co.spearman.permutationMethod == PermutationMethod::MonteCarlo ? "monte_carlo"
                                                                                            : "none";
  nlohmann::json st = {{"format", "layerscope.stats/1"},
                       {"profiles", {{"sensitivity", first.key}, {"rope", second.key}}},
                       {"stats.spearman.r", co.spearman.r}, {"stats.spearman.p", co.spearman.p},
                       {"stats.spearman.p_perm", co.spearman.pPermutation},
                       {"stats.spearman.p_perm_method", permMethod},
                       {"stats.kendall.tau", co.kendall.tau}, {"stats.kendall.p", co.kendall.p},
                       {"top_k", {{"k_sens", co.kSens}, {"k_rope", co.kRope}, {"S_sens", co.topSens}, {"S_rope", co.topRope}}},
                       {"overlap", co.overlap}, {"jaccard", co.jaccard},
                       {"centre_of_mass", {{"sensitivity", co.centreSens}, {"rope", co.centreRope}}},
                       {"verdict", verdictName(co.verdict)}, {"verdict_text", co.verdictText}, {"alpha", params.alpha},
                       {"n_layers", L}};
  if (!co.centreNote.empty()) st["centre_of_mass_note"] = co.centreNote;
  if (bootstrap.params.resamples == 0) return st;
  if (bootstrap.items.empty()) {
    st["stats.spearman.ci_error"] = bootstrap.unavailable;
    return st;
  }
  if (!first.resample || !second.resample) {
    st["stats.spearman.ci_error"] = "no bootstrap interval: '" + (first.resample ? second.key : first.key) +
                                    "' has no per-item values to resample";
    return st;
  }
  auto fn = [&](std::span<const std::size_t> idx) {
    std::vector<std::size_t> rows;
    rows.reserve(idx.size());
    for (auto j : idx) rows.push_back(bootstrap.items[j]);
    return ProfilePair{first.resample(idx, rows), second.resample(idx, rows)};
  };
  try {
    const auto bs = bootstrapSpearman(bootstrap.count, fn, bootstrap.params, job);
    st["stats.spearman.ci_low"] = bs.low;
    st["stats.spearman.ci_high"] = bs.high;
    st["stats.spearman.ci_median"] = bs.median;
    st["stats.spearman.bootstrap_undefined"] = bs.undefined;
    st["stats.spearman.bootstrap_resamples"] = bootstrap.params.resamples;
  } catch (const InvalidArgument& e) {
    st["stats.spearman.ci_error"] = e.what();
  }
  return st;
}

}  // namespace layerscope::analysis
