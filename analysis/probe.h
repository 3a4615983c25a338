// Linear probe for the `probe` sensitivity metric (docs/methods.md section 2): L2-regularised logistic regression
// fitted by Newton's method with Eigen, Mann-Whitney AUC with ties, and seeded stratified, grouped k-fold
// cross-validation. Pure functions; no torch, no Qt.
#pragma once

#include <cstddef>
#include <cstdint>
#include <vector>

#include <Eigen/Core>

#include "analysis/statistics.h"
#include "core/base/job_control.h"

namespace layerscope::analysis {

/// Options of fitLogistic().
struct LogisticParams {
  /// L2 penalty on the weights, lambda/2 |w|^2 added to the summed log-loss (sklearn's C = 1/lambda).
  double lambda = 1.0;
  /// L2 penalty on the intercept: tiny, so the intercept is practically free but the Newton system stays
  /// positive definite in the N < D (Woodbury) form.
  double interceptLambda = 1e-8;
  /// Newton iterations at most.
  int maxIterations = 100;
  /// Stop when the largest Newton step component is below tolerance * (1 + max |w|).
  double tolerance = 1e-10;
};

/// A fitted logistic model: P(y = 1 | x) = sigmoid(w.x + b).
struct LogisticModel {
  Eigen::VectorXd weights;  ///< w, [D]
  double intercept = 0;     ///< b
  int iterations = 0;       ///< Newton iterations run
  bool converged = false;   ///< the step criterion was met within maxIterations
};

/// Minimises sum_i log(1 + exp(-s_i (w.x_i + b))) + lambda/2 |w|^2 + interceptLambda/2 b^2, s_i = 2 y_i - 1,
/// by Newton's method with step halving. Solves the (D+1)-sized Newton system directly when D < N, and the
/// N-sized Woodbury form otherwise, so D = 4096 states with a few hundred items stay cheap.
/// x: [N, D]; y: [N] with values 0 or 1. Throws InvalidArgument on shape mismatch, labels other than 0/1,
/// non-positive penalties or non-finite features.
LogisticModel fitLogistic(const Eigen::MatrixXd& x, const Eigen::VectorXd& y, const LogisticParams& params = {});

/// Area under the ROC curve by the Mann-Whitney U statistic with average ranks for ties:
/// AUC = (R_pos - n_pos (n_pos + 1) / 2) / (n_pos n_neg) = P(s_pos > s_neg) + P(s_pos = s_neg) / 2.
/// labels: 1 positive, 0 negative. Throws InvalidArgument when a class is absent or sizes differ.
double aucMannWhitney(const Eigen::VectorXd& scores, const std::vector<int>& labels);

/// Options of probeAuc().
struct ProbeParams {
  std::size_t folds = 5;              ///< k of the stratified k-fold split (reduced to the minority count)
  bool standardize = true;            ///< z-score features with the training fold's mean and std
  std::uint64_t seed = kDefaultSeed;  ///< seed of the fold assignment
  LogisticParams logistic;            ///< the classifier
};

/// Cross-validated probe AUC.
struct ProbeResult {
  double auc = 0;                ///< mean of the per-fold test AUCs
  std::vector<double> foldAuc;   ///< test AUC of each fold
  std::size_t folds = 0;         ///< folds actually used (min(k, groups holding the rarer class))
  std::size_t samples = 0;       ///< rows of x
  std::size_t groups = 0;        ///< distinct groups (items) that were split
  ProbeParams params;            ///< the options that produced this result
};

/// Cross-validated AUC of a logistic probe predicting `labels` (0/1) from rows of x [N, D]. Rows that share a
/// group id (the two states of one pair, or bootstrap duplicates of one item) always fall in the same fold,
/// so no item is in both training and test data. Groups are shuffled (seeded) within strata (groups holding
/// only label 1, only label 0, or both) and dealt round-robin to folds. Throws InvalidArgument when fewer
/// than 2 groups hold each class (no cross-validated differential exists) or shapes disagree.
ProbeResult probeAuc(const Eigen::MatrixXd& x, const std::vector<int>& labels, const std::vector<std::size_t>& groups,
                     const ProbeParams& params = {}, const core::JobControl* job = nullptr);

}  // namespace layerscope::analysis
