// Data-parallel `train` with real processes over 127.0.0.1 on the bundled demo model: 2 ranks (through
// `layerscope-cli launch`) against the single-process run with the same global batch and seed, a 2-rank checkpoint
// resumed in 1 process and a 1-process checkpoint resumed in 2 ranks, and a rank SIGKILLed mid-training.
//
// Tolerance: each rank computes the mean loss of its share of a micro-batch, weighted by its share of the loss
// tokens, and the gradients are summed over ranks, so a step equals the single-process step up to float32
// summation order (the batch's rows are reduced in two parts instead of one GEMM). Those differences grow through
// the AdamW steps; measured: 9.5e-6 relative at most over 8 steps (lr 5e-3, clipping active); bound 1e-4 relative.
// LoRA dropout is 0: with dropout the ranks draw their own masks, so the runs agree only statistically.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>

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
constexpr double kTolerance = 1e-4;

class DistTrain : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    dir_ = fs::temp_directory_path() / ("layerscope-dist-train-" + std::to_string(::getpid()));
    layerscope::core::removeTree(dir_);
    fs::create_directories(dir_);
  }
  static void TearDownTestSuite() { layerscope::core::removeTree(dir_); }

  /// 8 steps of batch 5 x 2 micro-batches (a 5-row micro-batch splits 3 + 2), checkpoints at steps 4 and 8; a
  /// learning rate high enough that the loss moves and the clip engages.
  static std::vector<std::string> trainArgs(const fs::path& out, const std::string& steps = "8") {
    return {"train", "--model", kModel, "--train", "demo:40", "--lora-layers", "4-7", "--garfa-layers", "0-11",
            "--lora-dropout", "0", "--lr", "5e-3", "--garfa-lr", "1e-2", "--steps", steps, "--batch", "5",
            "--grad-accum", "2", "--checkpoint-every", "4", "--seed", "3", "--out", out.string()};
  }
  /// One process, or `n` ranks through `layerscope-cli launch`; returns the exit status.
  static int run(int n, std::vector<std::string> args, const std::string& tag, std::string* err = nullptr) {
    std::vector<std::string> argv{kCli};
    if (n > 1) argv.insert(argv.end(), {"launch", "--nproc", std::to_string(n), "--timeout", "30", "--"});
    argv.insert(argv.end(), args.begin(), args.end());
    std::vector<Proc> p{start(argv, {}, dir_, tag)};
    EXPECT_TRUE(waitAll(p, std::chrono::steady_clock::now(), Ms(120000)));
    if (err) *err = p[0].stderrText();
    return p[0].status;
  }
  static json log(const fs::path& out) { return json::parse(std::ifstream(out / "training_log.json")); }
  /// A copy of a finished run as an interrupted one: the last checkpoint and the finished outputs removed.
  static fs::path interrupted(const fs::path& from, const std::string& name) {
    const fs::path to = dir_ / name;
    fs::copy(from, to, fs::copy_options::recursive);
    layerscope::core::removeTree(to / "checkpoints" / "step-00000008");
    for (const char* f : {"training_log.json", "adapter_model.safetensors", "adapter_config.json", "garfa.safetensors",
                          "garfa_config.json"})
      fs::remove(to / f);
    return to;
  }
  static inline fs::path dir_;
};

double largestRelativeDifference(const std::vector<double>& a, const std::vector<double>& b) {
  EXPECT_EQ(a.size(), b.size());
  double worst = 0;
  for (size_t i = 0; i < std::min(a.size(), b.size()); ++i)
    worst = std::max(worst, std::abs(a[i] - b[i]) / std::max(std::abs(a[i]), 1e-300));
  return worst;
}

}  // namespace

TEST_F(DistTrain, TwoRanksFollowTheSingleProcessLossAndResumeAcrossWorldSizes) {
  std::string err;
  ASSERT_EQ(run(1, trainArgs(dir_ / "one"), "one", &err), 0) << err;
  ASSERT_EQ(run(2, trainArgs(dir_ / "two"), "two", &err), 0) << err;
  const auto one = log(dir_ / "one")["losses"].get<std::vector<double>>();
  const json two = log(dir_ / "two");
  ASSERT_EQ(one.size(), 8u);
  EXPECT_EQ(log(dir_ / "one")["world_size"], 1);
  EXPECT_EQ(two["world_size"], 2);
  // The run must move: a loss sequence that stays put would make the comparison vacuous.
  EXPECT_GT(*std::max_element(one.begin(), one.end()), 10 * *std::min_element(one.begin(), one.end()));
  const double d2 = largestRelativeDifference(one, two["losses"].get<std::vector<double>>());
  std::cout << "  2 ranks vs 1 process: largest relative loss difference " << d2 << "\n";
  EXPECT_LE(d2, kTolerance);
  // Rank 0 alone wrote the checkpoints: exactly the two kept, no second writer's leftovers.
  std::vector<std::string> names;
  for (const auto& e : fs::directory_iterator(dir_ / "two" / "checkpoints")) names.push_back(e.path().filename());
  std::sort(names.begin(), names.end());
  EXPECT_EQ(names, (std::vector<std::string>{"step-00000004", "step-00000008"}));

  // The 2-rank checkpoint of step 4 resumed in 1 process, and the 1-process one in 2 ranks.
  const fs::path r1 = interrupted(dir_ / "two", "two-resumed-in-one");
  auto args = trainArgs(r1);
  args.push_back("--resume");
  ASSERT_EQ(run(1, args, "resume1", &err), 0) << err;
  const fs::path r2 = interrupted(dir_ / "one", "one-resumed-in-two");
  args = trainArgs(r2);
  args.push_back("--resume");
  ASSERT_EQ(run(2, args, "resume2", &err), 0) << err;
  for (const auto& [dir, ranks] : {std::pair{r1, 1}, std::pair{r2, 2}}) {
    const json j = log(dir);
    EXPECT_EQ(j["resumed_from_step"], 4) << dir;
    EXPECT_EQ(j["world_size"], ranks) << dir;
    const double d = largestRelativeDifference(one, j["losses"].get<std::vector<double>>());
    std::cout << "  " << dir.filename().string() << ": largest relative loss difference " << d << "\n";
    EXPECT_LE(d, kTolerance) << dir;
    EXPECT_TRUE(fs::exists(dir / "adapter_model.safetensors")) << dir;
  }
}

TEST_F(DistTrain, ARankKilledMidTrainingStopsTheOtherWithoutFinishedOutput) {
  const int port = freePort();
  const auto out = dir_ / "killed";
  std::vector<Proc> ranks;
  for (int r = 0; r < 2; ++r) {
    auto env = rankEnv(r, 2, port);
    env.emplace_back("LAYERSCOPE_DIST_TIMEOUT", "10");
    std::vector<std::string> argv{kCli};
    for (auto& a : trainArgs(out, "400")) argv.push_back(a);
    ranks.push_back(start(argv, env, dir_, "killed" + std::to_string(r)));
  }
  // Kill rank 1 once it has taken two steps (it is then training: between or inside all-reduces).
  const auto started = std::chrono::steady_clock::now();
  while (ranks[1].stderrText().find("step 2/400") == std::string::npos &&
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
  // Like an interrupted single-process run: the options and log for --resume, no checkpoint yet (every 4 steps:
  // rank 0 stopped at step 2 or 3), and none of a finished run's files.
  EXPECT_TRUE(fs::exists(out / "train_options.json"));
  for (const char* f : {"training_log.json", "adapter_model.safetensors", "garfa.safetensors", "checkpoints/step-00000004"})
    EXPECT_FALSE(fs::exists(out / f)) << f;
}
