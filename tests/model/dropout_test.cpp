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

// applyDropout is x * the mask dropoutKeepScale would draw at the same point of the generator, to the bit, with and
// without autograd, for a contiguous and a strided input; its gradient is the upstream gradient times that mask; the
// generator advances as it would (so training runs keep their masks); and other dtypes take the product.
TEST(CoreDropout, ApplyDropoutIsTheProductWithTheMask) {
  const auto x = torch::randn({6, 33, 40}) * 3;
  for (const auto& in : {x, x.transpose(0, 1)}) {
    torch::manual_seed(21);
    const auto mask = lc::dropoutKeepScale(in.sizes(), 0.3);
    const auto next = torch::randint(0, 1000, {1}).item<int64_t>();
    const auto want = in * mask;
    torch::manual_seed(21);
    {
      torch::NoGradGuard noGrad;
      EXPECT_TRUE(torch::equal(lc::applyDropout(in, 0.3), want)) << "outside autograd";
    }
    EXPECT_EQ(torch::randint(0, 1000, {1}).item<int64_t>(), next) << "one seed drawn per mask";
    torch::manual_seed(21);
    const auto leaf = in.detach().clone().requires_grad_(true);
    const auto y = lc::applyDropout(leaf, 0.3);
    EXPECT_TRUE(torch::equal(y.detach(), want)) << "under autograd";
    const auto g = torch::randn(in.sizes());
    y.backward(g);
    EXPECT_TRUE(torch::equal(leaf.grad(), g * mask)) << "gradient";
  }
  torch::manual_seed(22);
  const auto x64 = torch::randn({5, 9}, torch::kFloat64);
  torch::manual_seed(23);
  const auto want64 = x64 * lc::dropoutKeepScale(x64.sizes(), 0.1);
  torch::manual_seed(23);
  EXPECT_TRUE(torch::equal(lc::applyDropout(x64, 0.1), want64)) << "float64 takes the product";
  EXPECT_THROW(lc::applyDropout(x, 1.0), layerscope::InvalidArgument);
}
