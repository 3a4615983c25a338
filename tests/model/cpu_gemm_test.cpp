// cpu_gemm.h: oneDNN's float32 products against LibTorch's in float64, for the operand layouts the forward passes
// (batched inputs, narrowed columns of a fused projection, a transposed weight, a bias, one-dimensional inputs), and
// the fall-back to LibTorch's autograd when an operand needs a gradient; the weight gradient, and linearAcc's own
// autograd for a trained float32 weight (LoRA).
#include <cmath>

#include <gtest/gtest.h>

#include "core/model/cpu_gemm.h"
#include "core/model/products.h"

namespace lc = layerscope::core;

namespace {

double relError(const torch::Tensor& got, const torch::Tensor& want) {
  return (got.to(torch::kFloat64) - want).abs().max().item<double>() / want.abs().max().item<double>();
}

}  // namespace

TEST(CpuGemm, LinearMatchesFloat64ForTheForwardsLayouts) {
  torch::manual_seed(3);
  torch::NoGradGuard noGrad;
  const auto x3 = torch::randn({3, 37, 96});
  const auto fused = torch::randn({8, 37, 300});  // a fused q/k/v output: narrowed columns have a row stride of 300
  const auto w = torch::randn({130, 96});
  const auto b = torch::randn({130});
  struct Case {
    const char* what;
    torch::Tensor x, w, b;
  } cases[] = {
      {"batched", x3, w, {}},
      {"bias", x3, w, b},
      {"narrowed input columns", fused.narrow(-1, 100, 96), w, b},
      {"one row", x3[0][0], w, b},
      {"transposed weight", x3, torch::randn({96, 130}).t(), {}},
      {"many rows (two threads)", torch::randn({1024, 96}), w, b},
  };
  for (const auto& c : cases) {
    const auto want = torch::linear(c.x.to(torch::kFloat64), c.w.to(torch::kFloat64),
                                    c.b.defined() ? c.b.to(torch::kFloat64) : c.b);
    const auto got = lc::cpuLinear(c.x, c.w, c.b);
    EXPECT_EQ(got.sizes(), want.sizes()) << c.what;
    EXPECT_EQ(got.scalar_type(), torch::kFloat32) << c.what;
    EXPECT_LT(relError(got, want), 1e-5) << c.what;
  }
}

TEST(CpuGemm, InputGradientMatchesFloat64) {
  torch::manual_seed(4);
  torch::NoGradGuard noGrad;
  const auto w = torch::randn({130, 96});
  for (const auto& g : {torch::randn({3, 37, 130}), torch::randn({5, 300}).narrow(-1, 20, 130), torch::randn({130})}) {
    const auto want = torch::matmul(g.to(torch::kFloat64), w.to(torch::kFloat64));
    const auto got = lc::cpuLinearInputGradient(g, w);
    EXPECT_EQ(got.sizes(), want.sizes());
    EXPECT_LT(relError(got, want), 1e-5);
  }
}

TEST(CpuGemm, WeightGradientMatchesFloat64) {
  torch::manual_seed(5);
  torch::NoGradGuard noGrad;
  struct Case {
    const char* what;
    torch::Tensor g, x;
  } cases[] = {
      {"batched", torch::randn({3, 37, 16}), torch::randn({3, 37, 96})},
      {"narrowed columns", torch::randn({40, 300}).narrow(-1, 20, 130), torch::randn({40, 200}).narrow(-1, 7, 96)},
      {"one row", torch::randn({16}), torch::randn({96})},
      {"many rows (two threads)", torch::randn({2048, 16}), torch::randn({2048, 512})},
  };
  for (const auto& c : cases) {
    const auto rows = [](const torch::Tensor& t) { return t.reshape({-1, t.size(-1)}).to(torch::kFloat64); };
    const auto want = torch::matmul(rows(c.g).t(), rows(c.x));
    const auto got = lc::cpuLinearWeightGradient(c.g, c.x);
    EXPECT_EQ(got.sizes(), want.sizes()) << c.what;
    EXPECT_LT(relError(got, want), 1e-5) << c.what;
  }
  EXPECT_THROW(lc::cpuLinearWeightGradient(torch::randn({4, 16}), torch::randn({5, 96})), c10::Error)
      << "rows that do not pair up are LibTorch's error";
}

