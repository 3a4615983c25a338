// Crash safety of the long jobs (docs/hardening.md). `layerscope-cli train`, `ablate` and `analyze` run as child
// processes and are killed with SIGKILL at seeded random moments and at fault-injection points inside the
// checkpoint and results writes (LAYERSCOPE_CRASH_BEFORE_RENAME, core/base/atomic_file.h), then run again:
//  - train / ablate resume and end with adapter files byte-identical to an uninterrupted run's, and after every
//    kill every checkpoint directory that selection can pick loads;
//  - a killed analyze leaves no results directory (its staging directory is visible and removed by the next run),
//    and a killed --overwrite keeps the previous results whole;
//  - a full disk (a file size limit on the child: no privilege needed) gives a clear error and keeps the previous
//    checkpoint / results, and the run completes identically afterwards.
#include <gtest/gtest.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <fstream>
#include <map>
#include <nlohmann/json.hpp>
#include <random>

#include "core/base/error.h"
#include "core/data/dataset.h"
#include "core/model/safetensors.h"
#include "core/train/trainer.h"
#include "tests/common/test_util.h"
#include "tests/common/tiny_model.h"
#include "tests/experiments/experiment_fixtures.h"

extern char** environ;

using namespace layerscope;
namespace fs = std::filesystem;
using nlohmann::json;
using Clock = std::chrono::steady_clock;

