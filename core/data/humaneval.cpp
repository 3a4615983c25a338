// HumanEval / HumanEval+ loaders and test programs (see humaneval.h). The HumanEval+ harness follows EvalPlus's
// evalplus/eval/__init__.py (unsafe_execute): reference and candidate on deep copies of every input, exact
// match or, for float outputs, closeness with rtol 1e-7 and the item's atol (1e-6 when 0).
#include "core/data/humaneval.h"

#include <fstream>
#include <map>

#include "core/base/error.h"
#include "core/data/dataset.h"

namespace layerscope::core {
namespace fs = std::filesystem;
using nlohmann::json;

std::string codeBenchmarkFormatName(CodeBenchmarkFormat f) {
  return f == CodeBenchmarkFormat::HumanEvalPlus ? "humaneval+" : "humaneval";
}

namespace {

struct LineCtx {
  const fs::path& path;
  int line;
  [[noreturn]] void fail(const std::string& what) const {
    throw DatasetError(path.string() + ":" + std::to_string(line) + ": " + what);
  }
  std::string text(const json& j, const char* name, bool allowEmpty = false) const {
    if (!j.contains(name)) fail(std::string("missing field '") + name + "' (expected a string)");
    const json& v = j.at(name);
    if (!v.is_string()) fail(std::string("field '") + name + "': expected a string, found " + v.dump().substr(0, 80));
    std::string s = v.get<std::string>();
    if (s.empty() && !allowEmpty) fail(std::string("field '") + name + "' is empty");
    return s;
  }
  json inputs(const json& j, const char* name) const {
    if (!j.contains(name)) fail(std::string("missing field '") + name + "' (HumanEval+ items need base_input and plus_input)");
    const json& v = j.at(name);
    if (!v.is_array()) fail(std::string("field '") + name + "': expected an array of argument lists, found " + v.dump().substr(0, 80));
    for (size_t k = 0; k < v.size(); ++k)
      if (!v[k].is_array())
        fail(std::string("field '") + name + "'[" + std::to_string(k) + "]: expected an argument list (array), found " + v[k].dump().substr(0, 80));
    return v;
  }
};

bool definesFunction(const std::string& code, const std::string& name) {
  for (size_t at = code.find("def " + name); at != std::string::npos; at = code.find("def " + name, at + 1)) {
    size_t k = at + 4 + name.size();
    while (k < code.size() && (code[k] == ' ' || code[k] == '\t')) ++k;
    if (k < code.size() && code[k] == '(') return true;
  }
  return false;
}

std::string withNewline(std::string s) {
  if (!s.empty() && s.back() != '\n') s += '\n';
  return s;
}

}  // namespace

CodeBenchmark loadHumanEval(const fs::path& path, std::size_t limit) {
  std::ifstream in(path, std::ios::binary);
  if (!in) throw DatasetError(path.string() + ": cannot be read (expected a HumanEval or HumanEval+ JSONL file)");
  CodeBenchmark out;
  out.file = path;
  std::map<std::string, int> seen;
  std::string s;
  int n = 0;
  bool first = true;
  while (std::getline(in, s)) {
    ++n;
    if (n == 1 && s.rfind("\xEF\xBB\xBF", 0) == 0) s.erase(0, 3);  // UTF-8 byte order mark
    if (s.find_first_not_of(" \t\r") == std::string::npos) continue;
    LineCtx c{path, n};
    json j;
    try {
      j = json::parse(s);
    } catch (const json::exception& e) {
      c.fail(std::string("invalid JSON: ") + e.what());
    }
    if (!j.is_object()) c.fail("not a JSON object (expected one problem per line)");
    if (first) {
      out.format = j.contains("plus_input") ? CodeBenchmarkFormat::HumanEvalPlus : CodeBenchmarkFormat::HumanEval;
      first = false;
    }
    CodeProblem p;
    p.line = n;
    p.taskId = c.text(j, "task_id");
    p.prompt = c.text(j, "prompt");
    p.canonicalSolution = c.text(j, "canonical_solution");
    p.entryPoint = c.text(j, "entry_point");
    if (!definesFunction(p.prompt, p.entryPoint))
      c.fail("the prompt does not define the entry point '" + p.entryPoint + "' (expected 'def " + p.entryPoint + "(' in it)");
    if (out.format == CodeBenchmarkFormat::HumanEvalPlus) {
      p.test = c.text(j, "test", /*allowEmpty=*/true);
      p.baseInputs = c.inputs(j, "base_input");
      p.plusInputs = c.inputs(j, "plus_input");
      if (p.baseInputs.empty() && p.plusInputs.empty()) c.fail("base_input and plus_input are both empty (nothing to test)");
      if (j.contains("atol") && !j["atol"].is_null()) {
        if (!j["atol"].is_number() || j["atol"].get<double>() < 0) c.fail("field 'atol': expected a number >= 0, found " + j["atol"].dump());
        p.atol = j["atol"].get<double>();
      }
    } else {
      p.test = c.text(j, "test");
      if (!definesFunction(p.test, "check")) c.fail("field 'test' does not define check(candidate)");
    }
    if (auto [it, fresh] = seen.emplace(p.taskId, n); !fresh)
      c.fail("duplicate task_id \"" + p.taskId + "\" (first used on line " + std::to_string(it->second) + ")");
    out.problems.push_back(std::move(p));
    if (limit && out.problems.size() >= limit) break;
  }
  if (in.bad()) throw DatasetError(path.string() + ": read error");
  if (out.problems.empty()) throw DatasetError(path.string() + ": no problems (expected one JSON object per line)");
  out.fingerprint = fileFingerprint(path);
  return out;
}

SandboxProgram humanEvalTestProgram(const CodeProblem& p, const std::string& completion) {
  std::string src = withNewline(p.prompt + completion);
  src += "\n\n" + withNewline(p.test) + "\n\ncheck(" + p.entryPoint + ")\n";
  return SandboxProgram{{"main.py", std::move(src)}};
}

namespace {

// The harness after the candidate's code. Reads inputs.json and reference.py from its working directory.
constexpr const char* kPlusHarness = R"PY(
import copy as _ls_copy
import json as _ls_json
import sys as _ls_sys


def _ls_is_floats(x):
    if isinstance(x, float):
        return True
    if isinstance(x, (list, tuple)) and x:
        return all(isinstance(v, float) for v in x)
    return False


def _ls_close(out, exp, atol):
    if isinstance(exp, (list, tuple)):
        if not isinstance(out, (list, tuple)) or len(out) != len(exp):
            return False
        return all(_ls_close(o, e, atol) for o, e in zip(out, exp))
    if isinstance(out, bool) or isinstance(exp, bool):
        return out == exp
    if not isinstance(out, (int, float)) or not isinstance(exp, (int, float)):
        return out == exp
    return abs(out - exp) <= atol + 1e-7 * abs(exp)


def _ls_poly(xs, x):
    return sum(c * x ** i for i, c in enumerate(xs))


def _ls_short(v):
    r = repr(v)
    return r if len(r) <= 200 else r[:200] + "..."


def _ls_main(candidate):
    with open("inputs.json", encoding="utf-8") as f:
        data = _ls_json.load(f)
    with open("reference.py", encoding="utf-8") as f:
        ns = {"__name__": "reference"}
        exec(compile(f.read(), "reference.py", "exec"), ns)
    entry = data["entry_point"]
    reference = ns[entry]
    for kind in ("base_input", "plus_input"):
        for k, inp in enumerate(data[kind]):
            exp = reference(*_ls_copy.deepcopy(inp))
            out = candidate(*_ls_copy.deepcopy(inp))
            atol = data["atol"]
            if entry == "find_zero":
                if not isinstance(out, (int, float)) or abs(_ls_poly(inp[0], out)) > max(atol, 1e-6):
                    raise AssertionError("%s[%d]: poly(xs, %s) is not 0" % (kind, k, _ls_short(out)))
                continue
            if out == exp:
                continue
            if atol == 0 and _ls_is_floats(exp):
                atol = 1e-6
            if atol == 0 or not _ls_close(out, exp, atol):
                raise AssertionError("%s[%d] %s: expected %s, got %s" % (kind, k, _ls_short(inp), _ls_short(exp), _ls_short(out)))


_ls_main(_ls_candidate)
)PY";

}  // namespace

SandboxProgram humanEvalPlusTestProgram(const CodeProblem& p, const std::string& completion) {
  if (!p.baseInputs.is_array() || !p.plusInputs.is_array())
    throw InvalidArgument("humanEvalPlusTestProgram: " + p.taskId + " has no base_input / plus_input (not a HumanEval+ problem)");
  std::string src = withNewline(p.prompt + completion);
  src += "\n\n_ls_candidate = " + p.entryPoint + "\n" + kPlusHarness;
  const json inputs = {{"entry_point", p.entryPoint}, {"atol", p.atol}, {"base_input", p.baseInputs}, {"plus_input", p.plusInputs}};
  return SandboxProgram{{"main.py", std::move(src)},
                        {"reference.py", withNewline(p.prompt + p.canonicalSolution)},
                        {"inputs.json", inputs.dump()}};
}

}  // namespace layerscope::core
