// dist_probe: one rank of a test job (tests/dist/world_test.cpp starts several). Joins the world from the torchrun
// variables, runs the collectives named by the mode and prints what it received, one line per result.
//   dist_probe collectives   all-reduce, variable-length all-gather, strings, broadcast, barrier, finish
//   dist_probe die R         as collectives, but rank R SIGKILLs itself before the all-reduce
//   dist_probe hang R        rank R sleeps forever before the all-reduce (the others must time out)
// Environment: LAYERSCOPE_DIST_TIMEOUT_MS bounds joining and each collective.
#include <csignal>
#include <cstdlib>
#include <iostream>
#include <string>
#include <thread>

#include <unistd.h>

#include "core/dist/world.h"

using namespace layerscope::core::dist;

int main(int argc, char** argv) {
  const std::string mode = argc > 1 ? argv[1] : "collectives";
  const int victim = argc > 2 ? std::atoi(argv[2]) : -1;
  try {
    std::optional<std::chrono::milliseconds> timeout;
    if (const char* t = std::getenv("LAYERSCOPE_DIST_TIMEOUT_MS")) timeout = std::chrono::milliseconds(std::atol(t));
    World w = World::fromEnvironment(timeout);
    const int r = w.rank();
    std::cout << "joined " << r << " " << w.size() << std::endl;
    if (r == victim && mode == "die") ::kill(::getpid(), SIGKILL);
    if (r == victim && mode == "hang") std::this_thread::sleep_for(std::chrono::hours(1));
    // all-reduce: rank r contributes (r+1) * (1, 2, 3)
    std::vector<double> v{1.0 * (r + 1), 2.0 * (r + 1), 3.0 * (r + 1)};
    w.allReduceSum(v);
    std::cout << "allreduce " << v[0] << " " << v[1] << " " << v[2] << std::endl;
    auto t = torch::full({2, 2}, float(r) + 0.5f);
    w.allReduceSum(t);
    std::cout << "allreduce-tensor " << t.sum().item<double>() << std::endl;
    // all-gather: rank r contributes r items of value r + 0.25 (rank 0 contributes nothing)
    const auto gathered = w.allGather(std::vector<double>(size_t(r), r + 0.25));
    std::cout << "allgather";
    for (const auto& g : gathered) {
      std::cout << " [";
      for (double x : g) std::cout << " " << x;
      std::cout << " ]";
    }
    std::cout << std::endl;
    const auto names = w.allGather("rank-" + std::to_string(r));
    std::cout << "strings";
    for (const auto& s : names) std::cout << " " << s;
    std::cout << std::endl;
    auto b = torch::full({3}, double(r == 0 ? 7 : -1), torch::kFloat64);
    w.broadcast(b);
    std::cout << "broadcast " << b.sum().item<double>() << std::endl;
    w.barrier();
    std::cout << "traffic " << w.traffic().calls << " " << w.traffic().bytes << std::endl;
    w.finish();
    std::cout << "done " << r << std::endl;
    return 0;
  } catch (const std::exception& e) {
    std::cerr << "dist_probe: error: " << e.what() << std::endl;
    return 1;
  }
}
