// Tests of analysis/statistics: Spearman, permutation p, Kendall tau-b, bootstrap, top-k, Jaccard, centre of
// mass, verdict. Reference values: tests/reference/stats/stats_reference.json, written by
// make_stats_reference.py with scipy 1.10.1 / numpy 1.24.2 (Debian 12); the paper check is
// arXiv:2604.07766 (r_s = -0.735 over 32 layers, p = 1.66e-6).
#include <algorithm>
#include <cmath>
#include <fstream>
#include <stdexcept>
#include <string>
#include <vector>

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include "analysis/statistics.h"
#include "core/base/error.h"
#include "tests/analysis/stats_reference.h"

namespace la = layerscope::analysis;
using nlohmann::json;

namespace {

const json& reference() { return layerscope::test::statsReference(); }

Eigen::VectorXd vec(const json& j) { return layerscope::test::jsonVector(j); }

const json& spearmanCase(const std::string& name) {
  for (const auto& c : reference().at("spearman")) {
    if (c.at("name") == name) return c;
  }
  throw std::runtime_error("no spearman case " + name);
}

// Relative closeness for p-values spanning many decades.
void expectRelNear(double actual, double expected, double rel, const std::string& what) {
  EXPECT_NEAR(actual, expected, rel * std::abs(expected)) << what;
}

}  // namespace

TEST(AnalysisStatistics, PaperCheckPValueToThreeSignificantDigits) {
  // arXiv:2604.07766 reports r_s = -0.735 over 32 layers with p = 1.66e-6.
  const double p = la::spearmanTwoSidedP(-0.735, 32);
  EXPECT_NEAR(p, 1.66e-6, 0.005e-6);
  expectRelNear(p, reference().at("paper_check").at("p").get<double>(), 1e-9, "scipy t.sf");
}

TEST(AnalysisStatistics, SpearmanMatchesScipyOnAllCases) {
  for (const auto& c : reference().at("spearman")) {
    const std::string name = c.at("name");
    la::SpearmanParams params;
    params.monteCarloDraws = 0;  // checked separately
    const auto res = la::spearman(vec(c.at("x")), vec(c.at("y")), params);
    EXPECT_NEAR(res.r, c.at("r").get<double>(), 1e-12) << name;
    const double p = c.at("p").get<double>();
    if (p < 1e-30) {
      // Perfect correlations: scipy's r carries rounding noise (0.9999999999999999) and gives p ~ 1e-64;
      // we return exactly |r| = 1 and p = 0.
      EXPECT_EQ(std::abs(res.r), 1.0) << name;
      EXPECT_EQ(res.p, 0.0) << name;
    } else {
      expectRelNear(res.p, p, 1e-9, name);
    }
    EXPECT_EQ(res.n, c.at("x").size()) << name;
    if (c.contains("p_exact_perm")) {
      EXPECT_EQ(res.permutationMethod, la::PermutationMethod::Exact) << name;
      EXPECT_NEAR(res.pPermutation, c.at("p_exact_perm").get<double>(), 1e-12) << name;
    }
  }
}

TEST(AnalysisStatistics, SpearmanTiesAreAveraged) {
  const auto ranks = la::averageRanks((Eigen::VectorXd(6) << 3.0, 1.0, 3.0, 2.0, 3.0, 0.5).finished());
  const Eigen::VectorXd expected = (Eigen::VectorXd(6) << 5.0, 2.0, 5.0, 3.0, 5.0, 1.0).finished();
  EXPECT_TRUE(ranks.isApprox(expected)) << ranks.transpose();
}

TEST(AnalysisStatistics, ExactPermutationCountsAllPermutations) {
  const auto& c = spearmanCase("n9_no_ties");
  const auto res = la::spearman(vec(c.at("x")), vec(c.at("y")));
  EXPECT_EQ(res.permutationMethod, la::PermutationMethod::Exact);
  EXPECT_EQ(res.permutations, 362880);
  EXPECT_NEAR(res.pPermutation, c.at("p_exact_perm").get<double>(), 1e-12);
}

