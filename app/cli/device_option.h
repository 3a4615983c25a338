// The `--device` option of the model commands (layerscope-cli-model only: the launcher links no LibTorch).
#pragma once

#include <string>

#include "app/cli/args.h"
#include "core/model/runtime.h"

namespace layerscope::app {

/// The `--device cpu|cuda|cuda:N|auto` option of every command that runs a model (default auto: cuda when the
/// LibTorch has CUDA and a device is visible, else cpu), checked before anything loads; returns the device name.
inline std::string deviceOption(Args& args) {
  return core::deviceName(core::parseDevice(args.valueOr("--device", "auto")));
}

}  // namespace layerscope::app
