// `bench analyze --nproc N` (see bench_dist.h).
#include "app/cli/bench_dist.h"

#include <fcntl.h>
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <iostream>
#include <sstream>

#include "core/base/error.h"
#include "core/dist/world.h"
#include "core/base/remove_tree.h"

extern char** environ;

namespace layerscope::app {
namespace fs = std::filesystem;
using nlohmann::json;

namespace {

fs::path selfDir() {
  std::error_code ec;
  const fs::path self = fs::read_symlink("/proc/self/exe", ec);
  return ec ? fs::path(".") : self.parent_path();
}

/// layerscope-cli (the launcher) beside this executable (build tree) or in its installed bin folder.
fs::path launcher() {
  const fs::path dir = selfDir();
  const fs::path candidates[] = {dir / "layerscope-cli", dir / LAYERSCOPE_CLI_LAUNCHER_RELDIR / "layerscope-cli"};
  for (const auto& c : candidates)
    if (::access(c.c_str(), X_OK) == 0) return c;
  throw Error("bench analyze --nproc needs layerscope-cli, which is missing (looked for " + candidates[0].string() +
              " and " + candidates[1].lexically_normal().string() + ")");
}

/// Runs argv with `env` added, output to `log`; returns the wall time in seconds, throws with the log's tail on failure.
double runTimed(const std::vector<std::string>& argv, const std::vector<std::pair<std::string, std::string>>& env,
                const fs::path& log) {
  std::vector<std::string> envText;
  for (char** e = environ; *e; ++e) {
    const std::string kv = *e;
    bool replaced = false;
    for (const auto& [k, v] : env) replaced = replaced || kv.rfind(k + "=", 0) == 0;
    if (!replaced) envText.push_back(kv);
  }
  for (const auto& [k, v] : env) envText.push_back(k + "=" + v);
  std::vector<char*> envp, args;
  for (auto& s : envText) envp.push_back(s.data());
  envp.push_back(nullptr);
  std::vector<std::string> argCopy = argv;
  for (auto& s : argCopy) args.push_back(s.data());
  args.push_back(nullptr);
  posix_spawn_file_actions_t fa;
  posix_spawn_file_actions_init(&fa);
  posix_spawn_file_actions_addopen(&fa, 1, log.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
  posix_spawn_file_actions_adddup2(&fa, 1, 2);
  const auto t0 = std::chrono::steady_clock::now();
  pid_t pid = 0;
  const int rc = ::posix_spawn(&pid, args[0], &fa, nullptr, args.data(), envp.data());
  posix_spawn_file_actions_destroy(&fa);
  if (rc != 0) throw Error("cannot start " + argv[0] + ": " + std::strerror(rc));
  int status = 0;
  while (::waitpid(pid, &status, 0) < 0)
    if (errno != EINTR) throw Error("waitpid failed: " + std::string(std::strerror(errno)));
  const double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  if (!WIFEXITED(status) || WEXITSTATUS(status) != 0) {
    std::ifstream in(log);
    std::stringstream text;
    text << in.rdbuf();
    std::string tail = text.str();
    if (tail.size() > 2000) tail = "..." + tail.substr(tail.size() - 2000);
    throw Error("bench analyze --nproc: '" + argv[0] + " " + (argv.size() > 1 ? argv[1] : "") + "' failed (" +
                (WIFEXITED(status) ? "exit status " + std::to_string(WEXITSTATUS(status))
                                   : "signal " + std::to_string(WTERMSIG(status))) +
                "):\n" + tail);
  }
  return seconds;
}

}  // namespace

void writeTrafficIfAsked(const core::dist::World& world) {
  const char* dir = std::getenv("LAYERSCOPE_DIST_TRAFFIC");
  if (!dir || !*dir) return;
  const auto& t = world.traffic();
  const json j = {{"rank", world.rank()}, {"world_size", world.size()}, {"collectives", t.calls},
                  {"bytes", t.bytes}, {"seconds", t.seconds}};
  std::ofstream(fs::path(dir) / ("rank-" + std::to_string(world.rank()) + ".json")) << j.dump() << "\n";
}

json benchAnalyzeProcesses(const DistBenchRequest& r) {
  if (r.nproc < 2) throw InvalidArgument("bench analyze --nproc: needs 2 or more processes");
  const long cores = ::sysconf(_SC_NPROCESSORS_ONLN);
  const int threads = r.threads > 0 ? r.threads : int(std::max(1L, cores));
  const int perRank = std::max(1, threads / r.nproc);
  char tmpl[] = "/tmp/layerscope-bench-nproc-XXXXXX";
  if (!::mkdtemp(tmpl)) throw Error("bench analyze --nproc: cannot create a temporary folder in /tmp");
  const fs::path tmp = tmpl;
  struct Cleanup {
    fs::path p;
    ~Cleanup() {
      std::error_code ec;
      layerscope::core::removeTree(p, ec);
    }
  } cleanup{tmp};
  auto analyze = [&](const fs::path& out) {
    std::vector<std::string> a{"analyze", "--model", r.modelDir.string(), "--task", r.taskFile.string(), "--out",
                               out.string(), "--overwrite"};
    a.insert(a.end(), r.analyzeArgs.begin(), r.analyzeArgs.end());
    return a;
  };
  const std::string self = (selfDir() / "layerscope-cli-model").string();
  double best1 = 1e300, bestN = 1e300;
  json traffic = json::array();
  std::fprintf(stderr, "analyze of %s on %s: 1 process x %d threads vs %d processes x %d thread(s)\n",
               r.taskFile.filename().c_str(), r.modelDir.filename().c_str(), threads, r.nproc, perRank);
  for (int rep = 0; rep < std::max(1, r.reps); ++rep) {
    std::vector<std::string> one{self};
    for (auto& a : analyze(tmp / "one")) one.push_back(a);
    const double s1 = runTimed(one, {{"LAYERSCOPE_THREADS", std::to_string(threads)}}, tmp / "one.log");
    const fs::path tdir = tmp / ("traffic-" + std::to_string(rep));
    fs::create_directories(tdir);
    std::vector<std::string> many{launcher().string(), "launch", "--nproc", std::to_string(r.nproc), "--"};
    for (auto& a : analyze(tmp / "ranks")) many.push_back(a);
    const double sN = runTimed(many, {{"LAYERSCOPE_THREADS", std::to_string(perRank)}, {"LAYERSCOPE_DIST_TRAFFIC", tdir.string()}},
                               tmp / "ranks.log");
    std::fprintf(stderr, "  run %d: 1 process %.2f s, %d processes %.2f s\n", rep + 1, s1, r.nproc, sN);
    best1 = std::min(best1, s1);
    if (sN < bestN) {
      bestN = sN;
      traffic = json::array();
      for (int k = 0; k < r.nproc; ++k) {
        std::ifstream in(tdir / ("rank-" + std::to_string(k) + ".json"));
        if (!in) throw Error("bench analyze --nproc: rank " + std::to_string(k) + " wrote no traffic counters");
        traffic.push_back(json::parse(in));
      }
    }
  }
  return {{"model", r.modelDir.string()},
          {"task", r.taskFile.string()},
          {"analyze_options", r.analyzeArgs},
          {"one", {{"processes", 1}, {"threads", threads}, {"wall_seconds", best1}}},
          {"ranks", {{"processes", r.nproc}, {"threads_each", perRank}, {"wall_seconds", bestN}, {"traffic", traffic}}},
          {"overhead", bestN / best1 - 1.0},
          {"reps", std::max(1, r.reps)}};
}

}  // namespace layerscope::app
