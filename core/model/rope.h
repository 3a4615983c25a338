// RoPE inverse frequencies with the config's scaling (docs/methods.md section 1), as Hugging Face computes them.
#pragma once

#include <vector>

#include "core/model/config.h"

namespace layerscope::core {

/// How each frequency was treated by llama3 scaling (for the unit test and the model summary).
enum class RopeBand { Kept, Blended, Divided };

/// inv_freq_i for i = 0 .. headDim/2 - 1 after scaling, in double precision.
std::vector<double> ropeInverseFrequencies(const ModelConfig& c, std::vector<RopeBand>* bands = nullptr);

}  // namespace layerscope::core
