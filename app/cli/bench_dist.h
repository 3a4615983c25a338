// `bench analyze --nproc N` (docs/distributed.md, "Benchmark"): the same `analyze` run in one process with T threads
// and as N ranks of `layerscope-cli launch` with T/N threads each; wall times, the overhead, and what the ranks'
// collectives moved (each rank writes its core::dist::TrafficStats when LAYERSCOPE_DIST_TRAFFIC names a folder).
#pragma once

#include <filesystem>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

namespace layerscope::core::dist {
class World;
}

namespace layerscope::app {

struct DistBenchRequest {
  std::filesystem::path modelDir, taskFile;
  int nproc = 2;                        ///< ranks of the data-parallel run
  int threads = 0;                      ///< threads of the single process (0: this machine's cores); each rank gets threads/nproc
  int reps = 1;                         ///< runs of each, the fastest kept
  std::vector<std::string> analyzeArgs; ///< passed to both runs after --model/--task/--out (e.g. --batch 4)
};

/// Runs both and returns {"one": {...}, "ranks": {...}, "overhead": ...}; prints a table on stderr as it goes.
nlohmann::json benchAnalyzeProcesses(const DistBenchRequest& request);

/// When LAYERSCOPE_DIST_TRAFFIC names a folder, writes rank-<R>.json there with `world`'s traffic counters (what
/// benchAnalyzeProcesses reads); otherwise nothing.
void writeTrafficIfAsked(const core::dist::World& world);

}  // namespace layerscope::app