TEST(AnalysisStatistics, MonteCarloPermutationAgreesWithExactAndNumpy) {
  // n = 9 forced onto Monte Carlo: within 4 binomial standard errors of the exact p.
  const auto& c9 = spearmanCase("n9_no_ties");
  la::SpearmanParams mc;
  mc.exactMaxN = 0;
  mc.monteCarloDraws = 100000;
  mc.seed = 7;
  const auto r9 = la::spearman(vec(c9.at("x")), vec(c9.at("y")), mc);
  EXPECT_EQ(r9.permutationMethod, la::PermutationMethod::MonteCarlo);
  EXPECT_EQ(r9.permutations, 100000);
  const double pe = c9.at("p_exact_perm").get<double>();
  EXPECT_NEAR(r9.pPermutation, pe, 4 * std::sqrt(pe * (1 - pe) / 1e5));

  // n = 32 (default 10^5 draws) against numpy's own Monte Carlo with 2e5 draws: 4 combined standard errors.
  const auto& c32 = spearmanCase("n32");
  const auto r32 = la::spearman(vec(c32.at("x")), vec(c32.at("y")));
  EXPECT_EQ(r32.permutationMethod, la::PermutationMethod::MonteCarlo);
  const double pn = c32.at("p_mc_perm").get<double>();
  const double se = std::sqrt(pn * (1 - pn) * (1.0 / 1e5 + 1.0 / c32.at("p_mc_draws").get<double>()));
  EXPECT_NEAR(r32.pPermutation, pn, 4 * se);
}

TEST(AnalysisStatistics, MonteCarloIsSeededAndUsesPlusOneConvention) {
  const auto& c = spearmanCase("n32");
  la::SpearmanParams params;
  params.monteCarloDraws = 2000;
  params.seed = 99;
  const auto a = la::spearman(vec(c.at("x")), vec(c.at("y")), params);
  const auto b = la::spearman(vec(c.at("x")), vec(c.at("y")), params);
  EXPECT_EQ(a.pPermutation, b.pPermutation);
  params.seed = 100;
  const auto other = la::spearman(vec(c.at("x")), vec(c.at("y")), params);
  EXPECT_NE(a.pPermutation, other.pPermutation);

  // A perfect correlation over 12 layers is never matched by a random permutation (p = 2/12! ~ 4e-9),
  // so the Monte Carlo p is exactly (0 + 1) / (draws + 1).
  const auto& perfect = spearmanCase("perfect_neg_n12");
  const auto res = la::spearman(vec(perfect.at("x")), vec(perfect.at("y")), params);
  EXPECT_DOUBLE_EQ(res.pPermutation, 1.0 / 2001.0);
}

TEST(AnalysisStatistics, SpearmanEdgeCases) {
  // n = 2: r = +-1 always, no evidence.
  const auto two = la::spearman((Eigen::VectorXd(2) << 1, 2).finished(), (Eigen::VectorXd(2) << 5, 3).finished());
  EXPECT_EQ(two.r, -1.0);
  EXPECT_EQ(two.p, 1.0);
  EXPECT_EQ(two.pPermutation, 1.0);
  // Constant input: undefined, NaN, and the verdict is inconclusive.
  const auto flat = la::spearman(Eigen::VectorXd::Ones(5), Eigen::VectorXd::LinSpaced(5, 0, 4));
  EXPECT_FALSE(flat.defined);
  EXPECT_TRUE(std::isnan(flat.r));
  EXPECT_EQ(la::verdictFor(flat.r, flat.p), la::Verdict::Inconclusive);
  // Bad inputs.
  EXPECT_THROW(la::spearman(Eigen::VectorXd::Ones(3), Eigen::VectorXd::Ones(4)), layerscope::InvalidArgument);
  EXPECT_THROW(la::spearman(Eigen::VectorXd::Ones(1), Eigen::VectorXd::Ones(1)), layerscope::InvalidArgument);
  EXPECT_THROW(la::spearmanTwoSidedP(0.5, 1), layerscope::InvalidArgument);
  EXPECT_THROW(la::spearmanTwoSidedP(1.5, 10), layerscope::InvalidArgument);
  EXPECT_EQ(la::spearmanTwoSidedP(1.0, 10), 0.0);
  EXPECT_EQ(la::spearmanTwoSidedP(0.0, 10), 1.0);
}

