// NumPy .npy files (version 1.0, little-endian, C order) for exchanging arrays with Python.
#pragma once

#include <filesystem>

#include <torch/torch.h>

namespace layerscope::core {

/// Writes a float32 / float64 / int64 tensor atomically.
void writeNpy(const std::filesystem::path& path, const torch::Tensor& t);
/// Reads a float32 / float64 / int64 .npy (C order); throws Error naming the file on anything else.
torch::Tensor readNpy(const std::filesystem::path& path);

}  // namespace layerscope::core
