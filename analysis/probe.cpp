// Logistic-regression probe, Mann-Whitney AUC and grouped stratified cross-validation (docs/statistics.md).
#include "analysis/probe.h"

#include <algorithm>
#include <cmath>
#include <map>
#include <numeric>
#include <string>

#include <Eigen/Cholesky>

#include "core/base/error.h"

namespace layerscope::analysis {

namespace {

// log(1 + exp(v)) without overflow.
double softplus(double v) { return std::max(v, 0.0) + std::log1p(std::exp(-std::abs(v))); }

double sigmoid(double v) {
  if (v >= 0) return 1.0 / (1.0 + std::exp(-v));
  const double e = std::exp(v);
  return e / (1.0 + e);
}

}  // namespace

LogisticModel fitLogistic(const Eigen::MatrixXd& x, const Eigen::VectorXd& y, const LogisticParams& params) {
  const Eigen::Index n = x.rows();
  const Eigen::Index d = x.cols();
  if (y.size() != n) {
    throw InvalidArgument("fitLogistic: one label per row expected, found " + std::to_string(y.size()) +
                          " labels for " + std::to_string(n) + " rows");
  }
  if (n == 0) throw InvalidArgument("fitLogistic: no samples");
  if (!((y.array() == 0.0) || (y.array() == 1.0)).all()) throw InvalidArgument("fitLogistic: labels must be 0 or 1");
  if (!(params.lambda > 0 && params.interceptLambda > 0)) {
    throw InvalidArgument("fitLogistic: lambda and interceptLambda must be > 0");
  }
  if (!x.allFinite()) throw InvalidArgument("fitLogistic: features must be finite");

  // Z = [X 1] ([N, D+1]), penalties A = diag(lambda.., interceptLambda).
  Eigen::MatrixXd z(n, d + 1);
  z.leftCols(d) = x;
  z.col(d).setOnes();
  Eigen::VectorXd pen = Eigen::VectorXd::Constant(d + 1, params.lambda);
  pen(d) = params.interceptLambda;
  const bool woodbury = d + 1 > n;
  // Woodbury: (A + Z' S Z)^-1 g = A^-1 g - A^-1 Z' S^1/2 (I + S^1/2 K S^1/2)^-1 S^1/2 Z A^-1 g, K = Z A^-1 Z'.
  Eigen::MatrixXd k;
  if (woodbury) k = z * pen.cwiseInverse().asDiagonal() * z.transpose();

  auto objective = [&](const Eigen::VectorXd& w) {
    const Eigen::VectorXd eta = z * w;
    double f = 0.5 * (pen.array() * w.array().square()).sum();
    for (Eigen::Index i = 0; i < n; ++i) f += softplus(eta(i)) - y(i) * eta(i);
    return f;
  };

  LogisticModel model;
  Eigen::VectorXd w = Eigen::VectorXd::Zero(d + 1);
  double f = objective(w);
  for (int it = 0; it < params.maxIterations; ++it) {
    model.iterations = it + 1;
    const Eigen::VectorXd eta = z * w;
    Eigen::VectorXd p(n), s(n);
    for (Eigen::Index i = 0; i < n; ++i) {
      p(i) = sigmoid(eta(i));
      s(i) = p(i) * (1.0 - p(i));
    }
    const Eigen::VectorXd g = z.transpose() * (p - y) + pen.cwiseProduct(w);
    Eigen::VectorXd step;
    if (!woodbury) {
      Eigen::MatrixXd h = z.transpose() * s.asDiagonal() * z;
      h.diagonal() += pen;
      step = h.llt().solve(g);
    } else {
      const Eigen::VectorXd sq = s.cwiseSqrt();
      Eigen::MatrixXd m = sq.asDiagonal() * k * sq.asDiagonal();
      m.diagonal().array() += 1.0;
      const Eigen::VectorXd ag = g.cwiseQuotient(pen);
      const Eigen::VectorXd inner = m.llt().solve(sq.cwiseProduct(z * ag));
      step = ag - (z.transpose() * sq.cwiseProduct(inner)).cwiseQuotient(pen);
    }
    // Step halving keeps the (convex) objective decreasing far from the optimum.
    double t = 1.0;
    Eigen::VectorXd next = w - step;
    double fNext = objective(next);
    while (fNext > f && t > 1e-10) {
      t *= 0.5;
      next = w - t * step;
      fNext = objective(next);
    }
    const double change = (t * step).cwiseAbs().maxCoeff();
    w = next;
    f = fNext;
    if (change < params.tolerance * (1.0 + w.cwiseAbs().maxCoeff())) {
      model.converged = true;
      break;
    }
  }
  model.weights = w.head(d);
  model.intercept = w(d);
  return model;
}

double aucMannWhitney(const Eigen::VectorXd& scores, const std::vector<int>& labels) {
  if (static_cast<std::size_t>(scores.size()) != labels.size()) {
    throw InvalidArgument("aucMannWhitney: one label per score expected, found " + std::to_string(labels.size()) +
                          " labels for " + std::to_string(scores.size()) + " scores");
  }
  const Eigen::VectorXd ranks = averageRanks(scores);
  double rankSumPos = 0;
  double nPos = 0;
  double nNeg = 0;
  for (std::size_t i = 0; i < labels.size(); ++i) {
    if (labels[i] == 1) {
      rankSumPos += ranks(static_cast<Eigen::Index>(i));
      ++nPos;
    } else if (labels[i] == 0) {
      ++nNeg;
    } else {
      throw InvalidArgument("aucMannWhitney: labels must be 0 or 1, found " + std::to_string(labels[i]));
    }
  }
  if (nPos == 0 || nNeg == 0) {
    throw InvalidArgument("aucMannWhitney: needs both classes, found " + std::to_string(int(nPos)) +
                          " positives and " + std::to_string(int(nNeg)) + " negatives");
  }
  return (rankSumPos - nPos * (nPos + 1) / 2) / (nPos * nNeg);
}

ProbeResult probeAuc(const Eigen::MatrixXd& x, const std::vector<int>& labels, const std::vector<std::size_t>& groups,
                     const ProbeParams& params, const core::JobControl* job) {
  const auto n = static_cast<std::size_t>(x.rows());
  if (labels.size() != n || groups.size() != n) {
    throw InvalidArgument("probeAuc: one label and one group per row expected, found " +
                          std::to_string(labels.size()) + " labels and " + std::to_string(groups.size()) +
                          " groups for " + std::to_string(n) + " rows");
  }
  if (params.folds < 2) throw InvalidArgument("probeAuc: folds must be >= 2, found " + std::to_string(params.folds));

  // Which labels each group holds: bit 0 = label 0, bit 1 = label 1.
  std::map<std::size_t, int> groupLabels;
  for (std::size_t i = 0; i < n; ++i) {
    if (labels[i] != 0 && labels[i] != 1) {
      throw InvalidArgument("probeAuc: labels must be 0 or 1, found " + std::to_string(labels[i]));
    }
    groupLabels[groups[i]] |= 1 << labels[i];
  }
  std::vector<std::vector<std::size_t>> strata(4);
  for (const auto& [g, mask] : groupLabels) strata[static_cast<std::size_t>(mask)].push_back(g);
  const std::size_t withPos = strata[2].size() + strata[3].size();
  const std::size_t withNeg = strata[1].size() + strata[3].size();
  const std::size_t folds = std::min({params.folds, withPos, withNeg});
  if (folds < 2) {
    throw InvalidArgument("probeAuc: cross-validation needs at least 2 items of each class, found " +
                          std::to_string(withPos) + " holding label 1 and " + std::to_string(withNeg) +
                          " holding label 0");
  }

  // Seeded shuffle within each stratum, then deal round-robin, continuing the counter across strata.
  Rng rng(params.seed);
  std::map<std::size_t, std::size_t> foldOf;
  std::size_t next = 0;
  for (std::size_t mask : {2u, 1u, 3u}) {
    auto& s = strata[mask];
    for (std::size_t i = s.size(); i > 1; --i) std::swap(s[i - 1], s[uniformIndex(rng, i)]);
    // Restart at fold 0 for each pure class so every fold gets one of each before any gets a second.
    if (mask != 3) next = 0;
    for (auto g : s) foldOf[g] = next++ % folds;
  }

  ProbeResult res;
  res.params = params;
  res.folds = folds;
  res.samples = n;
  res.groups = groupLabels.size();
  for (std::size_t f = 0; f < folds; ++f) {
    core::reportProgress(job, {"probe fold", static_cast<double>(f), static_cast<double>(folds)});
    std::vector<Eigen::Index> train, test;
    for (std::size_t i = 0; i < n; ++i) (foldOf[groups[i]] == f ? test : train).push_back(static_cast<Eigen::Index>(i));
    Eigen::MatrixXd xTrain = x(train, Eigen::all);
    Eigen::MatrixXd xTest = x(test, Eigen::all);
    if (params.standardize) {
      const Eigen::RowVectorXd mean = xTrain.colwise().mean();
      Eigen::RowVectorXd sd = ((xTrain.rowwise() - mean).array().square().colwise().mean()).sqrt();
      sd = sd.unaryExpr([](double v) { return v > 1e-12 ? v : 1.0; });  // constant feature: leave unscaled
      xTrain = (xTrain.rowwise() - mean).array().rowwise() / sd.array();
      xTest = (xTest.rowwise() - mean).array().rowwise() / sd.array();
    }
    Eigen::VectorXd yTrain(static_cast<Eigen::Index>(train.size()));
    for (std::size_t i = 0; i < train.size(); ++i) yTrain(static_cast<Eigen::Index>(i)) = labels[static_cast<std::size_t>(train[i])];
    std::vector<int> yTest;
    for (auto i : test) yTest.push_back(labels[static_cast<std::size_t>(i)]);
    const LogisticModel model = fitLogistic(xTrain, yTrain, params.logistic);
    const Eigen::VectorXd scores = (xTest * model.weights).array() + model.intercept;
    res.foldAuc.push_back(aucMannWhitney(scores, yTest));
  }
  res.auc = std::accumulate(res.foldAuc.begin(), res.foldAuc.end(), 0.0) / static_cast<double>(folds);
  return res;
}

}  // namespace layerscope::analysis
