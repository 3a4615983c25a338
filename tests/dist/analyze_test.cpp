// Data-parallel `analyze` and `manipulate` with real processes over 127.0.0.1 on the bundled demo model: 2 and 3
// ranks against the single-process run (every number of scores.json, stats.json, manipulation.json and
// items.jsonl), a rank SIGKILLed mid-run and a rank that never starts (no results directory either way).
//
// Tolerances: with --batch 1 every sequence goes through the same float32 forward alone whichever process runs it,
// and rows a process leaves at zero are added exactly, so the sharded run must equal the single-process run up to
// the order of the redundancy token sums (measured: bit-identical; bound 1e-12 relative). With larger batches the
// padding of a batch differs between shards and so do float32 states, by as much as a single process run with
// another --batch (measured 1e-5 relative for both on the demo); that case is bounded at 1e-4 relative.
#include <gtest/gtest.h>

#include <cmath>
#include <set>

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

class DistAnalyze : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    dir_ = fs::temp_directory_path() / ("layerscope-dist-analyze-" + std::to_string(::getpid()));
    layerscope::core::removeTree(dir_);
    fs::create_directories(dir_);
    // 13 seeded first_of_two items: the demo model answers 11 correctly (outcome mode needs both outcomes)
    std::vector<Proc> p{start({kCli, "make-tasks", "--out", (dir_ / "tasks").string(), "--n", "13", "--families",
                               "first_of_two", "--forms", "mc"}, {}, dir_, "make-tasks")};
    ASSERT_TRUE(waitAll(p, std::chrono::steady_clock::now(), Ms(20000)));
    ASSERT_EQ(p[0].status, 0) << p[0].stderrText();
    task_ = (dir_ / "tasks" / "first_of_two.mc.jsonl").string();
  }
  static void TearDownTestSuite() { layerscope::core::removeTree(dir_); }

  static std::vector<std::string> analyzeArgs(const fs::path& out, const std::string& batch) {
    return {"analyze", "--model", kModel, "--task", task_, "--out", out.string(), "--bootstrap", "50",
            "--metrics", "rel_l2,cos", "--profiles", "none", "--batch", batch};
  }
  /// The single-process run, or `n` ranks through `layerscope-cli launch`; returns the exit status.
  static int run(int n, const fs::path& out, const std::string& batch, std::string* err = nullptr) {
    return runCommand(n, analyzeArgs(out, batch), out.filename().string(), err);
  }
  static int runCommand(int n, const std::vector<std::string>& command, const std::string& label, std::string* err) {
    std::vector<std::string> argv{kCli};
    if (n > 1) argv.insert(argv.end(), {"launch", "--nproc", std::to_string(n), "--timeout", "30", "--"});
    for (auto& a : command) argv.push_back(a);
    std::vector<Proc> p{start(argv, {}, dir_, label)};
    EXPECT_TRUE(waitAll(p, std::chrono::steady_clock::now(), Ms(120000)));
    if (err) *err = p[0].stderrText();
    return p[0].status;
  }
  static json read(const fs::path& p) {
    std::ifstream f(p);
    return json::parse(f);
  }
  static inline fs::path dir_;
  static inline std::string task_;
};

/// Every number of `a` and `b` within `rel` (relative to the larger magnitude, or absolutely below 1e-12); every
/// other value equal. What legitimately differs is skipped: timings, the creation time, the memory plan (it reads
/// the machine's free memory) and world_size itself.
void expectClose(const json& a, const json& b, double rel, const std::string& path, double& worst, int& compared) {
  static const std::set<std::string> skip{"timings_seconds", "created_utc", "memory_plan", "world_size"};
  if (a.is_object()) {
    ASSERT_TRUE(b.is_object()) << path;
    for (const auto& [k, v] : a.items()) {
      if (skip.count(k) || k.find("seconds") != std::string::npos) continue;
      ASSERT_TRUE(b.contains(k)) << path << "." << k;
      expectClose(v, b[k], rel, path + "." + k, worst, compared);
    }
    return;
  }
  if (a.is_array()) {
    ASSERT_TRUE(b.is_array() && a.size() == b.size()) << path;
    for (size_t i = 0; i < a.size(); ++i) expectClose(a[i], b[i], rel, path + "[" + std::to_string(i) + "]", worst, compared);
    return;
  }
  if (a.is_number_float() || (a.is_number() && b.is_number_float())) {
    const double x = a.get<double>(), y = b.get<double>();
    ++compared;
    if (std::isnan(x) || std::isnan(y)) {
      EXPECT_TRUE(std::isnan(x) && std::isnan(y)) << path;
      return;
    }
    const double d = std::abs(x - y), r = d / std::max({std::abs(x), std::abs(y), 1e-300});
    if (d > 1e-12) worst = std::max(worst, r);
    EXPECT_TRUE(d <= 1e-12 || r <= rel) << path << ": " << x << " vs " << y << " (relative " << r << ")";
    return;
  }
  EXPECT_EQ(a, b) << path;
}

/// items.jsonl as one array (the per-item evaluation results, in item order).
json readItems(const fs::path& file) {
  json items = json::array();
  std::ifstream f(file);
  for (std::string line; std::getline(f, line);)
    if (!line.empty()) items.push_back(json::parse(line));
  return items;
}

