// Reproducible random draws for analyses (manipulations, data order): drawn on the host from a seeded CPU
// generator, whatever device the model runs on, so a seed gives the same values on a CPU and on a GPU
// (docs/gpu.md). Results move to the model's device with the tensors they modify.
#pragma once

#include <cstdint>

#include <ATen/CPUGeneratorImpl.h>
#include <torch/torch.h>

#include "core/model/runtime.h"

namespace layerscope::core {

/// A CPU generator seeded with `seed` (the same stream on every machine).
inline at::Generator hostGenerator(std::uint64_t seed) { return at::detail::createCPUGenerator(seed); }

/// Standard normal draws of `shape`, float64, on the host.
inline torch::Tensor hostNormal(at::IntArrayRef shape, at::Generator& gen) {
  return torch::randn(shape, gen, torch::TensorOptions().dtype(torch::kFloat64).device(hostDevice()));
}

/// Uniform [0, 1) draws of `shape`, float64, on the host.
inline torch::Tensor hostUniform(at::IntArrayRef shape, at::Generator& gen) {
  return torch::rand(shape, gen, torch::TensorOptions().dtype(torch::kFloat64).device(hostDevice()));
}

}  // namespace layerscope::core
