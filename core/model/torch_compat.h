// The few LibTorch calls whose spelling or meaning differs between Debian's LibTorch 1.13 and an upstream
// LibTorch 2.x (docs/gpu.md), wrapped here so that the rest of the tree uses one spelling. Everything else
// LayerScope calls has the same signature in both (checked against the 2.x headers; the list is in docs/gpu.md).
#pragma once

#include <ATen/Context.h>
#include <c10/core/Allocator.h>
#include <torch/torch.h>

namespace layerscope::core::compat {

/// True when the CUDA half of LibTorch is loaded (a CUDA build), whether or not a device is visible.
/// at::hasCUDA() cannot tell: from 2.x on it also answers false on a CUDA build without a device.
inline bool cudaRuntimeLinked() { return at::globalContext().hasCUDART(); }

/// True when `t`'s storage is memory LibTorch did not allocate (torch::from_blob over a file mapping): such
/// storage has no allocator in 1.13 and in 2.x.
inline bool isForeignStorage(const torch::Tensor& t) {
  return t.defined() && t.has_storage() && t.storage().allocator() == nullptr;
}

}  // namespace layerscope::core::compat
