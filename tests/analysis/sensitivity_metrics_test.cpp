// Tests of analysis/sensitivity_metrics and analysis/probe. Reference values: stats_reference.json, written by
// tests/reference/stats/make_stats_reference.py with numpy 1.24.2 / scipy 1.10.1 (Debian 12): the docs/methods.md
// section 2 metrics on random float32 data, brute-force pairwise AUC with ties, and a plain numpy Newton fit
// of the L2-regularised logistic regression.
#include <cmath>
#include <fstream>
#include <random>
#include <stdexcept>
#include <string>
#include <vector>

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include "analysis/probe.h"
#include "analysis/sensitivity_metrics.h"
#include "core/base/error.h"
#include "tests/analysis/stats_reference.h"

namespace la = layerscope::analysis;
using nlohmann::json;

namespace {

const json& reference() { return layerscope::test::statsReference(); }

Eigen::MatrixXd matrix(const json& j) { return layerscope::test::jsonMatrix(j); }

Eigen::VectorXd vec(const json& j) { return layerscope::test::jsonVector(j); }

la::LayerStates statesFrom(const json& block) {
  return {matrix(block.at("correct")).cast<float>(), matrix(block.at("incorrect")).cast<float>()};
}

// Gaussian states: `shift` moves the correct class along the first `informative` dims.
la::LayerStates gaussianStates(std::size_t nc, std::size_t ni, std::size_t d, double shift, std::size_t informative,
                               std::uint64_t seed) {
  la::Rng rng(seed);
  std::normal_distribution<float> g(0.0f, 1.0f);
  la::LayerStates s{Eigen::MatrixXf(nc, d), Eigen::MatrixXf(ni, d)};
  for (Eigen::Index r = 0; r < s.correct.rows(); ++r) {
    for (Eigen::Index c = 0; c < s.correct.cols(); ++c) {
      s.correct(r, c) = g(rng) + (static_cast<std::size_t>(c) < informative ? float(shift) : 0.0f);
    }
  }
  for (Eigen::Index r = 0; r < s.incorrect.rows(); ++r) {
    for (Eigen::Index c = 0; c < s.incorrect.cols(); ++c) s.incorrect(r, c) = g(rng);
  }
  return s;
}

}  // namespace

TEST(AnalysisSensitivity, OutcomeMetricsMatchNumpy) {
  const auto& block = reference().at("metrics").at("outcome");
  const auto states = statesFrom(block);
  la::SensitivityParams p;
  p.fisherEpsilon = reference().at("metrics").at("fisher_epsilon").get<double>();
  for (const char* name : {"rel_l2", "raw_l2", "cos", "fisher"}) {
    p.metric = la::parseMetric(name);
    const double expected = block.at("expected").at(name).get<double>();
    EXPECT_NEAR(la::layerScore(states, p), expected, 1e-9 * std::abs(expected)) << name;
  }
}

TEST(AnalysisSensitivity, PairsMetricsMatchNumpy) {
  const auto& block = reference().at("metrics").at("pairs");
  const auto states = statesFrom(block);
  la::SensitivityParams p;
  p.mode = la::SensitivityMode::Pairs;
  for (const char* name : {"rel_l2", "raw_l2", "cos", "fisher"}) {
    p.metric = la::parseMetric(name);
    const double expected = block.at("expected").at(name).get<double>();
    EXPECT_NEAR(la::layerScore(states, p), expected, 1e-9 * std::abs(expected)) << name;
  }
}

TEST(AnalysisSensitivity, HandDerivedValues) {
  // mu_c = (2, 0), mu_i = (0, 2): |diff| = 2 sqrt 2, mean norm 2 -> rel_l2 = sqrt 2; cos distance 1.
  la::LayerStates s{(Eigen::MatrixXf(2, 2) << 1, 0, 3, 0).finished(), (Eigen::MatrixXf(2, 2) << 0, 1, 0, 3).finished()};
  la::SensitivityParams p;
  EXPECT_NEAR(la::layerScore(s, p), std::sqrt(2.0), 1e-12);
  p.metric = la::SensitivityMetric::RawL2;
  EXPECT_NEAR(la::layerScore(s, p), 2 * std::sqrt(2.0), 1e-12);
  p.metric = la::SensitivityMetric::Cos;
  EXPECT_NEAR(la::layerScore(s, p), 1.0, 1e-12);
  // fisher: per dim diff 2, pooled var ((1)(2) + (1)(0)) / 2 = 1 (dim 0), likewise dim 1 -> mean |d| = 2.
  p.metric = la::SensitivityMetric::Fisher;
  p.fisherEpsilon = 0;
  EXPECT_NEAR(la::layerScore(s, p), 2.0, 1e-12);
  // Identical classes: every distance is 0.
  la::LayerStates same{s.correct, s.correct};
  for (auto m : {la::SensitivityMetric::RelL2, la::SensitivityMetric::RawL2, la::SensitivityMetric::Cos}) {
    p.metric = m;
    EXPECT_NEAR(la::layerScore(same, p), 0.0, 1e-12) << la::metricName(m);
  }
}

