// dropoutKeepScale: the LoRA-input dropout mask (core/model/dropout.h).
#include <gtest/gtest.h>
#include <torch/torch.h>

#include <cmath>

#include "core/model/dropout.h"
#include "core/base/error.h"

namespace lc = layerscope::core;

TEST(CoreDropout, RateAndScaleMatchP) {
  torch::manual_seed(7);
  for (double p : {0.05, 0.3}) {
    const int64_t n = 1 << 20;
    auto m = lc::dropoutKeepScale({1024, 1024}, p);
    ASSERT_EQ(m.scalar_type(), torch::kFloat32);
    const double dropped = (m == 0).sum().item<double>() / double(n);
    // Binomial: std sqrt(p(1-p)/n) < 5e-4; 6 std.
    EXPECT_NEAR(dropped, p, 6 * std::sqrt(p * (1 - p) / n)) << "p = " << p;
    const auto kept = m.masked_select(m != 0);
    EXPECT_FLOAT_EQ(kept.min().item<float>(), float(1 / (1 - p)));
    EXPECT_FLOAT_EQ(kept.max().item<float>(), float(1 / (1 - p)));
    // Unbiased: E[mask] = 1.
    EXPECT_NEAR(m.mean().item<double>(), 1.0, 0.01);
  }
}

TEST(CoreDropout, NeighboursAreIndependent) {
  // Four elements share one 64-bit draw: adjacent entries must still be uncorrelated.
  torch::manual_seed(3);
  auto d = (lc::dropoutKeepScale({1 << 20}, 0.5) == 0).to(torch::kFloat64);
  auto a = d.narrow(0, 0, d.size(0) - 1), b = d.narrow(0, 1, d.size(0) - 1);
  const double both = (a * b).mean().item<double>();
  EXPECT_NEAR(both, 0.25, 0.003);
}

TEST(CoreDropout, SeededAndThreadCountIndependent) {
  const int threads = torch::get_num_threads();
  torch::manual_seed(11);
  auto a = lc::dropoutKeepScale({300, 777}, 0.1);
  auto a2 = lc::dropoutKeepScale({300, 777}, 0.1);
  torch::set_num_threads(1);
  torch::manual_seed(11);
  auto b = lc::dropoutKeepScale({300, 777}, 0.1);
  torch::set_num_threads(threads);
  EXPECT_TRUE(torch::equal(a, b));
  EXPECT_FALSE(torch::equal(a, a2));  // the next mask is a new draw
}

TEST(CoreDropout, ZeroKeepsEverythingAndBadPThrows) {
  torch::manual_seed(1);
  EXPECT_TRUE(torch::equal(lc::dropoutKeepScale({5, 7}, 0.0), torch::ones({5, 7})));
  EXPECT_THROW(lc::dropoutKeepScale({2}, 1.0), layerscope::InvalidArgument);
  EXPECT_THROW(lc::dropoutKeepScale({2}, -0.1), layerscope::InvalidArgument);
  EXPECT_THROW(lc::dropoutKeepScale({2}, std::nan("")), layerscope::InvalidArgument);
}
