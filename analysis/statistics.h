// Co-localization statistics over layer profiles (docs/methods.md section 4): Spearman r_s with t, exact and
// Monte Carlo permutation p-values, Kendall tau-b, bootstrap interval of r_s over items, top-k sets, Jaccard,
// centres of mass and the verdict. Pure functions on Eigen vectors; no torch, no Qt, no I/O.
// Formulas, conventions and reference provenance: docs/statistics.md.
#pragma once

#include <cstddef>
#include <cstdint>
#include <functional>
#include <random>
#include <span>
#include <string>
#include <utility>
#include <vector>

#include <Eigen/Core>

#include "core/base/job_control.h"

namespace layerscope::analysis {

/// Default seed of every seeded analysis when the caller gives none.
inline constexpr std::uint64_t kDefaultSeed = 20240607;

// ---------------------------------------------------------------------------------------------------------
// Random numbers

/// The generator used by every seeded analysis: std::mt19937_64, whose output sequence the C++ standard fixes.
using Rng = std::mt19937_64;

/// Uniform integer in [0, n) by rejection sampling, so a seed gives the same draws with every standard
/// library (std::uniform_int_distribution is implementation-defined). Requires n > 0.
std::size_t uniformIndex(Rng& rng, std::size_t n);

/// n indices drawn uniformly with replacement from [0, n): one bootstrap resample.
std::vector<std::size_t> resampleIndices(Rng& rng, std::size_t n);

// ---------------------------------------------------------------------------------------------------------
// Ranks and quantiles

/// Average ranks, 1-based, ties get the mean of the ranks they span (scipy.stats.rankdata "average").
Eigen::VectorXd averageRanks(const Eigen::VectorXd& values);

/// Quantile of `values` at q in [0, 1] by linear interpolation between order statistics (Hyndman-Fan type 7,
/// numpy's default). Throws InvalidArgument on an empty input or q outside [0, 1].
double quantile(std::vector<double> values, double q);

// ---------------------------------------------------------------------------------------------------------
// Spearman

/// How the permutation p-value was obtained.
enum class PermutationMethod {
  None,        ///< not computed (permutations disabled, or r undefined)
  Exact,       ///< all n! permutations enumerated
  MonteCarlo,  ///< seeded random permutations, p = (count + 1) / (draws + 1)
};

/// Options of spearman().
struct SpearmanParams {
  /// Enumerate all n! permutations when n <= exactMaxN (layers); above it use Monte Carlo. At most 10.
  std::size_t exactMaxN = 9;
  /// Monte Carlo permutations (draws) when n > exactMaxN; 0 disables the permutation p-value there.
  std::int64_t monteCarloDraws = 100000;
  /// Seed of the Monte Carlo permutations.
  std::uint64_t seed = kDefaultSeed;
};

/// Spearman rank correlation with its p-values.
struct SpearmanResult {
  double r = 0;             ///< Pearson correlation of the average ranks; NaN if either input is constant
  double t = 0;             ///< Student t statistic r sqrt((n-2)/(1-r^2)); +-inf when |r| = 1
  double p = 1;             ///< two-sided p from Student t with n-2 df (1 when n = 2, NaN when r is NaN)
  double pPermutation = 1;  ///< two-sided permutation p: share of permutations with |r_perm| >= |r|
  PermutationMethod permutationMethod = PermutationMethod::None;
  std::int64_t permutations = 0;  ///< permutations evaluated (n! for exact, draws for Monte Carlo)
  std::size_t n = 0;              ///< number of paired observations (layers)
  bool defined = true;            ///< false when an input is constant, so r and p are NaN
  SpearmanParams params;          ///< the options that produced this result
};

/// Two-sided p of a Pearson/Spearman r over n observations from Student t with n-2 degrees of freedom
/// (Boost.Math). p = 0 when |r| = 1 and n >= 3; p = 1 when n = 2 (r is always +-1 there, no evidence).
/// Throws InvalidArgument when n < 2 or |r| > 1.
double spearmanTwoSidedP(double r, std::size_t n);

/// Spearman r_s of x and y (same length n >= 2; ties averaged) with the t-based p and a permutation p
/// (exact for n <= params.exactMaxN, else seeded Monte Carlo). Throws InvalidArgument on a length mismatch,
/// n < 2 or non-finite values; Cancelled through `job`.
SpearmanResult spearman(const Eigen::VectorXd& x, const Eigen::VectorXd& y, const SpearmanParams& params = {},
                        const core::JobControl* job = nullptr);

// ---------------------------------------------------------------------------------------------------------
// Kendall

/// How the Kendall p-value was obtained (scipy.stats.kendalltau's method="auto" rule).
enum class KendallMethod {
  Exact,       ///< no ties and (n <= 33 or min(discordant, concordant) <= 1): exact null distribution
  Asymptotic,  ///< normal approximation with the tie-corrected variance
};

/// Kendall tau-b with its two-sided p.
struct KendallResult {
  double tau = 0;           ///< tau-b; NaN when either input is constant
  double p = 1;             ///< two-sided p; NaN when tau is NaN
  KendallMethod method = KendallMethod::Exact;
  std::int64_t concordant = 0;   ///< pairs ordered the same way in x and y
  std::int64_t discordant = 0;   ///< pairs ordered oppositely
  std::int64_t tiesX = 0;        ///< pairs tied in x (including those also tied in y)
  std::int64_t tiesY = 0;        ///< pairs tied in y (including those also tied in x)
  std::int64_t tiesBoth = 0;     ///< pairs tied in both
  std::size_t n = 0;             ///< number of paired observations
  bool defined = true;           ///< false when an input is constant
};

/// Kendall tau-b of x and y (same length n >= 2) with the p-value of scipy.stats.kendalltau (default
/// method "auto", scipy 1.10). Throws InvalidArgument on a length mismatch, n < 2 or non-finite values.
KendallResult kendallTauB(const Eigen::VectorXd& x, const Eigen::VectorXd& y);

// ---------------------------------------------------------------------------------------------------------
// Bootstrap of r_s over items

/// The two layer profiles (S, R), each [L], computed from one resample of item indices.
using ProfilePair = std::pair<Eigen::VectorXd, Eigen::VectorXd>;
/// Maps a resample of item indices (with repeats, length nItems) to the profiles recomputed on it.
using ProfileFunction = std::function<ProfilePair(std::span<const std::size_t> items)>;

/// Options of bootstrapSpearman().
struct BootstrapParams {
  std::size_t resamples = 1000;       ///< B, bootstrap resamples of the items
  double confidence = 0.95;           ///< central interval mass, in (0, 1)
  std::uint64_t seed = kDefaultSeed;  ///< seed of the resampling
};

/// Percentile bootstrap interval of r_s.
struct BootstrapResult {
  double low = 0;                  ///< lower percentile (1 - confidence)/2 of the replicates (type 7)
  double high = 0;                 ///< upper percentile (1 + confidence)/2
  double median = 0;               ///< median of the replicates
  std::vector<double> replicates;  ///< r_s of each resample with a defined r_s, in draw order
  std::size_t undefined = 0;       ///< resamples where r_s was undefined (constant or non-finite profile)
  std::size_t items = 0;           ///< number of items resampled
  BootstrapParams params;          ///< the options that produced this result
};

/// Percentile bootstrap of Spearman r_s over items: draws B resamples of [0, nItems) with replacement
/// (seeded), asks `profiles` for (S, R) on each and keeps r_s; a resample whose profiles contain NaN (no
/// differential on it) or are constant is counted in `undefined` and left out. Throws InvalidArgument when nItems = 0,
/// B = 0, confidence outside (0, 1), profiles of different lengths, or no resample gave a defined r_s.
BootstrapResult bootstrapSpearman(std::size_t nItems, const ProfileFunction& profiles,
                                  const BootstrapParams& params = {}, const core::JobControl* job = nullptr);

// ---------------------------------------------------------------------------------------------------------
// Top-k sets, overlap, centre of mass

/// Default k for a fraction of L layers: ceil(fraction * L), computed so that 0.28 * 25 gives 7, not 8.
std::size_t defaultTopK(double fraction, std::size_t layers);

/// Indices of the k largest values, largest first; equal values keep the lower layer first.
/// Throws InvalidArgument when k = 0, k > L or a value is not finite.
std::vector<std::size_t> topK(const Eigen::VectorXd& profile, std::size_t k);

/// |A n B| / |A u B| of two index sets (duplicates ignored); 0 when both are empty.
double jaccard(const std::vector<std::size_t>& a, const std::vector<std::size_t>& b);

/// Centre of mass sum_l l w_l / sum_l w_l in layer units (layer 0 .. L-1). Needs w_l >= 0 with a positive
/// sum; throws InvalidArgument otherwise.
double centreOfMass(const Eigen::VectorXd& profile);

// ---------------------------------------------------------------------------------------------------------
// Verdict and the whole section-4 summary

/// The co-localization verdict.
enum class Verdict {
  CoLocalized,    ///< r_s > 0 and p < alpha
  AntiLocalized,  ///< r_s < 0 and p < alpha
  Inconclusive,   ///< otherwise (including undefined r_s)
};

/// "co-localized", "anti-localized" or "inconclusive".
std::string verdictName(Verdict v);

/// The verdict rule of docs/methods.md section 4.
Verdict verdictFor(double r, double p, double alpha = 0.05);

/// One line for reports, e.g. "anti-localized (r_s = -0.735, p = 1.66e-06 < 0.05, n = 32)".
std::string verdictText(Verdict v, double r, double p, std::size_t n, double alpha = 0.05);

/// Which p-value decides the verdict.
enum class VerdictBasis {
  TDistribution,  ///< the Student-t p of r_s (docs/methods.md default)
  Permutation,    ///< the permutation p (exact or Monte Carlo)
};

/// The two per-layer profiles being compared, each [L].
struct CoLocalizationInputs {
  Eigen::VectorXd sensitivity;    ///< S_l, docs/methods.md section 2
  Eigen::VectorXd ropeInfluence;  ///< R_l, docs/methods.md section 3
};

/// Options of coLocalization().
struct CoLocalizationParams {
  SpearmanParams spearman;        ///< permutation options of r_s
  std::size_t kSens = 0;          ///< size of S_sens (layers); 0 = defaultTopK(sensFraction, L)
  double sensFraction = 0.28;     ///< default k_sens as a fraction of L (9 of 32)
  std::size_t kRope = 0;          ///< size of S_rope (layers); 0 = defaultTopK(ropeFraction, L)
  double ropeFraction = 0.31;     ///< default k_rope as a fraction of L (10 of 32)
  double alpha = 0.05;            ///< significance level of the verdict
  VerdictBasis verdictBasis = VerdictBasis::TDistribution;  ///< which p decides the verdict
  /// true: a profile that is no layer mass (a negative value or a zero sum, e.g. a log-probability) gets a NaN
  /// centre of mass and a note instead of an InvalidArgument, so any per-layer score can be compared.
  bool allowSignedProfiles = false;
};

/// Everything docs/methods.md section 4 reports for one pair of profiles (the bootstrap interval needs the items
/// and comes from bootstrapSpearman()).
struct CoLocalizationResult {
  SpearmanResult spearman;
  KendallResult kendall;
  std::vector<std::size_t> topSens;   ///< S_sens, largest S_l first
  std::vector<std::size_t> topRope;   ///< S_rope, largest R_l first
  std::vector<std::size_t> overlap;   ///< S_sens n S_rope, ascending
  double jaccard = 0;                 ///< |S_sens n S_rope| / |S_sens u S_rope|
  double centreSens = 0;              ///< centre of mass of S_l in layer units
  double centreRope = 0;              ///< centre of mass of R_l in layer units
  std::string centreNote;             ///< why a centre is NaN (allowSignedProfiles only), else empty
  Verdict verdict = Verdict::Inconclusive;
  std::string verdictText;
  std::size_t layers = 0;             ///< L
  std::size_t kSens = 0;              ///< k actually used for S_sens
  std::size_t kRope = 0;              ///< k actually used for S_rope
  CoLocalizationParams params;        ///< the options that produced this result
};

/// Spearman, Kendall, top-k sets, Jaccard, centres of mass and verdict for (S_l, R_l). Throws
/// InvalidArgument before any work on mismatched lengths, L < 2, k > L, negative or non-finite values.
CoLocalizationResult coLocalization(const CoLocalizationInputs& inputs, const CoLocalizationParams& params = {},
                                    const core::JobControl* job = nullptr);

}  // namespace layerscope::analysis