void compareRuns(const fs::path& single, const fs::path& sharded, double rel, int worldSize,
                 std::vector<std::string> names = {"scores.json", "stats.json"}) {
  names.push_back("items.jsonl");  // the evaluation is sharded too: every item scored by one process, then gathered
  for (const auto& name : names) {
    double worst = 0;
    int compared = 0;
    const bool lines = name == "items.jsonl";
    const json a = lines ? readItems(single / name) : json::parse(std::ifstream(single / name));
    const json b = lines ? readItems(sharded / name) : json::parse(std::ifstream(sharded / name));
    expectClose(a, b, rel, name, worst, compared);
    EXPECT_GT(compared, 10) << name;
    std::cout << "  " << worldSize << " ranks, " << name << ": " << compared << " numbers, largest relative difference "
              << worst << "\n";
  }
  EXPECT_EQ(json::parse(std::ifstream(sharded / names.front()))["world_size"], worldSize);
}

}  // namespace

TEST_F(DistAnalyze, TwoAndThreeRanksEqualTheSingleProcessRun) {
  ASSERT_EQ(run(1, dir_ / "one", "1"), 0);
  EXPECT_EQ(read(dir_ / "one" / "scores.json")["world_size"], 1);
  EXPECT_EQ(read(dir_ / "one" / "scores.json")["memory_plan"]["forward_batch_size"], 1);  // --batch as given
  for (int n : {2, 3}) {
    const auto out = dir_ / ("ranks" + std::to_string(n));
    std::string err;
    ASSERT_EQ(run(n, out, "1", &err), 0) << err;
    compareRuns(dir_ / "one", out, 1e-12, n);
  }
}

TEST_F(DistAnalyze, BatchedShardsDifferOnlyLikeAnotherBatchSize) {
  ASSERT_EQ(run(1, dir_ / "one4", "4"), 0);
  EXPECT_EQ(read(dir_ / "one4" / "scores.json")["memory_plan"]["forward_batch_size"], 4);
  std::string err;
  ASSERT_EQ(run(2, dir_ / "two4", "4", &err), 0) << err;
  compareRuns(dir_ / "one4", dir_ / "two4", 1e-4, 2);
}

// manipulate: the modes that read the item index, at two layers; the per-item seeds of random/shuffle and the swap donors (the next item of
// the task, which may belong to the other rank) are the task-wide ones, so the sharded run repeats the single one.
TEST_F(DistAnalyze, ManipulationsAreShardedAndEqualTheSingleProcessRun) {
  auto args = [](const fs::path& out) {
    return std::vector<std::string>{"manipulate", "--model", kModel, "--task", task_, "--mode", "random,shuffle,swap",
                                    "--layers", "0,5", "--batch", "1", "--out", out.string()};
  };
  std::string err;
  ASSERT_EQ(runCommand(1, args(dir_ / "man1"), "man1", &err), 0) << err;
  for (int n : {2, 3}) {
    const auto out = dir_ / ("man" + std::to_string(n));
    ASSERT_EQ(runCommand(n, args(out), out.filename().string(), &err), 0) << err;
    compareRuns(dir_ / "man1", out, 1e-12, n, {"manipulation.json"});
  }
}

TEST_F(DistAnalyze, ARankKilledMidRunLeavesNoResultsDirectory) {
  const int port = freePort();
  const auto out = dir_ / "killed";
  std::vector<Proc> ranks;
  for (int r = 0; r < 2; ++r) {
    auto env = rankEnv(r, 2, port);
    env.emplace_back("LAYERSCOPE_DIST_TIMEOUT", "10");
    std::vector<std::string> argv{kCli};
    for (auto& a : analyzeArgs(out, "1")) argv.push_back(a);
    ranks.push_back(start(argv, env, dir_, "killed" + std::to_string(r)));
  }
  // Kill rank 1 once its progress shows the RoPE influence stage (after the join, before that stage's collective ends;
  // the sensitivity before it reads the evaluation's states and exchanges nothing).
  const auto started = std::chrono::steady_clock::now();
  while (ranks[1].stderrText().find("rope influence") == std::string::npos &&
         std::chrono::steady_clock::now() - started < Ms(60000))
    std::this_thread::sleep_for(Ms(20));
  ASSERT_EQ(::waitpid(ranks[1].pid, nullptr, WNOHANG), 0) << "rank 1 ended before it could be killed";
  ::kill(ranks[1].pid, SIGKILL);
  const auto t0 = std::chrono::steady_clock::now();
  ASSERT_TRUE(waitAll(ranks, t0, Ms(10000 + 15000))) << "rank 0 outlived the timeout";
  EXPECT_EQ(ranks[1].status, 128 + SIGKILL);
  EXPECT_NE(ranks[0].status, 0);
  EXPECT_LT(ranks[0].seconds, 10.0) << "rank 0 should notice the closed connection, not wait for the timeout";
  EXPECT_NE(ranks[0].stderrText().find("rank 0 of 2"), std::string::npos) << ranks[0].stderrText();
  EXPECT_FALSE(fs::exists(out));
  for (const auto& e : fs::directory_iterator(dir_))
    EXPECT_EQ(e.path().filename().string().find("killed.incomplete"), std::string::npos) << e.path();
}

TEST_F(DistAnalyze, ARankThatNeverStartsIsAClearErrorWithinTheTimeout) {
  const auto out = dir_ / "alone";
  auto env = rankEnv(0, 2, freePort());
  env.emplace_back("LAYERSCOPE_DIST_TIMEOUT", "3");
  std::vector<std::string> argv{kCli};
  for (auto& a : analyzeArgs(out, "1")) argv.push_back(a);
  std::vector<Proc> p{start(argv, env, dir_, "alone")};
  ASSERT_TRUE(waitAll(p, std::chrono::steady_clock::now(), Ms(20000)));
  EXPECT_EQ(p[0].status, 1);
  EXPECT_LT(p[0].seconds, 3.0 + 6.0);
  EXPECT_NE(p[0].stderrText().find("rank(s) 1 did not join within 3 s"), std::string::npos) << p[0].stderrText();
  EXPECT_FALSE(fs::exists(out));
}
