// `layerscope-cli bench analyze --nproc 2` on the demo model and 13 items: both runs finish, and every rank reports
// what its collectives moved. The all-reduce payload is known from the analysis: the sensitivity states of every
// item (13 items x 12 layers, float64 rows) cross the process group, so each rank sends at least
// 13 x 12 x 8 bytes; timings are only checked to be positive (the machine is shared).
#include <gtest/gtest.h>

#include <nlohmann/json.hpp>

#include "tests/dist/processes.h"
#include "core/base/remove_tree.h"

namespace fs = std::filesystem;
using nlohmann::json;
using namespace layerscope::test;
using Ms = std::chrono::milliseconds;

namespace {
const std::string kCli = LAYERSCOPE_CLI;
const std::string kModel = std::string(LAYERSCOPE_SOURCE_DIR) + "/resources/models/demo";
}  // namespace

TEST(DistBench, AnalyzeWithTwoProcessesReportsWallTimesAndTraffic) {
  const fs::path dir = fs::temp_directory_path() / ("layerscope-dist-bench-" + std::to_string(::getpid()));
  layerscope::core::removeTree(dir);
  fs::create_directories(dir);
  std::vector<Proc> p{start({kCli, "make-tasks", "--out", (dir / "tasks").string(), "--n", "13", "--families",
                             "first_of_two", "--forms", "mc"}, {}, dir, "make-tasks")};
  ASSERT_TRUE(waitAll(p, std::chrono::steady_clock::now(), Ms(20000)));
  ASSERT_EQ(p[0].status, 0) << p[0].stderrText();
  p = {start({kCli, "bench", "analyze", "--model", kModel, "--task", (dir / "tasks" / "first_of_two.mc.jsonl").string(),
              "--batch", "4", "--nproc", "2", "--threads", "2", "--analyze-options",
              "--bootstrap 20 --metrics rel_l2 --profiles none --no-redundancy"},
             {}, dir, "bench")};
  ASSERT_TRUE(waitAll(p, std::chrono::steady_clock::now(), Ms(180000)));
  ASSERT_EQ(p[0].status, 0) << p[0].stderrText();
  const json j = json::parse(p[0].stdoutText());
  EXPECT_EQ(j["one"]["threads"], 2);
  EXPECT_EQ(j["ranks"]["processes"], 2);
  EXPECT_EQ(j["ranks"]["threads_each"], 1);
  EXPECT_GT(j["one"]["wall_seconds"].get<double>(), 0);
  EXPECT_GT(j["ranks"]["wall_seconds"].get<double>(), 0);
  ASSERT_EQ(j["ranks"]["traffic"].size(), 2u);
  for (int r = 0; r < 2; ++r) {
    const auto& t = j["ranks"]["traffic"][size_t(r)];
    EXPECT_EQ(t["rank"], r);
    EXPECT_EQ(t["world_size"], 2);
    EXPECT_GT(t["collectives"].get<double>(), 1);
    EXPECT_GE(t["bytes"].get<double>(), 13.0 * 12 * 8) << "rank " << r;
    EXPECT_GT(t["seconds"].get<double>(), 0);
  }
  EXPECT_NE(p[0].stderrText().find("1 x 2 threads"), std::string::npos) << p[0].stderrText();
  layerscope::core::removeTree(dir);
}
