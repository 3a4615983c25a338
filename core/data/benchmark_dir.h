// The benchmark directory of the reproduce protocol (docs/reproduce.md, "Benchmark directory"): the six benchmarks
// of the study (MMLU, GPQA, HumanEval+, MATH, MGSM, ARC), each one file or folder in a layout the loaders read;
// missing ones are listed, not fatal. Also the default pair file of the pairs-mode sensitivity: 15 pairs built
// from the multiple-choice benchmarks' items by a fixed rule. Torch-free.
#pragma once

#include <cstddef>
#include <cstdint>
#include <filesystem>
#include <string>
#include <vector>

#include "core/data/dataset.h"

namespace layerscope::core {

struct BenchmarkEntry {
  std::string name;              ///< "mmlu", "gpqa", "humaneval_plus", "math", "mgsm", "arc"
  std::string layout;            ///< loader layout: a BenchmarkFormat name, or "humaneval+" / "humaneval"
  std::filesystem::path file;    ///< the JSONL found; empty when missing
  std::vector<std::string> tried;  ///< the names looked for, relative to the directory (for the "missing" message)
  bool found() const { return !file.empty(); }
};

struct BenchmarkDirectory {
  std::filesystem::path root;
  std::vector<BenchmarkEntry> entries;  ///< always the six, in the study's order
  std::vector<std::string> missing() const;
  const BenchmarkEntry& entry(const std::string& name) const;  ///< InvalidArgument for an unknown name
};

/// The six benchmark names in the study's order: mmlu, gpqa, humaneval_plus, math, mgsm, arc.
const std::vector<std::string>& studyBenchmarks();

/// Looks for each benchmark as `<name>.jsonl`, `<name>/test.jsonl` or `<name>/<only>.jsonl` (HumanEval+ also as
/// `HumanEvalPlus.jsonl`, and plain HumanEval as `humaneval.jsonl` / `HumanEval.jsonl`, layout "humaneval").
/// A folder with several .jsonl files and no test.jsonl is ambiguous: InvalidArgument naming them. Throws
/// InvalidArgument when `dir` is not a directory. Only finds files; their contents are read by the loaders.
BenchmarkDirectory scanBenchmarkDirectory(const std::filesystem::path& dir);

/// The default pairs of the pairs-mode sensitivity: items are taken in turn from the multiple-choice benchmarks
/// present (MMLU, GPQA, ARC in that order), each in file order, until `n` pairs (or the items run out); a pair is
/// the item's prompt with the gold choice as `correct` and the next choice (cyclically) as `incorrect`; ids
/// `<benchmark>:<item id>`. Throws DatasetError naming the directory when fewer than 2 pairs can be built.
Task defaultPairs(const BenchmarkDirectory& dir, std::size_t n = 15, std::uint64_t seed = 1234);

}  // namespace layerscope::core
