// layerscope-cli: headless entry point. Dispatches to the registered subcommands; any layerscope::Error
// becomes a message on stderr and a non-zero exit status.
//
// The CLI is two executables built from this file (docs/design.md, "CLI start-up"):
// - `layerscope-cli` (LAYERSCOPE_CLI_LAUNCHER defined) links no LibTorch. It runs the commands that need no model
//   (tokenize, make-tasks, figure) itself, prints every command's help from a table generated at build time, and
//   hands the model commands to the second executable with execv (same arguments, same process id).
// - `layerscope-cli-model` links LibTorch and runs the model commands. LibTorch's static initialisers take about
//   0.9 s on the reference machine, which every command paid when there was one executable.
#include <algorithm>
#include <cstdlib>
#include <csignal>
#include <cstring>
#include <filesystem>
#include <iostream>
#include <span>
#include <string_view>

#include <unistd.h>

#include "app/cli/command.h"
#include "core/base/atomic_file.h"
#include "core/base/error.h"
#include "layerscope/version.h"
#ifndef LAYERSCOPE_CLI_LAUNCHER
#include "core/model/runtime.h"  // model half only
#endif

namespace layerscope::app {

std::vector<Command>& commandRegistry() {
  static std::vector<Command> registry;
  return registry;
}

namespace {

/// A command's name and help text without its code: what the launcher knows of layerscope-cli-model's commands.
struct CommandHelp {
  std::string_view name, usage, summary;
};

#ifdef LAYERSCOPE_CLI_LAUNCHER
// Generated at build time by `layerscope-cli-model --describe-commands` (app/cli/CMakeLists.txt).
constexpr CommandHelp kModelCommands[] = {
#include "layerscope/cli_model_commands.inc"
};
#else
constexpr std::span<const CommandHelp> kModelCommands;
#endif

std::vector<CommandHelp> allCommands() {
  std::vector<CommandHelp> all(std::begin(kModelCommands), std::end(kModelCommands));
  for (const auto& c : commandRegistry()) all.push_back({c.name, c.usage, c.summary});
  std::sort(all.begin(), all.end(), [](const CommandHelp& a, const CommandHelp& b) { return a.name < b.name; });
  return all;
}

void printUsage(std::ostream& os) {
  os << "layerscope-cli " << kVersion << ": layer-wise interpretability for GQA transformers\n\nCommands:\n";
  for (const auto& c : allCommands()) os << "  " << c.name << " " << c.usage << "\n      " << c.summary << "\n";
  os << "\nOption values that start with '-' are given as --option=VALUE (for example --text=--help).\n";
}

/// The command that `tokens` names (two-word group names first) among `names`; `consumed` words were used.
template <class Range, class NameOf>
auto findCommand(const Range& commands, const std::vector<std::string>& tokens, NameOf nameOf, size_t& consumed)
    -> decltype(&*std::begin(commands)) {
  decltype(&*std::begin(commands)) found = nullptr;
  for (const auto& c : commands) {
    if (tokens.size() >= 2 && nameOf(c) == tokens[0] + " " + tokens[1]) {
      consumed = 2;
      return &c;
    }
    if (nameOf(c) == tokens[0]) {
      found = &c;
      consumed = 1;
    }
  }
  return found;
}

#ifndef LAYERSCOPE_CLI_LAUNCHER
/// A C++ string literal for `s` (the generated table is compiled into the launcher).
std::string cppLiteral(std::string_view s) {
  std::string out = "\"";
  for (char ch : s) {
    if (ch == '"' || ch == '\\') out += '\\';
    if (ch == '\n') {
      out += "\\n";
      continue;
    }
    out += ch;
  }
  return out + "\"";
}
#endif

#ifdef LAYERSCOPE_CLI_LAUNCHER
/// layerscope-cli-model beside this executable (build tree) or in its installed libexec folder.
std::filesystem::path modelExecutable() {
  namespace fs = std::filesystem;
  std::error_code ec;
  const fs::path self = fs::read_symlink("/proc/self/exe", ec);
  const fs::path dir = ec ? fs::path(".") : self.parent_path();
  const fs::path candidates[] = {dir / "layerscope-cli-model", dir / LAYERSCOPE_CLI_MODEL_RELDIR / "layerscope-cli-model"};
  for (const auto& c : candidates)
    if (::access(c.c_str(), X_OK) == 0) return c;
  throw Error("the model commands need layerscope-cli-model, which is missing (looked for " + candidates[0].string() +
              " and " + candidates[1].lexically_normal().string() + "); reinstall LayerScope");
}
#endif

}  // namespace
}  // namespace layerscope::app

int main(int argc, char** argv) {
  using namespace layerscope::app;
  // layerscope-cli-model: OMP_WAIT_POLICY is set before libgomp loads by core/model/runtime.cpp (.preinit_array).
  std::vector<std::string> tokens(argv + 1, argv + argc);
  if (tokens.empty() || tokens[0] == "--help" || tokens[0] == "-h" || tokens[0] == "help") {
    printUsage(tokens.empty() ? std::cerr : std::cout);
    return tokens.empty() ? 2 : 0;
  }
  if (tokens[0] == "--version") {
    std::cout << layerscope::kVersion << "\n";
    return 0;
  }
  try {
#ifndef LAYERSCOPE_CLI_LAUNCHER
    if (tokens[0] == "--describe-commands" && tokens.size() == 2) {  // build step: the launcher's help table
      std::string table;
      for (const auto& c : commandRegistry())
        table.append("{").append(cppLiteral(c.name)).append(", ").append(cppLiteral(c.usage)).append(", ")
            .append(cppLiteral(c.summary)).append("},\n");  // append: g++ 12 false -Warray-bounds on "{" + std::string&&
      layerscope::core::writeFileAtomically(tokens[1], table);
      return 0;
    }
#endif
    size_t consumed = 0;
    const Command* found = findCommand(commandRegistry(), tokens, [](const Command& c) -> const std::string& { return c.name; }, consumed);
    size_t modelConsumed = 0;
    const CommandHelp* model =
        findCommand(kModelCommands, tokens, [](const CommandHelp& c) { return std::string(c.name); }, modelConsumed);
    if (model && (!found || modelConsumed > consumed)) {
      found = nullptr;
      consumed = modelConsumed;
    } else {
      model = nullptr;
    }
    if (!found && !model) {
      std::cerr << "layerscope-cli: unknown command '" << tokens[0] << "'\n\n";
      printUsage(std::cerr);
      return 2;
    }
    std::vector<std::string> rest(tokens.begin() + long(consumed), tokens.end());
    if (std::find(rest.begin(), rest.end(), "--help") != rest.end()) {
      const CommandHelp help = found ? CommandHelp{found->name, found->usage, found->summary} : *model;
      std::cout << "usage: layerscope-cli " << help.name << " " << help.usage << "\n" << help.summary << "\n";
      return 0;
    }
#ifdef LAYERSCOPE_CLI_LAUNCHER
    if (model) {
      const std::string exe = modelExecutable().string();
      argv[0] = const_cast<char*>("layerscope-cli");
      ::execv(exe.c_str(), argv);
      throw layerscope::Error("cannot start " + exe + ": " + std::strerror(errno));
    }
#else
    layerscope::core::configureRuntime();
#endif
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
