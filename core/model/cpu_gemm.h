// Float32 products on the CPU through oneDNN's sgemm (docs/performance.md, "oneDNN for float32 products").
//
// LibTorch 1.13 from Debian multiplies float32 matrices with OpenBLAS, whose per-call cost (packing, waking its own
// thread pool) dominates the small products of a forward over few tokens: a 32 x 128 x 128 projection takes about
// twice as long as in oneDNN's JIT sgemm run on one thread. oneDNN (libdnnl, the library LibTorch itself links for its
// convolutions) threads through the same OpenMP runtime as LibTorch, so it adds no second pool. The forward's
// projections and their input gradients use these functions; everything else stays on LibTorch.
//
// Built without oneDNN (no libdnnl-dev, e.g. against PyTorch's own LibTorch) or with LAYERSCOPE_CPU_GEMM=libtorch
// in the environment, every call is LibTorch's (torch::linear / torch::matmul).
#pragma once

#include <string>

#include <torch/torch.h>

namespace layerscope::core {

/// Which library computes float32 CPU products: "onednn" or "libtorch" (the build and LAYERSCOPE_CPU_GEMM decide;
/// an unknown value of the variable, or "onednn" in a build without it, throws InvalidArgument).
std::string cpuGemmLibrary();

/// x w^T + b, as torch::linear: x [..., K], w [N, K], b [N] or undefined. oneDNN computes it when every operand is
/// float32 on the CPU and no operand needs a gradient; otherwise torch::linear does (with autograd).
torch::Tensor cpuLinear(const torch::Tensor& x, const torch::Tensor& w, const torch::Tensor& b = {});

/// g w for g [..., N], w [N, K]: the input gradient of x w^T, with the same choice of library (no autograd).
torch::Tensor cpuLinearInputGradient(const torch::Tensor& g, const torch::Tensor& w);

/// g^T x summed over rows, for g [..., N] and x [..., K] with the same leading dimensions: the weight gradient of
/// x w^T, [N, K], with the same choice of library (no autograd).
torch::Tensor cpuLinearWeightGradient(const torch::Tensor& g, const torch::Tensor& x);

/// x w^T + b for a bfloat16 weight, float32 in and out: x [..., K] float32, w [N, K] bfloat16, b [N] float32 or
/// undefined; w is widened exactly to float32 (a bfloat16 is the top half of a float32) and every product is
/// accumulated in float32. The threads split w's rows into panels; each widens a panel into a buffer that stays in
/// its own cache and multiplies it on one thread, so the conversion runs in parallel and no product waits for the
/// other thread (docs/performance.md, "bfloat16 products in panels"). For inputs of fewer than kPanelMaxRows rows
/// (from 512 rows on, products.cpp's large slices multiplied on both threads are as fast). Undefined when oneDNN is
/// not in use (cpuGemmLibrary() is "libtorch"), when an operand is not as described, when an operand needs a
/// gradient, or from kPanelMaxRows rows on.
torch::Tensor cpuLinearBf16Panels(const torch::Tensor& x, const torch::Tensor& w, const torch::Tensor& b = {});

/// Input rows from which cpuLinearBf16Panels() declines (see there).
inline constexpr int64_t kPanelMaxRows = 512;

/// Whether bfloat16 CPU products run natively: oneDNN's matmul on bfloat16 operands with float32 accumulation, on
/// CPUs with bfloat16 arithmetic (AVX-512 BF16 or AMX; docs/performance.md, "Native bfloat16 products"). Decided
/// once per process from the CPU, never by timing, so a machine always computes the same sums:
/// LAYERSCOPE_CPU_BF16=auto (default: native where the CPU has it), native (an error on CPUs without it), or
/// widened (always the widened float32 products above). False in builds without oneDNN or with
/// LAYERSCOPE_CPU_GEMM=libtorch.
bool cpuNativeBf16();

/// x w^T + b in bfloat16: x [..., K], w [N, K], b [N] or undefined, all bfloat16 on the CPU; every product is
/// accumulated in float32 (bias included) and the output rounded once to bfloat16, as a bfloat16 GEMM does (and as
/// the widened products compute it, up to the order of the sums). Undefined when cpuNativeBf16() is false, when an
/// operand is not as described, when an operand needs a gradient, or when oneDNN has only its reference
/// implementation for the shape.
torch::Tensor cpuLinearBf16Native(const torch::Tensor& x, const torch::Tensor& w, const torch::Tensor& b = {});

/// g w for g [..., N], w [N, K], bfloat16 on the CPU: the input gradient of x w^T, natively as above (undefined
/// under the same conditions).
torch::Tensor cpuLinearInputGradientBf16Native(const torch::Tensor& g, const torch::Tensor& w);

}  // namespace layerscope::core
