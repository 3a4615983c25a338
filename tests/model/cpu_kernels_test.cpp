// cpu_kernels.h: the fused RMSNorm loop against LibTorch's operations (HF's numerics) in float32 and bfloat16, for
// the layouts the forward passes (batched rows, narrowed columns, one row), against float64, and against its formula
// written out at every size; the RoPE loop against HF's formula written out, on the forward's strided queries and
// broadcast angles; silu(gate) * up against LibTorch's operations to the bit; and the fall-back to the operations
// where the loops do not apply (float64, an operand that needs a gradient, RoPE inputs above its size limit).
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
}

namespace {

// The RMSNorm loop's formula written out (cpu_kernels.cpp), one element at a time: the mean square in float64 over
// four running sums (element i of the whole groups of four into sum i mod 4, the rest into the first), the inverse
// root in float32, x * inv rounded to the dtype, then w * that rounded to the dtype.
torch::Tensor rmsNormFormula(const torch::Tensor& x, const torch::Tensor& w, double eps) {
  const auto xr = x.reshape({-1, x.size(-1)}).to(torch::kFloat32).contiguous();
  const auto wf = w.to(torch::kFloat32).contiguous();
  const int64_t rows = xr.size(0), D = xr.size(1);
  auto out = torch::empty({rows, D});
  const auto round = [&](float v) { return x.scalar_type() == torch::kBFloat16 ? float(c10::BFloat16(v)) : v; };
  for (int64_t r = 0; r < rows; ++r) {
    const float* a = xr.data_ptr<float>() + r * D;
    double part[4] = {0, 0, 0, 0};
    int64_t i = 0;
    for (; i + 4 <= D; i += 4)
      for (int j = 0; j < 4; ++j) part[j] += double(a[i + j]) * double(a[i + j]);
    for (; i < D; ++i) part[0] += double(a[i]) * double(a[i]);
    const double ss = (part[0] + part[1]) + (part[2] + part[3]);
    const float inv = 1.0f / std::sqrt(float(ss / double(D)) + float(eps));
    float* o = out.data_ptr<float>() + r * D;
    for (i = 0; i < D; ++i) o[i] = round(wf.data_ptr<float>()[i] * round(a[i] * inv));
  }
  return out.to(x.scalar_type()).view(x.sizes());
}

}  // namespace

// The loop at every size (rows split over threads, vectorised rows where the CPU has AVX2, odd widths with scalar
// tails) is its formula to the bit, and within the summation order of the operations.
TEST(CpuKernels, RmsNormLoopIsItsFormulaAtEverySize) {
  torch::manual_seed(9);
  torch::NoGradGuard noGrad;
  for (const auto dtype : {torch::kFloat32, torch::kBFloat16})
    for (const auto& shape : {std::vector<int64_t>{1, 3, 37}, {2, 300, 301}, {1, 128, 2048}, {4, 7}}) {
      const auto x = (torch::randn(shape) * 3).to(dtype), w = (torch::rand({shape.back()}) + 0.5).to(dtype);
      const auto got = lc::rmsNorm(x, w, 1e-5);
      const std::string what = c10::toString(dtype) + std::string(" ") + c10::str(x.sizes());
      EXPECT_TRUE(torch::equal(got, rmsNormFormula(x, w, 1e-5))) << what;
      EXPECT_LE(ulps(got, lc::rmsNormOps(x, w, 1e-5), dtype), dtype == torch::kFloat32 ? 4.0 : 1.0) << what;
    }
}

namespace {

// HF's apply_rotary_pos_emb written out: x * cos + rotate_half(x) * sin, rotate_half(x) = [-x2, x1].
torch::Tensor hfRope(const torch::Tensor& x, const torch::Tensor& cos, const torch::Tensor& sin) {
  const int64_t half = x.size(-1) / 2;
  return x * cos + torch::cat({-x.narrow(-1, half, half), x.narrow(-1, 0, half)}, -1) * sin;
}

torch::Tensor signedSin(const torch::Tensor& sin) {
  const int64_t half = sin.size(-1) / 2;
  return torch::cat({-sin.narrow(-1, 0, half), sin.narrow(-1, half, half)}, -1);
}

}  // namespace

// The loop and the operations round as HF does (two products, then the sum), so both are HF's formula to the bit, in
// both dtypes, for the forward's layouts: queries [B,G,R,T,Dh] as a strided view of the projection, keys [B,G,T,Dh],
// and angles shared by the batch and heads [1,1,1,T,Dh] or per row and KV head [B,G,1,T,Dh] (per-row multipliers).
TEST(CpuKernels, RopeIsHfsFormula) {
  torch::manual_seed(11);
  torch::NoGradGuard noGrad;
  const int64_t B = 2, G = 2, R = 3, T = 9, Dh = 16;
  for (const auto dtype : {torch::kFloat32, torch::kBFloat16}) {
    const auto q = (torch::randn({B, T, G * R, Dh}) * 2).to(dtype).transpose(1, 2).reshape({B, G, R, T, Dh});
    const auto k = torch::randn({B, G, T, Dh}).to(dtype);
    ASSERT_FALSE(q.is_contiguous());
    for (const auto& ang : {torch::randn({1, 1, 1, T, Dh / 2}) * 5, torch::randn({B, G, 1, T, Dh / 2}) * 5}) {
      const auto emb = torch::cat({ang, ang}, -1);
      const auto cos = emb.cos().to(dtype), sin = emb.sin().to(dtype);
      const auto got = lc::rope(q, cos, signedSin(sin));
      ASSERT_TRUE(got.is_contiguous());
      EXPECT_TRUE(torch::equal(got, hfRope(q, cos, sin))) << c10::toString(dtype) << " queries";
      const auto cosK = cos.squeeze(2), sinK = sin.squeeze(2);  // [B|1, G|1, T, Dh]
      EXPECT_TRUE(torch::equal(lc::rope(k, cosK, signedSin(sinK)), hfRope(k, cosK, sinK))) << c10::toString(dtype) << " keys";
      EXPECT_TRUE(torch::equal(lc::ropeOps(q, cos, signedSin(sin)), got)) << c10::toString(dtype) << " operations";
    }
  }
}

