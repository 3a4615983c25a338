// Fuzz target: a task file through every reader: readTask (LayerScope JSONL, docs/tasks.md), format
// detection and loadBenchmark for each benchmark layout (MMLU, ARC, GPQA, MGSM, MATH), with the same file as
// few-shot source. Property: a task the reader accepts is written back (toJsonl) and read again unchanged.
#include <cstddef>
#include <cstdint>
#include <string_view>

#include "core/data/benchmarks.h"
#include "core/data/dataset.h"
#include "fuzz/fuzz_util.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace layerscope;
  const auto path = fuzz::scratch() / "task.jsonl";
  fuzz::writeFile(path, std::string_view(reinterpret_cast<const char*>(data), size));
  fuzz::guarded([&] {
    const core::Task t = core::readTask(path);
    const std::string text = core::toJsonl(t);
    const core::Task back = core::parseTask(text, "round trip");
    if (back.items != t.items) fuzz::finding("toJsonl / parseTask round trip changed the task");
  });
  fuzz::guarded([&] { (void)core::detectBenchmarkFormat(path); });
  using F = core::BenchmarkFormat;
  for (F f : {F::Native, F::Mmlu, F::Arc, F::Gpqa, F::Mgsm, F::Math}) {
    fuzz::guarded([&] {
      core::BenchmarkOptions opt;
      opt.format = f;
      (void)core::loadBenchmark(path, opt);
    });
    fuzz::guarded([&] {
      core::BenchmarkOptions opt;
      opt.format = f;
      opt.fewshotFile = path;
      opt.numFewshot = 1;
      opt.limit = 2;
      (void)core::loadBenchmark(path, opt);
    });
  }
  return 0;
}
