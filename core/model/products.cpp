// The forward's products in the compute dtype (products.h).
#include "core/model/products.h"

#include <algorithm>

#include <torch/csrc/autograd/custom_function.h>

#include "core/model/cpu_gemm.h"

namespace layerscope::core {

namespace {

// GEMMs in the compute dtype. On CPUs with bfloat16 arithmetic (AVX-512 BF16, AMX) oneDNN multiplies bfloat16
// operands natively (cpu_gemm.h, cpuNativeBf16). Elsewhere LibTorch 1.13 has no vectorised bfloat16 GEMM (it runs a
// scalar loop at ~0.5 GFLOP/s), so bfloat16 products are computed from the exactly widened float32 operands with
// float32 accumulation (what a bfloat16 GEMM with a float32 accumulator computes) and rounded once to bfloat16.
bool widenGemm(const torch::Tensor& x) { return x.scalar_type() == torch::kBFloat16 && x.device().is_cpu(); }

// Widened weights are converted in slices, each multiplied right after its conversion: the output projection of a
// 128k vocabulary would otherwise need a 2 GB float32 copy on every forward, and a slice small enough to stay in
// cache is read back from there instead of from memory. With few input rows the conversion is most of the work and
// small slices win; with many rows the product is, and large slices (larger GEMMs) win. Measured on the 1.1B preset
// (bfloat16, 2 cores, docs/performance.md): 128 rows reach 85% of the GEMM rate with 2^18-element slices and 45%
// with 2^24; 256 rows 86% with 2^20 and 79% with 2^24; 512 rows 98.6% with 2^24 and 66% with 2^18. Hence about
// 2^18 (rows / 128)^3 elements, between 2^18 and 2^24 (1 to 64 MB in float32). Each output column is the same dot
// product either way.
int64_t widenSliceElements(int64_t rows) {
  const double r = double(rows) / 128.0;
  return int64_t(std::clamp(double(int64_t(1) << 18) * r * r * r, double(int64_t(1) << 18), double(int64_t(1) << 24)));
}

torch::Tensor widenedLinear(const torch::Tensor& x, const torch::Tensor& w, const torch::Tensor& b) {
  // CPUs with bfloat16 arithmetic multiply the bfloat16 operands themselves (cpu_gemm.h, cpuNativeBf16).
  if (torch::Tensor y = cpuLinearBf16Native(x, w, b); y.defined()) return y;
  const torch::Tensor xf = x.to(torch::kFloat32);
  const torch::Tensor bf = b.defined() ? b.to(torch::kFloat32) : b;
  // Fewer than kPanelMaxRows rows: each thread widens and multiplies its own panels of w (cpu_gemm.h); at 128 rows of
  // the 1.1B preset 45-50 tok/s against 40-41 with the slices below.
  if (torch::Tensor y = cpuLinearBf16Panels(xf, w, bf); y.defined()) return y.to(x.scalar_type());
  const int64_t slice = widenSliceElements(x.numel() / std::max<int64_t>(1, x.size(-1)));
  if (w.numel() <= slice) return cpuLinear(xf, w.to(torch::kFloat32), bf).to(x.scalar_type());
  const int64_t out = w.size(0), rows = std::max<int64_t>(1, slice / w.size(1));
  std::vector<torch::Tensor> parts;
  for (int64_t r = 0; r < out; r += rows) {
    const int64_t n = std::min(rows, out - r);
    parts.push_back(cpuLinear(xf, w.narrow(0, r, n).to(torch::kFloat32), bf.defined() ? bf.narrow(0, r, n) : bf)
                        .to(x.scalar_type()));
  }
  return torch::cat(parts, -1);
}

// d(x W^T)/dx = grad W, with W widened slice by slice as above.
torch::Tensor widenedInputGradient(const torch::Tensor& grad, const torch::Tensor& w) {
  if (torch::Tensor g = cpuLinearInputGradientBf16Native(grad, w); g.defined()) return g;
  const torch::Tensor gf = grad.to(torch::kFloat32);
  const int64_t slice = widenSliceElements(grad.numel() / std::max<int64_t>(1, grad.size(-1)));
  if (w.numel() <= slice) return cpuLinearInputGradient(gf, w.to(torch::kFloat32)).to(grad.scalar_type());
  const int64_t out = w.size(0), rows = std::max<int64_t>(1, slice / w.size(1));
  torch::Tensor sum;
  for (int64_t r = 0; r < out; r += rows) {
    const int64_t n = std::min(rows, out - r);
    torch::Tensor part = cpuLinearInputGradient(gf.narrow(-1, r, n), w.narrow(0, r, n).to(torch::kFloat32));
    sum = sum.defined() ? sum.add_(part) : part;
  }
  return sum.to(grad.scalar_type());
}

// A CPU product with a frozen weight: widened for bfloat16, oneDNN's sgemm for float32 (cpu_gemm.h).
torch::Tensor denseLinear(const torch::Tensor& x, const torch::Tensor& w, const torch::Tensor& b) {
  return widenGemm(x) ? widenedLinear(x, w, b) : cpuLinear(x, w, b);
}

// The CPU product when the input needs a gradient but the weight does not (every projection behind the gradient
// RoPE influence and adapter training: the base weights are frozen). For bfloat16, plain autograd would save the
// float32 copy of the weight for the input's gradient, i.e. a float32 copy of every projection the backward goes
// through, twice the bfloat16 model (about 32 GB on an 8B model). This function saves the weight itself (the
// tensor already held, no copy) and widens it again in the backward; values and gradients are the same. For float32
// it lets both directions use oneDNN's sgemm. The weight and bias travel wrapped, so autograd sees one
// differentiable input, x.
struct FrozenParameters {
  torch::Tensor w, b;
};
struct FrozenWeightLinear : torch::autograd::Function<FrozenWeightLinear> {
  static torch::Tensor forward(torch::autograd::AutogradContext* ctx, const torch::Tensor& x, FrozenParameters p) {
    ctx->saved_data["w"] = p.w;
    return denseLinear(x, p.w, p.b);
  }
  static torch::autograd::variable_list backward(torch::autograd::AutogradContext* ctx,
                                                 torch::autograd::variable_list grad) {
    const torch::Tensor w = ctx->saved_data["w"].toTensor();
    const torch::Tensor& g = grad[0];
    // x, and nothing for the wrapped parameters
    return {widenGemm(g) ? widenedInputGradient(g, w) : cpuLinearInputGradient(g, w), torch::Tensor()};
  }
};

// A float32 CPU product whose weight is trained (LoRA's A and B): oneDNN's sgemm in both directions, where
// LibTorch's own autograd would send the product and its two gradients to OpenBLAS, 2-3x slower on these skinny
// shapes (rank 16 against the model's widths; docs/performance.md). Same values up to the order of the sums.
struct TrainedWeightLinear : torch::autograd::Function<TrainedWeightLinear> {
  static torch::Tensor forward(torch::autograd::AutogradContext* ctx, const torch::Tensor& x, const torch::Tensor& w) {
    ctx->save_for_backward({x, w});
    return cpuLinear(x, w);
  }
  static torch::autograd::variable_list backward(torch::autograd::AutogradContext* ctx,
                                                 torch::autograd::variable_list grad) {
    const auto saved = ctx->get_saved_variables();
    const torch::Tensor& g = grad[0];
    return {ctx->needs_input_grad(0) ? cpuLinearInputGradient(g, saved[1]) : torch::Tensor(),
            ctx->needs_input_grad(1) ? cpuLinearWeightGradient(g, saved[0]) : torch::Tensor()};
  }
};

}  // namespace

torch::Tensor linearAcc(const torch::Tensor& x, const torch::Tensor& w, const torch::Tensor& b) {
  const bool cpuFloat32 = x.device().is_cpu() && x.scalar_type() == torch::kFloat32;
  if (!widenGemm(x) && !cpuFloat32) return torch::linear(x, w, b);  // GPUs, float64 (tests)
  const bool frozen = !w.requires_grad() && !(b.defined() && b.requires_grad());
  if (frozen && x.requires_grad() && torch::GradMode::is_enabled()) return FrozenWeightLinear::apply(x, FrozenParameters{w, b});
  if (cpuFloat32 && !frozen && !b.defined() && w.scalar_type() == torch::kFloat32 && w.device().is_cpu() &&
      torch::GradMode::is_enabled())
    return TrainedWeightLinear::apply(x, w);
  return denseLinear(x, w, b);  // LibTorch's autograd elsewhere (cpuLinear falls back)
}

torch::Tensor matmulAcc(const torch::Tensor& a, const torch::Tensor& b) {
  // Where the CPU has bfloat16 arithmetic, LibTorch's own bfloat16 matmul runs on oneDNN (as the attention
  // products of the PyTorch peer do) with float32 accumulation and one rounding.
  if (!widenGemm(a) || cpuNativeBf16()) return torch::matmul(a, b);
  return torch::matmul(a.to(torch::kFloat32), b.to(torch::kFloat32)).to(a.scalar_type());
}

}  // namespace layerscope::core