TEST(CpuKernels, RopeFallsBackToTheOperations) {
  torch::manual_seed(12);
  const auto ang = torch::randn({1, 6, 8});
  const auto cos = torch::cat({ang, ang}, -1).cos(), sin = signedSin(torch::cat({ang, ang}, -1).sin());
  const auto x = torch::randn({2, 6, 16}).requires_grad_(true);
  const auto y = lc::rope(x, cos, sin);
  ASSERT_TRUE(y.requires_grad());
  y.sum().backward();
  EXPECT_TRUE(x.grad().defined());
  torch::NoGradGuard noGrad;
  const auto x64 = torch::randn({2, 6, 16}, torch::kFloat64);
  EXPECT_TRUE(torch::equal(lc::rope(x64, cos.to(torch::kFloat64), sin.to(torch::kFloat64)),
                           lc::ropeOps(x64, cos.to(torch::kFloat64), sin.to(torch::kFloat64))));
  const auto big = torch::randn({64, 128, 16});  // above the loop's size limit
  EXPECT_TRUE(torch::equal(lc::rope(big, cos.squeeze(0).narrow(0, 0, 1), sin.squeeze(0).narrow(0, 0, 1)),
                           lc::ropeOps(big, cos.squeeze(0).narrow(0, 0, 1), sin.squeeze(0).narrow(0, 0, 1))));
}

namespace {

// Bit for bit where the operations give a number; NaN where they give NaN (whose payload LibTorch's kernels vary).
void expectSameBf16(const torch::Tensor& got, const torch::Tensor& want, const std::string& what) {
  ASSERT_EQ(got.sizes(), want.sizes()) << what;
  const auto nan = want.isnan();
  EXPECT_TRUE(torch::equal(got.isnan(), nan)) << what;
  const auto g = got.contiguous().view(torch::kInt16), w = want.contiguous().view(torch::kInt16);
  EXPECT_TRUE(torch::equal(g.masked_select(nan.logical_not()), w.masked_select(nan.logical_not()))) << what;
}

}  // namespace

// The fused silu(gate) * up is LibTorch's torch::silu(gate) * up to the bit in bfloat16: every one of the 65,536 gate
// values, the forward's layouts (contiguous, a narrowed fused [gate; up] projection, odd widths, one row) and a size
// that the pass splits over threads.
TEST(CpuKernels, SiluMulIsLibTorchsInBfloat16) {
  torch::manual_seed(13);
  torch::NoGradGuard noGrad;
  const auto bf = torch::kBFloat16;
  const auto every = torch::arange(0, 65536, torch::kInt32).to(torch::kInt16).view(bf).view({256, 256});
  for (const auto& up : {torch::ones({256, 256}).to(bf), (torch::randn({256, 256}) * 4).to(bf)})
    expectSameBf16(lc::siluMul(every, up), lc::siluMulOps(every, up), "every gate value");
  const auto both = (torch::randn({5, 7, 96}) * 3).to(bf);
  const auto gate = both.narrow(-1, 0, 48), up = both.narrow(-1, 48, 48);
  ASSERT_FALSE(gate.is_contiguous());
  expectSameBf16(lc::siluMul(gate, up), lc::siluMulOps(gate, up), "narrowed fused projection");
  for (const auto& shape : {std::vector<int64_t>{2, 3, 37}, {1, 1, 5}, {1, 128, 8192}}) {
    const auto g = (torch::randn(shape) * 3).to(bf), u = torch::randn(shape).to(bf);
    const auto got = lc::siluMul(g, u);
    ASSERT_TRUE(got.is_contiguous());
    expectSameBf16(got, lc::siluMulOps(g, u), "shape " + c10::str(g.sizes()));
  }
}

TEST(CpuKernels, SiluMulFallsBackToTheOperations) {
  torch::manual_seed(14);
  const auto g = torch::randn({3, 40}), u = torch::randn({3, 40});
  EXPECT_TRUE(torch::equal(lc::siluMul(g, u), lc::siluMulOps(g, u))) << "float32";
  const auto gb = g.to(torch::kBFloat16).requires_grad_(true);
  const auto y = lc::siluMul(gb, u.to(torch::kBFloat16));
  ASSERT_TRUE(y.requires_grad()) << "an operand that needs a gradient takes the differentiable operations";
  y.sum().backward();
  EXPECT_TRUE(gb.grad().defined());
  torch::NoGradGuard noGrad;
  EXPECT_THROW(lc::siluMul(g.to(torch::kBFloat16), u.to(torch::kBFloat16).narrow(1, 0, 20)), c10::Error)
      << "shapes that do not match are LibTorch's error";
}
