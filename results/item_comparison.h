// Item-by-item comparison of two evaluations of the same items (base vs adapter, base vs a manipulation): the
// 2 x 2 table of paired outcomes, the items that flipped in each direction, the exact McNemar test and a 95%
// confidence interval on the paired accuracy difference (Newcombe 1998, method 10: Wilson score intervals of the
// two accuracies combined with the phi correlation of the pairs); docs/gui.md "Items". Header-only, no Qt/torch.
#pragma once

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <map>
#include <string>
#include <utility>
#include <vector>

#include "results/items.h"

namespace layerscope::results {

/// A confidence interval.
struct Interval {
  double low = kNaN, high = kNaN;
};

/// Two-sided exact McNemar p-value for `b` and `c` discordant pairs: the binomial test of min(b, c) successes in
/// b + c trials at 1/2, doubled and capped at 1 (1 when there is no discordant pair).
inline double mcnemarExactP(int b, int c) {
  const int n = b + c;
  if (n <= 0) return 1.0;
  const int k = std::min(b, c);
  // Sum of C(n, i) / 2^n for i = 0..k in log space (exact enough for any n a task file has).
  double sum = 0;
  const double logHalfN = -double(n) * std::log(2.0);
  for (int i = 0; i <= k; ++i)
    sum += std::exp(std::lgamma(n + 1.0) - std::lgamma(i + 1.0) - std::lgamma(n - i + 1.0) + logHalfN);
  return std::min(1.0, 2 * sum);
}

/// Wilson score interval for x successes in n trials at normal quantile z (1.959964 for 95%).
inline Interval wilsonInterval(int x, int n, double z = 1.959963984540054) {
  if (n <= 0) return {};
  const double p = double(x) / n, z2 = z * z;
  const double centre = (p + z2 / (2.0 * n)) / (1 + z2 / n);
  const double half = z / (1 + z2 / n) * std::sqrt(p * (1 - p) / n + z2 / (4.0 * n * n));
  return {std::max(0.0, centre - half), std::min(1.0, centre + half)};
}

/// Newcombe's (1998) method 10 interval for accuracy(B) - accuracy(A) from the paired table:
/// a = both correct, b = only A correct, c = only B correct, d = both wrong.
inline Interval pairedDifferenceInterval(int a, int b, int c, int d, double z = 1.959963984540054) {
  const int n = a + b + c + d;
  if (n <= 0) return {};
  const double pA = double(a + b) / n, pB = double(a + c) / n, diff = pB - pA;
  const Interval wA = wilsonInterval(a + b, n, z), wB = wilsonInterval(a + c, n, z);
  const double den = double(a + b) * double(c + d) * double(a + c) * double(b + d);
  const double phi = den == 0 ? 0.0 : (double(a) * d - double(b) * c) / std::sqrt(den);
  const double dl = pB - wB.low, du = wA.high - pA;  // theta = pB - pA: lower uses B's lower, A's upper arm
  const double el = wB.high - pB, eu = pA - wA.low;
  const double delta = std::sqrt(std::max(0.0, dl * dl - 2 * phi * dl * du + du * du));
  const double eps = std::sqrt(std::max(0.0, el * el - 2 * phi * el * eu + eu * eu));
  return {diff - delta, diff + eps};
}

/// The comparison of evaluation A (e.g. the base model) with evaluation B (e.g. with the adapter) on the items
/// both hold (paired by id).
struct ItemComparison {
  std::string labelA = "A", labelB = "B";
  int paired = 0;                    ///< items in both
  int bothCorrect = 0, onlyA = 0, onlyB = 0, bothWrong = 0;
  std::vector<std::string> fixedIds;   ///< wrong in A, correct in B (B gained them), in A's order
  std::vector<std::string> brokenIds;  ///< correct in A, wrong in B (B lost them)
  int onlyInA = 0, onlyInB = 0;      ///< items without a partner (left out of every number)
  double accuracyA = kNaN, accuracyB = kNaN;
  double difference = kNaN;          ///< accuracyB - accuracyA over the paired items
  Interval ci;                       ///< 95% interval of `difference` (Newcombe method 10)
  double mcnemarP = kNaN;            ///< exact two-sided McNemar p-value

  /// "B - A = +4.0 points [95% CI -0.5, +8.5], 15 fixed / 7 broken, exact McNemar p = 0.134 (n = 200 paired)".
  std::string summary() const {
    char buf[320];
    std::snprintf(buf, sizeof buf,
                  "%s - %s = %+.1f points [95%% CI %+.1f, %+.1f], %d fixed / %d broken, exact McNemar p = %.3g "
                  "(n = %d paired)",
                  labelB.c_str(), labelA.c_str(), 100 * difference, 100 * ci.low, 100 * ci.high, onlyB, onlyA, mcnemarP,
                  paired);
    return buf;
  }
};

/// Pairs the items of A and B by id and fills every field. Throws ResultsError when no id is shared (two different
/// task files).
inline ItemComparison compareItems(const std::vector<ItemRecord>& a, const std::vector<ItemRecord>& b,
                                   std::string labelA = "A", std::string labelB = "B") {
  ItemComparison c;
  c.labelA = std::move(labelA);
  c.labelB = std::move(labelB);
  std::map<std::string, bool> inB;
  for (const auto& r : b) inB[r.id] = r.correct;
  for (const auto& r : a) {
    auto it = inB.find(r.id);
    if (it == inB.end()) {
      ++c.onlyInA;
      continue;
    }
    ++c.paired;
    const bool ca = r.correct, cb = it->second;
    if (ca && cb) ++c.bothCorrect;
    else if (ca) ++c.onlyA, c.brokenIds.push_back(r.id);
    else if (cb) ++c.onlyB, c.fixedIds.push_back(r.id);
    else ++c.bothWrong;
  }
  c.onlyInB = int(b.size()) - c.paired;
  if (c.paired == 0)
    throw ResultsError("the two evaluations share no item id (" + std::to_string(a.size()) + " and " +
                       std::to_string(b.size()) + " items): they were made on different task files");
  c.accuracyA = double(c.bothCorrect + c.onlyA) / c.paired;
  c.accuracyB = double(c.bothCorrect + c.onlyB) / c.paired;
  c.difference = c.accuracyB - c.accuracyA;
  c.ci = pairedDifferenceInterval(c.bothCorrect, c.onlyA, c.onlyB, c.bothWrong);
  c.mcnemarP = mcnemarExactP(c.onlyA, c.onlyB);
  return c;
}

}  // namespace layerscope::results
