// The few LibTorch calls whose spelling or meaning differs between Debian's LibTorch 1.13 and an upstream
// LibTorch 2.x (docs/gpu.md), wrapped here so that the rest of the tree uses one spelling. Everything else
// LayerScope calls has the same signature in both (checked against the 2.x headers; the list is in docs/gpu.md).
#pragma once

#include <ATen/Context.h>
#include <c10/core/Allocator.h>
#include <torch/torch.h>
#include <torch/version.h>

#include <stdexcept>

// scaled_dot_product_attention with its `scale` argument: LibTorch 2.1 and later.
#if TORCH_VERSION_MAJOR > 2 || (TORCH_VERSION_MAJOR == 2 && TORCH_VERSION_MINOR >= 1)
#define LAYERSCOPE_HAS_FUSED_ATTENTION 1
#else
#define LAYERSCOPE_HAS_FUSED_ATTENTION 0
#endif

namespace layerscope::core::compat {

/// True when the CUDA half of LibTorch is loaded (a CUDA build), whether or not a device is visible.
/// at::hasCUDA() cannot tell: from 2.x on it also answers false on a CUDA build without a device.
inline bool cudaRuntimeLinked() { return at::globalContext().hasCUDART(); }

/// True when `t`'s storage is memory LibTorch did not allocate (torch::from_blob over a file mapping): such
/// storage has no allocator in 1.13 and in 2.x.
inline bool isForeignStorage(const torch::Tensor& t) {
  return t.defined() && t.has_storage() && t.storage().allocator() == nullptr;
}

/// True when this LibTorch has fused attention kernels (scaled_dot_product_attention, 2.1 and later).
inline constexpr bool kHasFusedAttention = LAYERSCOPE_HAS_FUSED_ATTENTION != 0;

/// Causal attention through LibTorch's fused kernels: q, k, v [B,H,T,Dh] (k and v already repeated to the H query
/// heads) -> [B,H,T,Dh]. Only on a LibTorch with kHasFusedAttention; throws std::logic_error otherwise.
inline torch::Tensor fusedCausalAttention(const torch::Tensor& q, const torch::Tensor& k, const torch::Tensor& v,
                                          double scale) {
#if LAYERSCOPE_HAS_FUSED_ATTENTION
  return at::scaled_dot_product_attention(q, k, v, {}, 0.0, /*is_causal=*/true, scale);
#else
  (void)q, (void)k, (void)v, (void)scale;
  throw std::logic_error("fused attention needs LibTorch 2.1 or later");
#endif
}

}  // namespace layerscope::core::compat