TEST(AnalysisSensitivity, AucMatchesBruteForceWithTies) {
  const auto& block = reference().at("auc");
  const auto labels = block.at("labels").get<std::vector<int>>();
  EXPECT_NEAR(la::aucMannWhitney(vec(block.at("scores")), labels), block.at("auc").get<double>(), 1e-12);
  // All scores tied: 0.5; perfectly ordered: 1; reversed: 0.
  EXPECT_DOUBLE_EQ(la::aucMannWhitney(Eigen::VectorXd::Ones(4), {1, 0, 1, 0}), 0.5);
  EXPECT_DOUBLE_EQ(la::aucMannWhitney((Eigen::VectorXd(4) << 4, 3, 2, 1).finished(), {1, 1, 0, 0}), 1.0);
  EXPECT_DOUBLE_EQ(la::aucMannWhitney((Eigen::VectorXd(4) << 1, 2, 3, 4).finished(), {1, 1, 0, 0}), 0.0);
  EXPECT_THROW(la::aucMannWhitney(Eigen::VectorXd::Ones(3), {1, 1, 1}), layerscope::InvalidArgument);
}

TEST(AnalysisSensitivity, LogisticFitMatchesNumpyNewton) {
  for (const char* key : {"logistic", "logistic_wide"}) {  // tall: direct Newton system; wide: Woodbury form
    const auto& block = reference().at(key);
    la::LogisticParams lp;
    lp.lambda = block.at("lambda").get<double>();
    lp.interceptLambda = block.at("intercept_lambda").get<double>();
    const auto model = la::fitLogistic(matrix(block.at("x")), vec(block.at("y")), lp);
    EXPECT_TRUE(model.converged) << key;
    const Eigen::VectorXd w = vec(block.at("weights"));
    EXPECT_LT((model.weights - w).cwiseAbs().maxCoeff(), 1e-8) << key << "\n" << model.weights.transpose();
    EXPECT_NEAR(model.intercept, block.at("intercept").get<double>(), 1e-8) << key;
  }
}

TEST(AnalysisSensitivity, ProbeSeparatesSeparableDataAndNotShuffledNoise) {
  // Separable: a 4-sigma shift on 3 of 20 dims, 60 + 40 items: every fold should rank all correct items
  // above all incorrect ones. Tolerance: AUC >= 0.99.
  const auto sep = gaussianStates(60, 40, 20, 4.0, 3, 1);
  la::SensitivityParams p;
  p.metric = la::SensitivityMetric::Probe;
  EXPECT_GE(la::layerScore(sep, p), 0.99);

  // Label-shuffled noise: the same 100 states with labels carrying no information (the correct/incorrect
  // split of pure noise). 5-fold AUC on 100 items has a standard deviation of about 0.05; tolerance 0.12.
  const auto noise = gaussianStates(60, 40, 20, 0.0, 0, 2);
  const double aucNoise = la::layerScore(noise, p);
  EXPECT_NEAR(aucNoise, 0.5, 0.12);

  // Same seed, same folds, same AUC; the probe result records the folds used.
  EXPECT_EQ(la::layerScore(noise, p), aucNoise);
  Eigen::MatrixXd x(100, 20);
  x << sep.correct.cast<double>(), sep.incorrect.cast<double>();
  std::vector<int> labels(100, 0);
  std::vector<std::size_t> groups(100);
  for (std::size_t i = 0; i < 100; ++i) {
    labels[i] = i < 60 ? 1 : 0;
    groups[i] = i;
  }
  const auto r = la::probeAuc(x, labels, groups);
  EXPECT_EQ(r.folds, 5u);
  EXPECT_EQ(r.foldAuc.size(), 5u);
  EXPECT_EQ(r.groups, 100u);
}