TEST(AnalysisStatistics, KendallMatchesScipyIncludingMethodChoice) {
  for (const auto& c : reference().at("kendall")) {
    const std::string name = c.at("name");
    const auto res = la::kendallTauB(vec(c.at("x")), vec(c.at("y")));
    EXPECT_NEAR(res.tau, c.at("tau").get<double>(), 1e-12) << name;
    expectRelNear(res.p, c.at("p").get<double>(), 1e-9, name);
    const auto method = c.at("method") == "exact" ? la::KendallMethod::Exact : la::KendallMethod::Asymptotic;
    EXPECT_EQ(res.method, method) << name;
  }
}

TEST(AnalysisStatistics, KendallCountsPairs) {
  // x = 1 2 2 3, y = 1 3 2 2: pairs (0,1) c, (0,2) c, (0,3) c, (1,2) tie x, (1,3) d, (2,3) tie y.
  const auto res = la::kendallTauB((Eigen::VectorXd(4) << 1, 2, 2, 3).finished(),
                                   (Eigen::VectorXd(4) << 1, 3, 2, 2).finished());
  EXPECT_EQ(res.concordant, 3);
  EXPECT_EQ(res.discordant, 1);
  EXPECT_EQ(res.tiesX, 1);
  EXPECT_EQ(res.tiesY, 1);
  EXPECT_EQ(res.tiesBoth, 0);
  EXPECT_NEAR(res.tau, 2.0 / 5.0, 1e-15);  // (3 - 1) / sqrt(5 * 5)
  EXPECT_EQ(res.method, la::KendallMethod::Asymptotic);
}

TEST(AnalysisStatistics, QuantileIsNumpyLinear) {
  // numpy.quantile([1, 2, 3, 4, 10], [0.025, 0.5, 0.975]) = [1.1, 3.0, 9.4]
  const std::vector<double> v{10, 2, 1, 4, 3};
  EXPECT_NEAR(la::quantile(v, 0.025), 1.1, 1e-12);
  EXPECT_NEAR(la::quantile(v, 0.5), 3.0, 1e-12);
  EXPECT_NEAR(la::quantile(v, 0.975), 9.4, 1e-12);
  EXPECT_THROW(la::quantile({}, 0.5), layerscope::InvalidArgument);
}

TEST(AnalysisStatistics, BootstrapResamplesItemsAndIsSeeded) {
  // 40 items, 6 layers: item j contributes S_l = a_j * l and R_l = b_j * (5 - l) + noise, so the profiles
  // recomputed on any resample are anti-correlated; r_s should be strongly negative in every replicate.
  const std::size_t items = 40;
  la::Rng gen(3);
  std::normal_distribution<double> noise(0.0, 0.3);
  Eigen::MatrixXd s(items, 6), r(items, 6);
  for (std::size_t j = 0; j < items; ++j) {
    for (int l = 0; l < 6; ++l) {
      s(static_cast<Eigen::Index>(j), l) = (1.0 + 0.1 * static_cast<double>(j % 7)) * l + noise(gen);
      r(static_cast<Eigen::Index>(j), l) = (5.0 - l) + noise(gen);
    }
  }
  std::size_t calls = 0;
  auto profiles = [&](std::span<const std::size_t> idx) {
    ++calls;
    EXPECT_EQ(idx.size(), items);
    Eigen::VectorXd ps = Eigen::VectorXd::Zero(6), pr = Eigen::VectorXd::Zero(6);
    for (auto i : idx) {
      ps += s.row(static_cast<Eigen::Index>(i)).transpose();
      pr += r.row(static_cast<Eigen::Index>(i)).transpose();
    }
    return la::ProfilePair{ps, pr};
  };
  la::BootstrapParams params;
  params.resamples = 200;
  const auto a = la::bootstrapSpearman(items, profiles, params);
  EXPECT_EQ(calls, 200u);
  EXPECT_EQ(a.replicates.size(), 200u);
  EXPECT_EQ(a.undefined, 0u);
  EXPECT_LE(a.low, a.median);
  EXPECT_LE(a.median, a.high);
  EXPECT_LT(a.high, -0.7);
  EXPECT_EQ(a.low, la::quantile(a.replicates, 0.025));
  const auto b = la::bootstrapSpearman(items, profiles, params);
  EXPECT_EQ(a.replicates, b.replicates);

  // Profiles that do not depend on the items give a degenerate interval at the point estimate.
  const Eigen::VectorXd fixedS = (Eigen::VectorXd(5) << 1, 3, 2, 5, 4).finished();
  const Eigen::VectorXd fixedR = (Eigen::VectorXd(5) << 2, 1, 4, 3, 5).finished();
  const auto flat = la::bootstrapSpearman(10, [&](std::span<const std::size_t>) { return la::ProfilePair{fixedS, fixedR}; },
                                          params);
  // Hand derivation: centred ranks (-2 0 -1 2 1) . (-1 -2 1 0 2) = 3, over 10: r_s = 0.3.
  EXPECT_DOUBLE_EQ(flat.low, 0.3);
  EXPECT_DOUBLE_EQ(flat.high, 0.3);
  EXPECT_THROW(la::bootstrapSpearman(0, profiles, params), layerscope::InvalidArgument);

  // Resamples without item 0 yield a NaN profile (as scoresOnItems does when a class is absent): counted as
  // undefined, never failing. P(item 0 absent from a resample of 3) = (2/3)^3 = 0.30.
  auto sometimesNaN = [&](std::span<const std::size_t> idx) {
    Eigen::VectorXd sv = fixedS;
    if (std::find(idx.begin(), idx.end(), std::size_t{0}) == idx.end()) sv(2) = std::nan("");
    return la::ProfilePair{sv, fixedR};
  };
  const auto partial = la::bootstrapSpearman(3, sometimesNaN, params);
  EXPECT_EQ(partial.undefined + partial.replicates.size(), 200u);
  EXPECT_GT(partial.undefined, 30u);
  EXPECT_LT(partial.undefined, 100u);
  EXPECT_DOUBLE_EQ(partial.low, 0.3);
}

