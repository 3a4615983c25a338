// Registry of layerscope-cli subcommands. Each command lives in its own app/cli/cmd_*.cpp and registers
// itself with a static CommandRegistrar, so adding a command touches no shared file but its CMake fragment.
#pragma once

#include <functional>
#include <string>
#include <vector>

#include "app/cli/args.h"

namespace layerscope::app {

struct Command {
  std::string name;     ///< "info", or two words for a group: "bench forward"
  std::string usage;    ///< one line: arguments and options
  std::string summary;  ///< one line: what it does
  std::function<int(Args&)> run;  ///< returns the exit status; throws layerscope::Error on failure
};

std::vector<Command>& commandRegistry();

struct CommandRegistrar {
  explicit CommandRegistrar(Command c) { commandRegistry().push_back(std::move(c)); }
};

}  // namespace layerscope::app
