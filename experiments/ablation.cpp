#include "experiments/ablation.h"

#include <algorithm>
#include <chrono>
#include <cmath>
#include <fstream>
#include <iomanip>
#include <map>
#include <sstream>

#include "core/base/atomic_file.h"
#include "core/base/error.h"
#include "core/base/json_file.h"
#include "core/base/stopwatch.h"
#include "core/base/splitmix64.h"
#include "core/data/task_suite.h"
#include "experiments/evaluation.h"
#include "experiments/training_run.h"

namespace layerscope::experiments {
namespace fs = std::filesystem;
using nlohmann::json;
using core::Clock;
using core::readJsonFile;

namespace {

std::vector<int> randomLayers(std::uint64_t seed, int L, std::size_t k) {
  std::vector<int> all(static_cast<size_t>(L));
  for (int l = 0; l < L; ++l) all[size_t(l)] = l;
  core::SuiteRng rng(core::splitmix64(seed ^ 0xab1a7e0000000000ULL));
  for (size_t i = all.size(); i > 1; --i) std::swap(all[i - 1], all[size_t(rng.below(i))]);
  all.resize(std::min(k, all.size()));
  std::sort(all.begin(), all.end());
  return all;
}

// Overall progress: the base evaluation counts as one unit, each arm as `steps` training units plus one
// evaluation unit.
class AblationProgress {
 public:
  AblationProgress(const core::JobControl* job, std::size_t arms, std::int64_t steps)
      : job_(job), steps_(double(std::max<std::int64_t>(steps, 1))), total_(1 + double(arms) * (steps_ + 1)) {}
  void at(const std::string& stage, double units) const { core::reportProgress(job_, {stage, units, total_}); }
  double armStart(std::size_t arm) const { return 1 + double(arm) * (steps_ + 1); }
  double steps() const { return steps_; }
  double total() const { return total_; }

