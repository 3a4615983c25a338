// The forward's products in the compute dtype, on any device (docs/design.md, "Model core"; docs/performance.md).
// On the CPU, bfloat16 products run natively through oneDNN on CPUs with bfloat16 arithmetic (AVX-512 BF16, AMX)
// and elsewhere widen their operands to float32 (LibTorch 1.13 has no vectorised bfloat16 GEMM there); float32
// products go through oneDNN's sgemm (cpu_gemm.h); a frozen weight (one that needs no gradient) is never copied for
// the backward. Elsewhere, and in float64, they are LibTorch's.
#pragma once

#include <torch/torch.h>

namespace layerscope::core {

/// x w^T + b: x [..., in], w [out, in], b [out] or undefined. Differentiable in every operand that needs it.
torch::Tensor linearAcc(const torch::Tensor& x, const torch::Tensor& w, const torch::Tensor& b = {});

/// a b (torch::matmul semantics) with the same choice of arithmetic for bfloat16 on the CPU.
torch::Tensor matmulAcc(const torch::Tensor& a, const torch::Tensor& b);

}  // namespace layerscope::core