// A trained float32 weight (LoRA's A and B): linearAcc's own autograd gives the float64 gradients of both operands.
TEST(CpuGemm, TrainedWeightProductAndGradientsMatchFloat64) {
  torch::manual_seed(6);
  const auto x0 = torch::randn({4, 33, 96}), w0 = torch::randn({16, 96}) * 0.1, r = torch::randn({4, 33, 16});
  const auto x = x0.clone().requires_grad_(true), w = w0.clone().requires_grad_(true);
  const auto y = lc::linearAcc(x, w);
  ASSERT_TRUE(y.grad_fn());
  EXPECT_NE(y.grad_fn()->name().find("TrainedWeightLinear"), std::string::npos) << y.grad_fn()->name();
  (y * r).sum().backward();
  const auto x64 = x0.to(torch::kFloat64).requires_grad_(true), w64 = w0.to(torch::kFloat64).requires_grad_(true);
  const auto y64 = torch::linear(x64, w64);
  (y64 * r.to(torch::kFloat64)).sum().backward();
  EXPECT_LT(relError(y.detach(), y64.detach()), 1e-5);
  EXPECT_LT(relError(x.grad(), x64.grad()), 1e-5);
  EXPECT_LT(relError(w.grad(), w64.grad()), 1e-5);
  // Only the weight trained (a frozen input): no input gradient is computed or needed.
  const auto w2 = w0.clone().requires_grad_(true);
  lc::linearAcc(x0, w2).sum().backward();
  EXPECT_LT(relError(w2.grad(), x0.reshape({-1, 96}).to(torch::kFloat64).sum(0).expand({16, 96})), 1e-5);
}

// An operand that needs a gradient goes through LibTorch, whose autograd records the product.
TEST(CpuGemm, OperandsThatNeedAGradientKeepAutograd) {
  const auto x = torch::randn({4, 16}).requires_grad_(true);
  const auto w = torch::randn({8, 16});
  const auto y = lc::cpuLinear(x, w);
  ASSERT_TRUE(y.requires_grad());
  y.sum().backward();
  EXPECT_TRUE(torch::allclose(x.grad(), w.sum(0).expand({4, 16})));
  EXPECT_TRUE(lc::cpuGemmLibrary() == "onednn" || lc::cpuGemmLibrary() == "libtorch");
}

// bfloat16 weights in panels: the exactly widened weight's product in float64, for one row, a batch, narrowed input
// columns, a bias, a weight with an odd row count that does not divide into panels, and products large enough to use
// both threads (several panels a thread) and small enough for one; declined (undefined) where it does not apply.
TEST(CpuGemm, Bf16PanelsMatchTheWidenedProduct) {
  torch::manual_seed(6);
  torch::NoGradGuard noGrad;
  if (lc::cpuGemmLibrary() != "onednn") GTEST_SKIP() << "built without oneDNN";
  const auto wide = torch::randn({37, 700});
  struct Case {
    const char* what;
    torch::Tensor x, w, b;
  } cases[] = {
      {"one row", torch::randn({96}), torch::randn({130, 96}).to(torch::kBFloat16), {}},
      {"batched, bias", torch::randn({3, 37, 96}), torch::randn({130, 96}).to(torch::kBFloat16), torch::randn({130})},
      {"narrowed input columns", wide.narrow(-1, 300, 256), torch::randn({1001, 256}).to(torch::kBFloat16), {}},
      {"two threads, odd rows", torch::randn({200, 512}), torch::randn({1531, 512}).to(torch::kBFloat16),
       torch::randn({1531})},
  };
  for (const auto& c : cases) {
    const auto want = torch::linear(c.x.to(torch::kFloat64), c.w.to(torch::kFloat64),
                                    c.b.defined() ? c.b.to(torch::kFloat64) : c.b);
    const auto got = lc::cpuLinearBf16Panels(c.x, c.w, c.b);
    ASSERT_TRUE(got.defined()) << c.what;
    EXPECT_EQ(got.sizes(), want.sizes()) << c.what;
    EXPECT_EQ(got.scalar_type(), torch::kFloat32) << c.what;
    EXPECT_LT(relError(got, want), 1e-5) << c.what;
  }
  const auto x = torch::randn({4, 96}), wb = torch::randn({8, 96}).to(torch::kBFloat16);
  EXPECT_FALSE(lc::cpuLinearBf16Panels(x, wb.to(torch::kFloat32)).defined()) << "a float32 weight";
  EXPECT_FALSE(lc::cpuLinearBf16Panels(x.to(torch::kBFloat16), wb).defined()) << "a bfloat16 input";
  EXPECT_FALSE(lc::cpuLinearBf16Panels(torch::randn({4, 95}), wb).defined()) << "mismatched inner size";
  EXPECT_FALSE(lc::cpuLinearBf16Panels(torch::randn({lc::kPanelMaxRows, 96}), wb).defined()) << "many rows";
  torch::GradMode::set_enabled(true);
  EXPECT_FALSE(lc::cpuLinearBf16Panels(x.clone().requires_grad_(true), wb).defined()) << "an input that needs a gradient";
}

