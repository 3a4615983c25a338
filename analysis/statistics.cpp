// Co-localization statistics (docs/methods.md section 4). Conventions and references: docs/statistics.md.
#include "analysis/statistics.h"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <limits>
#include <numeric>
#include <set>
#include <sstream>

#include <boost/math/distributions/students_t.hpp>

#include "core/base/error.h"

namespace layerscope::analysis {

namespace {

constexpr double kNaN = std::numeric_limits<double>::quiet_NaN();

void requirePaired(const Eigen::VectorXd& x, const Eigen::VectorXd& y, const char* what) {
  if (x.size() != y.size()) {
    throw InvalidArgument(std::string(what) + ": x and y must have the same length, found " +
                          std::to_string(x.size()) + " and " + std::to_string(y.size()));
  }
  if (x.size() < 2) {
    throw InvalidArgument(std::string(what) + ": needs at least 2 paired values, found " +
                          std::to_string(x.size()));
  }
  if (!x.allFinite() || !y.allFinite()) {
    throw InvalidArgument(std::string(what) + ": values must be finite (found NaN or inf)");
  }
}

bool isConstant(const Eigen::VectorXd& v) { return (v.array() == v(0)).all(); }

// Doubled average ranks are integers (a tie group spanning ranks a..b gets a+b), so the permutation
// statistic sum_i (2 rx_i)(2 ry_pi(i)) is exact in int64 and equality with the observed value is exact.
std::vector<std::int64_t> doubledRanks(const Eigen::VectorXd& v) {
  const Eigen::VectorXd r = averageRanks(v);
  std::vector<std::int64_t> out(static_cast<std::size_t>(v.size()));
  for (Eigen::Index i = 0; i < v.size(); ++i) out[static_cast<std::size_t>(i)] = std::llround(2.0 * r(i));
  return out;
}

std::int64_t factorial(std::size_t n) {
  std::int64_t f = 1;
  for (std::size_t i = 2; i <= n; ++i) f *= static_cast<std::int64_t>(i);
  return f;
}

// Exact two-sided p of Kendall's statistic without ties: port of scipy.stats._mstats_basic._kendall_p_exact
// (scipy 1.10; M. G. Kendall, Rank Correlation Methods, 1970). c = number of concordant pairs.
double kendallExactP(std::int64_t n, std::int64_t c) {
  const std::int64_t tot = n * (n - 1) / 2;
  c = std::min(c, tot - c);
  double prob = 1.0;
  if (n <= 2) {
    prob = 1.0;
  } else if (c == 0) {
    prob = n < 171 ? 2.0 / std::tgamma(static_cast<double>(n) + 1.0) : 0.0;
  } else if (c == 1) {
    prob = n < 172 ? 2.0 / std::tgamma(static_cast<double>(n)) : 0.0;
  } else if (4 * c == n * (n - 1)) {
    prob = 1.0;
  } else {
    // new[k] = number of permutations of j elements with k inversions (k <= c), built up for j = 3..n.
    std::vector<double> counts(static_cast<std::size_t>(c + 1), 0.0);
    counts[0] = 1.0;
    counts[1] = 1.0;
    const bool scaled = n >= 171;  // divide by j at each step so the counts stay finite
    for (std::int64_t j = 3; j <= n; ++j) {
      std::partial_sum(counts.begin(), counts.end(), counts.begin());
      if (scaled) {
        for (double& v : counts) v /= static_cast<double>(j);
      }
      if (j <= c) {
        for (std::int64_t k = c; k >= j; --k) {
          counts[static_cast<std::size_t>(k)] -= counts[static_cast<std::size_t>(k - j)];
        }
      }
    }
    const double sum = std::accumulate(counts.begin(), counts.end(), 0.0);
    prob = scaled ? sum : 2.0 * sum / std::tgamma(static_cast<double>(n) + 1.0);
  }
  return std::clamp(prob, 0.0, 1.0);
}

std::string formatG(double v, int digits) {
  char buf[64];
  std::snprintf(buf, sizeof buf, "%.*g", digits, v);
  return buf;
}

}  // namespace

// ---------------------------------------------------------------------------------------------------------

std::size_t uniformIndex(Rng& rng, std::size_t n) {
  if (n == 0) throw InvalidArgument("uniformIndex: n must be positive, found 0");
  const std::uint64_t range = static_cast<std::uint64_t>(n);
  // Largest multiple of `range` representable; draws at or above it are rejected so every residue is
  // equally likely.
  const std::uint64_t limit = std::numeric_limits<std::uint64_t>::max() -
                              (std::numeric_limits<std::uint64_t>::max() % range + 1) % range;
  std::uint64_t v = 0;
  do {
    v = rng();
  } while (v > limit);
  return static_cast<std::size_t>(v % range);
}

std::vector<std::size_t> resampleIndices(Rng& rng, std::size_t n) {
  std::vector<std::size_t> idx(n);
  for (auto& i : idx) i = uniformIndex(rng, n);
  return idx;
}

Eigen::VectorXd averageRanks(const Eigen::VectorXd& values) {
  const auto n = static_cast<std::size_t>(values.size());
  std::vector<std::size_t> order(n);
  std::iota(order.begin(), order.end(), std::size_t{0});
  std::stable_sort(order.begin(), order.end(),
                   [&](std::size_t a, std::size_t b) { return values(static_cast<Eigen::Index>(a)) <
                                                              values(static_cast<Eigen::Index>(b)); });
  Eigen::VectorXd ranks(values.size());
  std::size_t i = 0;
  while (i < n) {
    std::size_t j = i + 1;
    while (j < n && values(static_cast<Eigen::Index>(order[j])) == values(static_cast<Eigen::Index>(order[i]))) ++j;
    // Positions i..j-1 (0-based) are tied: ranks i+1..j, mean (i + 1 + j) / 2.
    const double avg = 0.5 * static_cast<double>(i + 1 + j);
    for (std::size_t k = i; k < j; ++k) ranks(static_cast<Eigen::Index>(order[k])) = avg;
    i = j;
  }
  return ranks;
}

double quantile(std::vector<double> values, double q) {
  if (values.empty()) throw InvalidArgument("quantile: needs at least one value, found none");
  if (!(q >= 0.0 && q <= 1.0)) throw InvalidArgument("quantile: q must lie in [0, 1], found " + formatG(q, 6));
  std::sort(values.begin(), values.end());
  const double h = q * static_cast<double>(values.size() - 1);
  const auto lo = static_cast<std::size_t>(std::floor(h));
  if (lo + 1 >= values.size()) return values.back();
  return values[lo] + (h - static_cast<double>(lo)) * (values[lo + 1] - values[lo]);
}

// ---------------------------------------------------------------------------------------------------------

double spearmanTwoSidedP(double r, std::size_t n) {
  if (n < 2) throw InvalidArgument("spearmanTwoSidedP: needs n >= 2 observations, found " + std::to_string(n));
  if (std::isnan(r)) return kNaN;
  if (std::abs(r) > 1.0 + 1e-12) {
    throw InvalidArgument("spearmanTwoSidedP: |r| must be <= 1, found r = " + formatG(r, 17));
  }
  if (n == 2) return 1.0;                   // 0 df: the two possible orderings give r = +1 and -1
  if (std::abs(r) >= 1.0) return 0.0;       // t = +-inf
  const double df = static_cast<double>(n - 2);
  const double t = r * std::sqrt(df / ((1.0 + r) * (1.0 - r)));
  const boost::math::students_t dist(df);
  return std::min(1.0, 2.0 * boost::math::cdf(boost::math::complement(dist, std::abs(t))));
}

SpearmanResult spearman(const Eigen::VectorXd& x, const Eigen::VectorXd& y, const SpearmanParams& params,
                        const core::JobControl* job) {
  requirePaired(x, y, "spearman");
  if (params.exactMaxN > 10) {
    throw InvalidArgument("spearman: exactMaxN must be <= 10 (10! permutations), found " +
                          std::to_string(params.exactMaxN));
  }
  if (params.monteCarloDraws < 0) {
    throw InvalidArgument("spearman: monteCarloDraws must be >= 0, found " +
                          std::to_string(params.monteCarloDraws));
  }
  SpearmanResult res;
  res.params = params;
  res.n = static_cast<std::size_t>(x.size());
  if (isConstant(x) || isConstant(y)) {
    res.defined = false;
    res.r = res.t = res.p = res.pPermutation = kNaN;
    return res;
  }

  const Eigen::VectorXd rx = averageRanks(x);
  const Eigen::VectorXd ry = averageRanks(y);
  const Eigen::VectorXd cx = rx.array() - rx.mean();
  const Eigen::VectorXd cy = ry.array() - ry.mean();
  res.r = std::clamp(cx.dot(cy) / std::sqrt(cx.squaredNorm() * cy.squaredNorm()), -1.0, 1.0);
  const double df = static_cast<double>(res.n) - 2.0;
  if (res.n == 2) {
    res.t = kNaN;
  } else if (std::abs(res.r) >= 1.0) {
    res.t = std::copysign(std::numeric_limits<double>::infinity(), res.r);
  } else {
    res.t = res.r * std::sqrt(df / ((1.0 + res.r) * (1.0 - res.r)));
  }
  res.p = spearmanTwoSidedP(res.r, res.n);

  // Permutation p: permute y's ranks against x's. With doubled integer ranks the centred cross product is
  // sum_i X_i Y_pi(i) - n (n+1)^2 (mean of doubled ranks is n + 1 with or without ties), exact in int64.
  const auto X = doubledRanks(x);
  const auto Y = doubledRanks(y);
  const auto n = static_cast<std::int64_t>(res.n);
  const std::int64_t offset = n * (n + 1) * (n + 1);
  auto centred = [&](const std::vector<std::size_t>& perm) {
    std::int64_t s = 0;
    for (std::size_t i = 0; i < perm.size(); ++i) s += X[i] * Y[perm[i]];
    return s - offset;
  };
  std::vector<std::size_t> perm(res.n);
  std::iota(perm.begin(), perm.end(), std::size_t{0});
  const std::int64_t observed = std::abs(centred(perm));

  if (res.n <= params.exactMaxN) {
    std::int64_t count = 0;
    std::int64_t seen = 0;
    do {
      if (std::abs(centred(perm)) >= observed) ++count;
      if ((++seen & 0xFFFF) == 0) core::checkCancelled(job);
    } while (std::next_permutation(perm.begin(), perm.end()));
    res.permutations = factorial(res.n);
    res.pPermutation = static_cast<double>(count) / static_cast<double>(res.permutations);
    res.permutationMethod = PermutationMethod::Exact;
  } else if (params.monteCarloDraws > 0) {
    Rng rng(params.seed);
    std::int64_t count = 0;
    for (std::int64_t d = 0; d < params.monteCarloDraws; ++d) {
      // Fisher-Yates on the running permutation: each draw is a uniform random permutation.
      for (std::size_t i = res.n - 1; i > 0; --i) std::swap(perm[i], perm[uniformIndex(rng, i + 1)]);
      if (std::abs(centred(perm)) >= observed) ++count;
      if ((d & 0x3FFF) == 0) {
        core::reportProgress(job, {"permutation test", static_cast<double>(d),
                                   static_cast<double>(params.monteCarloDraws)});
      }
    }
    res.permutations = params.monteCarloDraws;
    res.pPermutation = static_cast<double>(count + 1) / static_cast<double>(params.monteCarloDraws + 1);
    res.permutationMethod = PermutationMethod::MonteCarlo;
  } else {
    res.pPermutation = kNaN;
  }
  return res;
}

// ---------------------------------------------------------------------------------------------------------

KendallResult kendallTauB(const Eigen::VectorXd& x, const Eigen::VectorXd& y) {
  requirePaired(x, y, "kendallTauB");
  KendallResult res;
  const auto n = static_cast<std::int64_t>(x.size());
  res.n = static_cast<std::size_t>(n);
  for (Eigen::Index i = 0; i < x.size(); ++i) {
    for (Eigen::Index j = i + 1; j < x.size(); ++j) {
      const double dx = x(i) - x(j);
      const double dy = y(i) - y(j);
      if (dx == 0 && dy == 0) {
        ++res.tiesX;
        ++res.tiesY;
        ++res.tiesBoth;
      } else if (dx == 0) {
        ++res.tiesX;
      } else if (dy == 0) {
        ++res.tiesY;
      } else if ((dx > 0) == (dy > 0)) {
        ++res.concordant;
      } else {
        ++res.discordant;
      }
    }
  }
  const std::int64_t tot = n * (n - 1) / 2;
  if (res.tiesX == tot || res.tiesY == tot) {
    res.defined = false;
    res.tau = res.p = kNaN;
    return res;
  }
  const double conMinusDis = static_cast<double>(res.concordant - res.discordant);
  res.tau = std::clamp(conMinusDis / std::sqrt(static_cast<double>(tot - res.tiesX)) /
                           std::sqrt(static_cast<double>(tot - res.tiesY)),
                       -1.0, 1.0);

  const bool noTies = res.tiesX == 0 && res.tiesY == 0;
  if (noTies && (n <= 33 || std::min(res.discordant, tot - res.discordant) <= 1)) {
    res.method = KendallMethod::Exact;
    res.p = kendallExactP(n, tot - res.discordant);
    return res;
  }
  // Asymptotic: var(con - dis) with tie corrections (Kendall 1970; scipy's kendalltau). Sums over tie
  // groups of size t: v0 = t(t-1)(t-2), v1 = t(t-1)(2t+5).
  auto tieSums = [](const Eigen::VectorXd& v) {
    std::vector<double> s(v.data(), v.data() + v.size());
    std::sort(s.begin(), s.end());
    double v0 = 0, v1 = 0;
    for (std::size_t i = 0; i < s.size();) {
      std::size_t j = i + 1;
      while (j < s.size() && s[j] == s[i]) ++j;
      const double t = static_cast<double>(j - i);
      v0 += t * (t - 1) * (t - 2);
      v1 += t * (t - 1) * (2 * t + 5);
      i = j;
    }
    return std::pair{v0, v1};
  };
  const auto [x0, x1] = tieSums(x);
  const auto [y0, y1] = tieSums(y);
  const double nd = static_cast<double>(n);
  const double m = nd * (nd - 1.0);
  double var = (m * (2 * nd + 5) - x1 - y1) / 18.0 +
               2.0 * static_cast<double>(res.tiesX) * static_cast<double>(res.tiesY) / m;
  if (n > 2) var += x0 * y0 / (9.0 * m * (nd - 2.0));
  const double z = conMinusDis / std::sqrt(var);
  res.method = KendallMethod::Asymptotic;
  res.p = std::erfc(std::abs(z) / std::sqrt(2.0));  // 2 * (1 - Phi(|z|))
  return res;
}

// ---------------------------------------------------------------------------------------------------------

BootstrapResult bootstrapSpearman(std::size_t nItems, const ProfileFunction& profiles,
                                  const BootstrapParams& params, const core::JobControl* job) {
  if (nItems == 0) throw InvalidArgument("bootstrapSpearman: needs at least one item, found 0");
  if (params.resamples == 0) throw InvalidArgument("bootstrapSpearman: resamples (B) must be >= 1, found 0");
  if (!(params.confidence > 0.0 && params.confidence < 1.0)) {
    throw InvalidArgument("bootstrapSpearman: confidence must lie in (0, 1), found " +
                          formatG(params.confidence, 6));
  }
  if (!profiles) throw InvalidArgument("bootstrapSpearman: no profile function given");
  BootstrapResult res;
  res.params = params;
  res.items = nItems;
  res.replicates.reserve(params.resamples);
  Rng rng(params.seed);
  SpearmanParams noPermutation;
  noPermutation.exactMaxN = 0;
  noPermutation.monteCarloDraws = 0;
  for (std::size_t b = 0; b < params.resamples; ++b) {
    core::reportProgress(job, {"bootstrap", static_cast<double>(b), static_cast<double>(params.resamples)});
    const auto idx = resampleIndices(rng, nItems);
    const auto [s, r] = profiles(idx);
    if (s.size() != r.size() || s.size() < 2) {
      throw InvalidArgument("bootstrapSpearman: the profile function must return two profiles of equal length "
                            ">= 2, found lengths " + std::to_string(s.size()) + " and " +
                            std::to_string(r.size()));
    }
    // A profile with NaN (no differential on this resample) or a constant profile: no r_s here.
    if (!s.allFinite() || !r.allFinite()) {
      ++res.undefined;
      continue;
    }
    const SpearmanResult sr = spearman(s, r, noPermutation);
    if (sr.defined) {
      res.replicates.push_back(sr.r);
    } else {
      ++res.undefined;
    }
  }
  if (res.replicates.empty()) {
    throw InvalidArgument("bootstrapSpearman: r_s was undefined (a constant profile) in all " +
                          std::to_string(params.resamples) + " resamples");
  }
  const double tail = 0.5 * (1.0 - params.confidence);
  res.low = quantile(res.replicates, tail);
  res.high = quantile(res.replicates, 1.0 - tail);
  res.median = quantile(res.replicates, 0.5);
  return res;
}

// ---------------------------------------------------------------------------------------------------------

std::size_t defaultTopK(double fraction, std::size_t layers) {
  if (!(fraction > 0.0 && fraction <= 1.0)) {
    throw InvalidArgument("defaultTopK: fraction must lie in (0, 1], found " + formatG(fraction, 6));
  }
  // The small slack absorbs binary rounding of products that are whole numbers (0.28 * 25 = 7.000000000000001).
  const double k = std::ceil(fraction * static_cast<double>(layers) - 1e-9);
  return std::max<std::size_t>(1, static_cast<std::size_t>(k));
}

std::vector<std::size_t> topK(const Eigen::VectorXd& profile, std::size_t k) {
  const auto L = static_cast<std::size_t>(profile.size());
  if (k == 0 || k > L) {
    throw InvalidArgument("topK: k must lie in [1, L] = [1, " + std::to_string(L) + "], found k = " +
                          std::to_string(k));
  }
  if (!profile.allFinite()) throw InvalidArgument("topK: profile values must be finite");
  std::vector<std::size_t> order(L);
  std::iota(order.begin(), order.end(), std::size_t{0});
  std::stable_sort(order.begin(), order.end(), [&](std::size_t a, std::size_t b) {
    return profile(static_cast<Eigen::Index>(a)) > profile(static_cast<Eigen::Index>(b));
  });
  order.resize(k);
  return order;
}

double jaccard(const std::vector<std::size_t>& a, const std::vector<std::size_t>& b) {
  const std::set<std::size_t> sa(a.begin(), a.end());
  const std::set<std::size_t> sb(b.begin(), b.end());
  std::size_t inter = 0;
  for (auto v : sa) inter += sb.count(v);
  const std::size_t uni = sa.size() + sb.size() - inter;
  return uni == 0 ? 0.0 : static_cast<double>(inter) / static_cast<double>(uni);
}

double centreOfMass(const Eigen::VectorXd& profile) {
  if (profile.size() == 0) throw InvalidArgument("centreOfMass: empty profile");
  if (!profile.allFinite() || (profile.array() < 0).any()) {
    throw InvalidArgument("centreOfMass: profile values must be finite and >= 0 (a layer mass); found min " +
                          formatG(profile.minCoeff(), 6) + ". Hint: shift or take |.| of a signed score");
  }
  const double total = profile.sum();
  if (!(total > 0)) throw InvalidArgument("centreOfMass: profile sums to 0, so there is no centre of mass");
  const Eigen::VectorXd layer = Eigen::VectorXd::LinSpaced(profile.size(), 0.0, double(profile.size() - 1));
  return layer.dot(profile) / total;
}

// ---------------------------------------------------------------------------------------------------------

std::string verdictName(Verdict v) {
  switch (v) {
    case Verdict::CoLocalized: return "co-localized";
    case Verdict::AntiLocalized: return "anti-localized";
    case Verdict::Inconclusive: return "inconclusive";
  }
  return "inconclusive";
}

Verdict verdictFor(double r, double p, double alpha) {
  if (std::isnan(r) || std::isnan(p) || !(p < alpha)) return Verdict::Inconclusive;
  if (r > 0) return Verdict::CoLocalized;
  if (r < 0) return Verdict::AntiLocalized;
  return Verdict::Inconclusive;
}

std::string verdictText(Verdict v, double r, double p, std::size_t n, double alpha) {
  std::ostringstream os;
  os << verdictName(v) << " (r_s = " << formatG(r, 3) << ", p = " << formatG(p, 3)
     << (p < alpha ? " < " : " >= ") << formatG(alpha, 3) << ", n = " << n << ")";
  return os.str();
}

CoLocalizationResult coLocalization(const CoLocalizationInputs& in, const CoLocalizationParams& params,
                                    const core::JobControl* job) {
  const auto L = static_cast<std::size_t>(in.sensitivity.size());
  if (in.ropeInfluence.size() != in.sensitivity.size()) {
    throw InvalidArgument("coLocalization: S_l and R_l must have one value per layer, found " +
                          std::to_string(in.sensitivity.size()) + " and " +
                          std::to_string(in.ropeInfluence.size()) + " layers");
  }
  if (L < 2) throw InvalidArgument("coLocalization: needs at least 2 layers, found " + std::to_string(L));
  if (!(params.alpha > 0.0 && params.alpha < 1.0)) {
    throw InvalidArgument("coLocalization: alpha must lie in (0, 1), found " + formatG(params.alpha, 6));
  }
  CoLocalizationResult res;
  res.params = params;
  res.layers = L;
  res.kSens = params.kSens ? params.kSens : defaultTopK(params.sensFraction, L);
  res.kRope = params.kRope ? params.kRope : defaultTopK(params.ropeFraction, L);
  for (auto [k, name] : {std::pair{res.kSens, "k_sens"}, std::pair{res.kRope, "k_rope"}}) {
    if (k > L) {
      throw InvalidArgument(std::string("coLocalization: ") + name + " must be <= L = " + std::to_string(L) +
                            ", found " + std::to_string(k));
    }
  }
  // Validate the centre-of-mass inputs before the (possibly long) permutation test.
  auto centre = [&](const Eigen::VectorXd& profile, const char* name) {
    if (!params.allowSignedProfiles || (profile.allFinite() && (profile.array() >= 0).all() && profile.sum() > 0))
      return centreOfMass(profile);
    res.centreNote += std::string(res.centreNote.empty() ? "" : "; ") + name +
                      ": no centre of mass (the profile has negative values or sums to 0, so it is no layer mass)";
    return std::numeric_limits<double>::quiet_NaN();
  };
  res.centreSens = centre(in.sensitivity, "first profile");
  res.centreRope = centre(in.ropeInfluence, "second profile");

  res.spearman = spearman(in.sensitivity, in.ropeInfluence, params.spearman, job);
  res.kendall = kendallTauB(in.sensitivity, in.ropeInfluence);
  res.topSens = topK(in.sensitivity, res.kSens);
  res.topRope = topK(in.ropeInfluence, res.kRope);
  std::vector<std::size_t> a = res.topSens, b = res.topRope;
  std::sort(a.begin(), a.end());
  std::sort(b.begin(), b.end());
  std::set_intersection(a.begin(), a.end(), b.begin(), b.end(), std::back_inserter(res.overlap));
  res.jaccard = jaccard(res.topSens, res.topRope);
  const double p = params.verdictBasis == VerdictBasis::TDistribution ? res.spearman.p : res.spearman.pPermutation;
  res.verdict = verdictFor(res.spearman.r, p, params.alpha);
  res.verdictText = verdictText(res.verdict, res.spearman.r, p, L, params.alpha);
  return res;
}

}  // namespace layerscope::analysis