namespace {

struct ChildOptions {
  std::vector<std::string> env;  ///< NAME=value entries added to the environment
  double killAfter = -1;         ///< seconds after the start; < 0: let it finish
  long fileSizeLimit = -1;       ///< RLIMIT_FSIZE in bytes (writes beyond it fail with EFBIG); < 0: none
};

ChildOptions killAt(double seconds) {
  ChildOptions o;
  o.killAfter = seconds;
  return o;
}
ChildOptions crashAt(const std::string& point) {
  ChildOptions o;
  o.env = {"LAYERSCOPE_CRASH_BEFORE_RENAME=" + point};
  return o;
}
ChildOptions sizeLimit(long bytes) {
  ChildOptions o;
  o.fileSizeLimit = bytes;
  return o;
}

struct ChildResult {
  bool signaled = false;  ///< ended by a signal (our SIGKILL or a crash point's)
  int exitCode = -1;
  std::string output;
  double seconds = 0;
};

// fork + execve of layerscope-cli with stdout+stderr into a pipe. Everything the child needs is prepared before
// the fork, so the child only calls async-signal-safe functions.
ChildResult runCli(const std::vector<std::string>& args, const ChildOptions& o = {}) {
  std::vector<std::string> envStrings;
  for (char** e = environ; *e; ++e)
    if (std::string(*e).rfind("LAYERSCOPE_CRASH_BEFORE_RENAME=", 0) != 0 && std::string(*e).rfind("OMP_NUM_THREADS=", 0) != 0)
      envStrings.emplace_back(*e);
  envStrings.emplace_back("OMP_NUM_THREADS=1");  // one thread in every run: same arithmetic, and frugal
  for (const auto& e : o.env) envStrings.push_back(e);
  std::vector<char*> envp, argv;
  for (auto& s : envStrings) envp.push_back(s.data());
  envp.push_back(nullptr);
  std::vector<std::string> argStrings{LAYERSCOPE_CLI_PATH};
  argStrings.insert(argStrings.end(), args.begin(), args.end());
  for (auto& s : argStrings) argv.push_back(s.data());
  argv.push_back(nullptr);
  int fds[2];
  if (::pipe2(fds, O_CLOEXEC) != 0) throw std::runtime_error("pipe2 failed");
  const rlimit lim{rlim_t(o.fileSizeLimit), rlim_t(o.fileSizeLimit)};
  const auto t0 = Clock::now();
  const pid_t pid = ::fork();
  if (pid == 0) {
    ::dup2(fds[1], 1);
    ::dup2(fds[1], 2);
    if (o.fileSizeLimit >= 0) {
      ::signal(SIGXFSZ, SIG_IGN);  // a write past the limit then fails with EFBIG, as on a full disk
      ::setrlimit(RLIMIT_FSIZE, &lim);
    }
    ::execve(argv[0], argv.data(), envp.data());
    ::_exit(127);
  }
  ::close(fds[1]);
  ::fcntl(fds[0], F_SETFL, O_NONBLOCK);
  ChildResult r;
  bool killed = false;
  int status = 0;
  char buf[4096];
  for (;;) {
    pollfd p{fds[0], POLLIN, 0};
    ::poll(&p, 1, 5);
    for (ssize_t n; (n = ::read(fds[0], buf, sizeof buf)) > 0;) r.output.append(buf, size_t(n));
    if (::waitpid(pid, &status, WNOHANG) == pid) break;
    const double t = std::chrono::duration<double>(Clock::now() - t0).count();
    if (!killed && ((o.killAfter >= 0 && t >= o.killAfter) || t > 300)) {
      ::kill(pid, SIGKILL);
      killed = true;
    }
  }
  for (ssize_t n; (n = ::read(fds[0], buf, sizeof buf)) > 0;) r.output.append(buf, size_t(n));
  ::close(fds[0]);
  r.seconds = std::chrono::duration<double>(Clock::now() - t0).count();
  r.signaled = WIFSIGNALED(status);
  r.exitCode = WIFEXITED(status) ? WEXITSTATUS(status) : -1;
  return r;
}

std::string slurp(const fs::path& p) {
  std::ifstream in(p, std::ios::binary);
  return std::string(std::istreambuf_iterator<char>(in), {});
}

// The files that make up a trained adapter (everything adapters.save and the run write at the top of the output
// folder), minus the two logs with wall-clock times.
std::map<std::string, std::string> adapterFiles(const fs::path& dir) {
  std::map<std::string, std::string> out;
  for (const auto& e : fs::directory_iterator(dir)) {
    const std::string n = e.path().filename().string();
    if (e.is_regular_file() && n != "train.log" && n != "training_log.json") out[n] = slurp(e.path());
  }
  return out;
}

// Report / stats comparison without what differs between runs (wall-clock values, the resume point).
json withoutTimings(const json& j) {
  return test::withoutTimings(j, {"timings", "created", "tokens_per_second", "resumed_from_step"});
}

// Every directory that checkpoint selection considers (step-<digits>) must load: manifest, params, optimizer.
void expectEveryPickableCheckpointLoads(const fs::path& checkpoints, const std::string& when) {
  if (!fs::exists(checkpoints)) return;
  for (const auto& e : fs::directory_iterator(checkpoints)) {
    const std::string n = e.path().filename().string();
    if (n.rfind("step-", 0) != 0 || n.find_first_not_of("0123456789", 5) != std::string::npos) continue;
    EXPECT_NO_THROW({
      std::ifstream in(e.path() / "manifest.json");
      const auto m = json::parse(in);
      (void)m.at("step").get<int64_t>();
      core::SafetensorsFile::open(e.path() / "params.safetensors");
      core::SafetensorsFile::open(e.path() / "optimizer.safetensors");
    }) << e.path() << " " << when;
  }
  const fs::path picked = core::Trainer::newestCheckpoint(checkpoints);
  if (!picked.empty()) {
    EXPECT_EQ(picked.parent_path(), checkpoints) << when;
  }
}

class CrashSafety : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    tiny_ = test::newExperimentModel();
    dir_ = new test::TempDir();
    test::writeExperimentInputs(dir_->path());
  }
  static void TearDownTestSuite() {
    delete dir_;
    delete tiny_;
  }
  static fs::path scratch(const std::string& name) { return dir_->path() / name; }

  static std::vector<std::string> trainArgs(const fs::path& out) {
    return {"train", "--model", tiny_->dir().string(), "--train", (dir_->path() / "train.jsonl").string(),
            "--out", out.string(), "--lora-layers", "1-2", "--garfa-layers", "0-1", "--lora-rank", "4",
            "--steps", "12", "--checkpoint-every", "2", "--batch", "4", "--seed", "7"};
  }
  static std::vector<std::string> ablateArgs(const fs::path& out) {
    return {"ablate", "--model", tiny_->dir().string(), "--analysis", (dir_->path() / "analysis").string(),
            "--train", (dir_->path() / "train.jsonl").string(), "--eval", (dir_->path() / "heldout.jsonl").string(),
            "--out", out.string(), "--steps", "4", "--checkpoint-every", "2", "--batch", "4", "--lora-rank", "4",
            "--control-seeds", "1", "--seed", "3"};
  }
  static std::vector<std::string> analyzeArgs(const fs::path& out) {
    return {"analyze", "--model", tiny_->dir().string(), "--task", (dir_->path() / "heldout.jsonl").string(),
            "--out", out.string(), "--bootstrap", "20", "--permutation-draws", "200", "--metrics", "rel_l2,cos",
            "--profiles", "none"};
  }
  static std::vector<std::string> with(std::vector<std::string> a, const std::string& extra) {
    a.push_back(extra);
    return a;
  }

  static test::TinyByteModel* tiny_;
  static test::TempDir* dir_;
};
test::TinyByteModel* CrashSafety::tiny_ = nullptr;
test::TempDir* CrashSafety::dir_ = nullptr;

}  // namespace

