// The reproduce protocol (experiments/reproduce.h) on the tiny random model and the fixture benchmark directory
// (GPQA missing): every step's output is written, the summary lists the missing benchmark, the top-k sizes follow
// the paper's 9 and 10 of 32 (ceil(0.28 L), ceil(0.31 L)), HumanEval+ runs for the base and every arm, and a
// second call resumes without redoing a step.
#include <gtest/gtest.h>

#include <fstream>

#include "experiments/reproduce.h"
#include "tests/experiments/experiment_fixtures.h"

namespace layerscope::experiments {
namespace {
namespace fs = std::filesystem;

TEST(Reproduce, QuickProtocolOnTheTinyModelWritesEveryStepAndResumes) {
  auto tiny = std::make_unique<test::TinyByteModel>(
      test::byteConfig({.hidden = 16, .intermediate = 32, .layers = 4, .heads = 4, .maxPositions = 512}),
      core::RandomCheckpointOptions{.seed = 5, .weightStd = 0.3});
  test::TempDir dir;
  test::writeExperimentInputs(dir.path());
  ReproduceRequest r;
  applyQuickSettings(r);
  r.steps = 2;
  r.bootstrap = 20;
  r.codeMaxTokens = 8;
  r.modelDir = tiny->dir();
  r.benchmarksDir = fs::path(LAYERSCOPE_SOURCE_DIR) / "tests/data/fixtures/benchmarks";
  r.outDir = dir / "repro";
  r.train = (dir / "train.jsonl").string();
  const auto s = runReproduce(r);
  EXPECT_EQ(s["missing_benchmarks"], nlohmann::json::array({"gpqa"}));
  EXPECT_EQ(s["colocalization"]["top_k"]["k_sens"], 2);  // ceil(0.28 * 4)
  EXPECT_EQ(s["colocalization"]["top_k"]["k_rope"], 2);  // ceil(0.31 * 4)
  EXPECT_EQ(s["colocalization"]["n_layers"], 4);
  ASSERT_EQ(s["humaneval"].size(), 6u);  // base, C1-C4, C5-s0
  for (const auto& [name, v] : s["humaneval"].items()) EXPECT_EQ(v["problems"], 2) << name;
  std::ifstream pairs(r.outDir / "pairs.jsonl");
  int n = 0;
  for (std::string line; std::getline(pairs, line);) ++n;
  EXPECT_EQ(n, 5);  // mmlu 3 + arc 2 (fewer than 15 available)
  for (const char* f : {"analysis/stats.json", "ablation/report.json", "humaneval/base/items.jsonl", "humaneval/C1/result.json", "summary.json"})
    EXPECT_TRUE(fs::exists(r.outDir / f)) << f;

  const auto statsTime = fs::last_write_time(r.outDir / "analysis/stats.json");
  const auto codeTime = fs::last_write_time(r.outDir / "humaneval/C3/result.json");
  const auto again = runReproduce(r);
  EXPECT_EQ(fs::last_write_time(r.outDir / "analysis/stats.json"), statsTime);
  EXPECT_EQ(fs::last_write_time(r.outDir / "humaneval/C3/result.json"), codeTime);
  EXPECT_EQ(again["humaneval"], s["humaneval"]);
  EXPECT_EQ(again["colocalization"], s["colocalization"]);

  r.train.clear();
  EXPECT_THROW(runReproduce(r), InvalidArgument);
}

TEST(Reproduce, EstimateListsWhatWillRunAndWritesNothing) {
  auto tiny = std::make_unique<test::TinyByteModel>(
      test::byteConfig({.hidden = 16, .intermediate = 32, .layers = 4, .heads = 4, .maxPositions = 512}),
      core::RandomCheckpointOptions{.seed = 5, .weightStd = 0.3});
  test::TempDir dir;
  test::writeExperimentInputs(dir.path());
  ReproduceRequest r;
  r.modelDir = tiny->dir();
  r.benchmarksDir = fs::path(LAYERSCOPE_SOURCE_DIR) / "tests/data/fixtures/benchmarks";
  r.outDir = dir / "repro";
  r.train = (dir / "train.jsonl").string();
  r.steps = 7;
  r.controlSeeds = 2;
  const auto e = estimateReproduce(r, /*measure=*/false);
  EXPECT_EQ(e.detail["benchmarks_found"], nlohmann::json::array({"mmlu", "humaneval_plus", "math", "mgsm", "arc"}));
  EXPECT_EQ(e.detail["missing_benchmarks"], nlohmann::json::array({"gpqa"}));
  EXPECT_EQ(e.detail["pairs"], 5);  // mmlu 3 + arc 2
  EXPECT_EQ(e.detail["arms"], 6);   // C1-C4 + 2 control runs
  EXPECT_EQ(e.detail["k_sens"], 2);
  EXPECT_EQ(e.detail["training_per_arm"]["steps"], 7);
  for (const char* part : {"1. analysis on 5 pairs", "2. ablation: 6 training runs (C1-C4, C5 x 2) of 7 steps", "on the 4 non-code benchmarks",
                           "3. HumanEval(+)", "estimated: "})
    EXPECT_NE(e.text.find(part), std::string::npos) << part << "\n" << e.text;
  EXPECT_FALSE(fs::exists(r.outDir));
  r.train.clear();
  EXPECT_THROW(estimateReproduce(r, false), InvalidArgument);
}

}  // namespace
}  // namespace layerscope::experiments
