// The one rule for splitting `count` items over the ranks of a data-parallel run: the analyses' items, the
// evaluation's items, the training micro-batch and the held-out set all use it. Header-only. Torch-free.
#pragma once

#include <algorithm>
#include <cstdint>
#include <string>

#include "core/base/error.h"

namespace layerscope::core {

/// The items [begin, end) of `count` that `rank` of `worldSize` owns: contiguous, in order, sizes differing by at
/// most one (the first count % worldSize ranks get one more). Concatenating every rank's range in rank order gives
/// 0 .. count-1, so gathered per-item values come back in the single-process order.
struct ShardRange {
  std::int64_t begin = 0, end = 0;
};

inline ShardRange shardOf(std::int64_t count, int rank, int worldSize) {
  if (worldSize < 1 || rank < 0 || rank >= worldSize || count < 0)
    throw InvalidArgument("shardOf: rank " + std::to_string(rank) + " of " + std::to_string(worldSize) + " over " +
                          std::to_string(count) + " items");
  const std::int64_t base = count / worldSize, extra = count % worldSize;
  const std::int64_t begin = rank * base + std::min<std::int64_t>(rank, extra);
  return {begin, begin + base + (rank < extra ? 1 : 0)};
}

}  // namespace layerscope::core
