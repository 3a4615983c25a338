// Inverted-dropout masks for LoRA slot inputs (training only).
#pragma once

#include <cstdint>

#include <torch/torch.h>

#include "core/model/runtime.h"

namespace layerscope::core {

/// A float32 tensor of `shape` on `device` whose entries are 0 with probability p and 1 / (1 - p) otherwise,
/// independently. Bits come from a counter-based generator (splitmix64 of a seed and the element's index, 16 bits
/// an element, so p is resolved to 1/65536), which makes a mask about 20 times faster than torch::dropout's
/// per-element Bernoulli draws on CPU, the same whatever the thread count, and the same on every device. The
/// seed is drawn from torch's default (host) generator, so torch::manual_seed reproduces the masks on CPU and GPU
/// alike. Throws InvalidArgument unless 0 <= p < 1.
torch::Tensor dropoutKeepScale(at::IntArrayRef shape, double p, c10::Device device = hostDevice());

/// x * dropoutKeepScale(x.sizes(), p, x.device()), the same numbers (the same seed drawn from torch's host
/// generator, the same mask, the same products), differentiable in x. For float32 CPU tensors the mask never exists in
/// memory: one pass multiplies x by each mask value as it is generated, and the backward multiplies the gradient by
/// the mask regenerated from its seed (the forward keeps 8 bytes instead of a float32 mask the size of x, for every
/// LoRA slot until the backward). Elsewhere it is that product. Throws InvalidArgument unless 0 <= p < 1.
torch::Tensor applyDropout(const torch::Tensor& x, double p);

/// How a mask is computed: a host loop (CPU only), or int64 tensor operations on the target device (the GPU
/// path; splitmix64 in wrapping int64 arithmetic with logical shifts). Both give identical masks.
enum class MaskPath { Auto, HostLoop, TensorOps };

/// The mask of dropoutKeepScale for an explicit `seed`. Auto: the host loop on the CPU, tensor operations elsewhere.
torch::Tensor dropoutKeepScaleSeeded(at::IntArrayRef shape, double p, std::uint64_t seed, c10::Device device,
                                     MaskPath path = MaskPath::Auto);

}  // namespace layerscope::core