 private:
  const core::JobControl* job_;
  double steps_, total_;
};

}  // namespace

std::vector<AblationArm> ablationArms(const std::vector<int>& sSens, const std::vector<int>& sRope, int L,
                                      std::uint64_t seed, int controlSeeds) {
  std::vector<AblationArm> arms = {{"C1", "C1", sSens, sSens, seed},
                                   {"C2", "C2", sSens, sRope, seed},
                                   {"C3", "C3", sRope, sSens, seed},
                                   {"C4", "C4", sRope, sRope, seed}};
  for (int s = 0; s < controlSeeds; ++s) {
    const std::uint64_t armSeed = seed + std::uint64_t(s);
    arms.push_back({"C5-s" + std::to_string(s), "C5", randomLayers(armSeed, L, sSens.size()),
                    randomLayers(armSeed + 7777, L, sRope.size()), armSeed});
  }
  return arms;
}

std::pair<std::vector<int>, std::vector<int>> readTopK(const fs::path& analysisDir) {
  const json stats = readJsonFile(analysisDir / "stats.json");
  if (!stats.contains("top_k") || !stats["top_k"].contains("S_sens") || !stats["top_k"].contains("S_rope"))
    throw InvalidArgument((analysisDir / "stats.json").string() +
                          ": no top_k.S_sens / top_k.S_rope (run `analyze` with sensitivity and rope)");
  try {
    return {stats["top_k"]["S_sens"].get<std::vector<int>>(), stats["top_k"]["S_rope"].get<std::vector<int>>()};
  } catch (const json::exception& e) {
    throw InvalidArgument((analysisDir / "stats.json").string() + ": top_k.S_sens / S_rope are not layer lists (" +
                          e.what() + ")");
  }
}

AblationResult runAblation(const AblationRequest& r, const core::JobControl* job) {
  if (r.evalFiles.empty()) throw InvalidArgument("the ablation needs at least one evaluation file");
  if (r.outDir.empty()) throw InvalidArgument("the ablation needs an output folder");
  if (r.controlSeeds < 0) throw InvalidArgument("--control-seeds must be >= 0");
  const auto [sSens, sRope] = readTopK(r.analysisDir);
  const ModelHandle m = modelFor(r.modelDir, r.dtype, r.preloaded, r.device);
  const int L = m.model->config().numLayers;
  for (const auto* set : {&sSens, &sRope})
    for (int l : *set)
      if (l < 0 || l >= L)
        throw InvalidArgument((r.analysisDir / "stats.json").string() + ": top-k layer " + std::to_string(l) +
                              " does not exist in a model of " + std::to_string(L) + " layers (another model's analysis?)");
  const auto train = loadTrainingTask(r.train, r.options.seed);
  std::vector<EvalTask> evals;
  std::vector<std::string> taskNames;
  for (const auto& f : r.evalFiles) {
    evals.push_back(loadEvalTask(*m.tokenizer, f, r.evalFormat, r.options.seed));
    taskNames.push_back(evals.back().task.name);
  }
  const auto arms = ablationArms(sSens, sRope, L, r.options.seed, r.controlSeeds);
  const AblationProgress progress(job, arms.size(), r.options.steps);
  // Data parallel (options.parallel, docs/distributed.md): every rank trains each arm on its share of the batches
  // and evaluates its share of the items; rank 0 alone reads and writes the output folder and decides what is done
  // or resumed.
  const core::DataParallel& dp = r.options.parallel;
  const bool writer = dp.rank == 0;
  auto agreed = [&](bool rootSays) {
    if (!dp.distributed()) return rootSays;
    auto t = torch::tensor({rootSays ? 1.0 : 0.0}, torch::kFloat64);
    dp.broadcast(t);
    return t.item<double>() != 0;
  };
  if (writer) fs::create_directories(r.outDir / "logs");

  auto evaluateAll = [&](const core::AdapterSet* a, const std::string& label, double units) {
    json acc = json::object(), accNorm = json::object();
    for (std::size_t i = 0; i < evals.size(); ++i) {
      const double from = units + double(i) / double(evals.size());
      const StageJob stage(job, label + " " + taskNames[i], from, from + 1.0 / double(evals.size()), progress.total());
      auto res = evaluateDataParallel(*m.model, a, *m.tokenizer, evals[i].prepared, evals[i].scoring, dp, stage.get());
      acc[taskNames[i]] = res.accuracy;
      accNorm[taskNames[i]] = res.accuracyNorm;
    }
    return std::make_pair(acc, accNorm);
  };
  const auto tAll = Clock::now();
  // The base model, cached like the arms.
  json base;
  if (writer && fs::exists(r.outDir / "base.json")) base = readJsonFile(r.outDir / "base.json");
  if (agreed(base.is_null() || base.value("tasks", json()) != json(taskNames))) {
    const auto t0 = Clock::now();
    auto [acc, accNorm] = evaluateAll(nullptr, "base model: evaluating", 0);
    base = {{"accuracy", acc}, {"accuracy_norm", accNorm}, {"tasks", taskNames}, {"wall_seconds", core::secondsSince(t0)}};
    if (writer) core::writeFileAtomically(r.outDir / "base.json", base.dump(2));
  }
  if (writer) logLine(r.log, "base: " + base["accuracy"].dump());

  std::vector<json> runs;
  for (std::size_t ai = 0; ai < arms.size(); ++ai) {
    const auto& arm = arms[ai];
    const fs::path dir = r.outDir / "arms" / arm.name;
    json done;
    bool complete = false;
    if (writer && fs::exists(dir / "result.json")) {
      done = readJsonFile(dir / "result.json");
      complete = done.contains("accuracy") && done["accuracy"].is_object();
      for (const auto& task : taskNames) complete = complete && done["accuracy"].contains(task);
    }
    if (agreed(complete)) {
      if (writer) runs.push_back(done);
      if (writer) logLine(r.log, arm.name + ": done earlier, " + done["accuracy"].dump());
      continue;
    }
    core::AdapterSpec spec = r.spec;
    spec.lora.layers = arm.lora;
    spec.garfa.layers = arm.garfa;
    spec.baseModel = fs::absolute(r.modelDir).string();
    core::AdapterTrainOptions opt = r.options;
    opt.seed = arm.seed;
    auto adapters = core::AdapterSet::create(m.model->config(), spec, arm.seed);
    logLine(r.log, arm.name + ": LoRA " + core::formatLayerList(arm.lora) + ", GARFA " + core::formatLayerList(arm.garfa) +
                       ", seed " + std::to_string(arm.seed));
    std::ofstream armLog;
    if (writer) armLog.open(r.outDir / "logs" / (arm.name + ".log"), std::ios::app);
    const auto t0 = Clock::now();
    const bool resume = agreed(writer && fs::exists(dir / "train_options.json"));
    StageJob training(job, arm.name + ": training", progress.armStart(ai), progress.armStart(ai) + progress.steps(),
                      progress.total());
    auto onStep = [&](const core::StepReport& s) {
      const std::string line = stepLine(arm.name + " ", s);
      if (writer) armLog << line << "\n" << std::flush;
      if (s.step == 1 || s.step % 10 == 0 || s.step == s.totalSteps) logLine(r.log, line);
      training.setLabel(line);
    };
    auto res = core::trainAdapters(*m.model, adapters, *m.tokenizer, train, opt, dir, resume, onStep, training.get());
    auto [acc, accNorm] = evaluateAll(&adapters, arm.name + ": evaluating", progress.armStart(ai) + progress.steps());
    json run = {{"name", arm.name},
                {"group", arm.group},
                {"lora_layers", arm.lora},
                {"garfa_layers", arm.garfa},
                {"seed", arm.seed},
                {"trainable_parameters", res.loraParameters + res.garfaParameters},
                {"wall_seconds", core::secondsSince(t0)},
                {"train_seconds", res.seconds},
                {"resumed_from_step", res.resumedFromStep},
                {"final_loss", res.losses.empty() ? json(nullptr) : json(res.losses.back())},
                {"accuracy", acc},
                {"accuracy_norm", accNorm}};
    if (writer) core::writeFileAtomically(dir / "result.json", run.dump(2));
    logLine(r.log, arm.name + ": " + acc.dump());
    runs.push_back(run);
  }
  if (!writer) return {};  // rank 0 writes the report

  // Report: C1..C4 as they are, C5 averaged over its seeds (its runs kept).
  json armsJson = json::array();
  std::map<std::string, std::map<std::string, double>> accOf;
  for (const std::string group : {"C1", "C2", "C3", "C4", "C5"}) {
    std::vector<json> members;
    for (const auto& run : runs)
      if (run["group"] == group) members.push_back(run);
    if (members.empty()) continue;
    json a = {{"name", group}, {"lora_layers", members[0]["lora_layers"]}, {"garfa_layers", members[0]["garfa_layers"]}};
    double params = 0, wall = 0;
    json acc = json::object();
    for (const auto& task : taskNames) {
      double s = 0;
      for (const auto& mem : members) s += mem["accuracy"][task].get<double>();
      acc[task] = s / double(members.size());
      accOf[group][task] = s / double(members.size());
    }
    for (const auto& mem : members) params += mem["trainable_parameters"].get<double>(), wall += mem["wall_seconds"].get<double>();
    a["trainable_parameters"] = static_cast<long long>(std::llround(params / double(members.size())));
    a["wall_seconds"] = wall;
    a["accuracy"] = acc;
    if (members.size() > 1) {
      a["runs"] = members;
      // Random layer sets differ per seed: the arm lists none, each run in "runs" lists its own.
      a["lora_layers"] = json::array();
      a["garfa_layers"] = json::array();
      a["seeds"] = members.size();
    }
    armsJson.push_back(a);
  }
  std::vector<std::string> evalNames;
  for (const auto& f : r.evalFiles) evalNames.push_back(f.string());
  AblationResult out;
  out.report = {{"format", "layerscope.ablation/1"},
                {"method", "4-way cross-layer ablation, docs/methods.md section 8 (LayerScope operationalisation)"},
                {"arms", armsJson},
                {"base", base},
                {"tasks", taskNames},
                {"S_sens", sSens},
                {"S_rope", sRope},
                {"options", {{"steps", r.options.steps}, {"seed", r.options.seed}, {"batch", r.options.batchSize},
                             {"lora_rank", r.spec.lora.rank}, {"lora_alpha", r.spec.lora.alpha}, {"lr", r.options.loraLr},
                             {"garfa_lr", r.options.garfaLr}, {"dtype", core::computeDtypeName(core::parseComputeDtype(r.dtype))}, {"control_seeds", r.controlSeeds},
                             {"train", r.train}, {"eval", evalNames}, {"analysis", r.analysisDir.string()},
                             {"model", r.modelDir.string()}}},
                {"wall_seconds_this_run", core::secondsSince(tAll)}};
  core::writeFileAtomically(r.outDir / "report.json", out.report.dump(2));
  std::ostringstream csv;
  csv << "arm,task,accuracy,delta_vs_base_pts,delta_vs_c1_pts,trainable_parameters,wall_seconds\n";
  csv << std::setprecision(10);
  for (const auto& task : taskNames) {
    const double b = base["accuracy"][task].get<double>();
    csv << "base," << task << "," << b << ",0," << (accOf.count("C1") ? 100 * (b - accOf["C1"][task]) : 0.0) << ",0,0\n";
  }
  for (const auto& a : armsJson)
    for (const auto& task : taskNames) {
      const double acc = a["accuracy"][task].get<double>();
      csv << a["name"].get<std::string>() << "," << task << "," << acc << ","
          << 100 * (acc - base["accuracy"][task].get<double>()) << "," << 100 * (acc - accOf["C1"][task]) << ","
          << a["trainable_parameters"].get<long long>() << "," << a["wall_seconds"].get<double>() << "\n";
    }
  out.csv = csv.str();
  core::writeFileAtomically(r.outDir / "report.csv", out.csv);
  progress.at("done", progress.total());
  return out;
}

}  // namespace layerscope::experiments