TEST_F(CrashSafety, TrainKilledAtRandomAndInsideCheckpointWritesResumesByteIdentical) {
  const fs::path ref = scratch("train-ref");
  const ChildResult r0 = runCli(trainArgs(ref));
  ASSERT_EQ(r0.exitCode, 0) << r0.output;
  const auto want = adapterFiles(ref);
  ASSERT_TRUE(want.count("adapter_model.safetensors") && want.count("garfa.safetensors")) << r0.output;

  // Kills at seeded random moments of the run (start-up, training, checkpoint writes, the final save).
  std::mt19937_64 rng(20261130);
  std::uniform_real_distribution<double> when(0.1, 1.0);
  for (int trial = 0; trial < 2; ++trial) {
    const fs::path out = scratch("train-kill-" + std::to_string(trial));
    int killedRuns = 0;
    for (int attempt = 0; attempt < 3; ++attempt) {
      const double at = when(rng) * r0.seconds;
      const ChildResult r = runCli(attempt == 0 ? trainArgs(out) : with(trainArgs(out), "--resume"), killAt(at));
      killedRuns += r.signaled;
      if (!r.signaled) {
        ASSERT_EQ(r.exitCode, 0) << r.output;
      }
      expectEveryPickableCheckpointLoads(out / "checkpoints", "after a kill at " + std::to_string(at) + " s");
    }
    const ChildResult done = runCli(with(trainArgs(out), "--resume"));
    ASSERT_EQ(done.exitCode, 0) << done.output;
    EXPECT_EQ(adapterFiles(out), want) << "trial " << trial << " (" << killedRuns << " runs killed)";
  }

  // Kills inside the writes: before the manifest of the 2nd checkpoint is renamed (its tensors written), before
  // the step-4 directory is renamed into place, before the final adapter and before the finished-run marker.
  for (const std::string point :
       {"manifest.json:2", "step-00000004", "adapter_model.safetensors", "training_log.json"}) {
    const fs::path out = scratch("train-point-" + point.substr(0, point.find(':')));
    const ChildResult r = runCli(trainArgs(out), crashAt(point));
    ASSERT_TRUE(r.signaled) << point << ": the crash point was not reached\n" << r.output;
    expectEveryPickableCheckpointLoads(out / "checkpoints", "crash at " + point);
    const ChildResult done = runCli(with(trainArgs(out), "--resume"));
    ASSERT_EQ(done.exitCode, 0) << done.output;
    EXPECT_EQ(adapterFiles(out), want) << point;
    for (const auto& e : fs::directory_iterator(out / "checkpoints"))  // the killed run's staging dir is gone
      EXPECT_EQ(e.path().filename().string().find("incomplete"), std::string::npos) << e.path();
  }
}

