// Run comparison (results/run_comparison.h): shared keys without interval bounds, B - A per layer and relative
// to max |A| (hand-computed), and the errors for different depths or no shared key.
#include <gtest/gtest.h>

#include "results/run_comparison.h"
#include "results/transforms.h"

using namespace layerscope;

namespace {
results::Scores scores(int L, std::map<std::string, std::vector<double>> keys) {
  results::Scores s;
  s.numLayers = L;
  s.layerScores = std::move(keys);
  return s;
}
}  // namespace

TEST(RunComparison, SharedKeysAndDifferences) {
  const auto a = scores(3, {{"sensitivity.rel_l2", {0.1, 0.2, 0.4}}, {"sensitivity.rel_l2.ci_low", {0, 0, 0}},
                            {"rope_influence.gradient", {2, -4, 1}}, {"only.a", {1, 1, 1}}});
  const auto b = scores(3, {{"sensitivity.rel_l2", {0.1, 0.3, 0.2}}, {"sensitivity.rel_l2.ci_low", {0, 0, 0}},
                            {"rope_influence.gradient", {2, -2, 3}}});
  EXPECT_EQ(results::sharedProfileKeys({&a, &b}), (std::vector<std::string>{"rope_influence.gradient", "sensitivity.rel_l2"}));
  const auto d = results::profileDifference(a, b);
  ASSERT_EQ(d.keys.size(), 2u);
  ASSERT_EQ(d.numLayers, 3);
  // rope: B - A = {0, 2, 2}; max |A| = 4 -> {0, 0.5, 0.5}. sensitivity: {0, 0.1, -0.2}; max |A| = 0.4.
  EXPECT_DOUBLE_EQ(d.difference[1][0], 2.0);
  EXPECT_DOUBLE_EQ(d.relative[2][0], 0.5);
  EXPECT_NEAR(d.difference[1][1], 0.1, 1e-15);
  EXPECT_NEAR(d.relative[2][1], -0.5, 1e-15);
  EXPECT_DOUBLE_EQ(d.relative[0][1], 0.0);
}

TEST(RunComparison, DifferentDepthsOrNoSharedKeyAreErrors) {
  const auto a = scores(3, {{"x", {1, 2, 3}}});
  const auto b = scores(4, {{"x", {1, 2, 3, 4}}});
  try {
    results::profileDifference(a, b, "base", "adapted");
    FAIL() << "no error";
  } catch (const results::ResultsError& e) {
    EXPECT_NE(std::string(e.what()).find("'adapted' (4 layers)"), std::string::npos) << e.what();
  }
  EXPECT_THROW(results::profileDifference(a, scores(3, {{"y", {1, 2, 3}}})), results::ResultsError);
  // All-zero A: the relative difference is undefined (NaN), the plain one is not.
  const auto z = results::profileDifference(scores(3, {{"x", {0, 0, 0}}}), scores(3, {{"x", {1, 0, 0}}}));
  EXPECT_TRUE(std::isnan(z.relative[0][0]));
  EXPECT_DOUBLE_EQ(z.difference[0][0], 1.0);
}

// Debiased EMA (TensorBoard's smoothing), by hand for w = 0.5 and x = {4, 2, 2}:
// s1 = 2, /(1 - .5) = 4; s2 = 1 + 1 = 2, /(1 - .25) = 8/3; s3 = 1 + 1 = 2, /(1 - .125) = 16/7.
TEST(LossSmoothing, DebiasedExponentialMovingAverage) {
  const auto s = results::emaSmoothed({4, 2, 2}, 0.5);
  ASSERT_EQ(s.size(), 3u);
  EXPECT_DOUBLE_EQ(s[0], 4.0);
  EXPECT_DOUBLE_EQ(s[1], 8.0 / 3.0);
  EXPECT_DOUBLE_EQ(s[2], 16.0 / 7.0);
  EXPECT_EQ(results::emaSmoothed({4, 2}, 0.0), (std::vector<double>{4, 2}));
  const auto n = results::emaSmoothed({NAN, 3}, 0.9);  // a leading NaN: no value yet, then the first finite point
  EXPECT_TRUE(std::isnan(n[0]));
  EXPECT_DOUBLE_EQ(n[1], 3.0);
}
