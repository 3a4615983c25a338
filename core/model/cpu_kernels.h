// RMSNorm, the rotary embedding and silu(gate) * up on the CPU as one loop each (docs/performance.md, "Fused
// RMSNorm", "Fused RoPE", "The forward's own limit").
//
// In a forward over few tokens most of the time outside the products is LibTorch's fixed cost per operation
// (dispatch, allocation, TensorIterator set-up), and HF's RMSNorm is six operations, two of them reductions (about
// 30 us per call on the demo's 32 x 128 activations, 25 calls per forward); over many tokens its passes and
// allocations cost as much. rmsNorm computes the same numbers in one pass per row with the same roundings (float32
// statistics; the normalised value rounded to the input's dtype before the scale), accumulating the mean square in
// float64: the summation order is the only difference. The loop applies to float32 and bfloat16 CPU tensors of any
// size outside autograd (rows split over threads, AVX2 rows where the CPU has it, the same numbers either way);
// anything else (float64, a GPU, an operand that needs a gradient) takes the LibTorch operations, which are also the
// reference the tests compare with.
// The rotary embedding is three operations per tensor (a concatenation for rotate_half, a product, a fused
// multiply-add), twice a layer; its loop computes each element with the same two roundings in the same order, under
// the same conditions, on one thread up to 2^16 elements (above that LibTorch's vectorised operations win).
// LAYERSCOPE_CPU_KERNELS=ops in the environment turns the loops off, for comparisons.
#pragma once

#include <string>

#include <torch/torch.h>

namespace layerscope::core {

/// HF LlamaRMSNorm: w * (x * rsqrt(mean(x^2, -1) + eps)), the statistics in float32 (float64 for float64 input), the
/// normalised value cast back to x's dtype before the scale. x [..., D], w [D].
torch::Tensor rmsNorm(const torch::Tensor& x, const torch::Tensor& w, double eps);

/// The same as LibTorch operations only (the reference for the loop, and its fall-back).
torch::Tensor rmsNormOps(const torch::Tensor& x, const torch::Tensor& w, double eps);

/// HF's rotary embedding x cos + rotate_half(x) sin, computed as [x2, x1] * sinSigned + x * cos with sinSigned =
/// [-sin1, sin2] (the same numbers: see model.cpp): the product rounded to x's dtype, then the sum. x [..., Dh] with
/// Dh even; cos and sinSigned of x's dtype, broadcastable to x's shape. The result has x's shape, contiguous.
torch::Tensor rope(const torch::Tensor& x, const torch::Tensor& cos, const torch::Tensor& sinSigned);

/// The same as LibTorch operations only.
torch::Tensor ropeOps(const torch::Tensor& x, const torch::Tensor& cos, const torch::Tensor& sinSigned);

/// silu(gate) * up, each rounded to the dtype as LibTorch's torch::silu(gate) * up computes it (the same bits). For
/// bfloat16 CPU tensors outside autograd, one parallel pass that reads silu from a table of LibTorch's own bfloat16
/// silu over all 65,536 values; otherwise (float32, a GPU, an operand that needs a gradient) LibTorch's operations.
/// gate and up have one shape; rows may be strided (a narrowed fused projection). The result is contiguous.
torch::Tensor siluMul(const torch::Tensor& gate, const torch::Tensor& up);

/// The same as LibTorch operations only.
torch::Tensor siluMulOps(const torch::Tensor& gate, const torch::Tensor& up);

/// Whether the loops are on ("fused") or off ("ops", from LAYERSCOPE_CPU_KERNELS).
std::string cpuKernelMode();

}  // namespace layerscope::core
