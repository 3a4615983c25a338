#include "app/gui/train_jobs.h"

#include <QFileInfo>
#include <filesystem>

#include "app/gui/job_runner.h"
#include "core/base/error.h"
#include "core/data/dataset.h"
#include "experiments/training_run.h"

namespace layerscope::app {
namespace fs = std::filesystem;

namespace {
fs::path toPath(const QString& s) { return fs::path(s.toStdString()); }

// One evaluation's items as the torch-free records the Items tab and the comparison take.
results::ItemSet itemSet(const core::EvalResult& r, const fs::path& evalFile, const std::string& label) {
  results::ItemSet set;
  set.file = evalFile.string() + " (" + label + ")";
  for (const core::ItemResult& it : r.items) {
    results::ItemRecord rec;
    rec.id = it.id;
    rec.correct = it.correct;
    if (r.kind == core::TaskKind::MultipleChoice) rec.correctNorm = it.correctNorm, rec.predicted = it.predicted;
    if (r.kind == core::TaskKind::Pairs) rec.goldIndex = 0;  // loglik = {correct, incorrect}
    rec.prediction = it.prediction;
    rec.gold = it.gold;
    rec.generated = it.generated;
    rec.loglik = it.loglik;
    set.items.push_back(std::move(rec));
  }
  results::attachPrompts(set, evalFile);  // never throws; a benchmark layout leaves a note instead of prompts
  return set;
}
}  // namespace

QVariant runTrainJob(const TrainJob& job, JobContext& ctx) {
  const QString train = job.trainFile.trimmed();
  if (!train.startsWith(QLatin1String("demo:")) && !QFileInfo(train).isFile())
    throw InvalidArgument("training task file not found: '" + train.toStdString() +
                          "' (choose a LayerScope task JSONL, e.g. resources/tasks/demo/*.mc.jsonl)");
  if (job.outDir.isEmpty()) throw InvalidArgument("no output folder for the adapter");
  experiments::TrainRunRequest r;
  r.modelDir = toPath(job.modelDir);
  r.train = train.toStdString();
  r.outDir = toPath(job.outDir);
  r.dtype = job.dtype.toStdString();
  r.device = job.device.toStdString();
  r.resume = job.resume;
  r.loraLayers = job.loraLayers.trimmed().toStdString();
  r.garfaLayers = job.garfaLayers.trimmed().toStdString();
  r.spec.lora.rank = job.rank;
  r.spec.lora.alpha = job.alpha;
  r.spec.lora.dropout = job.dropout;
  r.spec.lora.targets = core::parseTargets(job.targets.toStdString());
  r.spec.garfa.clamp = job.clampAlpha;
  r.spec.garfa.minAlpha = job.minAlpha;
  r.spec.garfa.maxAlpha = job.maxAlpha;
  r.options.loraLr = job.loraLr;
  r.options.garfaLr = job.garfaLr;
  r.options.steps = job.steps;
  r.options.batchSize = job.batchSize;
  r.options.gradAccum = job.gradAccum;
  r.options.seed = job.seed;
  r.options.checkpointEvery = job.checkpointEvery;
  if (job.resume) {
    // A resume repeats the interrupted run exactly: the recorded options, not spin boxes that round.
    experiments::readRecordedTrainOptions(r.outDir, r.spec, r.options);
    r.loraLayers = core::formatLayerList(r.spec.lora.layers);
    r.garfaLayers = core::formatLayerList(r.spec.garfa.layers);
  }
  if ((r.loraLayers.empty() || r.loraLayers == "none") && (r.garfaLayers.empty() || r.garfaLayers == "none"))
    throw InvalidArgument("both layer sets are empty: give LS-LoRA and/or GARFA layers (select layers in a view, "
                          "or use the S_sens / S_rope buttons)");
  if (!job.evalLossFile.trimmed().isEmpty()) {
    if (!QFileInfo(job.evalLossFile.trimmed()).isFile())
      throw InvalidArgument("evaluation file not found: '" + job.evalLossFile.trimmed().toStdString() +
                            "' (the held-out loss curve reads it; clear 'Eval file' to train without one)");
    r.evalLossFile = toPath(job.evalLossFile.trimmed());
  }
  r.preloaded = ctx.model(job.modelDir, job.dtype, job.device);
  r.onStep = [&ctx](const core::StepReport& s) {
    ctx.post(QVariant::fromValue(TrainStep{s.step, s.totalSteps, s.loss, s.tokensPerSecond, s.etaSeconds, s.lr, s.evalLoss}));
  };
  ctx.stage(job.resume ? QObject::tr("Resuming from the newest checkpoint...") : QObject::tr("Training..."));
  const auto res = experiments::runTraining(r, ctx.control());
  TrainOutcome out;
  out.outDir = job.outDir;
  out.losses = QVector<double>(res.train.losses.begin(), res.train.losses.end());
  for (const auto& e : res.train.evalLosses) out.evalSteps << double(e.step), out.evalLosses << e.loss;
  out.resumedFromStep = res.train.resumedFromStep;
  out.seconds = res.train.seconds;
  out.tokensPerSecond = res.train.tokensPerSecond;
  out.loraParameters = res.train.loraParameters;
  out.garfaParameters = res.train.garfaParameters;
  return QVariant::fromValue(out);
}

QVariant runEvalJob(const EvalJob& job, JobContext& ctx) {
  if (!QFileInfo(job.evalFile).isFile())
    throw InvalidArgument("evaluation file not found: '" + job.evalFile.toStdString() + "'");
  const auto& model = ctx.model(job.modelDir, job.dtype, job.device);
  core::ScoringOptions scoring;
  scoring.batchSize = job.batchSize;
  const auto c = experiments::compareWithBase(model, toPath(job.adapterDir), toPath(job.evalFile), scoring, job.seed,
                                              ctx.control());
  EvalOutcome out;
  out.task = QString::fromStdString(c.task);
  const auto kind = core::taskKindName(c.base.kind);
  out.kind = QString::fromUtf8(kind.data(), qsizetype(kind.size()));
  out.items = int(c.base.items.size());
  out.baseAccuracy = c.base.accuracy;
  out.adapterAccuracy = c.adapted.accuracy;
  out.baseItems = itemSet(c.base, toPath(job.evalFile), "base");
  out.adapterItems = itemSet(c.adapted, toPath(job.evalFile), "adapter");
  out.comparison = results::compareItems(out.baseItems.items, out.adapterItems.items, "base", "adapter");
  return QVariant::fromValue(out);
}

}  // namespace layerscope::app
