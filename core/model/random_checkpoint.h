// Random-weight Hugging Face checkpoints for tests and benchmarks (never committed): config.json plus
// model.safetensors, or shards with model.safetensors.index.json.
#pragma once

#include <cstdint>
#include <filesystem>
#include <string>

#include "core/model/config.h"
#include "core/model/safetensors.h"

namespace layerscope::core {

struct RandomCheckpointOptions {
  uint64_t seed = 0;                 ///< torch manual seed for the weights
  StDtype storedDtype = StDtype::F32;///< F32, F16 or BF16
  int shards = 1;                    ///< > 1 writes model-0000i-of-0000n.safetensors + index
  double weightStd = 0.02;           ///< std of linear / embedding weights (HF initializer_range)
  double normJitter = 0.1;           ///< norm weights are 1 + U(-j, j), so tests see non-trivial norms
};

/// Writes a checkpoint for `config` into `dir` (created if missing).
void writeRandomCheckpoint(const std::filesystem::path& dir, const ModelConfig& config,
                           const RandomCheckpointOptions& opt);

/// Named presets: "tiny" (2 layers, D 64), "small" (4 layers, D 256), "1b" (16 layers, D 2048, ~1.1B params),
/// "llama31-8b" (Llama 3.1 8B's configuration: 32 layers, D 4096, GQA 32:8, vocab 128256, llama3 RoPE).
ModelConfig presetConfig(const std::string& name);

}  // namespace layerscope::core
