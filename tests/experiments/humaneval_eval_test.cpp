// HumanEval(+) evaluation (experiments/humaneval_eval.h): pass@1 and items from given completions (no model), and
// the whole run on the tiny random model: its completions are the ones generateGreedy gives, every one is tested,
// and the output directory holds items.jsonl and result.json; a cancelled run writes nothing.
#include <gtest/gtest.h>

#include <fstream>

#include "core/base/error.h"
#include "experiments/humaneval_eval.h"
#include "tests/experiments/experiment_fixtures.h"

namespace layerscope::experiments {
namespace {
namespace fs = std::filesystem;

const fs::path kFixtures = fs::path(LAYERSCOPE_SOURCE_DIR) / "tests/data/fixtures/humaneval";

core::SandboxOptions quickSandbox() {
  core::SandboxOptions o;
  o.wallSeconds = 10;
  o.cpuSeconds = 5;
  o.addressSpaceBytes = 512ull << 20;
  return o;
}

TEST(CodeEval, PassAtOneAndItemsFromGivenCompletions) {
  const auto plus = core::loadHumanEval(kFixtures / "humaneval_plus.jsonl");
  std::vector<core::Generation> gens(3);
  gens[0].text = plus.problems[0].canonicalSolution, gens[0].stop = "\ndef ";
  gens[1].text = "    return x\n", gens[1].stop = "<eos>";  // passes HumanEval's tests, not HumanEval+'s
  gens[2].text = "    while True:\n        pass\n", gens[2].stop = "max_tokens";
  core::SandboxOptions o = quickSandbox();
  o.cpuSeconds = 1;
  const auto r = scoreCompletions(plus, gens, o);
  ASSERT_EQ(r.items.size(), 3u);
  EXPECT_EQ(r.format, "humaneval+");
  EXPECT_EQ(r.passed, 1u);
  EXPECT_DOUBLE_EQ(r.passAt1, 1.0 / 3.0);
  EXPECT_TRUE(r.items[0].passed());
  EXPECT_EQ(r.items[1].status, core::SandboxStatus::Failed);
  EXPECT_EQ(r.items[2].reason, "CPU time limit (1 s)");
  const auto j = codeItemJson(r.items[1]);
  EXPECT_EQ(j["task_id"], "Demo/1");
  EXPECT_EQ(j["completion"], "    return x\n");
  EXPECT_EQ(j["status"], "failed");
  EXPECT_EQ(j["stop"], "<eos>");
  EXPECT_FALSE(j["passed"].get<bool>());
  const auto summary = codeResultJson(r);
  EXPECT_EQ(summary["status_counts"]["failed"], 2);
  EXPECT_EQ(summary["pass_at_1"].get<double>(), 1.0 / 3.0);

  const auto he = core::loadHumanEval(kFixtures / "humaneval.jsonl");
  const auto base = scoreCompletions(he, gens, o);
  EXPECT_EQ(base.format, "humaneval");
  EXPECT_EQ(base.passed, 2u) << "HumanEval's own tests accept the abs() bug";
  EXPECT_THROW(scoreCompletions(he, {gens[0]}, quickSandbox()), InvalidArgument);
}

TEST(CodeEval, RunOnTheTinyModelWritesItemsAndResultAndCancelWritesNothing) {
  // The fixtures' prompts are up to 150 bytes: the experiment model's 128 positions are too few.
  auto tiny = std::make_unique<test::TinyByteModel>(
      test::byteConfig({.hidden = 16, .intermediate = 32, .layers = 4, .heads = 4, .maxPositions = 512}),
      core::RandomCheckpointOptions{.seed = 5, .weightStd = 0.3});
  test::TempDir out;
  CodeEvalRequest r;
  r.modelDir = tiny->dir();
  r.benchmarkFile = kFixtures / "humaneval.jsonl";
  r.generation.maxNewTokens = 8;
  r.sandbox = quickSandbox();
  r.outDir = out / "he";
  const auto res = runCodeEvaluation(r);
  ASSERT_EQ(res.items.size(), 3u);
  // The completions are exactly what greedy generation gives for the prompts.
  const auto model = tiny->load();
  std::vector<std::string> prompts;
  const auto bench = core::loadHumanEval(r.benchmarkFile);
  for (const auto& p : bench.problems) prompts.push_back(p.prompt);
  const auto gens = core::generateGreedy(*model, tiny->tokenizer(), prompts, r.generation);
  for (size_t i = 0; i < 3; ++i) {
    EXPECT_EQ(res.items[i].completion, gens[i].text);
    EXPECT_NE(res.items[i].status, core::SandboxStatus::Error) << res.items[i].reason;
  }
  std::ifstream items(r.outDir / "items.jsonl");
  int lines = 0;
  for (std::string line; std::getline(items, line); ++lines) EXPECT_TRUE(nlohmann::json::parse(line).contains("reason"));
  EXPECT_EQ(lines, 3);
  const auto meta = nlohmann::json::parse(std::ifstream(r.outDir / "result.json"));
  EXPECT_EQ(meta["problems"], 3);
  EXPECT_EQ(meta["options"]["max_new_tokens"], 8);
  EXPECT_EQ(meta["benchmark"]["fingerprint"], bench.fingerprint);
  EXPECT_THROW(runCodeEvaluation(r), InvalidArgument) << "an existing output directory needs overwrite";

  std::stop_source stop;
  stop.request_stop();
  core::JobControl job(stop.get_token());
  r.outDir = out / "cancelled";
  EXPECT_THROW(runCodeEvaluation(r, &job), Cancelled);
  EXPECT_FALSE(fs::exists(r.outDir));
}

}  // namespace
}  // namespace layerscope::experiments
