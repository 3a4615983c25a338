// layerscope-cli analysis commands: eval, analyze, manipulate, drop, bench analyze. Argument parsing only: the work
// is in analysis/pipeline.h and experiments/. Progress with an ETA on stderr; Ctrl-C requests a stop (the job throws
// Cancelled at its next check and no results directory is left).
#include <atomic>
#include <chrono>
#include <csignal>
#include <cstdio>
#include <iomanip>
#include <iostream>
#include <sstream>

#include "analysis/cost_estimate.h"
#include "analysis/layer_analyses.h"
#include "analysis/pipeline.h"
#include "app/bundled_data.h"
#include "app/cli/bench_dist.h"
#include "app/cli/command.h"
#include "app/cli/data_parallel.h"
#include "app/cli/device_option.h"
#include "app/cli/progress.h"
#include "core/base/error.h"
#include "core/dist/world.h"
#include "experiments/bench.h"
#include "experiments/evaluation.h"

namespace layerscope::app {
namespace {

namespace fs = std::filesystem;
using Clock = std::chrono::steady_clock;
using nlohmann::json;

// The bundled demo file `rel` (app/bundled_data.h), for options that default to the demo.
std::string bundledDefault(const std::string& rel, const std::string& option) {
  const fs::path p = findBundledData(rel);
  if (p.empty()) {
    std::string searched;
    for (const fs::path& root : bundledDataRoots()) searched += (searched.empty() ? "" : ", ") + root.string();
    throw InvalidArgument("no bundled " + rel + " in " + (searched.empty() ? "any data folder" : searched) +
                          "; pass " + option + " or set LAYERSCOPE_DATA_DIR");
  }
  return p.string();
}

// Options shared by analyze / manipulate / drop. `--dry-run` prints the cost estimate instead of running (no
// --out needed then).
analysis::AnalyzeRequest commonRequest(Args& args, bool& dryRun) {
  analysis::AnalyzeRequest r;
  r.modelDir = args.required("--model");
  r.taskFile = args.required("--task");
  if (auto a = args.value("--adapter")) r.adapterDir = *a;
  dryRun = args.flag("--dry-run");
  r.outDir = dryRun ? fs::path(args.valueOr("--out", "")) : fs::path(args.required("--out"));
  r.memoryBudgetGb = args.doubleOr("--memory-budget", 0);
  if (r.memoryBudgetGb < 0) throw InvalidArgument("--memory-budget must be positive (GiB), got " + std::to_string(r.memoryBudgetGb));
  r.overwrite = args.flag("--overwrite");
  r.dtype = args.valueOr("--dtype", r.dtype);
  // --batch auto (the default: rows per forward from the task's token counts, analysis::autoBatchRows) or N
  r.batchSize = int(args.intOrKeyword("--batch", 1, "auto", 0, r.batchSize));
  r.seed = std::uint64_t(args.intOr("--seed", (long long)r.seed));
  r.stopString = args.valueOr("--stop", r.stopString);
  r.maxNewTokens = int(args.intOr("--max-new-tokens", r.maxNewTokens));
  r.extraction = args.valueOr("--extraction", r.extraction);
  r.sharePrompt = !args.flag("--no-share-prompt");
  r.semantics = args.valueOr("--semantics", r.semantics);  // layerscope | llm-drop | shortgpt | afcl
  r.device = deviceOption(args);
  return r;
}

int runRequest(const analysis::AnalyzeRequest& r, bool dryRun) {
  analysis::validateRequest(r);  // before loading anything
  if (dryRun) {
    analysis::CostEstimate est;
    {
      CliJob job;
      est = analysis::estimateAnalysis(r, /*measure=*/true, job.control());
    }
    std::cout << est.table();
    return 0;
  }
  // Data-parallel when started by `layerscope-cli launch` or torchrun (docs/distributed.md): every rank runs the
  // same request on its share of the items; rank 0 writes the results and prints.
  core::dist::World world = core::dist::World::fromEnvironment();
  analysis::ItemShard shard{world.rank(), world.size(), [&world](double* data, std::size_t n) {
                              auto t = torch::from_blob(data, {std::int64_t(n)}, torch::kFloat64);
                              world.allReduceSum(t);
                            },
                            [&world] { world.barrier(); },
                            [&world](const std::string& text) { return world.allGather(text); }};
  analysis::AnalyzeResult res;
  {
    CliJob job;
    res = analysis::runAnalysis(r, job.control(), world.distributed() ? &shard : nullptr);
  }
  world.finish();
  writeTrafficIfAsked(world);  // for bench analyze --nproc
  if (!world.isRoot()) return 0;
  if (!res.stats.is_null()) std::cout << "verdict: " << res.stats.value("verdict_text", "") << "\n";
  if (!res.manipulation.is_null()) {
    const auto& mj = res.manipulation;
    std::cout << "base accuracy " << mj["base_accuracy"].get<double>() << "; accuracy at k = " << mj["k"].dump() << ":\n";
    if (mj.contains("curves"))
      for (const auto& [name, v] : mj["curves"].items()) std::cout << "  " << name << ": " << v.dump() << "\n";
    else
      std::cout << "  " << mj["mode"].get<std::string>() << ": " << mj["accuracy"].dump() << "\n";
  }
  if (!res.drop.is_null())
    std::cout << "drop: accuracy " << res.drop["accuracy"].get<double>() << " (base " << res.drop["base_accuracy"].get<double>()
              << "), speedup " << res.drop["speedup"].get<double>() << "x\n";
  std::cout << "wrote " << res.writtenTo.string() << " (" << std::fixed << std::setprecision(1)
            << res.timings["total"] << " s)\n";
  return 0;
}

int runEval(Args& args) {
  experiments::EvalRequest r;
  r.modelDir = args.required("--model");
  r.taskFile = args.required("--task");
  if (auto out = args.value("--out")) r.itemsOut = *out;
  r.scoring.batchSize = int(args.intOr("--batch", r.scoring.batchSize));
  r.scoring.maxNewTokens = int(args.intOr("--max-new-tokens", r.scoring.maxNewTokens));
  r.scoring.stopString = args.valueOr("--stop", r.scoring.stopString);
  r.scoring.sharePrompt = !args.flag("--no-share-prompt");
  r.extraction = args.value("--extraction");
  r.dtype = args.valueOr("--dtype", r.dtype);
  r.adapterDir = args.valueOr("--adapter", "");
  r.format = args.valueOr("--format", r.format);
  r.benchmark.seed = std::uint64_t(args.intOr("--seed", (long long)r.benchmark.seed));
  r.benchmark.fewshotFile = args.valueOr("--fewshot", "");
  r.benchmark.numFewshot = int(args.intOr("--num-fewshot", r.benchmark.fewshotFile.empty() ? 0 : 5));
  r.device = deviceOption(args);
  args.finish();
  // Data parallel under launch/torchrun: each rank scores its share of the items; rank 0 writes and prints.
  core::dist::World world = core::dist::World::fromEnvironment();
  r.parallel = dataParallel(world);
  experiments::EvalRunResult out;
  {
    CliJob job;
    out = experiments::runEvaluation(r, job.control());
    if (world.isRoot()) job.line(out.bosPolicy + (out.withAdapter ? "; adapter " + r.adapterDir.string() : std::string()));
  }
  world.finish();
  if (!world.isRoot()) return 0;
  const auto& res = out.result;
  std::cout << std::fixed << std::setprecision(4) << out.taskName << ": " << res.items.size() << " items, ";
  if (res.kind == core::TaskKind::MultipleChoice)
    std::cout << "acc " << res.accuracy << ", acc_norm " << res.accuracyNorm;
  else if (res.kind == core::TaskKind::ShortAnswer)
    std::cout << "exact_match " << res.accuracy;
  else
    std::cout << "pair_acc " << res.accuracy;
  std::cout << " (" << std::setprecision(1) << res.seconds << " s)\n";
  if (!r.itemsOut.empty()) std::cerr << "wrote " << r.itemsOut.string() << "\n";
  return 0;
}

int runAnalyze(Args& args) {
  bool dryRun = false;
  auto r = commonRequest(args, dryRun);
  r.sensitivity = !args.flag("--no-sensitivity");
  r.rope = !args.flag("--no-rope");
  r.redundancy = !args.flag("--no-redundancy");
  r.sensitivityMode = args.valueOr("--sensitivity-mode", r.sensitivityMode);
  r.position = args.valueOr("--position", r.position);
  if (auto m = args.value("--metrics")) r.metrics = splitCommaList(*m);
  r.bootstrap = size_t(args.intOr("--bootstrap", (long long)r.bootstrap));
  r.confidence = args.doubleOr("--confidence", r.confidence);
  r.probeBootstrap = size_t(args.intOr("--probe-bootstrap", (long long)r.probeBootstrap));
  r.probeFolds = size_t(args.intOr("--probe-folds", (long long)r.probeFolds));
  r.ropeMode = args.valueOr("--rope-mode", r.ropeMode);
  r.ropeLoss = args.valueOr("--rope-loss", r.ropeLoss);
  r.eps = args.doubleOr("--eps", r.eps);
  r.ropePerHead = !args.flag("--no-rope-per-head");
  r.angular = args.flag("--angular");
  r.dropNorm = !args.flag("--no-drop-norm");
  r.kSens = size_t(args.intOr("--k-sens", 0));
  r.kRope = size_t(args.intOr("--k-rope", 0));
  r.alpha = args.doubleOr("--alpha", r.alpha);
  r.verdictBasis = args.valueOr("--verdict-basis", r.verdictBasis);
  r.permutationDraws = args.intOr("--permutation-draws", r.permutationDraws);
  if (auto p = args.value("--profiles")) r.profiles = *p == "none" ? std::vector<std::string>{} : splitCommaList(*p);
  if (auto m = args.value("--manipulations")) {  // manipulation curves in the same run (as the GUI's analysis offers)
    r.manipulations = *m == "all" ? std::vector<std::string>{} : splitCommaList(*m);
    if (*m == "all")
      for (auto mode : analysis::allManipulations()) r.manipulations.push_back(analysis::manipulationName(mode));
  }
  if (auto c = args.value("--coloc")) {
    const auto keys = splitCommaList(*c);
    if (keys.size() != 2) throw InvalidArgument("--coloc needs two layer_scores keys, KEY_A,KEY_B; got '" + *c + "'");
    r.colocFirst = keys[0], r.colocSecond = keys[1];
  }
  args.finish();
  return runRequest(r, dryRun);
}

int runManipulate(Args& args) {
  bool dryRun = false;
  auto r = commonRequest(args, dryRun);
  r.sensitivity = r.rope = r.redundancy = false;
  r.profiles.clear();
  const std::string mode = args.required("--mode");
  if (mode == "all") {
    for (auto m : analysis::allManipulations()) r.manipulations.push_back(analysis::manipulationName(m));
  } else {
    r.manipulations = splitCommaList(mode);
  }
  if (auto l = args.value("--layers"))
    for (auto v : parseIntList(*l, "--layers")) r.manipulationLayers.push_back(int(v));
  args.finish();
  return runRequest(r, dryRun);
}

int runDrop(Args& args) {
  bool dryRun = false;
  auto r = commonRequest(args, dryRun);
  r.sensitivity = r.rope = r.redundancy = false;
  r.profiles.clear();
  r.dropPlan = args.required("--plan");
  r.dropN = int(args.intOr("--n", r.dropN));
  r.dropModule = args.valueOr("--module", r.dropModule);
  r.dropNorm = !args.flag("--no-drop-norm");
  r.angular = args.flag("--angular");
  args.finish();
  return runRequest(r, dryRun);
}

int runBenchAnalyze(Args& args) {
  experiments::AnalyzeBenchRequest r;
  const auto model = args.value("--model");
  const auto task = args.value("--task");
  r.modelDir = model ? *model : bundledDefault("models/demo", "--model");
  r.taskFile = task ? *task : bundledDefault("tasks/demo/first_of_two.mc.jsonl", "--task");
  r.batch = int(args.intOr("--batch", r.batch));
  r.dtype = args.valueOr("--dtype", r.dtype);
  r.pipeline = !args.flag("--no-pipeline");
  r.device = deviceOption(args);
  if (auto nproc = args.value("--nproc")) {  // processes against threads (bench_dist.h, docs/distributed.md)
    DistBenchRequest d;
    d.modelDir = r.modelDir;
    d.taskFile = r.taskFile;
    d.nproc = int(std::stoi(*nproc));
    d.threads = int(args.intOr("--threads", 0));
    d.reps = int(args.intOr("--reps", 1));
    d.analyzeArgs = {"--batch", std::to_string(r.batch), "--dtype", r.dtype};
    if (auto extra = args.value("--analyze-options")) {
      std::istringstream words(*extra);
      for (std::string w; words >> w;) d.analyzeArgs.push_back(w);
    }
    args.finish();
    const auto res = benchAnalyzeProcesses(d);
    std::cout << res.dump(2) << "\n";
    const auto& t = res["ranks"]["traffic"];
    std::cerr << std::fixed << std::setprecision(2) << "1 x " << res["one"]["threads"] << " threads: "
              << res["one"]["wall_seconds"].get<double>() << " s; " << d.nproc << " x " << res["ranks"]["threads_each"]
              << ": " << res["ranks"]["wall_seconds"].get<double>() << " s (" << std::showpos
              << 100 * res["overhead"].get<double>() << std::noshowpos << "%)\n";
    for (const auto& rank : t)
      std::cerr << "  rank " << rank["rank"] << ": " << rank["collectives"] << " collectives, "
                << rank["bytes"].get<double>() / 1e6 << " MB sent, " << rank["seconds"].get<double>() << " s in them\n";
    return 0;
  }
  args.finish();
  const auto res = experiments::benchAnalyze(r);
  std::cout << res.header << "\n";
  std::cout << std::fixed << std::setprecision(3) << "one forward pass over all requests: " << res.forwardSeconds << " s\n";
  for (const auto& row : res.rows)
    std::cout << "  " << std::left << std::setw(34) << row.name << std::right << std::setw(9) << std::setprecision(3)
              << row.seconds << " s  " << std::setw(7) << std::setprecision(1) << row.seconds / res.forwardSeconds
              << " x forward  " << row.note << "\n";
  for (const auto& n : res.notes) std::cout << "  (" << n << ")\n";
  if (!res.verdict.empty()) std::cout << "verdict: " << res.verdict << "\n";
  return 0;
}

const CommandRegistrar kEval({"eval", "--model DIR --task FILE [--adapter DIR] [--format native|auto|mmlu|arc|gpqa|mgsm|math] "
                              "[--fewshot FILE --num-fewshot K] [--seed S] [--out FILE.jsonl] [--batch N] [--dtype D] [--device D] "
                              "[--extraction none|last_number|boxed] [--no-share-prompt]",
                              "evaluate a task: acc and acc_norm (multiple choice), exact match (short answer), pair accuracy", runEval});
const CommandRegistrar kAnalyze({"analyze",
                                 "--model DIR --task FILE --out DIR [--sensitivity-mode outcome|pairs] [--position P] "
                                 "[--metrics rel_l2,...] [--bootstrap B] [--rope-mode gradient|perturb|nope] [--eps E] "
                                 "[--confidence 0.95] [--probe-bootstrap B] [--probe-folds 5] [--rope-loss prompt|completion] "
                                 "[--no-rope-per-head] [--no-sensitivity] [--no-rope] [--no-redundancy] "
                                 "[--k-sens K] [--k-rope K] [--alpha 0.05] [--verdict-basis t|permutation] "
                                 "[--permutation-draws N] [--angular] [--semantics layerscope|llm-drop|shortgpt] [--no-drop-norm] [--profiles NAME,...|none] [--coloc KEY_A,KEY_B] "
                                 "[--manipulations MODE,...|all] "
                                 "[--adapter DIR] [--overwrite] [--dtype float32|bfloat16] [--device cpu|cuda|cuda:N] [--stop STR] [--max-new-tokens N] "
                                 "[--extraction none|last_number|boxed] [--no-share-prompt] [--seed S] [--batch auto|N] [--memory-budget GB] "
                                 "[--dry-run] (docs/analyses.md, docs/scale.md)",
                                 "sensitivity, RoPE influence, redundancy, extra per-layer profiles and co-localization "
                                 "statistics -> results directory",
                                 runAnalyze});
const CommandRegistrar kManipulate({"manipulate", "--model DIR --task FILE --mode MODE|all --out DIR [--layers K,...] [--seed S] "
                                    "[--semantics layerscope|afcl] [--device D]",
                                    "previous-token manipulations (random, freeze, shuffle, swap, skip_attention): accuracy vs layer k",
                                    runManipulate});
const CommandRegistrar kDrop({"drop", "--model DIR --task FILE --plan one-shot|iterative|joint|iterative-joint|consecutive --n N "
                              "--out DIR [--module attn|mlp|block] [--semantics layerscope|llm-drop|shortgpt] "
                              "[--no-drop-norm] [--angular] [--device D]",
                              "drop the most redundant modules; accuracy and measured forward speedup", runDrop});
const CommandRegistrar kBench({"bench analyze",
                               "[--model DIR] [--task FILE] [--batch N] [--no-pipeline] [--device D] | [--model DIR] [--task FILE] "
                               "[--batch N] --nproc N [--threads T] [--reps R] [--analyze-options \"--bootstrap 50 ...\"]",
                               "time each analysis against one forward pass over the same items (default: demo model); "
                               "--nproc: analyze in 1 process x T threads vs N processes x T/N, and the ranks' collectives",
                               runBenchAnalyze});

}  // namespace
}  // namespace layerscope::app
