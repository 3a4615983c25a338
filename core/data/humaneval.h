// Code-generation benchmarks: OpenAI's HumanEval JSONL (task_id, prompt, canonical_solution, test, entry_point)
// and EvalPlus's HumanEval+ JSONL (the same fields plus base_input, plus_input and atol), and the Python programs
// that test a completion against them (run by runSandboxed). Torch-free. Layouts: docs/tasks.md section 5.
#pragma once

#include <cstddef>
#include <filesystem>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "core/base/sandbox.h"

namespace layerscope::core {

enum class CodeBenchmarkFormat { HumanEval, HumanEvalPlus };

/// "humaneval" / "humaneval+".
std::string codeBenchmarkFormatName(CodeBenchmarkFormat f);

/// One problem: the model continues `prompt` (a signature and docstring) and the completion is tested.
struct CodeProblem {
  std::string taskId;             ///< "HumanEval/0"
  std::string prompt;             ///< the text the model continues
  std::string canonicalSolution;  ///< the reference body (prompt + canonicalSolution is a correct program)
  std::string test;               ///< HumanEval's test code, defining check(candidate)
  std::string entryPoint;         ///< the function the tests call
  nlohmann::json baseInputs;      ///< HumanEval+: array of argument lists (the original tests' inputs); else null
  nlohmann::json plusInputs;      ///< HumanEval+: array of argument lists (EvalPlus's added inputs); else null
  double atol = 0;                ///< HumanEval+: absolute tolerance for float outputs (0: EvalPlus's 1e-6 for floats)
  int line = 0;                   ///< line in the file, for messages
};

struct CodeBenchmark {
  std::filesystem::path file;
  CodeBenchmarkFormat format = CodeBenchmarkFormat::HumanEval;
  std::string fingerprint;  ///< fileFingerprint(file): sha256 of the bytes
  std::vector<CodeProblem> problems;
};

/// Reads a HumanEval or HumanEval+ JSONL file; the format is HumanEval+ when the first item has `plus_input`,
/// and then every item must have `base_input` and `plus_input` arrays. `limit` keeps the first N items (0 = all).
/// Throws DatasetError "<file>:<line>: ..." for invalid JSON, a missing, empty or mistyped field, an entry point
/// the prompt does not define, a duplicate task_id, or an empty file.
CodeBenchmark loadHumanEval(const std::filesystem::path& path, std::size_t limit = 0);

/// HumanEval's own test: prompt + completion + test + `check(entry_point)`. Exit status 0 means passed.
SandboxProgram humanEvalTestProgram(const CodeProblem& p, const std::string& completion);

/// HumanEval+'s test (EvalPlus semantics): the candidate (prompt + completion) and the reference (prompt +
/// canonical solution, in its own namespace) are called on every base and plus input (deep-copied); outputs must
/// be equal, or for float outputs close (|out - exp| <= atol + 1e-7 |exp|, atol = 1e-6 when the file gives 0);
/// find_zero is checked by |poly(xs, out)| <= atol as EvalPlus does. Exit status 0 means passed.
/// Throws InvalidArgument when `p` has no inputs (a plain HumanEval problem).
SandboxProgram humanEvalPlusTestProgram(const CodeProblem& p, const std::string& completion);

}  // namespace layerscope::core