TEST(AnalysisStatistics, ResamplingIsUniform) {
  // Chi-square check of uniformIndex over 7 bins (critical value 22.46 at df 6, p = 0.001).
  la::Rng rng(11);
  std::vector<int> counts(7, 0);
  const int draws = 70000;
  for (int i = 0; i < draws; ++i) ++counts[la::uniformIndex(rng, 7)];
  double chi2 = 0;
  for (int c : counts) chi2 += (c - draws / 7.0) * (c - draws / 7.0) / (draws / 7.0);
  EXPECT_LT(chi2, 22.46);
}

TEST(AnalysisStatistics, TopKDefaultsJaccardAndCentreOfMass) {
  EXPECT_EQ(la::defaultTopK(0.28, 32), 9u);
  EXPECT_EQ(la::defaultTopK(0.31, 32), 10u);
  EXPECT_EQ(la::defaultTopK(0.28, 25), 7u);  // 0.28 * 25 = 7 exactly, not 8
  const Eigen::VectorXd p = (Eigen::VectorXd(6) << 0.1, 0.9, 0.5, 0.9, 0.0, 0.3).finished();
  EXPECT_EQ(la::topK(p, 3), (std::vector<std::size_t>{1, 3, 2}));  // tie 1 vs 3 keeps the lower layer first
  EXPECT_THROW(la::topK(p, 7), layerscope::InvalidArgument);
  EXPECT_THROW(la::topK(p, 0), layerscope::InvalidArgument);
  EXPECT_DOUBLE_EQ(la::jaccard({1, 2, 3}, {2, 3, 4, 5}), 2.0 / 5.0);
  EXPECT_DOUBLE_EQ(la::jaccard({1, 2}, {3}), 0.0);
  // (1*0.9 + 2*0.5 + 3*0.9 + 5*0.3) / 2.7
  EXPECT_NEAR(la::centreOfMass(p), (0.9 + 1.0 + 2.7 + 1.5) / 2.7, 1e-12);
  EXPECT_THROW(la::centreOfMass((Eigen::VectorXd(2) << 1, -1).finished()), layerscope::InvalidArgument);
  EXPECT_THROW(la::centreOfMass(Eigen::VectorXd::Zero(3)), layerscope::InvalidArgument);
}

