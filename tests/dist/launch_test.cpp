// `layerscope-cli launch` with real processes: ranks of dist_probe (a program given by path) over 127.0.0.1.
#include <gtest/gtest.h>

#include <fstream>
#include <iostream>
#include <set>
#include <sstream>

#include "tests/dist/processes.h"
#include "core/base/remove_tree.h"

namespace fs = std::filesystem;
using namespace layerscope::test;
using Ms = std::chrono::milliseconds;

namespace {

fs::path scratch(const std::string& name) {
  auto d = fs::temp_directory_path() / ("layerscope-launch-" + name + "-" + std::to_string(::getpid()));
  layerscope::core::removeTree(d);
  fs::create_directories(d);
  return d;
}

Proc launch(const std::vector<std::string>& probeArgs, const fs::path& dir, const std::string& timeout = "5") {
  std::vector<std::string> argv{LAYERSCOPE_CLI, "launch", "--nproc", "3", "--timeout", timeout, "--", LAYERSCOPE_DIST_PROBE};
  argv.insert(argv.end(), probeArgs.begin(), probeArgs.end());
  return start(argv, {}, dir, "launch");
}

}  // namespace

TEST(Launch, RunsEveryRankWithTheTorchrunVariablesAndPrefixesTheirOutput) {
  const auto dir = scratch("ok");
  std::vector<Proc> p{launch({"collectives"}, dir)};
  ASSERT_TRUE(waitAll(p, std::chrono::steady_clock::now(), Ms(30000)));
  ASSERT_EQ(p[0].status, 0) << p[0].stderrText();
  const std::string out = p[0].stdoutText();
  for (int r = 0; r < 3; ++r) {
    EXPECT_NE(out.find("[rank " + std::to_string(r) + "] joined " + std::to_string(r) + " 3\n"), std::string::npos) << out;
    EXPECT_NE(out.find("[rank " + std::to_string(r) + "] allreduce 6 12 18\n"), std::string::npos) << out;
    EXPECT_NE(out.find("[rank " + std::to_string(r) + "] done " + std::to_string(r) + "\n"), std::string::npos) << out;
  }
  layerscope::core::removeTree(dir);
}

TEST(Launch, ARankKilledMidRunFailsTheJobNamingThatRank) {
  const auto dir = scratch("kill");
  const auto t0 = std::chrono::steady_clock::now();
  std::vector<Proc> p{launch({"die", "1"}, dir)};
  ASSERT_TRUE(waitAll(p, t0, Ms(20000)));
  EXPECT_EQ(p[0].status, 128 + SIGKILL);  // the failing rank's status
  EXPECT_LT(p[0].seconds, 10.0);
  const std::string err = p[0].stderrText();
  EXPECT_NE(err.find("launch: rank 1 (pid"), std::string::npos) << err;
  EXPECT_NE(err.find("killed by signal 9"), std::string::npos) << err;
  layerscope::core::removeTree(dir);
}

TEST(Launch, ARankThatFailsOnItsOwnGivesItsMessageAndStatus) {
  const auto dir = scratch("fail");
  // A program that is not there: every rank fails to start (status 127) with the reason.
  std::vector<std::string> argv{LAYERSCOPE_CLI, "launch", "--nproc", "2", "--", "/nonexistent/program"};
  std::vector<Proc> p{start(argv, {}, dir, "launch")};
  ASSERT_TRUE(waitAll(p, std::chrono::steady_clock::now(), Ms(10000)));
  EXPECT_EQ(p[0].status, 127);
  const std::string err = p[0].stderrText();
  EXPECT_NE(err.find("exited with status 127"), std::string::npos) << err;
  EXPECT_NE(err.find("Its last message: cannot start /nonexistent/program: No such file or directory"), std::string::npos) << err;
  layerscope::core::removeTree(dir);
}

TEST(Launch, CtrlCReachesEveryRank) {
  const auto dir = scratch("sigint");
  const auto t0 = std::chrono::steady_clock::now();
  // rank 0 sleeps for an hour, the others wait for it in an all-reduce for up to 60 s
  std::vector<Proc> p{launch({"hang", "0"}, dir, "60")};
  std::this_thread::sleep_for(Ms(1500));
  ::kill(p[0].pid, SIGINT);
  ASSERT_TRUE(waitAll(p, t0, Ms(15000))) << "the launcher did not stop its ranks";
  EXPECT_EQ(p[0].status, 130);
  EXPECT_LT(p[0].seconds, 8.0);  // it returns only once every rank has been reaped
  EXPECT_NE(p[0].stderrText().find("stopped by signal 2"), std::string::npos) << p[0].stderrText();
  layerscope::core::removeTree(dir);
}

