// layerscope-cli analysis commands: eval, analyze, manipulate, drop, bench analyze. Progress with an ETA on
// stderr; Ctrl-C requests a stop (the job throws Cancelled at its next check and no results directory is left).
#include <atomic>
#include <chrono>
#include <csignal>
#include <cstdio>
#include <iomanip>
#include <iostream>
#include <sstream>

#include "analysis/layer_analyses.h"
#include "analysis/pipeline.h"
#include "app/cli/command.h"
#include "core/atomic_file.h"
#include "core/adapter_training.h"
#include "core/benchmarks.h"
#include "core/error.h"

namespace layerscope::app {
namespace {

namespace fs = std::filesystem;
using Clock = std::chrono::steady_clock;
using nlohmann::json;

// First SIGINT: request a stop; second: default action (kill).
std::stop_source& stopSource() {
  static std::stop_source s;
  return s;
}
extern "C" void onSigint(int) {
  stopSource().request_stop();
  std::signal(SIGINT, SIG_DFL);
}

// Throttled one-line progress with ETA from the overall fraction.
class ProgressPrinter {
 public:
  ProgressPrinter() : t0_(Clock::now()) { std::signal(SIGINT, onSigint); }
  ~ProgressPrinter() {
    std::signal(SIGINT, SIG_DFL);
    if (printed_) std::cerr << "\n";
  }
  core::JobControl job() {
    return core::JobControl(stopSource().get_token(), [this](const core::Progress& p) { print(p); });
  }

