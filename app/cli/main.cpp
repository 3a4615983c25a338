// layerscope-cli: headless entry point. Dispatches to the registered subcommands; any layerscope::Error
// becomes a message on stderr and a non-zero exit status.
#include <algorithm>
#include <cstdlib>
#include <csignal>
#include <iostream>

#include "app/cli/command.h"
#include "core/model/runtime.h"
#include "core/base/error.h"
#include "layerscope/version.h"

namespace layerscope::app {

std::vector<Command>& commandRegistry() {
  static std::vector<Command> registry;
  return registry;
}

namespace {

void printUsage(std::ostream& os) {
  os << "layerscope-cli " << kVersion << ": layer-wise interpretability for GQA transformers\n\nCommands:\n";
  auto cmds = commandRegistry();
  std::sort(cmds.begin(), cmds.end(), [](const Command& a, const Command& b) { return a.name < b.name; });
  for (const auto& c : cmds) os << "  " << c.name << " " << c.usage << "\n      " << c.summary << "\n";
}

}  // namespace
}  // namespace layerscope::app

int main(int argc, char** argv) {
  using namespace layerscope::app;
  // OMP_WAIT_POLICY is set before libgomp loads by core/model/runtime.cpp (.preinit_array): no re-exec.
  std::vector<std::string> tokens(argv + 1, argv + argc);
  if (tokens.empty() || tokens[0] == "--help" || tokens[0] == "-h" || tokens[0] == "help") {
    printUsage(tokens.empty() ? std::cerr : std::cout);
    return tokens.empty() ? 2 : 0;
  }
  if (tokens[0] == "--version") {
    std::cout << layerscope::kVersion << "\n";
    return 0;
  }
  const Command* found = nullptr;
  size_t consumed = 0;
  for (const auto& c : commandRegistry()) {
    if (tokens.size() >= 2 && c.name == tokens[0] + " " + tokens[1]) {
      found = &c;
      consumed = 2;
      break;
    }
    if (c.name == tokens[0]) {
      found = &c;
      consumed = 1;
    }
  }
  if (!found) {
    std::cerr << "layerscope-cli: unknown command '" << tokens[0] << "'\n\n";
    printUsage(std::cerr);
    return 2;
  }
  std::vector<std::string> rest(tokens.begin() + long(consumed), tokens.end());
  if (std::find(rest.begin(), rest.end(), "--help") != rest.end()) {
    std::cout << "usage: layerscope-cli " << found->name << " " << found->usage << "\n" << found->summary << "\n";
    return 0;
  }
  try {
    layerscope::core::configureRuntime();
    Args args(std::move(rest));
    return found->run(args);
  } catch (const layerscope::Cancelled&) {
    std::cerr << "layerscope-cli: cancelled\n";
    return 130;
  } catch (const layerscope::Error& e) {
    std::cerr << "layerscope-cli: error: " << e.what() << "\n";
    return 1;
  } catch (const std::exception& e) {
    std::cerr << "layerscope-cli: internal error: " << e.what() << "\n";
    return 3;
  }
}
