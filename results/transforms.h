// Presentation transforms of result values (ranks, normalisation, layer tables) shared by views, export and
// tests. Pure functions over std::vector; no statistics are computed here (those come from stats.json).
#pragma once

#include <algorithm>
#include <cmath>
#include <numeric>
#include <vector>

#include "results/results.h"

namespace layerscope::results {

/// Average ranks (1-based, ties share their mean rank), as Spearman's r_s uses them. NaN stays NaN.
inline std::vector<double> averageRanks(const std::vector<double>& v) {
  std::vector<size_t> idx;
  for (size_t i = 0; i < v.size(); ++i)
    if (!std::isnan(v[i])) idx.push_back(i);
  std::sort(idx.begin(), idx.end(), [&](size_t a, size_t b) { return v[a] < v[b]; });
  std::vector<double> r(v.size(), kNaN);
  for (size_t i = 0; i < idx.size();) {
    size_t j = i;
    while (j + 1 < idx.size() && v[idx[j + 1]] == v[idx[i]]) ++j;
    const double rank = (double(i) + double(j)) / 2.0 + 1.0;
    for (size_t t = i; t <= j; ++t) r[idx[t]] = rank;
    i = j + 1;
  }
  return r;
}

/// Divides by the maximum |value| so profiles of different units share one axis (0 when all are 0 / NaN).
inline double maxAbs(const std::vector<double>& v) {
  double m = 0;
  for (double x : v)
    if (!std::isnan(x)) m = std::max(m, std::abs(x));
  return m;
}

inline std::vector<double> scaled(const std::vector<double>& v, double by) {
  std::vector<double> out(v);
  if (by != 0)
    for (double& x : out) x /= by;
  return out;
}

/// The layer table: layers.csv when present, otherwise built from scores.json layer scores.
inline LayerTable layerTableOf(const ResultsBundle& b) {
  if (b.layers) return *b.layers;
  LayerTable t;
  if (!b.scores) return t;
  for (const auto& [key, v] : b.scores->layerScores) t.columns.push_back(key);
  t.rows.assign(size_t(b.scores->numLayers), {});
  for (auto& row : t.rows) row.reserve(t.columns.size());
  for (const auto& [key, v] : b.scores->layerScores)
    for (size_t l = 0; l < v.size(); ++l) t.rows[l].push_back(v[l]);
  return t;
}

/// "importance = 1 - similarity" (docs/methods.md section 5).
inline std::vector<double> importanceOf(const std::vector<double>& similarity) {
  std::vector<double> out(similarity.size());
  std::transform(similarity.begin(), similarity.end(), out.begin(), [](double s) { return 1.0 - s; });
  return out;
}

/// TensorBoard's loss smoothing: an exponential moving average with weight `w` in [0, 1) (0 = none), debiased
/// so the first points are not pulled towards 0: s_t = w s_{t-1} + (1 - w) x_t, shown as s_t / (1 - w^t).
/// Non-finite points are skipped (they keep the previous smoothed value).
inline std::vector<double> emaSmoothed(const std::vector<double>& x, double w) {
  std::vector<double> out(x.size(), kNaN);
  if (!(w > 0)) return x;
  w = std::min(w, 0.999);
  double s = 0, bias = 1;
  for (size_t i = 0; i < x.size(); ++i) {
    if (std::isfinite(x[i])) {
      s = w * s + (1 - w) * x[i];
      bias *= w;
    }
    out[i] = bias < 1 ? s / (1 - bias) : kNaN;
  }
  return out;
}

}  // namespace layerscope::results
