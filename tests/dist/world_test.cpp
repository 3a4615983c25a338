// The process group with real processes over 127.0.0.1 (dist_probe is one rank). Expected values are worked out by
// hand from what each rank contributes (dist_probe.cpp): rank r adds (r+1)*(1,2,3) and gathers r copies of r+0.25.
#include <gtest/gtest.h>

#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <sstream>
#include <thread>

#include "core/dist/world.h"
#include "tests/dist/processes.h"
#include "core/base/remove_tree.h"

namespace fs = std::filesystem;
using namespace layerscope;
using namespace layerscope::test;
using core::dist::shardOf;
using Ms = std::chrono::milliseconds;

namespace {

fs::path scratch(const std::string& name) {
  auto d = fs::temp_directory_path() / ("layerscope-dist-" + name + "-" + std::to_string(::getpid()));
  layerscope::core::removeTree(d);
  fs::create_directories(d);
  return d;
}

std::vector<Proc> job(int n, const std::vector<std::string>& args, const fs::path& dir, int timeoutMs,
                      const std::vector<int>& skip = {}) {
  const int port = freePort();
  std::vector<Proc> procs;
  for (int r = 0; r < n; ++r) {
    if (std::find(skip.begin(), skip.end(), r) != skip.end()) continue;
    auto env = rankEnv(r, n, port);
    env.emplace_back("LAYERSCOPE_DIST_TIMEOUT_MS", std::to_string(timeoutMs));
    std::vector<std::string> argv{LAYERSCOPE_DIST_PROBE};
    argv.insert(argv.end(), args.begin(), args.end());
    procs.push_back(start(argv, env, dir, "rank" + std::to_string(r)));
  }
  return procs;
}

}  // namespace

TEST(DistShard, RangesCoverEveryItemOnceInOrder) {
  for (int n : {1, 2, 3, 5})
    for (std::int64_t count : {0, 1, 2, 7, 127}) {
      std::int64_t next = 0, smallest = count, largest = 0;
      for (int r = 0; r < n; ++r) {
        const auto s = shardOf(count, r, n);
        EXPECT_EQ(s.begin, next);
        next = s.end;
        smallest = std::min(smallest, s.end - s.begin);
        largest = std::max(largest, s.end - s.begin);
      }
      EXPECT_EQ(next, count);
      EXPECT_LE(largest - smallest, 1);
    }
  EXPECT_EQ(shardOf(127, 0, 3).end, 43);  // 127 = 43 + 42 + 42
  EXPECT_EQ(shardOf(127, 2, 3).begin, 85);
}

TEST(DistEnvironment, SingleProcessWithoutVariablesAndClearErrorsForBadOnes) {
  ::unsetenv("WORLD_SIZE");
  EXPECT_FALSE(core::dist::worldOptionsFromEnvironment());
  core::dist::World w = core::dist::World::fromEnvironment();
  EXPECT_EQ(w.size(), 1);
  std::vector<double> v{1, 2};
  w.allReduceSum(v);  // the identity, no sockets
  EXPECT_EQ(v[1], 2);
  EXPECT_EQ(w.allGather(v).size(), 1u);
  ::setenv("WORLD_SIZE", "2", 1);
  ::setenv("RANK", "2", 1);
  try {
    core::dist::worldOptionsFromEnvironment();
    FAIL() << "RANK=2 of 2 accepted";
  } catch (const InvalidArgument& e) {
    EXPECT_NE(std::string(e.what()).find("RANK"), std::string::npos) << e.what();
  }
  ::unsetenv("WORLD_SIZE");
  ::unsetenv("RANK");
}

TEST(DistWorld, CollectivesOverTwoAndThreeRanks) {
  for (int n : {2, 3}) {
    const auto dir = scratch("coll" + std::to_string(n));
    auto procs = job(n, {"collectives"}, dir, 10000);
    ASSERT_TRUE(waitAll(procs, std::chrono::steady_clock::now(), Ms(30000)));
    // sum over r of (r+1) = n(n+1)/2; tensor: 4 * sum(r + 0.5)
    const double s = n * (n + 1) / 2.0, tsum = 4 * (n * (n - 1) / 2.0 + 0.5 * n);
    std::ostringstream reduce, gather, strings;
    reduce << "allreduce " << s << " " << 2 * s << " " << 3 * s;
    gather << "allgather";
    strings << "strings";
    for (int r = 0; r < n; ++r) {
      gather << " [";
      for (int i = 0; i < r; ++i) gather << " " << r + 0.25;
      gather << " ]";
      strings << " rank-" << r;
    }
    for (int r = 0; r < n; ++r) {
      const auto& p = procs[size_t(r)];
      ASSERT_EQ(p.status, 0) << p.stderrText();
      const std::string out = p.stdoutText();
      EXPECT_NE(out.find(reduce.str() + "\n"), std::string::npos) << out;
      EXPECT_NE(out.find("allreduce-tensor " + std::to_string(int(tsum)) + "\n"), std::string::npos) << out;
      EXPECT_NE(out.find(gather.str() + "\n"), std::string::npos) << out;
      EXPECT_NE(out.find(strings.str() + "\n"), std::string::npos) << out;
      EXPECT_NE(out.find("broadcast 21\n"), std::string::npos) << out;
      EXPECT_NE(out.find("done " + std::to_string(r)), std::string::npos) << out;
    }
    layerscope::core::removeTree(dir);
  }
}