TEST(AnalysisSensitivity, ProbeReducesFoldsToMinorityAndRejectsOneClass) {
  const auto few = gaussianStates(20, 3, 5, 3.0, 2, 3);
  Eigen::MatrixXd x(23, 5);
  x << few.correct.cast<double>(), few.incorrect.cast<double>();
  std::vector<int> labels(23, 1);
  std::vector<std::size_t> groups(23);
  for (std::size_t i = 0; i < 23; ++i) groups[i] = i;
  labels[20] = labels[21] = labels[22] = 0;
  EXPECT_EQ(la::probeAuc(x, labels, groups).folds, 3u);
  labels[21] = labels[22] = 1;  // one incorrect item only
  EXPECT_THROW(la::probeAuc(x, labels, groups), layerscope::InvalidArgument);
}

TEST(AnalysisSensitivity, RejectsInputsWithoutADifferential) {
  la::SensitivityParams p;
  la::LayerStates onlyCorrect{Eigen::MatrixXf::Random(5, 4), Eigen::MatrixXf(0, 4)};
  try {
    la::layerScore(onlyCorrect, p);
    FAIL() << "expected InvalidArgument";
  } catch (const layerscope::InvalidArgument& e) {
    EXPECT_NE(std::string(e.what()).find("5 correct and 0 incorrect"), std::string::npos) << e.what();
  }
  la::LayerStates widths{Eigen::MatrixXf::Random(5, 4), Eigen::MatrixXf::Random(3, 6)};
  EXPECT_THROW(la::layerScore(widths, p), layerscope::InvalidArgument);
  p.mode = la::SensitivityMode::Pairs;
  la::LayerStates unpaired{Eigen::MatrixXf::Random(5, 4), Eigen::MatrixXf::Random(4, 4)};
  EXPECT_THROW(la::layerScore(unpaired, p), layerscope::InvalidArgument);
  EXPECT_THROW(la::parseMetric("l2"), layerscope::InvalidArgument);
  EXPECT_THROW(la::sensitivityProfile({}, p), layerscope::InvalidArgument);
}

TEST(AnalysisSensitivity, ProfileBootstrapEqualsDirectRecomputation) {
  // The batched (count-matrix) bootstrap must equal recomputing each layer's score on the gathered resample,
  // with the resamples drawn as documented: per b, correct indices then incorrect indices from Rng(seed).
  std::vector<la::LayerStates> layers;
  for (std::uint64_t l = 0; l < 3; ++l) layers.push_back(gaussianStates(12, 8, 6, 0.3 * double(l), 6, 10 + l));
  for (auto metric : {la::SensitivityMetric::RelL2, la::SensitivityMetric::Cos, la::SensitivityMetric::Fisher}) {
    la::SensitivityParams p;
    p.metric = metric;
    p.bootstrapResamples = 50;
    p.seed = 5;
    const auto res = la::sensitivityProfile(layers, p);
    ASSERT_EQ(res.score.size(), 3);
    for (std::size_t l = 0; l < 3; ++l) {
      la::Rng rng(p.seed);
      std::vector<double> reps;
      for (int b = 0; b < 50; ++b) {
        const auto ic = la::resampleIndices(rng, 12);
        const auto ii = la::resampleIndices(rng, 8);
        la::LayerStates g{Eigen::MatrixXf(12, 6), Eigen::MatrixXf(8, 6)};
        for (int r = 0; r < 12; ++r) g.correct.row(r) = layers[l].correct.row(static_cast<Eigen::Index>(ic[r]));
        for (int r = 0; r < 8; ++r) g.incorrect.row(r) = layers[l].incorrect.row(static_cast<Eigen::Index>(ii[r]));
        reps.push_back(la::layerScore(g, p));
      }
      const auto L = static_cast<Eigen::Index>(l);
      EXPECT_NEAR(res.low(L), la::quantile(reps, 0.025), 1e-9) << la::metricName(metric) << " layer " << l;
      EXPECT_NEAR(res.high(L), la::quantile(reps, 0.975), 1e-9) << la::metricName(metric) << " layer " << l;
      EXPECT_NEAR(res.score(L), la::layerScore(layers[l], p), 1e-12);
      EXPECT_LE(res.low(L), res.high(L));
    }
  }
}

