#include "app/gui/train_jobs.h"

#include <QFile>
#include <QFileInfo>
#include <QJsonArray>
#include <QJsonDocument>
#include <QJsonObject>
#include <QRegularExpression>
#include <filesystem>

#include "app/gui/cli_processes.h"
#include "app/gui/job_runner.h"
#include "core/base/error.h"
#include "core/data/dataset.h"
#include "experiments/train_cost.h"
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

namespace {

// `layerscope-cli train` arguments for the request the in-process path would run: every value of the request
// (recorded options included after a resume), doubles written to round-trip exactly.
QStringList trainArgsOf(const experiments::TrainRunRequest& r) {
  auto q = [](const std::string& s) { return QString::fromStdString(s); };
  auto num = [](double v) { return QString::number(v, 'g', 17); };
  QStringList targets;
  for (core::Proj p : r.spec.lora.targets) targets << QString::fromLatin1(core::projShortName(p));
  QStringList a{QStringLiteral("train"), QStringLiteral("--model"), q(r.modelDir.string()), QStringLiteral("--train"),
                q(r.train), QStringLiteral("--out"), q(r.outDir.string())};
  a << QStringLiteral("--dtype") << q(r.dtype) << QStringLiteral("--device") << q(r.device)
    << QStringLiteral("--lora-layers") << q(r.loraLayers.empty() ? "none" : r.loraLayers)
    << QStringLiteral("--garfa-layers") << q(r.garfaLayers.empty() ? "none" : r.garfaLayers)
    << QStringLiteral("--lora-rank") << QString::number(r.spec.lora.rank) << QStringLiteral("--lora-alpha")
    << num(r.spec.lora.alpha) << QStringLiteral("--lora-dropout") << num(r.spec.lora.dropout)
    << QStringLiteral("--targets") << targets.join(QLatin1Char(',')) << QStringLiteral("--lr") << num(r.options.loraLr)
    << QStringLiteral("--garfa-lr") << num(r.options.garfaLr) << QStringLiteral("--weight-decay")
    << num(r.options.loraWeightDecay) << QStringLiteral("--clip") << num(r.options.clipNorm) << QStringLiteral("--steps") << QString::number(r.options.steps)
    << QStringLiteral("--batch") << QString::number(r.options.batchSize) << QStringLiteral("--grad-accum")
    << QString::number(r.options.gradAccum) << QStringLiteral("--seed") << QString::number(r.options.seed)
    << QStringLiteral("--checkpoint-every") << QString::number(r.options.checkpointEvery);
  if (r.options.warmupSteps >= 0) a << QStringLiteral("--warmup") << QString::number(r.options.warmupSteps);  // -1: auto
  if (r.spec.garfa.clamp)
    a << QStringLiteral("--clamp-alpha") << QStringLiteral("--min-alpha") << num(r.spec.garfa.minAlpha)
      << QStringLiteral("--max-alpha") << num(r.spec.garfa.maxAlpha);
  if (!r.evalLossFile.empty()) a << QStringLiteral("--eval-loss") << q(r.evalLossFile.string());
  if (r.resume) a << QStringLiteral("--resume");
  return a;
}

// The multi-process run: the CLI's step lines feed the curve while it runs; the outcome is read from the
// training_log.json that rank 0 wrote (every step, the held-out points, the counts).
TrainOutcome trainInProcesses(const experiments::TrainRunRequest& r, int processes, JobContext& ctx) {
  static const QRegularExpression step(QStringLiteral(
      R"(^step (\d+)/(\d+)  loss (\S+)  lr (\S+)  grad \S+  (\S+) tok/s  ETA (\S+) s(?:  eval loss (\S+))?$)"));
  runCliProcesses(trainArgsOf(r), processes, ctx, [&ctx](const QString& line) {
    const auto m = step.match(line);
    if (!m.hasMatch()) return;
    TrainStep s{m.captured(1).toLongLong(), m.captured(2).toLongLong(), m.captured(3).toDouble(), m.captured(5).toDouble(),
                m.captured(6).toDouble(), m.captured(4).toDouble()};
    if (m.hasCaptured(7)) s.evalLoss = m.captured(7).toDouble();
    ctx.post(QVariant::fromValue(s));
  });
  const QString file = QString::fromStdString((r.outDir / "training_log.json").string());
  QFile f(file);
  if (!f.open(QIODevice::ReadOnly)) throw Error(file.toStdString() + ": the finished run wrote no training log");
  const QJsonObject log = QJsonDocument::fromJson(f.readAll()).object();
  TrainOutcome out;
  out.outDir = QString::fromStdString(r.outDir.string());
  for (const QJsonValue& v : log.value(QStringLiteral("losses")).toArray()) out.losses << v.toDouble();
  for (const QJsonValue& p : log.value(QStringLiteral("eval_loss")).toObject().value(QStringLiteral("points")).toArray())
    out.evalSteps << p.toArray().at(0).toDouble(), out.evalLosses << p.toArray().at(1).toDouble();
  if (out.losses.isEmpty()) throw Error(file.toStdString() + ": no losses");
  out.resumedFromStep = log.value(QStringLiteral("resumed_from_step")).toInteger();
  out.seconds = log.value(QStringLiteral("seconds_this_run")).toDouble();
  out.tokensPerSecond = log.value(QStringLiteral("tokens_per_second")).toDouble();
  out.loraParameters = log.value(QStringLiteral("lora_parameters")).toInteger();
  out.garfaParameters = log.value(QStringLiteral("garfa_parameters")).toInteger();
  return out;
}

}  // namespace

namespace {

// The request the panel's values stand for, checked; a resume takes the recorded options.
experiments::TrainRunRequest trainRequestOf(const TrainJob& job) {
  const QString train = job.trainFile.trimmed();
  if (!train.startsWith(QLatin1String("demo:")) && !QFileInfo(train).isFile())
    throw InvalidArgument("training task file not found: '" + train.toStdString() +
                          "' (choose a LayerScope task JSONL, e.g. resources/tasks/demo/*.mc.jsonl)");
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
  return r;
}

}  // namespace

QVariant estimateTrainJob(const TrainJob& job, JobContext& ctx) {
  ctx.stage(QObject::tr("estimating: timing layers of this model's shape"));
  const experiments::TrainCostEstimate e = experiments::estimateTraining(trainRequestOf(job), /*measure=*/true,
                                                                          ctx.control());
  QVariantMap m;
  m[QStringLiteral("text")] = QString::fromStdString(e.table());
  m[QStringLiteral("peak_bytes")] = e.peakBytes;
  m[QStringLiteral("available_bytes")] = e.budgetBytes;
  m[QStringLiteral("seconds")] = e.seconds;
  return m;
}

QVariant runTrainJob(const TrainJob& job, JobContext& ctx) {
  if (job.outDir.isEmpty()) throw InvalidArgument("no output folder for the adapter");
  experiments::TrainRunRequest r = trainRequestOf(job);
  if (job.processes > 1) {
    ctx.stage(QObject::tr("Training in %1 processes...").arg(job.processes));
    return QVariant::fromValue(trainInProcesses(r, job.processes, ctx));
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
