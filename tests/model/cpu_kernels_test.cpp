// cpu_kernels.h: the fused RMSNorm loop against LibTorch's operations (HF's numerics) in float32 and bfloat16, for
// the layouts the forward passes (batched rows, narrowed columns, one row) and against float64, and the fall-back to
// the operations where the loop does not apply (float64, an operand that needs a gradient, inputs above the size
// limit).
#include <gtest/gtest.h>

#include <cstdlib>

#include "core/base/env_choice.h"
#include "core/base/error.h"
#include "core/model/cpu_kernels.h"

namespace lc = layerscope::core;

namespace {

// Largest difference in units of the last place of `dtype` at the reference value's magnitude.
double ulps(const torch::Tensor& got, const torch::Tensor& want, torch::ScalarType dtype) {
  const double eps = dtype == torch::kBFloat16 ? std::ldexp(1.0, -7) : std::ldexp(1.0, -23);
  const auto w = want.to(torch::kFloat64), g = got.to(torch::kFloat64);
  return ((g - w).abs() / (w.abs().clamp_min(1e-30) * eps)).max().item<double>();
}

}  // namespace

TEST(CpuKernels, FusedByDefault) { EXPECT_EQ(lc::cpuKernelMode(), "fused"); }

// The LAYERSCOPE_* switches share one reader: unset or empty is "", a listed value is itself, a typo names the
// variable and every value.
TEST(CpuKernels, EnvironmentSwitchesRejectUnknownValues) {
  ::unsetenv("LAYERSCOPE_TEST_SWITCH");
  EXPECT_EQ(lc::envChoice("LAYERSCOPE_TEST_SWITCH", {"a", "b"}), "");
  ::setenv("LAYERSCOPE_TEST_SWITCH", "b", 1);
  EXPECT_EQ(lc::envChoice("LAYERSCOPE_TEST_SWITCH", {"a", "b"}), "b");
  ::setenv("LAYERSCOPE_TEST_SWITCH", "c", 1);
  try {
    lc::envChoice("LAYERSCOPE_TEST_SWITCH", {"auto", "onednn", "libtorch"});
    ADD_FAILURE() << "no error for an unknown value";
  } catch (const layerscope::InvalidArgument& e) {
    EXPECT_STREQ(e.what(), "LAYERSCOPE_TEST_SWITCH must be 'auto', 'onednn' or 'libtorch', found 'c'");
  }
  ::unsetenv("LAYERSCOPE_TEST_SWITCH");
}

TEST(CpuKernels, RmsNormMatchesTheOperations) {
  torch::manual_seed(5);
  torch::NoGradGuard noGrad;
  for (const auto dtype : {torch::kFloat32, torch::kBFloat16}) {
    const auto wide = (torch::randn({2, 32, 300}) * 3).to(dtype);
    const auto w = (torch::rand({128}) + 0.5).to(dtype);
    for (const auto& x : {(torch::randn({1, 32, 128}) * 4).to(dtype), wide.narrow(-1, 100, 128), torch::randn({128}).to(dtype)}) {
      const auto got = lc::rmsNorm(x, w, 1e-5), want = lc::rmsNormOps(x, w, 1e-5);
      ASSERT_EQ(got.sizes(), want.sizes());
      ASSERT_EQ(got.scalar_type(), dtype);
      // float32: the mean square's summation order only; bfloat16: at most one rounding of the result apart.
      EXPECT_LE(ulps(got, want, dtype), dtype == torch::kFloat32 ? 4.0 : 1.0) << c10::toString(dtype);
      if (dtype == torch::kBFloat16) {  // rarely a different rounding, never a different formula
        EXPECT_GT(torch::eq(got, want).to(torch::kFloat64).mean().item<double>(), 0.99);
      }
    }
  }
}

TEST(CpuKernels, RmsNormAgainstFloat64) {
  torch::manual_seed(7);
  const auto x = torch::randn({3, 17, 64}), w = torch::rand({64}) + 0.5;
  const auto x64 = x.to(torch::kFloat64);
  const auto exact = w.to(torch::kFloat64) * x64 * (x64.pow(2).mean(-1, true) + 1e-6).rsqrt();
  torch::NoGradGuard noGrad;
  EXPECT_LT((lc::rmsNorm(x, w, 1e-6).to(torch::kFloat64) - exact).abs().max().item<double>(), 1e-5);
}

// Where the loops do not apply, the result is LibTorch's, with autograd.
TEST(CpuKernels, FallsBackToTheOperations) {
  torch::manual_seed(8);
  const auto w = torch::rand({64}) + 0.5;
  const auto x = torch::randn({4, 64}).requires_grad_(true);
  const auto y = lc::rmsNorm(x, w, 1e-6);
  ASSERT_TRUE(y.requires_grad());
  y.sum().backward();
  EXPECT_TRUE(x.grad().defined());
  torch::NoGradGuard noGrad;
  const auto x64 = torch::randn({4, 64}, torch::kFloat64);
  EXPECT_TRUE(torch::equal(lc::rmsNorm(x64, w.to(torch::kFloat64), 1e-6), lc::rmsNormOps(x64, w.to(torch::kFloat64), 1e-6)));
  const auto big = torch::randn({512, 256}), wb = torch::rand({256});  // above the loop's size limit
  EXPECT_TRUE(torch::equal(lc::rmsNorm(big, wb, 1e-6), lc::rmsNormOps(big, wb, 1e-6)));
}
