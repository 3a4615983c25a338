// The benchmark directory scan (found / missing / ambiguous) and the default pairs rule, on the fixture directory
// tests/data/fixtures/benchmarks (five of the six benchmarks, GPQA missing; small hand-written items).
#include <gtest/gtest.h>

#include <fstream>

#include "core/base/error.h"
#include "core/data/benchmark_dir.h"
#include "core/data/humaneval.h"
#include "tests/common/test_util.h"

namespace layerscope::core {
namespace {
namespace fs = std::filesystem;

const fs::path kDir = fs::path(LAYERSCOPE_SOURCE_DIR) / "tests/data/fixtures/benchmarks";

TEST(BenchmarkDirectory, FindsFilesAndFoldersAndListsTheMissing) {
  const auto d = scanBenchmarkDirectory(kDir);
  ASSERT_EQ(d.entries.size(), 6u);
  EXPECT_EQ(d.entries[0].name, "mmlu");
  EXPECT_EQ(d.entry("mmlu").file, kDir / "mmlu.jsonl");
  EXPECT_EQ(d.entry("arc").file, kDir / "arc" / "test.jsonl");
  EXPECT_EQ(d.entry("humaneval_plus").layout, "humaneval+");
  EXPECT_EQ(d.missing(), std::vector<std::string>{"gpqa"});
  EXPECT_EQ(d.entry("gpqa").tried, (std::vector<std::string>{"gpqa.jsonl", "gpqa/test.jsonl"}));
  EXPECT_EQ(loadHumanEval(d.entry("humaneval_plus").file).format, CodeBenchmarkFormat::HumanEvalPlus);
  EXPECT_THROW(d.entry("squad"), InvalidArgument);
  EXPECT_THROW(scanBenchmarkDirectory(kDir / "mmlu.jsonl"), InvalidArgument);
}

TEST(BenchmarkDirectory, PlainHumanEvalAndAmbiguousFolders) {
  test::TempDir dir;
  fs::copy_file(fs::path(LAYERSCOPE_SOURCE_DIR) / "tests/data/fixtures/humaneval/humaneval.jsonl", dir / "HumanEval.jsonl");
  fs::create_directories(dir / "math");
  std::ofstream(dir / "math" / "a.jsonl") << "{}\n";
  std::ofstream(dir / "math" / "b.jsonl") << "{}\n";
  try {
    scanBenchmarkDirectory(dir.path());
    FAIL() << "an ambiguous folder was accepted";
  } catch (const InvalidArgument& e) {
    EXPECT_NE(std::string(e.what()).find("several .jsonl files (a.jsonl, b.jsonl)"), std::string::npos) << e.what();
  }
  fs::remove(dir / "math" / "b.jsonl");
  const auto d = scanBenchmarkDirectory(dir.path());
  EXPECT_EQ(d.entry("math").file, dir / "math" / "a.jsonl");
  EXPECT_EQ(d.entry("humaneval_plus").layout, "humaneval");
  EXPECT_EQ(d.entry("humaneval_plus").file, dir / "HumanEval.jsonl");
  EXPECT_EQ(d.missing().size(), 4u);
}

TEST(BenchmarkDirectory, DefaultPairsTakeItemsInTurnFromTheMultipleChoiceBenchmarks) {
  const auto d = scanBenchmarkDirectory(kDir);
  const Task t = defaultPairs(d);
  const auto& p = t.pairs();
  // mmlu has 3 items, arc 2, gpqa none: mmlu0, arc0, mmlu1, arc1, mmlu2 (fewer than 15 available).
  ASSERT_EQ(p.size(), 5u);
  EXPECT_EQ(p[0].id, "mmlu:mmlu-1");
  EXPECT_EQ(p[0].correct, " B");   // "5" is choice B
  EXPECT_EQ(p[0].incorrect, " C");  // the next choice
  EXPECT_EQ(p[1].id, "arc:arc-1");
  EXPECT_EQ(p[1].prompt, "Question: Which is a mammal?\nAnswer:");
  EXPECT_EQ(p[1].correct, " whale");
  EXPECT_EQ(p[1].incorrect, " trout");
  EXPECT_EQ(p[3].correct, " light");
  EXPECT_EQ(p[3].incorrect, " sand");
  EXPECT_EQ(p[4].id, "mmlu:mmlu-3");
  EXPECT_EQ(defaultPairs(d, 3).pairs().size(), 3u);
  EXPECT_NO_THROW(toJsonl(t)) << "the pairs pass the task writer's checks";
  test::TempDir empty;
  EXPECT_THROW(defaultPairs(scanBenchmarkDirectory(empty.path())), DatasetError);
}

}  // namespace
}  // namespace layerscope::core
