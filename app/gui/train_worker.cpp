#include "app/gui/train_worker.h"

#include <QDir>
#include <QElapsedTimer>
#include <QFileInfo>
#include <exception>
#include <fstream>

#include <nlohmann/json.hpp>

#include "core/adapter_training.h"
#include "core/adapters.h"
#include "core/benchmarks.h"
#include "core/error.h"
#include "core/job_control.h"
#include "core/model.h"
#include "core/runtime.h"
#include "core/tokenizer.h"

namespace layerscope::app {
namespace fs = std::filesystem;

namespace {

fs::path toPath(const QString& s) { return fs::path(s.toStdString()); }

std::vector<int> layerList(const QString& text, int numLayers, const char* what) {
  const std::string t = text.trimmed().toStdString();
  if (t == "all") {
    std::vector<int> v(static_cast<size_t>(numLayers));
    for (int l = 0; l < numLayers; ++l) v[size_t(l)] = l;
    return v;
  }
  return core::parseLayerList(t.empty() ? std::string("none") : t, what);
}

// A resume must repeat the interrupted run's options exactly (trainAdapters compares train_options.json):
// take them from the file rather than from spin boxes that round to their decimals.
void applyRecordedOptions(const fs::path& outDir, core::AdapterSpec& spec, core::AdapterTrainOptions& opt) {
  const fs::path file = outDir / "train_options.json";
  std::ifstream in(file);
  if (!in)
    throw InvalidArgument(outDir.string() + " holds no train_options.json: nothing to resume (press Start for a new run)");
  nlohmann::json j;
  try {
    j = nlohmann::json::parse(in);
    spec.lora.layers = j.at("lora_layers").get<std::vector<int>>();
    std::string targets;
    for (const auto& t : j.at("lora_targets")) targets += (targets.empty() ? "" : ",") + t.get<std::string>();
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
  } catch (const nlohmann::json::exception& e) {
    throw CheckpointError(file.string() + ": unreadable training options (" + e.what() + ")");
  }
}

}  // namespace

TrainWorker::TrainWorker(QObject* parent) : QObject(parent) {}
TrainWorker::~TrainWorker() = default;

void TrainWorker::guarded(const std::function<void()>& body) {
  stop_.finish(body, [this] { Q_EMIT cancelled(); }, [this](const QString& message) { Q_EMIT failed(message); });
}

void TrainWorker::ensureModel(const QString& dir, const QString& dtype) {
  if (model_ && loadedDir_ == dir && loadedDtype_ == dtype) return;
  model_.reset();
  tok_.reset();
  core::configureRuntime();
  Q_EMIT stage(tr("Loading %1 (%2)").arg(QFileInfo(dir).fileName(), dtype), -1);
  auto model = core::LlamaModel::load(toPath(dir), core::parseComputeDtype(dtype.toStdString()));
  auto tok = std::make_unique<core::Tokenizer>(core::Tokenizer::fromFile(toPath(dir)));
  model_ = std::move(model);
  tok_ = std::move(tok);
  loadedDir_ = dir;
  loadedDtype_ = dtype;
}

void TrainWorker::train(const TrainJob& job) {
  auto stop = stop_.begin();
  core::JobControl control(stop->get_token());
  guarded([&] {
    if (job.trainFile.isEmpty() || !QFileInfo(job.trainFile).isFile())
      throw InvalidArgument("training task file not found: '" + job.trainFile.toStdString() +
                            "' (choose a LayerScope task JSONL, e.g. resources/tasks/demo/*.mc.jsonl)");
    if (job.outDir.isEmpty()) throw InvalidArgument("no output folder for the adapter");
    ensureModel(job.modelDir, job.dtype);
    control.checkCancelled();
    const int L = model_->config().numLayers;
    core::AdapterSpec spec;
    spec.lora.layers = layerList(job.loraLayers, L, "LS-LoRA layers");
    spec.garfa.layers = layerList(job.garfaLayers, L, "GARFA layers");
    spec.lora.rank = job.rank;
    spec.lora.alpha = job.alpha;
    spec.lora.dropout = job.dropout;
    spec.lora.targets = core::parseTargets(job.targets.toStdString());
    spec.garfa.clamp = job.clampAlpha;
    spec.garfa.minAlpha = job.minAlpha;
    spec.garfa.maxAlpha = job.maxAlpha;
    spec.baseModel = fs::absolute(toPath(job.modelDir)).string();
    core::AdapterTrainOptions opt;
    opt.loraLr = job.loraLr;
    opt.garfaLr = job.garfaLr;
    opt.steps = job.steps;
    opt.batchSize = job.batchSize;
    opt.gradAccum = job.gradAccum;
    opt.seed = job.seed;
    opt.checkpointEvery = job.checkpointEvery;
    if (job.resume) applyRecordedOptions(toPath(job.outDir), spec, opt);
    if (spec.lora.layers.empty() && spec.garfa.layers.empty())
      throw InvalidArgument("both layer sets are empty: give LS-LoRA and/or GARFA layers (select layers in a view, "
                            "or use the S_sens / S_rope buttons)");
    auto adapters = core::AdapterSet::create(model_->config(), spec, opt.seed);
    const core::Task task = core::readTask(toPath(job.trainFile));
    Q_EMIT stage(job.resume ? tr("Resuming from the newest checkpoint...") : tr("Training..."), 0);

    // Batch the step reports: the GUI gets every loss, at most ~10 signals a second.
    TrainProgress pending;
    QElapsedTimer throttle;
    throttle.start();
    auto onStep = [&](const core::StepReport& r) {
      pending.steps << double(r.step);
      pending.losses << r.loss;
      pending.step = r.step;
      pending.totalSteps = r.totalSteps;
      pending.tokensPerSecond = r.tokensPerSecond;
      pending.etaSeconds = r.etaSeconds;
      if (throttle.elapsed() < 100 && r.step < r.totalSteps) return;
      throttle.restart();
      Q_EMIT progress(pending);
      pending.steps.clear();
      pending.losses.clear();
    };
    QDir().mkpath(job.outDir);
    const auto res = core::trainAdapters(*model_, adapters, *tok_, task, opt, toPath(job.outDir), job.resume, onStep, &control);
    if (!pending.steps.isEmpty()) Q_EMIT progress(pending);
    TrainOutcome out;
    out.outDir = job.outDir;
    out.losses = QVector<double>(res.losses.begin(), res.losses.end());
    out.resumedFromStep = res.resumedFromStep;
    out.seconds = res.seconds;
    out.tokensPerSecond = res.tokensPerSecond;
    out.loraParameters = res.loraParameters;
    out.garfaParameters = res.garfaParameters;
    Q_EMIT trained(out);
  });
}

void TrainWorker::evaluate(const EvalJob& job) {
  auto stop = stop_.begin();
  QElapsedTimer throttle;
  throttle.start();
  QString label;
  auto onProgress = [&](const core::Progress& p) {
    if (throttle.elapsed() < 100 && p.done < p.total) return;
    throttle.restart();
    Q_EMIT stage(label, p.total > 0 ? p.done / p.total : -1.0);
  };
  core::JobControl control(stop->get_token(), onProgress);
  guarded([&] {
    if (!QFileInfo(job.evalFile).isFile())
      throw InvalidArgument("evaluation file not found: '" + job.evalFile.toStdString() + "'");
    if (!core::AdapterSet::isAdapterDir(toPath(job.adapterDir)))
      throw InvalidArgument("'" + job.adapterDir.toStdString() +
                            "' is not an adapter folder (no adapter_config.json or garfa_config.json); train one first");
    ensureModel(job.modelDir, job.dtype);
    const auto adapter = core::AdapterSet::load(toPath(job.adapterDir), model_->config());
    core::BenchmarkOptions bo;
    bo.format = core::detectBenchmarkFormat(toPath(job.evalFile));
    bo.seed = job.seed;
    const core::Task task = core::loadBenchmark(toPath(job.evalFile), bo);
    const core::PreparedTask prepared = core::prepareTask(*tok_, task);
    core::ScoringOptions so;
    so.batchSize = job.batchSize;
    if (task.kind() == core::TaskKind::ShortAnswer) {
      try {
        so.extraction = core::parseAnswerExtraction(core::defaultExtractionName(bo.format));
      } catch (const Error&) {
      }
    }
    label = tr("Evaluating the base model");
    const auto base = core::evaluateWithAdapter(*model_, nullptr, *tok_, prepared, so, &control);
    label = tr("Evaluating with the adapter");
    const auto withAdapter = core::evaluateWithAdapter(*model_, &adapter, *tok_, prepared, so, &control);
    EvalOutcome out;
    out.task = QString::fromStdString(task.name);
    out.kind = QString::fromUtf8(core::taskKindName(task.kind()).data(), qsizetype(core::taskKindName(task.kind()).size()));
    out.items = int(prepared.items.size());
    out.baseAccuracy = base.accuracy;
    out.adapterAccuracy = withAdapter.accuracy;
    Q_EMIT evaluated(out);
  });
}

}  // namespace layerscope::app
