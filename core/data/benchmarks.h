// Loaders for the usual local JSONL layouts of public benchmarks (docs/methods.md section 9) into core::Task:
// MMLU (question, choices, answer), ARC (question, choices.text/label, answerKey), GPQA (question, correct and
// incorrect answers, shuffled with a seed), MGSM (question, answer_number | answer) and MATH (problem, solution
// | answer). Prompts follow lm-evaluation-harness's default templates; few-shot examples come from a given
// file. Torch-free apart from the enum it shares with scoring.
#pragma once

#include <cstdint>
#include <filesystem>
#include <string>
#include <string_view>

#include "core/data/dataset.h"

namespace layerscope::core {

enum class BenchmarkFormat { Native, Mmlu, Arc, Gpqa, Mgsm, Math };

/// "native" (LayerScope task JSONL, docs/tasks.md), "mmlu", "arc", "gpqa", "mgsm", "math". "auto" is not a
/// format: use detectBenchmarkFormat. Throws InvalidArgument listing the names.
BenchmarkFormat parseBenchmarkFormat(std::string_view name);
std::string benchmarkFormatName(BenchmarkFormat f);
/// Guesses the layout from the fields of the first non-blank line of `path` (DatasetError if unreadable).
BenchmarkFormat detectBenchmarkFormat(const std::filesystem::path& path);
/// Short-answer extraction that suits the format: "last_number" for MGSM, "boxed" for MATH, else "none".
std::string defaultExtractionName(BenchmarkFormat f);

struct BenchmarkOptions {
  BenchmarkFormat format = BenchmarkFormat::Native;
  uint64_t seed = 1234;                 ///< GPQA choice order (per item: seed and the item id)
  std::filesystem::path fewshotFile;    ///< examples prepended to every prompt (same layout); empty = zero-shot
  int numFewshot = 0;                   ///< first k items of fewshotFile, separated by a blank line
  std::size_t limit = 0;                ///< first N items only (0 = all)
};

/// Reads `path` in the given layout. Throws DatasetError "<file>:<line>: ..." on a missing or mistyped field,
/// an answer that names no choice, fewer few-shot items than asked for.
Task loadBenchmark(const std::filesystem::path& path, const BenchmarkOptions& opt);

/// The last number in the text as written (sign, digits, decimal point; thousands commas removed), or "".
std::string lastNumber(std::string_view text);
/// The content of the last \boxed{...} (or \fbox{...}) with balanced braces, or "" when there is none.
std::string lastBoxed(std::string_view text);

}  // namespace layerscope::core
