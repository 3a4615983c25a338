// Sensitivity scores S_l (docs/methods.md section 2). Bootstrap resamples are represented as count matrices
// [B, N] so the class means of all B resamples of a layer come from one matrix product.
#include "analysis/sensitivity_metrics.h"

#include <algorithm>
#include <cmath>
#include <limits>

#include "core/base/error.h"

namespace layerscope::analysis {

namespace {

constexpr double kNaN = std::numeric_limits<double>::quiet_NaN();

// Class means and unbiased per-dim variances (n - 1 denominator; 0 when n = 1) of a (re)sample.
struct Moments {
  Eigen::RowVectorXd meanC, meanI, varC, varI;
  double nC = 0, nI = 0;
};

// cos similarity; a zero vector has similarity 0 with everything (so cos distance 1).
double cosine(const Eigen::RowVectorXd& a, const Eigen::RowVectorXd& b) {
  const double na = a.norm(), nb = b.norm();
  return (na == 0 || nb == 0) ? 0.0 : a.dot(b) / (na * nb);
}

// rel_l2 of two vectors; 0 when both are zero (identical).
double relL2(const Eigen::RowVectorXd& a, const Eigen::RowVectorXd& b) {
  const double denom = 0.5 * (a.norm() + b.norm());
  return denom == 0 ? 0.0 : (a - b).norm() / denom;
}

double fisherFromMoments(const Moments& m, double eps) {
  const double dof = m.nC + m.nI - 2.0;
  const Eigen::ArrayXXd pooled = ((m.nC - 1.0) * m.varC.array() + (m.nI - 1.0) * m.varI.array()) / dof;
  return ((m.meanC - m.meanI).array().abs() / (pooled + eps).sqrt()).mean();
}

// Outcome metrics (and pairs fisher) from class moments.
double fromMoments(const Moments& m, const SensitivityParams& p) {
  switch (p.metric) {
    case SensitivityMetric::RelL2: return relL2(m.meanC, m.meanI);
    case SensitivityMetric::RawL2: return (m.meanC - m.meanI).norm();
    case SensitivityMetric::Cos: return 1.0 - cosine(m.meanC, m.meanI);
    case SensitivityMetric::Fisher: return fisherFromMoments(m, p.fisherEpsilon);
    case SensitivityMetric::Probe: break;
  }
  throw InvalidArgument("sensitivity: the probe metric has no moment form");
}

// Per-pair rel_l2 / raw_l2 / cos, [N].
Eigen::VectorXd perPair(const Eigen::MatrixXd& c, const Eigen::MatrixXd& i, SensitivityMetric metric) {
  Eigen::VectorXd v(c.rows());
  for (Eigen::Index j = 0; j < c.rows(); ++j) {
    const Eigen::RowVectorXd a = c.row(j), b = i.row(j);
    switch (metric) {
      case SensitivityMetric::RelL2: v(j) = relL2(a, b); break;
      case SensitivityMetric::RawL2: v(j) = (a - b).norm(); break;
      case SensitivityMetric::Cos: v(j) = 1.0 - cosine(a, b); break;
      default: throw InvalidArgument("sensitivity: per-pair form exists only for rel_l2, raw_l2 and cos");
    }
  }
  return v;
}

bool perPairMetric(const SensitivityParams& p) {
  return p.mode == SensitivityMode::Pairs &&
         (p.metric == SensitivityMetric::RelL2 || p.metric == SensitivityMetric::RawL2 ||
          p.metric == SensitivityMetric::Cos);
}

// Moments of the resamples given as counts: wC [B, Nc], wI [B, Ni] (row b: how often each row is drawn).
// Returns one Moments per resample. Variance as (E[x^2] - mean^2) n/(n-1), clamped at 0.
std::vector<Moments> batchMoments(const Eigen::MatrixXd& xc, const Eigen::MatrixXd& xi, const Eigen::MatrixXd& wC,
                                  const Eigen::MatrixXd& wI, bool needVariance) {
  const Eigen::VectorXd nC = wC.rowwise().sum();
  const Eigen::VectorXd nI = wI.rowwise().sum();
  const Eigen::MatrixXd mC = nC.cwiseInverse().asDiagonal() * (wC * xc);
  const Eigen::MatrixXd mI = nI.cwiseInverse().asDiagonal() * (wI * xi);
  Eigen::MatrixXd vC, vI;
  if (needVariance) {
    vC = nC.cwiseInverse().asDiagonal() * (wC * xc.cwiseAbs2());
    vI = nI.cwiseInverse().asDiagonal() * (wI * xi.cwiseAbs2());
  }
  std::vector<Moments> out(static_cast<std::size_t>(wC.rows()));
  for (Eigen::Index b = 0; b < wC.rows(); ++b) {
    Moments& m = out[static_cast<std::size_t>(b)];
    m.nC = nC(b);
    m.nI = nI(b);
    m.meanC = mC.row(b);
    m.meanI = mI.row(b);
    if (needVariance) {
      auto unbiased = [](Eigen::RowVectorXd second, const Eigen::RowVectorXd& mean, double n) {
        if (n < 2) return Eigen::RowVectorXd::Zero(mean.size()).eval();
        second = ((second.array() - mean.array().square()) * (n / (n - 1.0))).max(0.0);
        return second;
      };
      m.varC = unbiased(vC.row(b), m.meanC, m.nC);
      m.varI = unbiased(vI.row(b), m.meanI, m.nI);
    }
  }
  return out;
}

// Probe AUC on rows drawn (with repeats) from the two classes; groups are original item ids so duplicates
// share a fold. Pairs mode: idxC == idxI (pair ids).
double probeOn(const Eigen::MatrixXd& xc, const Eigen::MatrixXd& xi, const std::vector<std::size_t>& idxC,
               const std::vector<std::size_t>& idxI, const SensitivityParams& p, const core::JobControl* job) {
  const auto nc = idxC.size(), ni = idxI.size();
  Eigen::MatrixXd x(static_cast<Eigen::Index>(nc + ni), xc.cols());
  std::vector<int> labels(nc + ni);
  std::vector<std::size_t> groups(nc + ni);
  const bool pairs = p.mode == SensitivityMode::Pairs;
  const std::size_t offset = pairs ? 0 : static_cast<std::size_t>(xc.rows());
  for (std::size_t r = 0; r < nc; ++r) {
    x.row(static_cast<Eigen::Index>(r)) = xc.row(static_cast<Eigen::Index>(idxC[r]));
    labels[r] = 1;
    groups[r] = idxC[r];
  }
  for (std::size_t r = 0; r < ni; ++r) {
    x.row(static_cast<Eigen::Index>(nc + r)) = xi.row(static_cast<Eigen::Index>(idxI[r]));
    labels[nc + r] = 0;
    groups[nc + r] = offset + idxI[r];
  }
  return probeAuc(x, labels, groups, p.probe, job).auc;
}

Eigen::MatrixXd countRow(const std::vector<std::size_t>& idx, Eigen::Index n) {
  Eigen::MatrixXd w = Eigen::MatrixXd::Zero(1, n);
  for (auto i : idx) w(0, static_cast<Eigen::Index>(i)) += 1.0;
  return w;
}

// Score of one layer on index lists into the correct / incorrect rows (with repeats).
double scoreOn(const Eigen::MatrixXd& xc, const Eigen::MatrixXd& xi, const std::vector<std::size_t>& idxC,
               const std::vector<std::size_t>& idxI, const SensitivityParams& p, const core::JobControl* job) {
  if (p.metric == SensitivityMetric::Probe) return probeOn(xc, xi, idxC, idxI, p, job);
  if (perPairMetric(p)) {
    const Eigen::VectorXd v = perPair(xc, xi, p.metric);
    double s = 0;
    for (auto j : idxC) s += v(static_cast<Eigen::Index>(j));
    return s / static_cast<double>(idxC.size());
  }
  const auto m = batchMoments(xc, xi, countRow(idxC, xc.rows()), countRow(idxI, xi.rows()),
                              p.metric == SensitivityMetric::Fisher);
  return fromMoments(m.front(), p);
}

std::vector<std::size_t> iota(std::size_t n) {
  std::vector<std::size_t> v(n);
  for (std::size_t i = 0; i < n; ++i) v[i] = i;
  return v;
}

}  // namespace

// ---------------------------------------------------------------------------------------------------------

std::string metricName(SensitivityMetric m) {
  switch (m) {
    case SensitivityMetric::RelL2: return "rel_l2";
    case SensitivityMetric::RawL2: return "raw_l2";
    case SensitivityMetric::Cos: return "cos";
    case SensitivityMetric::Fisher: return "fisher";
    case SensitivityMetric::Probe: return "probe";
  }
  return "rel_l2";
}

SensitivityMetric parseMetric(std::string_view name) {
  for (auto m : {SensitivityMetric::RelL2, SensitivityMetric::RawL2, SensitivityMetric::Cos,
                 SensitivityMetric::Fisher, SensitivityMetric::Probe}) {
    if (name == metricName(m)) return m;
  }
  throw InvalidArgument("unknown sensitivity metric '" + std::string(name) +
                        "': expected one of rel_l2, raw_l2, cos, fisher, probe");
}

std::string modeName(SensitivityMode m) { return m == SensitivityMode::Outcome ? "outcome" : "pairs"; }

SensitivityMode parseMode(std::string_view name) {
  if (name == "outcome") return SensitivityMode::Outcome;
  if (name == "pairs") return SensitivityMode::Pairs;
  throw InvalidArgument("unknown sensitivity mode '" + std::string(name) + "': expected outcome or pairs");
}

void validateLayerStates(const LayerStates& s, const SensitivityParams& p, std::size_t layer) {
  const std::string where = "sensitivity (layer " + std::to_string(layer) + ", mode " + modeName(p.mode) + "): ";
  const auto nc = s.correct.rows(), ni = s.incorrect.rows();
  if (s.correct.cols() != s.incorrect.cols()) {
    throw InvalidArgument(where + "correct and incorrect states must have the same width D, found " +
                          std::to_string(s.correct.cols()) + " and " + std::to_string(s.incorrect.cols()));
  }
  if (s.correct.cols() == 0) throw InvalidArgument(where + "states have width D = 0");
  if (p.mode == SensitivityMode::Outcome) {
    if (nc == 0 || ni == 0) {
      throw InvalidArgument(where + "needs at least one correct and one incorrect item, found " +
                            std::to_string(nc) + " correct and " + std::to_string(ni) +
                            " incorrect, so no correctness differential exists");
    }
    if (p.metric == SensitivityMetric::Fisher && nc + ni < 3) {
      throw InvalidArgument(where + "fisher needs Nc + Ni >= 3 for a pooled variance, found " +
                            std::to_string(nc + ni));
    }
  } else {
    if (nc != ni) {
      throw InvalidArgument(where + "pairs need as many incorrect as correct states, found " + std::to_string(nc) +
                            " correct and " + std::to_string(ni) + " incorrect");
    }
    if (nc == 0) throw InvalidArgument(where + "needs at least one pair, found none");
    if (p.metric == SensitivityMetric::Fisher && nc < 2) {
      throw InvalidArgument(where + "fisher needs at least 2 pairs, found 1");
    }
  }
  if (p.metric == SensitivityMetric::Probe) {
    const auto minority = std::min(nc, ni);
    if (minority < 2) {
      throw InvalidArgument(where + "the probe's cross-validation needs at least 2 items of each class, found " +
                            std::to_string(nc) + " correct and " + std::to_string(ni) + " incorrect");
    }
  }
  if (!s.correct.allFinite() || !s.incorrect.allFinite()) throw InvalidArgument(where + "states contain NaN or inf");
  if (!(p.fisherEpsilon >= 0)) throw InvalidArgument(where + "fisherEpsilon must be >= 0");
}

double layerScore(const LayerStates& s, const SensitivityParams& p, const core::JobControl* job) {
  validateLayerStates(s, p);
  const Eigen::MatrixXd xc = s.correct.cast<double>();
  const Eigen::MatrixXd xi = s.incorrect.cast<double>();
  return scoreOn(xc, xi, iota(static_cast<std::size_t>(xc.rows())), iota(static_cast<std::size_t>(xi.rows())), p, job);
}

std::size_t itemCount(const std::vector<LayerStates>& layers, const SensitivityParams& p) {
  if (layers.empty()) return 0;
  const auto& s = layers.front();
  return static_cast<std::size_t>(p.mode == SensitivityMode::Outcome ? s.correct.rows() + s.incorrect.rows()
                                                                     : s.correct.rows());
}

Eigen::VectorXd scoresOnItems(const std::vector<LayerStates>& layers, std::span<const std::size_t> items,
                              const SensitivityParams& p, const core::JobControl* job) {
  const std::size_t nItems = itemCount(layers, p);
  Eigen::VectorXd out(static_cast<Eigen::Index>(layers.size()));
  for (std::size_t l = 0; l < layers.size(); ++l) {
    core::checkCancelled(job);
    const auto& s = layers[l];
    if (itemCount({s}, p) != nItems) {
      throw InvalidArgument("scoresOnItems: layer " + std::to_string(l) + " has " + std::to_string(itemCount({s}, p)) +
                            " items, layer 0 has " + std::to_string(nItems));
    }
    std::vector<std::size_t> idxC, idxI;
    const auto nc = static_cast<std::size_t>(s.correct.rows());
    for (auto i : items) {
      if (i >= nItems) {
        throw InvalidArgument("scoresOnItems: item " + std::to_string(i) + " out of range [0, " +
                              std::to_string(nItems) + ")");
      }
      if (p.mode == SensitivityMode::Pairs) {
        idxC.push_back(i);
        idxI.push_back(i);
      } else if (i < nc) {
        idxC.push_back(i);
      } else {
        idxI.push_back(i - nc);
      }
    }
    const bool enough = !idxC.empty() && !idxI.empty() &&
                        (p.metric != SensitivityMetric::Fisher || idxC.size() + idxI.size() >= 3 + (p.mode == SensitivityMode::Pairs));
    if (!enough) {
      out(static_cast<Eigen::Index>(l)) = kNaN;
      continue;
    }
    const Eigen::MatrixXd xc = s.correct.cast<double>();
    const Eigen::MatrixXd xi = s.incorrect.cast<double>();
    try {
      out(static_cast<Eigen::Index>(l)) = scoreOn(xc, xi, idxC, idxI, p, job);
    } catch (const InvalidArgument&) {
      out(static_cast<Eigen::Index>(l)) = kNaN;  // e.g. too few distinct items of a class for the probe
    }
  }
  return out;
}

SensitivityResult sensitivityProfile(const std::vector<LayerStates>& layers, const SensitivityParams& p,
                                     const core::JobControl* job) {
  if (layers.empty()) throw InvalidArgument("sensitivityProfile: no layers given");
  if (p.bootstrapResamples > 0 && !(p.confidence > 0 && p.confidence < 1)) {
    throw InvalidArgument("sensitivityProfile: confidence must lie in (0, 1)");
  }
  const auto& first = layers.front();
  for (std::size_t l = 0; l < layers.size(); ++l) {
    validateLayerStates(layers[l], p, l);
    if (layers[l].correct.rows() != first.correct.rows() || layers[l].incorrect.rows() != first.incorrect.rows() ||
        layers[l].correct.cols() != first.correct.cols()) {
      throw InvalidArgument("sensitivityProfile: layer " + std::to_string(l) + " has states of shape [" +
                            std::to_string(layers[l].correct.rows()) + ", " + std::to_string(layers[l].correct.cols()) +
                            "] / [" + std::to_string(layers[l].incorrect.rows()) + "], layer 0 has [" +
                            std::to_string(first.correct.rows()) + ", " + std::to_string(first.correct.cols()) +
                            "] / [" + std::to_string(first.incorrect.rows()) + "]");
    }
  }
  const auto L = static_cast<Eigen::Index>(layers.size());
  const auto nc = static_cast<std::size_t>(first.correct.rows());
  const auto ni = static_cast<std::size_t>(first.incorrect.rows());
  const bool pairs = p.mode == SensitivityMode::Pairs;

  SensitivityResult res;
  res.params = p;
  res.layers = layers.size();
  res.dims = static_cast<std::size_t>(first.correct.cols());
  res.nCorrect = nc;
  res.nIncorrect = ni;
  res.score.resize(L);
  res.low = Eigen::VectorXd::Constant(L, kNaN);
  res.high = Eigen::VectorXd::Constant(L, kNaN);
  res.undefinedReplicates.assign(layers.size(), 0);

  // Resamples shared by all layers: outcome stratified by class, pairs by pair index.
  const std::size_t B = p.bootstrapResamples;
  std::vector<std::vector<std::size_t>> resC(B), resI(B);
  Rng rng(p.seed);
  for (std::size_t b = 0; b < B; ++b) {
    resC[b] = resampleIndices(rng, nc);
    resI[b] = pairs ? resC[b] : resampleIndices(rng, ni);
  }
  Eigen::MatrixXd wC, wI;
  if (B > 0 && p.metric != SensitivityMetric::Probe) {
    wC = Eigen::MatrixXd::Zero(static_cast<Eigen::Index>(B), static_cast<Eigen::Index>(nc));
    wI = Eigen::MatrixXd::Zero(static_cast<Eigen::Index>(B), static_cast<Eigen::Index>(ni));
    for (std::size_t b = 0; b < B; ++b) {
      for (auto i : resC[b]) wC(static_cast<Eigen::Index>(b), static_cast<Eigen::Index>(i)) += 1.0;
      for (auto i : resI[b]) wI(static_cast<Eigen::Index>(b), static_cast<Eigen::Index>(i)) += 1.0;
    }
  }

  const double tail = 0.5 * (1.0 - p.confidence);
  for (Eigen::Index l = 0; l < L; ++l) {
    core::reportProgress(job, {"sensitivity " + metricName(p.metric), static_cast<double>(l), static_cast<double>(L)});
    const Eigen::MatrixXd xc = layers[static_cast<std::size_t>(l)].correct.cast<double>();
    const Eigen::MatrixXd xi = layers[static_cast<std::size_t>(l)].incorrect.cast<double>();
    res.score(l) = scoreOn(xc, xi, iota(nc), iota(ni), p, job);
    if (B == 0) continue;

    std::vector<double> reps;
    reps.reserve(B);
    if (p.metric == SensitivityMetric::Probe) {
      for (std::size_t b = 0; b < B; ++b) {
        core::checkCancelled(job);
        try {
          reps.push_back(probeOn(xc, xi, resC[b], resI[b], p, job));
        } catch (const InvalidArgument&) {
          ++res.undefinedReplicates[static_cast<std::size_t>(l)];  // a resample with < 2 distinct items of a class
        }
      }
    } else if (perPairMetric(p)) {
      const Eigen::VectorXd v = perPair(xc, xi, p.metric);
      const Eigen::VectorXd means = (wC * v) / static_cast<double>(nc);
      reps.assign(means.data(), means.data() + means.size());
    } else {
      for (const auto& m : batchMoments(xc, xi, wC, wI, p.metric == SensitivityMetric::Fisher)) {
        reps.push_back(fromMoments(m, p));
      }
    }
    if (!reps.empty()) {
      res.low(l) = quantile(reps, tail);
      res.high(l) = quantile(reps, 1.0 - tail);
    }
  }
  return res;
}

}  // namespace layerscope::analysis