TEST_F(CrashSafety, TrainDiskFullDuringACheckpointKeepsThePreviousOne) {
  const fs::path ref = scratch("train-ref-disk");
  ASSERT_EQ(runCli(trainArgs(ref)).exitCode, 0);
  const auto want = adapterFiles(ref);
  const fs::path out = scratch("train-disk");
  // A first run stopped inside its 2nd checkpoint: step-00000002 is the good state.
  ASSERT_TRUE(runCli(trainArgs(out), crashAt("manifest.json:2")).signaled);
  const std::string good = slurp(out / "checkpoints" / "step-00000002" / "params.safetensors");
  ASSERT_FALSE(good.empty());
  // Resumed with a 4 KiB file size limit: the optimizer state of the next checkpoint does not fit.
  const ChildResult full = runCli(with(trainArgs(out), "--resume"), sizeLimit(4096));
  EXPECT_FALSE(full.signaled);
  EXPECT_EQ(full.exitCode, 1) << full.output;
  EXPECT_NE(full.output.find("write failed for '"), std::string::npos) << full.output;
  EXPECT_NE(full.output.find("disk full"), std::string::npos) << full.output;
  EXPECT_EQ(slurp(out / "checkpoints" / "step-00000002" / "params.safetensors"), good);
  expectEveryPickableCheckpointLoads(out / "checkpoints", "after the disk-full error");
  EXPECT_EQ(core::Trainer::newestCheckpoint(out / "checkpoints").filename(), "step-00000002");
  const ChildResult done = runCli(with(trainArgs(out), "--resume"));
  ASSERT_EQ(done.exitCode, 0) << done.output;
  EXPECT_EQ(adapterFiles(out), want);
}

TEST_F(CrashSafety, AblateKilledResumesToTheSameArmsAndReport) {
  const fs::path ref = scratch("ablate-ref");
  const ChildResult r0 = runCli(ablateArgs(ref));
  ASSERT_EQ(r0.exitCode, 0) << r0.output;
  std::mt19937_64 rng(7);
  std::uniform_real_distribution<double> when(0.1, 1.0);
  const fs::path out = scratch("ablate-kill");
  for (int attempt = 0; attempt < 3; ++attempt) {
    const ChildResult r = runCli(ablateArgs(out), killAt(when(rng) * r0.seconds));
    if (!r.signaled) {
      ASSERT_EQ(r.exitCode, 0) << r.output;
    }
    if (fs::exists(out / "arms"))
      for (const auto& arm : fs::directory_iterator(out / "arms")) expectEveryPickableCheckpointLoads(arm.path() / "checkpoints", "ablate");
  }
  // And once inside an arm's checkpoint write.
  const ChildResult p = runCli(ablateArgs(out), crashAt("manifest.json"));
  if (!p.signaled) {
    ASSERT_EQ(p.exitCode, 0) << p.output;  // every arm may already be done
  }
  const ChildResult done = runCli(ablateArgs(out));
  ASSERT_EQ(done.exitCode, 0) << done.output;
  for (const auto& arm : fs::directory_iterator(ref / "arms")) {
    const fs::path mine = out / "arms" / arm.path().filename();
    auto a = adapterFiles(arm.path()), b = adapterFiles(mine);
    a.erase("result.json"), b.erase("result.json");
    EXPECT_EQ(a, b) << arm.path().filename();
  }
  std::ifstream ra(ref / "report.json"), rb(out / "report.json");
  EXPECT_EQ(withoutTimings(json::parse(ra)), withoutTimings(json::parse(rb)));
}