// cpuNativeBf16: oneDNN's bfloat16 matmul on CPUs with bfloat16 arithmetic. Each output is the float32 sum of exact
// products rounded once to bfloat16, so it lies within one bfloat16 step (2^-7 relative) of the float64 product
// rounded to bfloat16, and within half a step of the float64 product.
TEST(CpuGemm, NativeBf16IsTheRoundedBfloat16Product) {
  torch::manual_seed(7);
  torch::NoGradGuard noGrad;
  if (!lc::cpuNativeBf16()) GTEST_SKIP() << "this CPU (or LAYERSCOPE_CPU_BF16) uses the widened bfloat16 products";
  const auto bf = [](const torch::Tensor& t) { return t.to(torch::kBFloat16); };
  const auto wide = bf(torch::randn({37, 700}));
  struct Case {
    const char* what;
    torch::Tensor x, w, b;
  } cases[] = {
      {"one row", bf(torch::randn({96})), bf(torch::randn({130, 96})), {}},
      {"batched, bias", bf(torch::randn({3, 37, 96})), bf(torch::randn({130, 96})), bf(torch::randn({130}))},
      {"narrowed input columns", wide.narrow(-1, 300, 256), bf(torch::randn({1001, 256})), {}},
      {"two threads, odd rows", bf(torch::randn({200, 512})), bf(torch::randn({1531, 512})), bf(torch::randn({1531}))},
      {"many rows", bf(torch::randn({700, 64})), bf(torch::randn({96, 64})), {}},
  };
  const auto check = [](const char* what, const torch::Tensor& got, const torch::Tensor& want64) {
    ASSERT_TRUE(got.defined()) << what;
    EXPECT_EQ(got.sizes(), want64.sizes()) << what;
    EXPECT_EQ(got.scalar_type(), torch::kBFloat16) << what;
    const auto diff = (got.to(torch::kFloat64) - want64).abs();
    // half a bfloat16 step of the exact value (the rounding) plus the float32 sums' own error
    const auto bound = want64.abs() * std::ldexp(1.0, -8) + 1e-5 * want64.abs().max();
    EXPECT_TRUE((diff <= bound).all().item<bool>())
        << what << ": largest excess " << (diff - bound).max().item<double>();
  };
  for (const auto& c : cases) {
    const auto want = torch::linear(c.x.to(torch::kFloat64), c.w.to(torch::kFloat64),
                                    c.b.defined() ? c.b.to(torch::kFloat64) : c.b);
    check(c.what, lc::cpuLinearBf16Native(c.x, c.w, c.b), want);
    // the same product again: the primitive built for this shape is reused
    EXPECT_TRUE(lc::cpuLinearBf16Native(c.x, c.w, c.b).equal(lc::cpuLinearBf16Native(c.x, c.w, c.b))) << c.what;
  }
  const auto g = bf(torch::randn({5, 7, 130})), w = bf(torch::randn({130, 96}));
  check("input gradient", lc::cpuLinearInputGradientBf16Native(g, w),
        torch::matmul(g.to(torch::kFloat64), w.to(torch::kFloat64)));

  const auto x = bf(torch::randn({4, 96})), wb = bf(torch::randn({8, 96}));
  EXPECT_FALSE(lc::cpuLinearBf16Native(x, wb.to(torch::kFloat32)).defined()) << "a float32 weight";
  EXPECT_FALSE(lc::cpuLinearBf16Native(x.to(torch::kFloat32), wb).defined()) << "a float32 input";
  EXPECT_FALSE(lc::cpuLinearBf16Native(x, wb, torch::randn({8})).defined()) << "a float32 bias";
  EXPECT_FALSE(lc::cpuLinearBf16Native(bf(torch::randn({4, 95})), wb).defined()) << "mismatched inner size";
  EXPECT_FALSE(lc::cpuLinearBf16Native(x, wb, bf(torch::randn({9}))).defined()) << "mismatched bias";
  torch::GradMode::set_enabled(true);
  EXPECT_FALSE(lc::cpuLinearBf16Native(x.clone().requires_grad_(true), wb).defined()) << "an input that needs a gradient";
}
