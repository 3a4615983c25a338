// Registry of layerscope-cli subcommands. Each command lives in its own app/cli/cmd_*.cpp and registers
// itself with a static CommandRegistrar, so adding a command touches no shared file but its CMake fragment.
#pragma once

#include <functional>
#include <string>
#include <vector>

#include "app/cli/args.h"
#include "core/model/runtime.h"

namespace layerscope::app {

struct Command {
  std::string name;     ///< "info", or two words for a group: "bench forward"
  std::string usage;    ///< one line: arguments and options
  std::string summary;  ///< one line: what it does
  std::function<int(Args&)> run;  ///< returns the exit status; throws layerscope::Error on failure
};

std::vector<Command>& commandRegistry();

/// The `--device cpu|cuda|cuda:N|auto` option of every command that runs a model (default auto: cuda when the
/// LibTorch has CUDA and a device is visible, else cpu), checked before anything loads; returns the device name.
inline std::string deviceOption(Args& args) {
  return core::deviceName(core::parseDevice(args.valueOr("--device", "auto")));
}

struct CommandRegistrar {
  explicit CommandRegistrar(Command c) { commandRegistry().push_back(std::move(c)); }
};

}  // namespace layerscope::app