TEST(Launch, BadOptionsAreClearErrors) {
  const auto dir = scratch("bad");
  std::vector<Proc> p{start({LAYERSCOPE_CLI, "launch", "--nproc", "2"}, {}, dir, "a"),
                      start({LAYERSCOPE_CLI, "launch", "--nproc", "0", "--", "info"}, {}, dir, "b"),
                      start({LAYERSCOPE_CLI, "launch", "--nnodes", "2", "--nproc", "1", "--", "info"}, {}, dir, "c")};
  ASSERT_TRUE(waitAll(p, std::chrono::steady_clock::now(), Ms(10000)));
  for (auto& q : p) EXPECT_EQ(q.status, 1);
  EXPECT_NE(p[0].stderrText().find("the command after --"), std::string::npos) << p[0].stderrText();
  EXPECT_NE(p[1].stderrText().find("--nproc expects 1..1024, got 0"), std::string::npos) << p[1].stderrText();
  EXPECT_NE(p[2].stderrText().find("same --master-port"), std::string::npos) << p[2].stderrText();
  layerscope::core::removeTree(dir);
}

namespace {

/// Socket inodes of `pid` (its /proc/PID/fd links "socket:[N]").
std::set<std::string> socketInodes(int pid) {
  std::set<std::string> out;
  std::error_code ec;
  for (const auto& e : fs::directory_iterator("/proc/" + std::to_string(pid) + "/fd", ec)) {
    const std::string link = fs::read_symlink(e.path(), ec).string();
    if (link.rfind("socket:[", 0) == 0) out.insert(link.substr(8, link.size() - 9));
  }
  return out;
}

}  // namespace

// One machine: the ranks meet in a file of launch's private folder, not in rank 0's TCPStore (LibTorch 1.13 binds it
// on every interface), and Gloo's sockets are on loopback: no socket of a rank, listening or connected, faces the
// network.
TEST(Launch, OneMachineListensOnLoopbackOnlyAndRemovesItsRendezvousFolder) {
  const auto dir = scratch("loopback");
  const auto t0 = std::chrono::steady_clock::now();
  std::vector<Proc> p{launch({"hang", "0"}, dir, "60")};
  // The ranks' TCP sockets (lines of /proc/net/tcp*), once Gloo has connected them: polled, since start-up takes
  // seconds on a loaded machine (2-3 s beside one fuzzer). Rank 0 then sleeps and the others wait for it.
  std::vector<std::string> lines;
  int ranks = 0;
  for (const auto until = t0 + Ms(30000); std::chrono::steady_clock::now() < until;) {
    std::this_thread::sleep_for(Ms(250));
    std::ifstream kids(fs::path("/proc") / std::to_string(p[0].pid) / "task" / std::to_string(p[0].pid) / "children");
    std::set<std::string> inodes;
    ranks = 0;
    for (int pid; kids >> pid; ++ranks)
      for (const auto& i : socketInodes(pid)) inodes.insert(i);
    std::vector<std::string> now;
    for (const char* table : {"/proc/net/tcp", "/proc/net/tcp6"}) {
      std::ifstream f(table);
      std::string line;
      std::getline(f, line);  // header
      while (std::getline(f, line)) {
        std::istringstream in(line);
        std::string field, inode;
        for (int k = 0; k < 10 && in >> field; ++k) inode = field;  // the 10th field is the inode
        if (inodes.count(inode)) now.push_back(std::string(table) + ": " + line);  // the ranks' sockets only
      }
    }
    const bool settled = !now.empty() && now.size() == lines.size();  // connected, and the same twice in a row
    lines = std::move(now);
    if (settled) break;
  }
  EXPECT_EQ(ranks, 3);
  int sockets = 0, listening = 0;
  for (const auto& entry : lines) {
    std::istringstream in(entry.substr(entry.find(": ") + 2));
    std::string slot, local, remote, state;
    in >> slot >> local >> remote >> state;
    ++sockets;
    listening += state == "0A";
    const std::string addr = local.substr(0, local.find(':'));
    EXPECT_TRUE(addr == "0100007F" || addr == "0000000000000000FFFF00000100007F") << entry;
  }
  EXPECT_GT(sockets, 0) << "Gloo's connections between the ranks (on 127.0.0.1)";
  std::cout << "  the 3 ranks hold " << sockets << " TCP sockets, " << listening << " listening, all on 127.0.0.1\n";
  const std::string err = p[0].stderrText();
  const auto at = err.find("store ");
  ASSERT_NE(at, std::string::npos) << err;
  const fs::path store = err.substr(at + 6, err.find('\n', at) - at - 6);
  EXPECT_EQ(store.filename(), "store") << err;
  EXPECT_TRUE(fs::exists(store.parent_path())) << store;
  ::kill(p[0].pid, SIGINT);
  ASSERT_TRUE(waitAll(p, t0, Ms(15000)));
  EXPECT_FALSE(fs::exists(store.parent_path())) << "launch removes its rendezvous folder";
  layerscope::core::removeTree(dir);
}
