// `layerscope-cli reproduce`: the co-localization study's protocol in one command (experiments/reproduce.h), then
// the report: this half links no Qt, so it runs the launcher's `report` command as a child (docs/design.md,
// "The reproduce report").
#include <cerrno>
#include <cstring>
#include <filesystem>
#include <iostream>
#include <vector>

#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

#include "app/cli/command.h"
#include "app/cli/device_option.h"
#include "app/cli/progress.h"
#include "core/base/error.h"
#include "experiments/reproduce.h"

namespace layerscope::app {
namespace {

/// layerscope-cli (the launcher) beside this executable (build tree) or in its installed bin folder.
std::filesystem::path launcherExecutable() {
  namespace fs = std::filesystem;
  std::error_code ec;
  const fs::path self = fs::read_symlink("/proc/self/exe", ec);
  const fs::path dir = ec ? fs::path(".") : self.parent_path();
  const fs::path candidates[] = {dir / "layerscope-cli", dir / LAYERSCOPE_CLI_LAUNCHER_RELDIR / "layerscope-cli"};
  for (const auto& c : candidates)
    if (::access(c.c_str(), X_OK) == 0) return c;
  throw Error("the report needs layerscope-cli, which is missing (looked for " + candidates[0].string() + " and " +
              candidates[1].lexically_normal().string() + ")");
}

/// Runs `layerscope-cli report --results DIR` and returns its exit status (2: this build's launcher has no report).
int runReportCommand(const std::filesystem::path& dir) {
  const std::string exe = launcherExecutable().string(), results = dir.string();
  std::vector<char*> argv = {const_cast<char*>("layerscope-cli"), const_cast<char*>("report"), const_cast<char*>("--results"),
                             const_cast<char*>(results.c_str()), nullptr};
  pid_t pid = 0;
  if (const int rc = ::posix_spawn(&pid, exe.c_str(), nullptr, nullptr, argv.data(), environ); rc != 0)
    throw Error("cannot start " + exe + ": " + std::strerror(rc));
  int status = 0;
  while (::waitpid(pid, &status, 0) < 0)
    if (errno != EINTR) throw Error(std::string("waiting for the report: ") + std::strerror(errno));
  return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
}

int runReproduceCommand(Args& args) {
  experiments::ReproduceRequest r;
  if (args.flag("--quick")) experiments::applyQuickSettings(r);
  r.modelDir = args.required("--model");
  r.benchmarksDir = args.required("--benchmarks");
  r.outDir = args.required("--out");
  r.pairsFile = args.valueOr("--pairs", "");
  r.train = args.required("--train");
  r.steps = args.intOr("--steps", r.steps);
  r.controlSeeds = int(args.intOr("--control-seeds", r.controlSeeds));
  r.bootstrap = std::size_t(args.intOr("--bootstrap", (long long)r.bootstrap));
  r.codeLimit = std::size_t(args.intOr("--code-limit", 0));
  r.codeMaxTokens = int(args.intOr("--code-max-tokens", r.codeMaxTokens));
  r.dtype = args.valueOr("--dtype", r.dtype);
  r.device = deviceOption(args);
  const bool report = !args.flag("--no-report");
  const bool dryRun = args.flag("--dry-run");
  args.finish();
  if (dryRun) {  // what will run and what it costs; nothing is written
    CliJob job;
    const auto estimate = experiments::estimateReproduce(r, true, job.control());
    job.line(estimate.text);
    return 0;
  }
  nlohmann::json summary;
  {
    CliJob job;
    r.log = [&job](const std::string& line) { job.line(line); };
    summary = experiments::runReproduce(r, job.control());
  }
  std::cout << "r_s " << summary["colocalization"]["spearman_r"].dump() << " (p " << summary["colocalization"]["spearman_p"].dump()
            << "); S_sens " << summary["colocalization"]["top_k"]["S_sens"].dump() << ", S_rope "
            << summary["colocalization"]["top_k"]["S_rope"].dump() << "; missing benchmarks " << summary["missing_benchmarks"].dump()
            << "\nwrote " << (r.outDir / "summary.json").string() << "\n";
  if (!report) return 0;
  std::cout.flush();
  const int rc = runReportCommand(r.outDir);
  if (rc == 0) return 0;
  std::cerr << "layerscope-cli: the protocol finished but the report was not written (exit status " << rc << ")"
            << (rc == 2 ? ": this build has no Qt (LAYERSCOPE_BUILD_GUI off), so it cannot draw the report" : "")
            << "; the results are complete in " << r.outDir.string() << "\n";
  return 1;
}

const CommandRegistrar kReproduce({"reproduce",
                                   "--model DIR --benchmarks DIR --out DIR --train FILE|demo:N [--pairs FILE] [--steps 200] "
                                   "[--control-seeds 3] [--bootstrap 1000] [--code-limit N] [--code-max-tokens 512] [--quick] "
                                   "[--no-report] [--dry-run] [--dtype D] [--device D]",
                                   "the co-localization study: pairs sensitivity, RoPE influence, statistics, 4-way ablation, "
                                   "HumanEval+ per arm (resumable), then the report (HTML, PDF, data; see `report`)",
                                   runReproduceCommand});

}  // namespace
}  // namespace layerscope::app
