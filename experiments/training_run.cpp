#include "experiments/training_run.h"

#include <cmath>
#include <cstdio>
#include <fstream>

#include "core/base/atomic_file.h"
#include "core/base/error.h"
#include "experiments/evaluation.h"

namespace layerscope::experiments {
namespace fs = std::filesystem;
using nlohmann::json;

std::string stepLine(const std::string& label, const core::StepReport& r) {
  char line[256];
  std::snprintf(line, sizeof line, "%sstep %lld/%lld  loss %.4f  lr %.2e  grad %.3f  %.0f tok/s  ETA %.0f s", label.c_str(),
                static_cast<long long>(r.step), static_cast<long long>(r.totalSteps), r.loss, r.lr, r.gradNorm,
                r.tokensPerSecond, r.etaSeconds);
  std::string out = line;
  if (!std::isnan(r.evalLoss)) {
    std::snprintf(line, sizeof line, "  eval loss %.4f", r.evalLoss);
    out += line;
  }
  return out;
}

TrainRunResult runTraining(const TrainRunRequest& r, const core::JobControl* job) {
  if (r.outDir.empty()) throw InvalidArgument("no output folder for the adapter");
  if ((r.loraLayers.empty() || r.loraLayers == "none") && (r.garfaLayers.empty() || r.garfaLayers == "none"))
    throw InvalidArgument("both layer sets are empty: give LS-LoRA and/or GARFA layers (--lora-layers, --garfa-layers)");
  const ModelHandle m = modelFor(r.modelDir, r.dtype, r.preloaded, r.device);
  core::checkCancelled(job);
  const int L = m.model->config().numLayers;
  core::AdapterSpec spec = r.spec;
  spec.lora.layers = parseLayerSet(r.loraLayers, L, "LS-LoRA layers");
  spec.garfa.layers = parseLayerSet(r.garfaLayers, L, "GARFA layers");
  spec.baseModel = fs::absolute(r.modelDir).string();
  const auto train = loadTrainingTask(r.train, r.options.seed);
  std::vector<EvalTask> evals;
  for (const auto& f : r.evalFiles) evals.push_back(loadEvalTask(*m.tokenizer, f, r.evalFormat, r.options.seed));
  core::AdapterTrainOptions options = r.options;
  if (!r.evalLossFile.empty() && options.evalEvery != 0) {
    const auto heldOut = loadEvalTask(*m.tokenizer, r.evalLossFile, r.evalFormat, r.options.seed);
    options.evalTask = std::make_shared<const core::Task>(heldOut.task);
  }
  auto adapters = core::AdapterSet::create(m.model->config(), spec, r.options.seed);
  logLine(r.log, "LS-LoRA layers " + core::formatLayerList(spec.lora.layers) + " (" +
                     std::to_string(adapters.loraParameterCount()) + " params), GARFA layers " +
                     core::formatLayerList(spec.garfa.layers) + " (" + std::to_string(adapters.garfaParameterCount()) +
                     " params); " + std::to_string(train.size()) + " training items; " + core::bosPolicy(*m.tokenizer));
  // Data parallel (options.parallel): rank 0 alone writes the folder; every rank trains and evaluates its share.
  const bool writer = r.options.parallel.rank == 0;
  if (writer) fs::create_directories(r.outDir);
  std::ofstream trainLog;
  if (writer) trainLog.open(r.outDir / "train.log", std::ios::app);
  // With evaluation files the run has two phases; training is weighted by its share of the work.
  const double evalShare = evals.empty() ? 0.0 : 0.1;
  StageJob training(job, "training", 0, 1 - evalShare, 1.0);
  auto onStep = [&](const core::StepReport& s) {
    const std::string line = stepLine("", s);
    if (writer) trainLog << line << "\n" << std::flush;
    if (s.step == 1 || s.step % 10 == 0 || s.step == s.totalSteps || !std::isnan(s.evalLoss)) logLine(r.log, line);
    if (r.onStep) r.onStep(s);
    training.setLabel(line);
  };
  TrainRunResult out;
  out.loraLayers = spec.lora.layers;
  out.garfaLayers = spec.garfa.layers;
  out.trainItems = train.size();
  out.train = core::trainAdapters(*m.model, adapters, *m.tokenizer, train, options, r.outDir, r.resume, onStep, training.get());
  char done[128];
  std::snprintf(done, sizeof done, " (%.1f s, %.0f tok/s)", out.train.seconds, out.train.tokensPerSecond);
  if (writer) logLine(r.log, "wrote " + r.outDir.string() + done);
  if (evals.empty()) return out;
  json ev = json::object();
  for (std::size_t i = 0; i < evals.size(); ++i) {
    const double from = (1 - evalShare) + evalShare * double(i) / double(evals.size());
    const StageJob stage(job, "evaluate " + evals[i].task.name, from, from + evalShare / double(evals.size()), 1.0);
    TaskComparison c;
    c.task = evals[i].task.name;
    c.file = evals[i].file;
    const auto& dp = r.options.parallel;  // data parallel: each rank scores its share of the items
    c.base = evaluateDataParallel(*m.model, nullptr, *m.tokenizer, evals[i].prepared, evals[i].scoring, dp, stage.get());
    c.adapted = evaluateDataParallel(*m.model, &adapters, *m.tokenizer, evals[i].prepared, evals[i].scoring, dp, stage.get());
    ev[c.task] = {{"base", c.base.accuracy}, {"adapted", c.adapted.accuracy}, {"file", c.file.string()}};
    out.evals.push_back(std::move(c));
  }
  if (writer) core::writeFileAtomically(r.outDir / "eval.json", ev.dump(2));
  return out;
}

TaskComparison compareWithBase(const ModelHandle& m, const fs::path& adapterDir, const fs::path& evalFile,
                               const core::ScoringOptions& scoring, std::uint64_t seed, const core::JobControl* job) {
  if (!core::AdapterSet::isAdapterDir(adapterDir))
    throw InvalidArgument(std::string("'").append(adapterDir.string()).append(  // append: g++ 12 false -Wstringop-overflow
        "' is not an adapter folder (no adapter_config.json or garfa_config.json); train one first"));
  const auto adapter = core::AdapterSet::load(adapterDir, m.model->config());
  auto e = loadEvalTask(*m.tokenizer, evalFile, "auto", seed);
  core::ScoringOptions so = scoring;
  so.extraction = e.scoring.extraction;
  TaskComparison c;
  c.task = e.task.name;
  c.file = evalFile;
  c.base = core::evaluateWithAdapter(*m.model, nullptr, *m.tokenizer, e.prepared, so,
                                     StageJob(job, "evaluating the base model", 0, 1, 2).get());
  c.adapted = core::evaluateWithAdapter(*m.model, &adapter, *m.tokenizer, e.prepared, so,
                                        StageJob(job, "evaluating with the adapter", 1, 2, 2).get());
  return c;
}

void readRecordedTrainOptions(const fs::path& outDir, core::AdapterSpec& spec, core::AdapterTrainOptions& opt) {
  const fs::path file = outDir / "train_options.json";
  std::ifstream in(file);
  if (!in)
    throw InvalidArgument(outDir.string() + " holds no train_options.json: nothing to resume (start a new run instead)");
  try {
    const json j = json::parse(in);
    spec.lora.layers = j.at("lora_layers").get<std::vector<int>>();
    std::string targets;
    for (const auto& t : j.at("lora_targets")) (targets += targets.empty() ? "" : ",") += t.get<std::string>();
    if (!targets.empty()) spec.lora.targets = core::parseTargets(targets);
    spec.lora.rank = j.at("lora_rank").get<int>();
    spec.lora.alpha = j.at("lora_alpha").get<double>();
    spec.lora.dropout = j.at("lora_dropout").get<double>();
    spec.garfa.layers = j.at("garfa_layers").get<std::vector<int>>();
    spec.garfa.clamp = !j.at("garfa_clamp").is_null();
    if (spec.garfa.clamp) {
      spec.garfa.minAlpha = j["garfa_clamp"][0].get<double>();
      spec.garfa.maxAlpha = j["garfa_clamp"][1].get<double>();
    }
    opt.loraLr = j.at("lora_lr").get<double>();
    opt.loraWeightDecay = j.at("lora_weight_decay").get<double>();
    opt.garfaLr = j.at("garfa_lr").get<double>();
    opt.steps = j.at("steps").get<int64_t>();
    opt.warmupSteps = j.at("warmup_steps").get<int64_t>();
    opt.minLrRatio = j.at("min_lr_ratio").get<double>();
    opt.batchSize = j.at("batch").get<int>();
    opt.gradAccum = j.at("grad_accum").get<int>();
    opt.clipNorm = j.at("clip_norm").get<double>();
    opt.seed = j.at("seed").get<uint64_t>();
    opt.completionSuffix = j.at("completion_suffix").get<std::string>();
    spec.baseModel = j.at("base_model").get<std::string>();
  } catch (const json::exception& e) {
    throw CheckpointError(file.string() + ": unreadable training options (" + e.what() + ")");
  }
}

}  // namespace layerscope::experiments
