// Benchmark directory scan and the default pairs rule (see benchmark_dir.h).
#include "core/data/benchmark_dir.h"

#include <algorithm>

#include "core/base/error.h"
#include "core/data/benchmarks.h"

namespace layerscope::core {
namespace fs = std::filesystem;

const std::vector<std::string>& studyBenchmarks() {
  static const std::vector<std::string> names = {"mmlu", "gpqa", "humaneval_plus", "math", "mgsm", "arc"};
  return names;
}

std::vector<std::string> BenchmarkDirectory::missing() const {
  std::vector<std::string> out;
  for (const auto& e : entries)
    if (!e.found()) out.push_back(e.name);
  return out;
}

const BenchmarkEntry& BenchmarkDirectory::entry(const std::string& name) const {
  for (const auto& e : entries)
    if (e.name == name) return e;
  throw InvalidArgument("unknown benchmark '" + name + "' (expected mmlu, gpqa, humaneval_plus, math, mgsm or arc)");
}

namespace {

// `<stem>.jsonl`, `<stem>/test.jsonl`, `<stem>/<only>.jsonl`; empty when none.
fs::path findOne(const fs::path& dir, const std::string& stem, std::vector<std::string>& tried) {
  tried.push_back(stem + ".jsonl");
  tried.push_back(stem + "/test.jsonl");
  if (fs::is_regular_file(dir / (stem + ".jsonl"))) return dir / (stem + ".jsonl");
  const fs::path sub = dir / stem;
  if (!fs::is_directory(sub)) return {};
  if (fs::is_regular_file(sub / "test.jsonl")) return sub / "test.jsonl";
  std::vector<fs::path> jsonl;
  for (const auto& e : fs::directory_iterator(sub))
    if (e.is_regular_file() && e.path().extension() == ".jsonl") jsonl.push_back(e.path());
  std::sort(jsonl.begin(), jsonl.end());
  if (jsonl.size() == 1) return jsonl[0];
  if (jsonl.size() > 1) {
    std::string names;
    for (const auto& p : jsonl) names += (names.empty() ? "" : ", ") + p.filename().string();
    throw InvalidArgument(sub.string() + ": several .jsonl files (" + names + ") and no test.jsonl: name the one to use test.jsonl");
  }
  return {};
}

}  // namespace

BenchmarkDirectory scanBenchmarkDirectory(const fs::path& dir) {
  if (!fs::is_directory(dir)) throw InvalidArgument(dir.string() + ": not a directory (expected the benchmark directory, docs/reproduce.md)");
  BenchmarkDirectory out;
  out.root = dir;
  for (const auto& name : studyBenchmarks()) {
    BenchmarkEntry e;
    e.name = name;
    if (name == "humaneval_plus") {
      e.layout = "humaneval+";
      for (const char* stem : {"humaneval_plus", "HumanEvalPlus"})
        if (e.file.empty()) e.file = findOne(dir, stem, e.tried);
      if (e.file.empty())
        for (const char* stem : {"humaneval", "HumanEval"})
          if (e.file.empty() && !(e.file = findOne(dir, stem, e.tried)).empty()) e.layout = "humaneval";
    } else {
      e.layout = name;
      e.file = findOne(dir, name, e.tried);
    }
    out.entries.push_back(std::move(e));
  }
  return out;
}

Task defaultPairs(const BenchmarkDirectory& dir, std::size_t n, std::uint64_t seed) {
  std::vector<std::pair<std::string, Task>> sources;
  for (const char* name : {"mmlu", "gpqa", "arc"}) {
    const auto& e = dir.entry(name);
    if (!e.found()) continue;
    BenchmarkOptions bo;
    bo.format = parseBenchmarkFormat(name);
    bo.seed = seed;
    sources.emplace_back(name, loadBenchmark(e.file, bo));
  }
  std::vector<PairItem> pairs;
  for (size_t k = 0; pairs.size() < n; ++k) {
    bool any = false;
    for (const auto& [name, task] : sources) {
      const auto& items = task.mc();
      if (k >= items.size() || pairs.size() >= n) continue;
      any = true;
      const McItem& it = items[k];
      pairs.push_back({name + ":" + it.id, it.prompt, it.choices[it.answer], it.choices[(it.answer + 1) % it.choices.size()]});
    }
    if (!any) break;
  }
  if (pairs.size() < 2)
    throw DatasetError(dir.root.string() + ": the default pairs need at least 2 multiple-choice items from mmlu, gpqa or arc (found " +
                       std::to_string(pairs.size()) + "); give a pair file instead");
  Task t;
  t.name = "default_pairs";
  t.items = std::move(pairs);
  return t;
}

}  // namespace layerscope::core
