// The data-parallel hooks of the trainer and the evaluation (core::DataParallel) on a joined process group, for
// the model commands started by `layerscope-cli launch` or torchrun (docs/distributed.md).
#pragma once

#include "core/dist/world.h"
#include "core/train/trainer.h"

namespace layerscope::app {

/// Hooks that call `world` (which must outlive them); a world of one process gives size 1 (no hook is called).
inline core::DataParallel dataParallel(core::dist::World& world) {
  core::DataParallel dp;
  dp.rank = world.rank();
  dp.size = world.size();
  dp.allReduceSum = [&world](torch::Tensor& t) { world.allReduceSum(t); };
  dp.broadcast = [&world](torch::Tensor& t) { world.broadcast(t); };
  dp.allGather = [&world](const std::string& text) { return world.allGather(text); };
  return dp;
}

}  // namespace layerscope::app
