// The program sandbox on hand-written programs with known outcomes: correct, wrong, syntax error, CPU loop, sleeper
// (wall clock), fork bomb, memory hog, writes outside its directory, network, environment, inherited descriptors,
// cancellation, parallel order. No model is involved. Isolation layers the kernel refuses are reported, not assumed.
#include <gtest/gtest.h>

#include <dirent.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <chrono>
#include <cstdlib>
#include <fstream>
#include <thread>

#include "core/base/error.h"
#include "core/base/sandbox.h"
#include "core/base/remove_tree.h"

namespace layerscope::core {
namespace {
namespace fs = std::filesystem;

SandboxOptions limits() {
  SandboxOptions o;
  o.wallSeconds = 8;
  o.cpuSeconds = 4;
  o.addressSpaceBytes = 512ull << 20;
  o.maxProcesses = 16;
  return o;
}

SandboxResult run(const std::string& source, SandboxOptions o = limits()) {
  return runSandboxed(SandboxProgram{{"main.py", source}}, o);
}

// Processes whose real uid is `uid` (from /proc/<pid>/status).
int processesOf(unsigned uid) {
  int n = 0;
  DIR* d = ::opendir("/proc");
  if (!d) return -1;
  while (dirent* e = ::readdir(d)) {
    if (e->d_name[0] < '0' || e->d_name[0] > '9') continue;
    std::ifstream in(std::string("/proc/") + e->d_name + "/status");
    for (std::string line; std::getline(in, line);)
      if (line.rfind("Uid:", 0) == 0) {
        n += std::stoul(line.substr(4)) == uid;
        break;
      }
  }
  ::closedir(d);
  return n;
}

TEST(Sandbox, CorrectWrongAndSyntaxError) {
  const auto ok = run("print('hello')\n");
  EXPECT_EQ(ok.status, SandboxStatus::Passed) << ok.reason << ok.stderrTail;
  EXPECT_EQ(ok.exitCode, 0);
  EXPECT_EQ(ok.stdoutTail, "hello\n");
  EXPECT_EQ(ok.reason, "");
  RecordProperty("isolation", sandboxIsolationText(ok.isolation));
  std::cout << "isolation on this machine: " << sandboxIsolationText(ok.isolation) << "\n";

  const auto wrong = run("def f(x):\n    return x + 1\n\nassert f(1) == 3\n");
  EXPECT_EQ(wrong.status, SandboxStatus::Failed);
  EXPECT_EQ(wrong.exitCode, 1);
  EXPECT_EQ(wrong.reason, "AssertionError");

  const auto syntax = run("def f(:\n    pass\n");
  EXPECT_EQ(syntax.status, SandboxStatus::Failed);
  EXPECT_EQ(syntax.reason, "SyntaxError: invalid syntax");

  const auto crash = run("import os, signal\nos.kill(os.getpid(), signal.SIGSEGV)\n");
  EXPECT_EQ(crash.status, SandboxStatus::Failed);
  EXPECT_EQ(crash.signal, SIGSEGV);
  EXPECT_EQ(crash.reason, "killed by SIGSEGV");
}

TEST(Sandbox, CpuLoopHitsTheCpuLimitAndASleeperTheWallClock) {
  SandboxOptions o = limits();
  o.cpuSeconds = 1;
  o.wallSeconds = 20;
  const auto loop = run("while True:\n    pass\n", o);
  EXPECT_EQ(loop.status, SandboxStatus::Failed);
  EXPECT_EQ(loop.reason, "CPU time limit (1 s)");
  EXPECT_LT(loop.seconds, 10);

  o.cpuSeconds = 10;
  o.wallSeconds = 1.5;
  const auto sleeper = run("import time\ntime.sleep(120)\n", o);
  EXPECT_EQ(sleeper.status, SandboxStatus::Timeout);
  EXPECT_EQ(sleeper.reason, "wall-clock limit (1.5 s)");
  EXPECT_GE(sleeper.seconds, 1.5);
  EXPECT_LT(sleeper.seconds, 10);
}

TEST(Sandbox, ForkBombIsBoundedAndLeavesNothingBehind) {
  SandboxOptions o = limits();
  o.wallSeconds = 3;
  const auto bomb = run("import os, time\nwhile True:\n    try:\n        os.fork()\n    except OSError:\n        time.sleep(0.01)\n", o);
  EXPECT_EQ(bomb.status, SandboxStatus::Timeout) << bomb.reason;
  EXPECT_LT(bomb.seconds, 15);
  if (bomb.isolation & kUnprivilegedUid) {
    // Every process of the tree is gone once runSandboxed returns (kill of the group / end of the PID namespace).
    EXPECT_EQ(processesOf(65534), 0);
  }
  // The sandbox works straight after.
  EXPECT_EQ(run("print(1)\n").status, SandboxStatus::Passed);
}

TEST(Sandbox, MemoryHogGetsMemoryError) {
  const auto hog = run("chunks = []\nwhile True:\n    chunks.append(bytearray(50 * 1024 * 1024))\n");
  EXPECT_EQ(hog.status, SandboxStatus::Failed);
  EXPECT_EQ(hog.reason, "MemoryError (address-space limit 512 MiB)");
  const auto big = run("x = bytearray(8 << 30)\n");
  EXPECT_EQ(big.reason, "MemoryError (address-space limit 512 MiB)");
  SandboxOptions o = limits();
  o.fileSizeBytes = 1 << 20;
  const auto disk = run("with open('big.bin', 'wb') as f:\n    f.write(b'x' * (4 << 20))\n", o);
  EXPECT_EQ(disk.status, SandboxStatus::Failed);
  EXPECT_EQ(disk.reason, "OSError: [Errno 27] File too large") << disk.stderrTail;
}

TEST(Sandbox, WritesOnlyInsideItsDirectoryWhichIsRemovedAfterwards) {
  const fs::path root = fs::temp_directory_path() / ("layerscope-sandbox-test-" + std::to_string(::getpid()));
  fs::create_directories(root);
  ::chmod(root.c_str(), 0711);  // the program may run as nobody: its directory must be reachable
  SandboxOptions o = limits();
  o.tempRoot = root;
  const fs::path outside = fs::temp_directory_path() / ("layerscope-sandbox-escape-" + std::to_string(::getpid()));
  const auto inside = runSandboxed(SandboxProgram{{"main.py", "open('out.txt', 'w').write('x')\nimport os\nos.mkdir('d')\nprint(open('out.txt').read(), open('data.txt').read())\n"},
                                                  {"data.txt", "given"}},
                                   o);
  EXPECT_EQ(inside.status, SandboxStatus::Passed) << inside.reason;
  EXPECT_EQ(inside.stdoutTail, "x given\n");
  // Beside its working directory (a root-owned folder when it runs as nobody; Landlock refuses it too).
  const auto up = runSandboxed(SandboxProgram{{"main.py", "open('../escape.txt', 'w').write('x')\n"}}, o);
  EXPECT_EQ(up.status, SandboxStatus::Failed);
  if (up.isolation & (kLandlockWrites | kUnprivilegedUid)) {
    EXPECT_EQ(up.reason.rfind("PermissionError", 0), 0u) << up.reason;
  }
  // The world-writable temp folder: only Landlock stops this one.
  const auto escape = runSandboxed(SandboxProgram{{"main.py", "open('" + outside.string() + "', 'w').write('x')\n"}}, o);
  if (escape.isolation & kLandlockWrites) {
    EXPECT_EQ(escape.status, SandboxStatus::Failed);
    EXPECT_EQ(escape.reason.rfind("PermissionError", 0), 0u) << escape.reason;
    EXPECT_FALSE(fs::exists(outside));
  }
  fs::remove(outside);
  EXPECT_TRUE(fs::is_empty(root)) << "working directories are removed after each run";
  layerscope::core::removeTree(root);
}

TEST(Sandbox, NoNetworkNoEnvironmentNoInheritedDescriptors) {
  ::setenv("LAYERSCOPE_SANDBOX_SECRET", "visible", 1);
  const int leaked = ::open("/dev/null", O_RDONLY);  // no O_CLOEXEC: a plain fork + exec would pass it on
  ASSERT_GE(leaked, 0);
  const auto r = run(
      "import os, socket\n"
      "assert 'LAYERSCOPE_SANDBOX_SECRET' not in os.environ, os.environ\n"
      "fds = sorted(int(f) for f in os.listdir('/proc/self/fd'))\n"
      "assert fds[:3] == [0, 1, 2] and len(fds) <= 4, fds\n"
      "try:\n"
      "    socket.create_connection(('192.0.2.1', 80), timeout=2)\n"
      "    print('connected')\n"
      "except OSError as e:\n"
      "    print('no network:', e)\n");
  ::close(leaked);
  ::unsetenv("LAYERSCOPE_SANDBOX_SECRET");
  EXPECT_EQ(r.status, SandboxStatus::Passed) << r.reason << "\n" << r.stderrTail;
  if (r.isolation & (kIsolatedNetwork | kLandlockNetwork)) {
    EXPECT_EQ(r.stdoutTail.rfind("no network:", 0), 0u) << r.stdoutTail;
    std::cout << r.stdoutTail;
  }
}

TEST(Sandbox, ParallelRunsKeepInputOrderAndCancelKillsThePrograms) {
  std::vector<SandboxProgram> programs;
  for (int i = 0; i < 5; ++i) programs.push_back({{"main.py", "import sys\nprint(" + std::to_string(i) + ")\nsys.exit(" + std::to_string(i % 2) + ")\n"}});
  SandboxOptions o = limits();
  o.jobs = 2;
  const auto r = runSandboxed(programs, o);
  ASSERT_EQ(r.size(), 5u);
  for (int i = 0; i < 5; ++i) {
    EXPECT_EQ(r[size_t(i)].stdoutTail, std::to_string(i) + "\n");
    EXPECT_EQ(r[size_t(i)].status, i % 2 ? SandboxStatus::Failed : SandboxStatus::Passed);
  }
  EXPECT_EQ(r[1].reason, "exit status 1");

  std::stop_source stop;
  JobControl job(stop.get_token());
  std::vector<SandboxProgram> sleepers(3, SandboxProgram{{"main.py", "import time\ntime.sleep(60)\n"}});
  o.wallSeconds = 60;
  std::thread canceller([&] {
    std::this_thread::sleep_for(std::chrono::milliseconds(500));
    stop.request_stop();
  });
  const auto t0 = std::chrono::steady_clock::now();
  EXPECT_THROW(runSandboxed(sleepers, o, &job), Cancelled);
  canceller.join();
  EXPECT_LT(std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count(), 30);
}

TEST(Sandbox, RefusesBadFileNamesAndMissingInterpreter) {
  EXPECT_THROW(runSandboxed(SandboxProgram{{"../x.py", ""}}, limits()), InvalidArgument);
  SandboxOptions o = limits();
  o.python = "/nonexistent/python3";
  EXPECT_THROW(runSandboxed(SandboxProgram{{"main.py", ""}}, o), InvalidArgument);
}

}  // namespace
}  // namespace layerscope::core