TEST_F(CrashSafety, AnalyzeKilledLeavesNoResultsDirectory) {
  const fs::path ref = scratch("analyze-ref") / "results";
  const ChildResult r0 = runCli(analyzeArgs(ref));
  ASSERT_EQ(r0.exitCode, 0) << r0.output;
  std::ifstream refStats(ref / "stats.json");
  const json wantStats = withoutTimings(json::parse(refStats));
  auto leftovers = [](const fs::path& parent) {
    std::vector<std::string> out;
    for (const auto& e : fs::directory_iterator(parent))
      if (e.path().filename().string().find(".incomplete-") != std::string::npos) out.push_back(e.path().filename());
    return out;
  };

  std::mt19937_64 rng(11);
  std::uniform_real_distribution<double> when(0.1, 1.0);
  // The randomly killed runs get a folder of their own: one killed while writing leaves its own visible
  // `rK.incomplete-*` (removed only by a rerun to rK), which must not count among the staging folders below.
  const fs::path randomParent = scratch("analyze-kill-random");
  fs::create_directories(randomParent);
  for (int attempt = 0; attempt < 3; ++attempt) {
    const fs::path out = randomParent / ("r" + std::to_string(attempt));
    const ChildResult r = runCli(analyzeArgs(out), killAt(when(rng) * r0.seconds));
    if (!r.signaled) {
      ASSERT_EQ(r.exitCode, 0) << r.output;
    }
    if (fs::exists(out)) {  // only when the run got as far as moving the complete directory into place
      std::ifstream s(out / "stats.json");
      EXPECT_EQ(withoutTimings(json::parse(s)), wantStats) << "a killed analyze left a partial " << out;
    }
  }
  for (const std::string& name : leftovers(randomParent)) {  // a leftover of a killed write goes with the rerun
    const fs::path out = randomParent / name.substr(0, name.find(".incomplete-"));
    ASSERT_EQ(runCli(analyzeArgs(out)).exitCode, 0);
    std::ifstream s(out / "stats.json");
    EXPECT_EQ(withoutTimings(json::parse(s)), wantStats);
  }
  EXPECT_TRUE(leftovers(randomParent).empty());
  // Killed with the results complete in the staging directory: no results, a visible staging directory...
  const fs::path parent = scratch("analyze-kill");
  fs::create_directories(parent);
  const fs::path out = parent / "results";
  ASSERT_TRUE(runCli(analyzeArgs(out), crashAt("stats.json")).signaled);
  EXPECT_FALSE(fs::exists(out));
  EXPECT_EQ(leftovers(parent).size(), 1u);
  // ...that the next run removes.
  ASSERT_EQ(runCli(analyzeArgs(out)).exitCode, 0);
  EXPECT_TRUE(leftovers(parent).empty());
  const std::string before = slurp(out / "stats.json");

  // --overwrite killed just before the new directory is swapped in: the previous results stay whole.
  ASSERT_TRUE(runCli(with(analyzeArgs(out), "--overwrite"), crashAt("results")).signaled);
  EXPECT_EQ(slurp(out / "stats.json"), before);
  // A full disk while writing the new results: a clear error, the previous results untouched, nothing left over.
  const ChildResult full = runCli(with(analyzeArgs(out), "--overwrite"), sizeLimit(2048));
  EXPECT_EQ(full.exitCode, 1) << full.output;
  EXPECT_NE(full.output.find("write failed for '"), std::string::npos) << full.output;
  EXPECT_EQ(slurp(out / "stats.json"), before);
  EXPECT_TRUE(leftovers(parent).empty());  // the failed run removed its own and the killed run's staging directory
  ASSERT_EQ(runCli(with(analyzeArgs(out), "--overwrite")).exitCode, 0);
  EXPECT_TRUE(leftovers(parent).empty());
  std::ifstream s(out / "stats.json");
  EXPECT_EQ(withoutTimings(json::parse(s)), wantStats);
}
