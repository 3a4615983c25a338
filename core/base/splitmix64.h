// splitmix64: the 64-bit finaliser behind every seeded, platform-independent stream in LayerScope (task suite,
// batch order, dropout masks). Header-only so hot loops inline it. Torch-free.
#pragma once

#include <cstdint>

namespace layerscope::core {

/// splitmix64 finaliser of x (a bijection on 64-bit values).
inline std::uint64_t splitmix64(std::uint64_t x) {
  std::uint64_t z = x + 0x9E3779B97F4A7C15ULL;
  z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ULL;
  z = (z ^ (z >> 27)) * 0x94D049BB133111EBULL;
  return z ^ (z >> 31);
}

}  // namespace layerscope::core