TEST(AnalysisSensitivity, PairsBootstrapAndItemScores) {
  const auto& block = reference().at("metrics").at("pairs");
  const std::vector<la::LayerStates> layers{statesFrom(block), statesFrom(block)};
  la::SensitivityParams p;
  p.mode = la::SensitivityMode::Pairs;
  p.bootstrapResamples = 200;
  const auto res = la::sensitivityProfile(layers, p);
  const double expected = block.at("expected").at("rel_l2").get<double>();
  EXPECT_NEAR(res.score(0), expected, 1e-9);
  EXPECT_LT(res.low(0), expected);
  EXPECT_GT(res.high(0), expected);
  EXPECT_EQ(res.low(0), res.low(1));  // same resamples for every layer
  EXPECT_EQ(res.nCorrect, 8u);

  // scoresOnItems on all items equals the point estimate; on a single repeated pair, that pair's score.
  std::vector<std::size_t> all{0, 1, 2, 3, 4, 5, 6, 7};
  EXPECT_NEAR(la::scoresOnItems(layers, all, p)(0), expected, 1e-12);
  const Eigen::RowVectorXd a = matrix(block.at("correct")).row(3), b = matrix(block.at("incorrect")).row(3);
  const double pair3 = (a - b).norm() / (0.5 * (a.norm() + b.norm()));
  EXPECT_NEAR(la::scoresOnItems(layers, std::vector<std::size_t>{3, 3, 3}, p)(1), pair3, 1e-6);

  // Outcome mode: a resample with no incorrect item has no differential: NaN.
  la::SensitivityParams o;
  const std::vector<la::LayerStates> out{statesFrom(reference().at("metrics").at("outcome"))};
  EXPECT_EQ(la::itemCount(out, o), 15u);
  EXPECT_TRUE(std::isnan(la::scoresOnItems(out, std::vector<std::size_t>{0, 1, 2}, o)(0)));
  EXPECT_NEAR(la::scoresOnItems(out, std::vector<std::size_t>{0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14}, o)(0),
              reference().at("metrics").at("outcome").at("expected").at("rel_l2").get<double>(), 1e-9);
}

TEST(AnalysisSensitivity, CoLocalizationBootstrapOverItems) {
  // End to end with the statistics: S (raw_l2) from scoresOnItems, R a fixed decreasing profile; the class
  // shift grows by 0.5 per layer on all 8 dims (raw_l2 steps of ~1.4 against resampling noise ~0.3), so
  // r_s should be close to -1 in every resample.
  std::vector<la::LayerStates> layers;
  for (std::uint64_t l = 0; l < 6; ++l) layers.push_back(gaussianStates(30, 30, 8, 0.5 + 0.5 * double(l), 8, 20 + l));
  la::SensitivityParams p;
  p.metric = la::SensitivityMetric::RawL2;
  const Eigen::VectorXd rope = Eigen::VectorXd::LinSpaced(6, 6.0, 1.0);
  la::BootstrapParams bp;
  bp.resamples = 100;
  const auto boot = la::bootstrapSpearman(
      la::itemCount(layers, p), [&](std::span<const std::size_t> items) { return la::ProfilePair{la::scoresOnItems(layers, items, p), rope}; },
      bp);
  EXPECT_EQ(boot.undefined, 0u);
  EXPECT_LT(boot.high, -0.8);
}

TEST(AnalysisSensitivity, ProbeProfileWithBootstrap) {
  std::vector<la::LayerStates> layers{gaussianStates(15, 15, 4, 3.0, 2, 30), gaussianStates(15, 15, 4, 0.0, 0, 31)};
  la::SensitivityParams p;
  p.metric = la::SensitivityMetric::Probe;
  p.bootstrapResamples = 20;
  const auto res = la::sensitivityProfile(layers, p);
  EXPECT_GT(res.score(0), 0.9);
  EXPECT_GT(res.score(0), res.score(1));  // informative layer above the noise layer
  EXPECT_LE(res.low(0), res.high(0));
  EXPECT_EQ(res.undefinedReplicates.size(), 2u);
}
