// HumanEval / HumanEval+ loaders (per-line errors) and their test programs run in the sandbox against hand-written
// fixtures (tests/data/fixtures/humaneval: three small problems written for these tests, not HumanEval's items).
#include <gtest/gtest.h>

#include <fstream>

#include "core/base/error.h"
#include "core/data/humaneval.h"

namespace layerscope::core {
namespace {
namespace fs = std::filesystem;

const fs::path kFixtures = fs::path(LAYERSCOPE_SOURCE_DIR) / "tests/data/fixtures/humaneval";

fs::path writeTemp(const std::string& name, const std::string& text) {
  const fs::path dir = fs::temp_directory_path() / ("layerscope-humaneval-test-" + std::to_string(::getpid()));
  fs::create_directories(dir);
  std::ofstream(dir / name, std::ios::binary) << text;
  return dir / name;
}

std::string loadError(const fs::path& p) {
  try {
    loadHumanEval(p);
  } catch (const DatasetError& e) {
    return e.what();
  }
  return "(no error)";
}

SandboxOptions quickLimits() {
  SandboxOptions o;
  o.wallSeconds = 10;
  o.cpuSeconds = 5;
  o.addressSpaceBytes = 512ull << 20;
  return o;
}

TEST(HumanEvalLoader, ReadsTheHumanEvalLayout) {
  const CodeBenchmark b = loadHumanEval(kFixtures / "humaneval.jsonl");
  EXPECT_EQ(b.format, CodeBenchmarkFormat::HumanEval);
  ASSERT_EQ(b.problems.size(), 3u);
  EXPECT_EQ(b.problems[1].taskId, "Demo/1");
  EXPECT_EQ(b.problems[1].entryPoint, "magnitude");
  EXPECT_EQ(b.problems[1].canonicalSolution, "    return x if x >= 0 else -x\n");
  EXPECT_TRUE(b.problems[1].baseInputs.is_null());
  EXPECT_EQ(b.fingerprint.rfind("sha256:", 0), 0u);
  EXPECT_EQ(loadHumanEval(kFixtures / "humaneval.jsonl", 2).problems.size(), 2u);
}

TEST(HumanEvalLoader, ReadsTheEvalPlusLayout) {
  const CodeBenchmark b = loadHumanEval(kFixtures / "humaneval_plus.jsonl");
  EXPECT_EQ(b.format, CodeBenchmarkFormat::HumanEvalPlus);
  EXPECT_EQ(codeBenchmarkFormatName(b.format), "humaneval+");
  ASSERT_EQ(b.problems.size(), 3u);
  EXPECT_EQ(b.problems[0].baseInputs.size(), 2u);
  EXPECT_EQ(b.problems[0].plusInputs.size(), 3u);
  EXPECT_EQ(b.problems[0].plusInputs[0][0].get<long long>(), 1000000000000LL);
  EXPECT_DOUBLE_EQ(b.problems[2].atol, 1e-9);
}

TEST(HumanEvalLoader, RefusesMalformedLinesNamingFileAndLine) {
  const std::string good =
      R"({"task_id": "T/0", "prompt": "def f(x):\n", "canonical_solution": "    return x\n", "test": "def check(c):\n    assert c(1) == 1\n", "entry_point": "f"})";
  const std::string goodPlus =
      R"({"task_id": "T/0", "prompt": "def f(x):\n", "canonical_solution": "    return x\n", "test": "", "entry_point": "f", "base_input": [[1]], "plus_input": [[2]], "atol": 0})";
  struct Case {
    std::string text, expected;
  } cases[] = {
      {good + "\n{not json\n", "bad.jsonl:2: invalid JSON"},
      {good + "\n[1, 2]\n", "bad.jsonl:2: not a JSON object"},
      {R"({"task_id": "T/0", "prompt": "def f(x):\n", "canonical_solution": "x", "test": "def check(c): pass"})",
       "bad.jsonl:1: missing field 'entry_point'"},
      {R"({"task_id": 7, "prompt": "def f(x):\n", "canonical_solution": "x", "test": "def check(c): pass", "entry_point": "f"})",
       "bad.jsonl:1: field 'task_id': expected a string, found 7"},
      {R"({"task_id": "T/0", "prompt": "def g(x):\n", "canonical_solution": "x", "test": "def check(c): pass", "entry_point": "f"})",
       "bad.jsonl:1: the prompt does not define the entry point 'f'"},
      {R"({"task_id": "T/0", "prompt": "def f(x):\n", "canonical_solution": "x", "test": "assert True", "entry_point": "f"})",
       "bad.jsonl:1: field 'test' does not define check(candidate)"},
      {good + "\n\n" + good + "\n", "bad.jsonl:3: duplicate task_id \"T/0\" (first used on line 1)"},
      {goodPlus + "\n" + good + "\n", "bad.jsonl:2: missing field 'base_input'"},
      {R"({"task_id": "T/0", "prompt": "def f(x):\n", "canonical_solution": "x", "test": "", "entry_point": "f", "base_input": [1], "plus_input": []})",
       "bad.jsonl:1: field 'base_input'[0]: expected an argument list (array), found 1"},
      {R"({"task_id": "T/0", "prompt": "def f(x):\n", "canonical_solution": "x", "test": "", "entry_point": "f", "base_input": [[1]], "plus_input": [], "atol": "0"})",
       "bad.jsonl:1: field 'atol': expected a number >= 0"},
      {"\n  \n", "bad.jsonl: no problems"},
  };
  for (const auto& c : cases) {
    const std::string msg = loadError(writeTemp("bad.jsonl", c.text));
    EXPECT_NE(msg.find(c.expected), std::string::npos) << "expected '" << c.expected << "' in: " << msg;
  }
  EXPECT_NE(loadError("/nonexistent/he.jsonl").find("/nonexistent/he.jsonl: cannot be read"), std::string::npos);
}

TEST(HumanEvalPrograms, CanonicalSolutionsPassAndWrongCompletionsFail) {
  const CodeBenchmark he = loadHumanEval(kFixtures / "humaneval.jsonl");
  const CodeBenchmark plus = loadHumanEval(kFixtures / "humaneval_plus.jsonl");
  std::vector<SandboxProgram> programs;
  for (const auto& p : he.problems) programs.push_back(humanEvalTestProgram(p, p.canonicalSolution));
  for (const auto& p : plus.problems) programs.push_back(humanEvalPlusTestProgram(p, p.canonicalSolution));
  // Demo/1 with a completion the original tests (4, 0) cannot tell from abs(): HumanEval passes it, HumanEval+
  // (inputs -3, -100) does not.
  programs.push_back(humanEvalTestProgram(he.problems[1], "    return x\n"));
  programs.push_back(humanEvalPlusTestProgram(plus.problems[1], "    return x\n"));
  // Demo/2: math.fsum differs from sum() in the last bits on [0.1]*10 (0.1 vs 0.09999999999999999): close
  // within atol passes; an answer 0.01 off does not.
  programs.push_back(humanEvalPlusTestProgram(plus.problems[2], "    import math\n    return math.fsum(xs) / len(xs)\n"));
  programs.push_back(humanEvalPlusTestProgram(plus.problems[2], "    return sum(xs) / len(xs) + 0.01\n"));
  // A completion that does not parse.
  programs.push_back(humanEvalTestProgram(he.problems[0], "    return a +\n"));
  const auto r = runSandboxed(programs, quickLimits());
  ASSERT_EQ(r.size(), 11u);
  for (size_t i = 0; i < 6; ++i) EXPECT_EQ(r[i].status, SandboxStatus::Passed) << i << ": " << r[i].reason << "\n" << r[i].stderrTail;
  EXPECT_EQ(r[6].status, SandboxStatus::Passed) << r[6].reason;
  EXPECT_EQ(r[7].status, SandboxStatus::Failed);
  EXPECT_NE(r[7].reason.find("AssertionError: plus_input[0] [-3]: expected 3, got -3"), std::string::npos) << r[7].reason;
  EXPECT_EQ(r[8].status, SandboxStatus::Passed) << r[8].reason << "\n" << r[8].stderrTail;
  EXPECT_EQ(r[9].status, SandboxStatus::Failed);
  EXPECT_NE(r[9].reason.find("AssertionError: base_input[0]"), std::string::npos) << r[9].reason;
  EXPECT_EQ(r[10].status, SandboxStatus::Failed);
  EXPECT_NE(r[10].reason.find("SyntaxError"), std::string::npos) << r[10].reason;
}

TEST(HumanEvalPrograms, PlusProgramNeedsInputs) {
  const CodeBenchmark he = loadHumanEval(kFixtures / "humaneval.jsonl");
  EXPECT_THROW(humanEvalPlusTestProgram(he.problems[0], "    return a + b\n"), InvalidArgument);
}

}  // namespace
}  // namespace layerscope::core