 private:
  void print(const core::Progress& p) {
    const auto now = Clock::now();
    if (now - last_ < std::chrono::milliseconds(250) && p.done < p.total) return;
    last_ = now;
    const double el = std::chrono::duration<double>(now - t0_).count();
    const double f = p.total > 0 ? p.done / p.total : 0;
    std::ostringstream os;
    os << "\r" << std::fixed << std::setprecision(0) << std::setw(3) << 100 * f << "% " << std::setprecision(1) << el
       << "s";
    if (f > 0.01 && f < 1) os << ", ETA " << el * (1 - f) / f << "s";
    os << "  " << p.stage;
    std::string s = os.str();
    if (s.size() < 100) s.resize(100, ' ');
    std::cerr << s << std::flush;
    printed_ = true;
  }
  Clock::time_point t0_, last_{};
  bool printed_ = false;
};

fs::path defaultPath(const std::string& rel) {
  if (fs::exists(rel)) return rel;
  return fs::path(LAYERSCOPE_SOURCE_DIR) / rel;
}

// Options shared by analyze / manipulate / drop.
analysis::AnalyzeRequest commonRequest(Args& args) {
  analysis::AnalyzeRequest r;
  r.modelDir = args.required("--model");
  r.taskFile = args.required("--task");
  if (auto a = args.value("--adapter")) r.adapterDir = *a;
  r.outDir = args.required("--out");
  r.overwrite = args.flag("--overwrite");
  r.dtype = args.valueOr("--dtype", r.dtype);
  r.batchSize = int(args.intOr("--batch", r.batchSize));
  r.seed = std::uint64_t(args.intOr("--seed", (long long)r.seed));
  r.stopString = args.valueOr("--stop", r.stopString);
  r.maxNewTokens = int(args.intOr("--max-new-tokens", r.maxNewTokens));
  r.extraction = args.valueOr("--extraction", r.extraction);
  return r;
}

int runRequest(const analysis::AnalyzeRequest& r) {
  analysis::validateRequest(r);  // before loading anything
  analysis::AnalyzeResult res;
  {
    ProgressPrinter pp;
    auto job = pp.job();
    res = analysis::runAnalysis(r, &job);
  }
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
  const fs::path model = args.required("--model"), taskFile = args.required("--task");
  const auto out = args.value("--out");
  core::ScoringOptions so;
  so.batchSize = int(args.intOr("--batch", so.batchSize));
  so.maxNewTokens = int(args.intOr("--max-new-tokens", so.maxNewTokens));
  so.stopString = args.valueOr("--stop", so.stopString);
  const auto extraction = args.value("--extraction");
  const auto dtype = core::parseComputeDtype(args.valueOr("--dtype", "float32"));
  // Adapters and benchmark layouts (adapters issue): --adapter DIR; --format auto|native|mmlu|arc|gpqa|mgsm|math.
  const fs::path adapterDir = args.valueOr("--adapter", "");
  const std::string format = args.valueOr("--format", "native");
  core::BenchmarkOptions bo;
  bo.seed = std::uint64_t(args.intOr("--seed", (long long)bo.seed));
  bo.fewshotFile = args.valueOr("--fewshot", "");
  bo.numFewshot = int(args.intOr("--num-fewshot", bo.fewshotFile.empty() ? 0 : 5));
  args.finish();
  bo.format = format == "auto" ? core::detectBenchmarkFormat(taskFile) : core::parseBenchmarkFormat(format);
  so.extraction = core::parseAnswerExtraction(extraction.value_or(core::defaultExtractionName(bo.format)));
  auto loaded = core::loadModelWithAdapter(model, adapterDir, dtype);
  const auto& m = loaded.model;
  auto tok = core::Tokenizer::fromFile(model);
  auto task = core::loadBenchmark(taskFile, bo);
  auto prepared = core::prepareTask(tok, task);
  std::cerr << core::bosPolicy(tok) << (loaded.adapter ? "; adapter " + adapterDir.string() : std::string()) << "\n";
  core::EvalResult res;
  {
    ProgressPrinter pp;
    auto job = pp.job();
    res = core::evaluateWithAdapter(*m, loaded.adapter.get(), tok, prepared, so, &job);
  }
  std::cout << std::fixed << std::setprecision(4) << task.name << ": " << res.items.size() << " items, ";
  if (res.kind == core::TaskKind::MultipleChoice)
    std::cout << "acc " << res.accuracy << ", acc_norm " << res.accuracyNorm;
  else if (res.kind == core::TaskKind::ShortAnswer)
    std::cout << "exact_match " << res.accuracy;
  else
    std::cout << "pair_acc " << res.accuracy;
  std::cout << " (" << std::setprecision(1) << res.seconds << " s)\n";
  if (out) {
    std::string lines;
    for (const auto& it : res.items) {
      json j = {{"id", it.id}, {"prediction", it.prediction}, {"gold", it.gold}, {"correct", it.correct},
                {"loglik", it.loglik}};
      if (res.kind == core::TaskKind::MultipleChoice) j["correct_norm"] = it.correctNorm;
      if (res.kind == core::TaskKind::ShortAnswer) j["generated"] = it.generated;
      lines += j.dump() + "\n";
    }
    core::writeFileAtomically(*out, lines);
    std::cerr << "wrote " << *out << "\n";
  }
  return 0;
}

int runAnalyze(Args& args) {
  auto r = commonRequest(args);
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
  r.kSens = size_t(args.intOr("--k-sens", 0));
  r.kRope = size_t(args.intOr("--k-rope", 0));
  r.alpha = args.doubleOr("--alpha", r.alpha);
  r.verdictBasis = args.valueOr("--verdict-basis", r.verdictBasis);
  r.permutationDraws = args.intOr("--permutation-draws", r.permutationDraws);
  args.finish();
  return runRequest(r);
}

int runManipulate(Args& args) {
  auto r = commonRequest(args);
  r.sensitivity = r.rope = r.redundancy = false;
  const std::string mode = args.required("--mode");
  if (mode == "all") {
    for (auto m : analysis::allManipulations()) r.manipulations.push_back(analysis::manipulationName(m));
  } else {
    r.manipulations = splitCommaList(mode);
  }
  if (auto l = args.value("--layers"))
    for (auto v : parseIntList(*l, "--layers")) r.manipulationLayers.push_back(int(v));
  args.finish();
  return runRequest(r);
}

int runDrop(Args& args) {
  auto r = commonRequest(args);
  r.sensitivity = r.rope = r.redundancy = false;
  r.dropPlan = args.required("--plan");
  r.dropN = int(args.intOr("--n", r.dropN));
  r.dropModule = args.valueOr("--module", r.dropModule);
  args.finish();
  return runRequest(r);
}

int runBenchAnalyze(Args& args) {
  const fs::path model = args.valueOr("--model", defaultPath("resources/models/demo").string());
  const fs::path taskFile = args.valueOr("--task", defaultPath("resources/tasks/demo/first_of_two.mc.jsonl").string());
  const int batch = int(args.intOr("--batch", 8));
  const auto dtype = core::parseComputeDtype(args.valueOr("--dtype", "float32"));
  const bool full = !args.flag("--no-pipeline");
  args.finish();
  if (!fs::exists(model / "config.json"))
    throw InvalidArgument("bench analyze: no model at '" + model.string() + "' (pass --model DIR)");
  auto m = core::LlamaModel::load(model, dtype);
  auto tok = core::Tokenizer::fromFile(model);
  auto task = core::readTask(taskFile);
  auto prepared = core::prepareTask(tok, task);
  const auto& c = m->config();
  std::cout << "model " << model.string() << ": L " << c.numLayers << ", D " << c.hiddenSize << ", H " << c.numHeads
            << ", G " << c.numKvHeads << "; task " << task.name << " (" << prepared.items.size() << " items); batch "
            << batch << "\n";
  analysis::ModelTaskInputs in{m.get(), &tok, &prepared, nullptr};
  const double fwd = analysis::timeForwardPass(in, batch, nullptr, 3);
  std::cout << std::fixed << std::setprecision(3) << "one forward pass over all requests: " << fwd << " s\n";
  auto row = [&](const std::string& name, double s, const std::string& note = "") {
    std::cout << "  " << std::left << std::setw(34) << name << std::right << std::setw(9) << std::setprecision(3) << s
              << " s  " << std::setw(7) << std::setprecision(1) << s / fwd << " x forward  " << note << "\n";
  };
  core::ScoringOptions so;
  so.batchSize = batch;
  auto eval = core::evaluate(*m, tok, prepared, so);
  in.eval = &eval;
  row("eval", eval.seconds, "acc " + std::to_string(eval.accuracy));
  if (eval.correct > 0 && eval.correct < eval.items.size()) {
    analysis::SensitivityAnalysisParams sp;
    sp.batchSize = batch;
    sp.metrics = {analysis::SensitivityMetric::RelL2};
    auto s1 = analysis::analyseSensitivity(in, sp);
    row("sensitivity rel_l2 (B=1000)", s1.seconds);
    sp.metrics = {analysis::SensitivityMetric::RelL2, analysis::SensitivityMetric::RawL2, analysis::SensitivityMetric::Cos,
                  analysis::SensitivityMetric::Fisher, analysis::SensitivityMetric::Probe};
    auto s5 = analysis::analyseSensitivity(in, sp);
    row("sensitivity all 5 metrics", s5.seconds);
  } else {
    std::cout << "  (sensitivity skipped: the model gets " << eval.correct << " of " << eval.items.size() << " right)\n";
  }
  for (auto mode : {analysis::RopeMode::Gradient, analysis::RopeMode::Perturb, analysis::RopeMode::Nope}) {
    analysis::RopeInfluenceParams rp;
    rp.mode = mode;
    rp.batchSize = batch;
    rp.perHead = false;
    auto r = analysis::ropeInfluence(in, rp);
    row("rope influence " + analysis::ropeModeName(mode) + (mode == analysis::RopeMode::Gradient ? " (L x G)" : " (per layer)"),
        r.seconds, std::to_string(r.forwardPasses) + " passes");
  }
  {
    analysis::RedundancyParams rp;
    rp.batchSize = batch;
    auto r = analysis::redundancy(in, rp);
    row("redundancy", r.seconds);
  }
  if (full) {
    analysis::AnalyzeRequest req;
    req.modelDir = model;
    req.taskFile = taskFile;
    req.batchSize = batch;
    req.dtype = core::computeDtypeName(dtype);
    try {
      auto res = analysis::runAnalysis(req);
      row("analyze (defaults, total)", res.timings["total"]);
      for (const auto& [k, v] : res.timings)
        if (k != "total") row("  stage " + k, v);
      if (!res.stats.is_null()) std::cout << "verdict: " << res.stats.value("verdict_text", "") << "\n";
    } catch (const InvalidArgument& e) {
      std::cout << "  analyze (defaults): not run: " << e.what() << "\n";
    }
  }
  return 0;
}

const CommandRegistrar kEval({"eval", "--model DIR --task FILE [--adapter DIR] [--format native|auto|mmlu|arc|gpqa|mgsm|math] "
                              "[--fewshot FILE --num-fewshot K] [--seed S] [--out FILE.jsonl] [--batch N] [--dtype D] "
                              "[--extraction none|last_number|boxed]",
                              "evaluate a task: acc and acc_norm (multiple choice), exact match (short answer), pair accuracy", runEval});
const CommandRegistrar kAnalyze({"analyze",
                                 "--model DIR --task FILE --out DIR [--sensitivity-mode outcome|pairs] [--position P] "
                                 "[--metrics rel_l2,...] [--bootstrap B] [--rope-mode gradient|perturb|nope] [--eps E] "
                                 "[--k-sens K] [--k-rope K] [--angular] [--seed S] [--batch N] (docs/analyses.md)",
                                 "sensitivity, RoPE influence, redundancy and co-localization statistics -> results directory",
                                 runAnalyze});
const CommandRegistrar kManipulate({"manipulate", "--model DIR --task FILE --mode MODE|all --out DIR [--layers K,...] [--seed S]",
                                    "previous-token manipulations (random, freeze, shuffle, swap, skip_attention): accuracy vs layer k",
                                    runManipulate});
const CommandRegistrar kDrop({"drop", "--model DIR --task FILE --plan one-shot|iterative|joint --n N --out DIR [--module attn|mlp|block]",
                              "drop the most redundant modules; accuracy and measured forward speedup", runDrop});
const CommandRegistrar kBench({"bench analyze", "[--model DIR] [--task FILE] [--batch N] [--no-pipeline]",
                               "time each analysis against one forward pass over the same items (default: demo model)",
                               runBenchAnalyze});

}  // namespace
}  // namespace layerscope::app
