// Task files found malformed by fuzz_tasks (reproducers in fuzz/corpus/tasks/regress-*): each is a DatasetError
// naming the file and line, never a JSON library exception reaching the user as "internal error".
#include <gtest/gtest.h>

#include <fstream>
#include <string>

#include "core/base/error.h"
#include "core/data/benchmarks.h"
#include "core/data/dataset.h"
#include "tests/common/test_util.h"

namespace layerscope::core {
namespace {

TEST(TaskFileMalformed, NumberTooLargeForADoubleIsADatasetError) {
  // nlohmann::json throws out_of_range.406 (not a parse_error) for 1e400; it escaped parseTask's catch.
  const std::string text = "{\"id\": \"a\", \"prompt\": \"p\", \"target\": \"t\"}\n{\"id\": 1e400, \"prompt\": \"p\", \"target\": \"t\"}\n";
  try {
    parseTask(text, "tasks/x.jsonl");
    FAIL() << "accepted 1e400";
  } catch (const DatasetError& e) {
    EXPECT_NE(std::string(e.what()).find("tasks/x.jsonl:2: invalid JSON"), std::string::npos) << e.what();
  }
}

TEST(TaskFileMalformed, BenchmarkLoaderRefusesNumberOverflowWithFileAndLine) {
  test::TempDir d;
  std::ofstream(d / "mgsm.jsonl") << "{\"question\": \"q\", \"answer_number\": 1e400}\n";
  BenchmarkOptions opt;
  opt.format = BenchmarkFormat::Mgsm;
  try {
    loadBenchmark(d / "mgsm.jsonl", opt);
    FAIL() << "accepted 1e400";
  } catch (const DatasetError& e) {
    EXPECT_NE(std::string(e.what()).find("mgsm.jsonl:1: invalid JSON"), std::string::npos) << e.what();
  }
}

}  // namespace
}  // namespace layerscope::core
