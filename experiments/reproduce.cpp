// The reproduce protocol (see reproduce.h). Steps and their resume markers:
//   pairs.jsonl (written once) -> analysis/stats.json -> ablation/report.json (runAblation resumes arm by arm)
//   -> humaneval/<base|arm>/result.json -> summary.json.
#include "experiments/reproduce.h"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <fstream>
#include <optional>
#include <thread>

#include <sys/utsname.h>
#include <unistd.h>

#include "analysis/cost_estimate.h"
#include "analysis/pipeline.h"
#include "analysis/statistics.h"
#include "core/base/atomic_file.h"
#include "core/base/error.h"
#include "core/base/stopwatch.h"
#include "core/model/config.h"
#include "core/data/benchmark_dir.h"
#include "experiments/ablation.h"
#include "experiments/common.h"
#include "experiments/humaneval_eval.h"
#include "experiments/train_cost.h"
#include "layerscope/version.h"

namespace layerscope::experiments {
namespace fs = std::filesystem;
using nlohmann::json;

void applyQuickSettings(ReproduceRequest& r) {
  r.steps = 20;
  r.controlSeeds = 1;
  r.bootstrap = 50;
  r.codeMaxTokens = 32;
}

namespace {

json readJson(const fs::path& p) {
  std::ifstream in(p);
  try {
    return json::parse(in);
  } catch (const json::exception& e) {
    throw Error(p.string() + ": not valid JSON (" + e.what() + ")");
  }
}

/// Where the protocol ran, for the report's provenance: host, kernel, CPU model, cores, memory.
json machineJson() {
  json m = json::object();
  if (utsname u{}; ::uname(&u) == 0) {
    m["host"] = u.nodename;
    m["os"] = std::string(u.sysname) + " " + u.release + " " + u.machine;
  }
  std::ifstream cpu("/proc/cpuinfo");
  for (std::string line; std::getline(cpu, line);)
    if (line.rfind("model name", 0) == 0 && line.find(':') != std::string::npos) {
      m["cpu"] = line.substr(line.find(':') + 2);
      break;
    }
  m["cores"] = std::max(1u, std::thread::hardware_concurrency());
  std::ifstream mem("/proc/meminfo");
  for (std::string key; mem >> key;) {
    long long kib = 0;
    mem >> kib;
    if (key == "MemTotal:") {
      m["memory_bytes"] = kib * 1024;
      break;
    }
    mem.ignore(1 << 10, '\n');
  }
  return m;
}

}  // namespace

ReproduceEstimate estimateReproduce(const ReproduceRequest& r, bool measure, const core::JobControl* job) {
  if (r.train.empty()) throw InvalidArgument("reproduce: name the ablation's training split (--train FILE.jsonl or demo:N)");
  const auto bench = core::scanBenchmarkDirectory(r.benchmarksDir);
  const auto config = core::loadModelConfig(r.modelDir / "config.json");
  const int L = config.numLayers;
  ReproduceEstimate e;
  std::string lines;
  json found = json::array();
  for (const auto& b : bench.entries)
    if (b.found()) found.push_back(b.name);
  lines += "benchmarks: " + std::to_string(found.size()) + " of 6 found " + found.dump() + "; missing " + json(bench.missing()).dump() + "\n";

  // The pairs the analysis will read (a temporary copy of the default pairs when no file is given).
  fs::path pairs = r.pairsFile;
  std::optional<fs::path> tmpPairs;
  if (pairs.empty()) {
    const auto task = core::defaultPairs(bench);
    tmpPairs = fs::temp_directory_path() / ("layerscope-pairs-" + std::to_string(::getpid()) + ".jsonl");
    core::writeTask(*tmpPairs, task);
    pairs = *tmpPairs;
  }
  struct Remove {
    std::optional<fs::path>& p;
    ~Remove() {
      std::error_code ec;
      if (p) fs::remove(*p, ec);
    }
  } remove{tmpPairs};
  analysis::AnalyzeRequest a;
  a.modelDir = r.modelDir;
  a.taskFile = pairs;
  a.outDir = r.outDir / "analysis";
  a.dtype = r.dtype;
  a.device = r.device;
  a.sensitivityMode = "pairs";
  a.redundancy = false;
  a.profiles = {};
  a.bootstrap = r.bootstrap;
  const analysis::CostEstimate an = [&] {
    StageJob stage(job, "estimate: analysis", 0, 0.5, 1);
    return analysis::estimateAnalysis(a, measure, stage.get());
  }();
  const int kSens = int(analysis::defaultTopK(0.28, size_t(L))), kRope = int(analysis::defaultTopK(0.31, size_t(L)));
  lines += "1. analysis on " + std::to_string(an.items) + " pairs (" + (r.pairsFile.empty() ? "default pairs" : r.pairsFile.string()) +
           "): pairs-mode sensitivity, RoPE influence, statistics with k = " + std::to_string(kSens) + " and " +
           std::to_string(kRope) + " of " + std::to_string(L) + " layers\n" + an.table() + "\n";

  TrainRunRequest t;
  t.modelDir = r.modelDir;
  t.train = r.train;
  t.loraLayers = "0-" + std::to_string(std::max(0, kSens - 1));
  t.garfaLayers = "0-" + std::to_string(std::max(0, kRope - 1));
  t.options.steps = r.steps;
  t.dtype = r.dtype;
  t.device = r.device;
  const TrainCostEstimate tr = [&] {
    StageJob stage(job, "estimate: training", 0.5, 1, 1);
    return estimateTraining(t, measure, stage.get());
  }();
  const int arms = 4 + r.controlSeeds;
  lines += "2. ablation: " + std::to_string(arms) + " training runs (C1-C4, C5 x " + std::to_string(r.controlSeeds) + ") of " +
           std::to_string(r.steps) + " steps on " + r.train + ", each evaluated with the base model on the " +
           std::to_string(found.size() - (bench.entry("humaneval_plus").found() ? 1 : 0)) +
           " non-code benchmarks; per run (upper bound: adapters from layer 0):\n" + tr.table() + "\n";
  lines += "3. HumanEval(+): " + std::string(bench.entry("humaneval_plus").found() ? "greedy generation and sandboxed tests for the base model and " + std::to_string(arms) + " runs" : "skipped (no file)") +
           "\n4. report: report.html, report.pdf, data/\n";
  e.seconds = an.seconds + arms * tr.seconds;
  e.peakBytes = std::max(an.peakBytes, tr.peakBytes);
  char total[160];
  std::snprintf(total, sizeof total, "estimated: %.0f s for the analysis and training (evaluations and HumanEval not included), peak %.2f GiB\n",
                e.seconds, e.peakBytes / double(1ull << 30));
  lines += total;
  e.text = lines;
  e.detail = {{"benchmarks_found", found}, {"missing_benchmarks", bench.missing()}, {"pairs", an.items}, {"arms", arms},
              {"k_sens", kSens}, {"k_rope", kRope}, {"analysis", an.toJson()}, {"training_per_arm", tr.toJson()},
              {"seconds", e.seconds}, {"peak_bytes", e.peakBytes}};
  return e;
}

json runReproduce(const ReproduceRequest& r, const core::JobControl* job) {
  if (r.train.empty()) throw InvalidArgument("reproduce: name the ablation's training split (--train FILE.jsonl or demo:N)");
  const auto t0 = core::Clock::now();
  json timings = json::object();  // seconds of the steps this call ran (a resumed step is absent)
  const auto bench = core::scanBenchmarkDirectory(r.benchmarksDir);
  fs::create_directories(r.outDir);
  json missing = bench.missing();
  logLine(r.log, "benchmarks: " + std::to_string(6 - bench.missing().size()) + " of 6 found; missing: " + missing.dump());

  // 1. Pairs.
  fs::path pairs = r.pairsFile;
  if (pairs.empty()) {
    pairs = r.outDir / "pairs.jsonl";
    if (!fs::exists(pairs)) core::writeTask(pairs, core::defaultPairs(bench));
  }

  // 2. Sensitivity (pairs mode), RoPE influence, co-localization statistics.
  const fs::path analysisDir = r.outDir / "analysis";
  if (!fs::exists(analysisDir / "stats.json")) {
    analysis::AnalyzeRequest a;
    a.modelDir = r.modelDir;
    a.taskFile = pairs;
    a.outDir = analysisDir;
    a.overwrite = true;
    a.dtype = r.dtype;
    a.device = r.device;
    a.sensitivityMode = "pairs";
    a.redundancy = false;
    a.profiles = {};
    a.bootstrap = r.bootstrap;
    StageJob stage(job, "analysis", 0, 0.3, 1);
    const auto t = core::Clock::now();
    analysis::runAnalysis(a, stage.get());
    timings["analysis"] = core::secondsSince(t);
  }
  const json stats = readJson(analysisDir / "stats.json");
  logLine(r.log, "analysis: r_s " + stats["stats.spearman.r"].dump() + ", S_sens " + stats["top_k"]["S_sens"].dump() + ", S_rope " +
                     stats["top_k"]["S_rope"].dump());

  // 3. The 4-way ablation on the non-code benchmarks present.
  AblationRequest ab;
  ab.modelDir = r.modelDir;
  ab.analysisDir = analysisDir;
  ab.train = r.train;
  for (const auto& e : bench.entries)
    if (e.found() && e.name != "humaneval_plus") ab.evalFiles.push_back(e.file);
  if (ab.evalFiles.empty()) throw InvalidArgument(r.benchmarksDir.string() + ": no benchmark besides HumanEval for the ablation");
  ab.controlSeeds = r.controlSeeds;
  ab.options.steps = r.steps;
  ab.dtype = r.dtype;
  ab.device = r.device;
  ab.outDir = r.outDir / "ablation";
  ab.log = r.log;
  AblationResult ablation;
  {
    StageJob stage(job, "ablation", 0.3, 0.85, 1);
    const auto t = core::Clock::now();
    ablation = runAblation(ab, stage.get());
    timings["ablation"] = core::secondsSince(t);
  }

  // 4. HumanEval(+) of the base model and of every arm.
  json code = json::object();
  const auto& he = bench.entry("humaneval_plus");
  if (he.found()) {
    std::vector<std::pair<std::string, fs::path>> runs = {{"base", {}}};
    for (const auto& e : fs::directory_iterator(ab.outDir / "arms"))
      if (e.is_directory()) runs.emplace_back(e.path().filename().string(), e.path());
    std::sort(runs.begin() + 1, runs.end());
    for (size_t i = 0; i < runs.size(); ++i) {
      const fs::path out = r.outDir / "humaneval" / runs[i].first;
      if (!fs::exists(out / "result.json")) {
        CodeEvalRequest c;
        c.modelDir = r.modelDir;
        c.adapterDir = runs[i].second;
        c.benchmarkFile = he.file;
        c.limit = r.codeLimit;
        c.generation.maxNewTokens = r.codeMaxTokens;
        c.dtype = r.dtype;
        c.device = r.device;
        c.outDir = out;
        c.overwrite = true;
        StageJob stage(job, "humaneval " + runs[i].first, 0.85 + 0.15 * double(i) / double(runs.size()),
                       0.85 + 0.15 * double(i + 1) / double(runs.size()), 1);
        const auto t = core::Clock::now();
        runCodeEvaluation(c, stage.get());
        timings["humaneval " + runs[i].first] = core::secondsSince(t);
      }
      const json res = readJson(out / "result.json");
      code[runs[i].first] = {{"pass_at_1", res["pass_at_1"]}, {"passed", res["passed"]}, {"problems", res["problems"]}};
      logLine(r.log, "humaneval " + runs[i].first + ": pass@1 " + res["pass_at_1"].dump());
    }
  }

  json benchJson = json::array();
  for (const auto& e : bench.entries)
    benchJson.push_back({{"name", e.name}, {"layout", e.layout}, {"file", e.found() ? json(e.file.string()) : json(nullptr)}});
  json summary = {{"format", "layerscope.reproduce/1"},
                  {"layerscope_version", kVersion},
                  {"model", fs::absolute(r.modelDir).string()},
                  {"benchmarks", benchJson},
                  {"missing_benchmarks", missing},
                  {"pairs", fs::absolute(pairs).string()},
                  {"options", {{"train", r.train}, {"steps", r.steps}, {"control_seeds", r.controlSeeds}, {"bootstrap", r.bootstrap},
                               {"code_limit", r.codeLimit}, {"code_max_tokens", r.codeMaxTokens}, {"dtype", r.dtype}, {"device", r.device}}},
                  {"colocalization", {{"spearman_r", stats["stats.spearman.r"]}, {"spearman_p", stats["stats.spearman.p"]},
                                      {"spearman_p_perm", stats["stats.spearman.p_perm"]}, {"top_k", stats["top_k"]},
                                      {"jaccard", stats["jaccard"]}, {"n_layers", stats["n_layers"]}}},
                  {"ablation_report", (ab.outDir / "report.json").string()},
                  {"humaneval", code},
                  {"machine", machineJson()},
                  {"created_utc", core::utcNow()}};
  timings["total"] = core::secondsSince(t0);
  summary["timings_seconds"] = timings;
  core::writeFileAtomically(r.outDir / "summary.json", summary.dump(2) + "\n");
  return summary;
}

}  // namespace layerscope::experiments