TEST(AnalysisStatistics, VerdictRule) {
  EXPECT_EQ(la::verdictFor(0.4, 0.01), la::Verdict::CoLocalized);
  EXPECT_EQ(la::verdictFor(-0.735, 1.66e-6), la::Verdict::AntiLocalized);
  EXPECT_EQ(la::verdictFor(-0.9, 0.05), la::Verdict::Inconclusive);  // p must be strictly below alpha
  EXPECT_EQ(la::verdictFor(0.2, 0.3), la::Verdict::Inconclusive);
  EXPECT_EQ(la::verdictText(la::Verdict::AntiLocalized, -0.735, 1.6624e-6, 32),
            "anti-localized (r_s = -0.735, p = 1.66e-06 < 0.05, n = 32)");
}

TEST(AnalysisStatistics, CoLocalizationOnAntiLocalizedProfiles) {
  // 32 layers: S rises with depth, R falls: r_s = -1, S_sens = top 9 deepest layers, S_rope = 10 shallowest.
  la::CoLocalizationInputs in;
  in.sensitivity = Eigen::VectorXd::LinSpaced(32, 0.1, 3.2);
  in.ropeInfluence = (Eigen::VectorXd::LinSpaced(32, 3.2, 0.1).array() + 0.05).matrix();
  la::CoLocalizationParams params;
  params.spearman.monteCarloDraws = 1000;
  const auto res = la::coLocalization(in, params);
  EXPECT_EQ(res.kSens, 9u);
  EXPECT_EQ(res.kRope, 10u);
  EXPECT_EQ(res.spearman.r, -1.0);
  EXPECT_EQ(res.kendall.tau, -1.0);
  EXPECT_EQ(res.topSens.front(), 31u);
  EXPECT_EQ(res.topRope.front(), 0u);
  EXPECT_TRUE(res.overlap.empty());
  EXPECT_EQ(res.jaccard, 0.0);
  EXPECT_GT(res.centreSens, 15.5);
  EXPECT_LT(res.centreRope, 15.5);
  EXPECT_EQ(res.verdict, la::Verdict::AntiLocalized);
  EXPECT_EQ(res.verdictText.rfind("anti-localized", 0), 0u);

  params.kSens = 33;
  EXPECT_THROW(la::coLocalization(in, params), layerscope::InvalidArgument);
  params.kSens = 0;
  in.ropeInfluence.conservativeResize(31);
  EXPECT_THROW(la::coLocalization(in, params), layerscope::InvalidArgument);
}

TEST(AnalysisStatistics, SignedProfilesGetNoCentreOfMassOnlyWhenAllowed) {
  // A log-probability profile (<= 0) is no layer mass: an error by default, a NaN centre plus a note when allowed;
  // the rank statistics do not depend on the sign (r_s of x and y - 10 equals r_s of x and y).
  la::CoLocalizationInputs in;
  in.sensitivity = Eigen::VectorXd::LinSpaced(5, 0.1, 0.5);
  in.ropeInfluence = (Eigen::VectorXd(5) << 0.3, 0.1, 0.5, 0.2, 0.4).finished();
  const auto positive = la::coLocalization(in, {});
  EXPECT_TRUE(positive.centreNote.empty());
  in.ropeInfluence.array() -= 10;
  EXPECT_THROW(la::coLocalization(in, {}), layerscope::InvalidArgument);
  la::CoLocalizationParams params;
  params.allowSignedProfiles = true;
  const auto res = la::coLocalization(in, params);
  EXPECT_TRUE(std::isnan(res.centreRope));
  EXPECT_EQ(res.centreSens, positive.centreSens);
  EXPECT_NE(res.centreNote.find("second profile"), std::string::npos) << res.centreNote;
  EXPECT_EQ(res.spearman.r, positive.spearman.r);
  EXPECT_EQ(res.topRope, positive.topRope);
}

TEST(AnalysisStatistics, PermutationTestHonoursCancellation) {
  std::stop_source stop;
  stop.request_stop();
  const layerscope::core::JobControl job(stop.get_token());
  const auto& c = spearmanCase("n32");
  EXPECT_THROW(la::spearman(vec(c.at("x")), vec(c.at("y")), {}, &job), layerscope::Cancelled);
}
