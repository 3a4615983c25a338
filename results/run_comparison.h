// Comparing the per-layer profiles of several runs (base vs adapted model, two checkpoints, two tasks): the keys
// they share and the layer-by-layer difference of two of them, for the Runs tab's overlay and difference heatmap.
// Header-only, no Qt, no torch.
#pragma once

#include <algorithm>
#include <cmath>
#include <string>
#include <vector>

#include "results/results.h"

namespace layerscope::results {

/// True for a bootstrap interval bound key ("....ci_low" / "....ci_high"), which is drawn as a band, not a profile.
inline bool isIntervalKey(const std::string& key) {
  auto ends = [&](const std::string& s) { return key.size() > s.size() && key.compare(key.size() - s.size(), s.size(), s) == 0; };
  return ends(".ci_low") || ends(".ci_high");
}

/// layer_scores keys (interval bounds left out) present in every one of `runs`, in key order.
inline std::vector<std::string> sharedProfileKeys(const std::vector<const Scores*>& runs) {
  std::vector<std::string> keys;
  if (runs.empty() || !runs.front()) return keys;
  for (const auto& entry : runs.front()->layerScores) {
    const std::string& k = entry.first;  // a named variable, not a structured binding: clang 14 cannot capture those
    if (isIntervalKey(k)) continue;
    if (std::all_of(runs.begin(), runs.end(), [&](const Scores* s) { return s && s->has(k); })) keys.push_back(k);
  }
  return keys;
}

/// B - A for every shared profile key, layer by layer.
struct ProfileDifference {
  std::vector<std::string> keys;
  std::vector<std::vector<double>> difference;  ///< [layer][key]: B - A in the key's own unit
  std::vector<std::vector<double>> relative;    ///< [layer][key]: (B - A) / max over layers of |A| (NaN when A is all 0)
  int numLayers = 0;
};

/// Compares two runs' profiles. Throws ResultsError when their layer counts differ or they share no profile key.
inline ProfileDifference profileDifference(const Scores& a, const Scores& b, const std::string& labelA = "A",
                                           const std::string& labelB = "B") {
  if (a.numLayers != b.numLayers)
    throw ResultsError("cannot compare '" + labelA + "' (" + std::to_string(a.numLayers) + " layers) with '" + labelB +
                       "' (" + std::to_string(b.numLayers) + " layers): layer-by-layer differences need models of the "
                       "same depth");
  ProfileDifference d;
  d.keys = sharedProfileKeys({&a, &b});
  if (d.keys.empty())
    throw ResultsError("'" + labelA + "' and '" + labelB + "' share no per-layer score: run the same analyses on both");
  d.numLayers = a.numLayers;
  const size_t L = size_t(a.numLayers), K = d.keys.size();
  d.difference.assign(L, std::vector<double>(K, kNaN));
  d.relative = d.difference;
  for (size_t k = 0; k < K; ++k) {
    const auto& va = *a.find(d.keys[k]);
    const auto& vb = *b.find(d.keys[k]);
    double scale = 0;
    for (double x : va)
      if (std::isfinite(x)) scale = std::max(scale, std::abs(x));
    for (size_t l = 0; l < L; ++l) {
      d.difference[l][k] = vb[l] - va[l];
      d.relative[l][k] = scale > 0 ? d.difference[l][k] / scale : kNaN;
    }
  }
  return d;
}

}  // namespace layerscope::results