TEST(DistWorld, ARankKilledMidRunMakesTheOthersFailWithinTheTimeout) {
  const auto dir = scratch("kill");
  const auto t0 = std::chrono::steady_clock::now();
  auto procs = job(3, {"die", "1"}, dir, 5000);
  ASSERT_TRUE(waitAll(procs, t0, Ms(20000))) << "a rank hung past the test's bound";
  EXPECT_EQ(procs[1].status, 128 + SIGKILL);
  for (int r : {0, 2}) {
    EXPECT_NE(procs[size_t(r)].status, 0) << procs[size_t(r)].stdoutText();
    EXPECT_LT(procs[size_t(r)].seconds, 5.0 + 4.0) << "rank " << r << " outlived the 5 s timeout";
    EXPECT_NE(procs[size_t(r)].stderrText().find("failed"), std::string::npos) << procs[size_t(r)].stderrText();
  }
  layerscope::core::removeTree(dir);
}

TEST(DistWorld, AHungRankMakesTheOthersFailAfterTheTimeout) {
  const auto dir = scratch("hang");
  const auto t0 = std::chrono::steady_clock::now();
  auto procs = job(2, {"hang", "1"}, dir, 2000);
  waitAll(procs, t0, Ms(7000));  // rank 1 sleeps for an hour and is killed here
  ASSERT_TRUE(procs[0].finished) << "rank 0 did not give up on a silent peer";
  EXPECT_NE(procs[0].status, 0);
  EXPECT_LT(procs[0].seconds, 2.0 + 4.5);
  EXPECT_NE(procs[0].stderrText().find("all-reduce failed"), std::string::npos) << procs[0].stderrText();
  layerscope::core::removeTree(dir);
}

TEST(DistWorld, ARankThatNeverStartsIsNamedWithinTheTimeout) {
  const auto dir = scratch("absent");
  const auto t0 = std::chrono::steady_clock::now();
  auto procs = job(3, {"collectives"}, dir, 2000, /*skip=*/{2});
  ASSERT_TRUE(waitAll(procs, t0, Ms(15000)));
  for (auto& p : procs) {
    EXPECT_NE(p.status, 0);
    EXPECT_LT(p.seconds, 2.0 + 6.0);
  }
  const std::string err = procs[0].stderrText();
  EXPECT_NE(err.find("rank(s) 2 did not join within 2 s"), std::string::npos) << err;
  layerscope::core::removeTree(dir);
}

TEST(DistWorld, ATakenPortIsAClearError) {
  // Occupy a port on all addresses, then start a world whose store must listen on it.
  const int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_addr.s_addr = htonl(INADDR_ANY);
  a.sin_port = 0;
  ASSERT_EQ(::bind(fd, reinterpret_cast<sockaddr*>(&a), sizeof a), 0);
  ASSERT_EQ(::listen(fd, 1), 0);
  socklen_t len = sizeof a;
  ::getsockname(fd, reinterpret_cast<sockaddr*>(&a), &len);
  core::dist::WorldOptions o;
  o.worldSize = 2;
  o.masterPort = ntohs(a.sin_port);
  o.timeout = Ms(2000);
  try {
    core::dist::World::join(o);
    FAIL() << "joined on a taken port";
  } catch (const core::dist::DistributedError& e) {
    EXPECT_NE(std::string(e.what()).find("is the port taken"), std::string::npos) << e.what();
    EXPECT_NE(std::string(e.what()).find(std::to_string(o.masterPort)), std::string::npos) << e.what();
  }
  ::close(fd);
}

// Rank 0's TCPStore listens on MASTER_ADDR only (core/dist/world.cpp rewrites its wildcard bind; LibTorch 1.13 would
// listen on every interface): the store's port is in /proc/net/tcp{,6} as a listening socket on 127.0.0.1 alone.
TEST(DistWorld, TheStoreListensOnlyOnTheMasterAddress) {
  const auto dir = scratch("bindaddr");
  const int port = freePort();
  std::vector<Proc> procs;
  for (int r = 0; r < 2; ++r) {
    auto env = rankEnv(r, 2, port);
    env.emplace_back("LAYERSCOPE_DIST_TIMEOUT_MS", "20000");
    procs.push_back(start({LAYERSCOPE_DIST_PROBE, "hang", "0"}, env, dir, "rank" + std::to_string(r)));
  }
  std::this_thread::sleep_for(Ms(2000));  // joined; rank 0 sleeps, rank 1 waits for it
  char hexPort[8];
  std::snprintf(hexPort, sizeof hexPort, "%04X", port);
  std::vector<std::string> addresses;
  for (const char* table : {"/proc/net/tcp", "/proc/net/tcp6"}) {
    std::ifstream f(table);
    std::string line, slot, local, remote, state;
    std::getline(f, line);  // header
    while (std::getline(f, line)) {
      std::istringstream(line) >> slot >> local >> remote >> state;
      if (state == "0A" && local.substr(local.find(':') + 1) == hexPort) addresses.push_back(local);
    }
  }
  for (auto& p : procs) ::kill(p.pid, SIGKILL);
  waitAll(procs, std::chrono::steady_clock::now(), Ms(5000));
  ASSERT_EQ(addresses.size(), 1u) << "one listening socket on the store's port";
  const std::string addr = addresses[0].substr(0, addresses[0].find(':'));
  EXPECT_TRUE(addr == "0100007F" || addr == "0000000000000000FFFF00000100007F") << addresses[0];
  layerscope::core::removeTree(dir);
}
