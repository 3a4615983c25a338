// The training panel's jobs for the JobRunner, as plain Qt values: an LS-LoRA / GARFA fine-tune (or its resume)
// through experiments::runTraining, and "evaluate vs base" through experiments::compareWithBase, both on the
// runner's kept base model, compared item by item (results/item_comparison.h). Defaults: docs/methods.md section 7.
#pragma once

#include <limits>

#include <QMetaType>
#include <QString>
#include <QVariant>
#include <QVector>

#include "results/item_comparison.h"

namespace layerscope::app {

class JobContext;

/// One fine-tune.
struct TrainJob {
  QString modelDir;
  QString trainFile;        ///< task JSONL, or demo:N / demo:FAMILY:N
  QString outDir;           ///< adapter folder (train_options.json, checkpoints/, adapter files)
  bool resume = false;      ///< continue from outDir's newest checkpoint with its recorded options
  QString loraLayers;       ///< "23-31", "0,2,5-7", "all" or "none"
  QString garfaLayers;
  int rank = 16;
  double alpha = 32;
  double dropout = 0.05;
  QString targets = QStringLiteral("q,k,v,o,gate,up,down");
  double loraLr = 2e-4;
  double garfaLr = 1e-3;
  bool clampAlpha = false;  ///< keep GARFA alpha in [minAlpha, maxAlpha]
  double minAlpha = 0.25, maxAlpha = 4.0;
  int steps = 200;
  int batchSize = 8;
  int gradAccum = 1;
  int checkpointEvery = 50;
  qulonglong seed = 0;
  QString dtype = QStringLiteral("float32");
  QString device = QStringLiteral("auto");  ///< cpu | cuda:N | auto
  /// Held-out loss curve (every max(1, steps / 10) steps, up to 100 items): the panel's eval file; empty: none.
  QString evalLossFile;
  /// > 1: data-parallel over that many local processes (`layerscope-cli launch --nproc N -- train`, each micro-batch
  /// split over them; docs/distributed.md). The curve then shows the CLI's logged steps (every 10th) while it runs
  /// and every step from training_log.json when it ends.
  int processes = 1;
};

/// Base vs adapter accuracy on one evaluation file.
struct EvalJob {
  QString modelDir;
  QString adapterDir;
  QString evalFile;  ///< LayerScope task JSONL or a benchmark layout (auto-detected)
  QString dtype = QStringLiteral("float32");
  QString device = QStringLiteral("auto");  ///< cpu | cuda:N | auto
  int batchSize = 8;
  qulonglong seed = 0;
};

/// One optimizer step, posted by a training job (Job::data) for the loss curve.
struct TrainStep {
  qint64 step = 0, totalSteps = 0;
  double loss = 0, tokensPerSecond = 0, etaSeconds = 0;
  double lr = 0;  ///< learning rate of the step (schedule factor x the first group's peak lr)
  double evalLoss = std::numeric_limits<double>::quiet_NaN();  ///< held-out loss after the step; NaN: not evaluated
};

/// A training job's result (Job::finished).
struct TrainOutcome {
  QString outDir;
  QVector<double> losses;  ///< every step from 1 (replayed steps included after a resume)
  QVector<double> evalSteps, evalLosses;  ///< held-out loss points (earlier runs' included after a resume)
  qint64 resumedFromStep = 0;
  double seconds = 0, tokensPerSecond = 0;
  qint64 loraParameters = 0, garfaParameters = 0;
};

/// An evaluation job's result (Job::finished): both accuracies and the item-by-item comparison (flips, exact
/// McNemar p, CI on the difference) with the items of both evaluations for the Items tab.
struct EvalOutcome {
  QString task, kind;
  int items = 0;
  double baseAccuracy = 0, adapterAccuracy = 0;
  results::ItemSet baseItems, adapterItems;  ///< prompts joined from the eval file when it is a task JSONL
  results::ItemComparison comparison;        ///< A = "base", B = "adapter"
};

/// Job bodies: post a TrainStep per step and return a TrainOutcome / return an EvalOutcome.
QVariant runTrainJob(const TrainJob& job, JobContext& ctx);
/// The cost of `job` before it runs (experiments::estimateTraining, `train --dry-run`'s table; layer rates measured
/// on this machine): {"text", "peak_bytes", "available_bytes" (what the process may grow to), "seconds"},
/// the keys of estimateAnalysisJob. No output
/// folder needed.
QVariant estimateTrainJob(const TrainJob& job, JobContext& ctx);
QVariant runEvalJob(const EvalJob& job, JobContext& ctx);

}  // namespace layerscope::app

Q_DECLARE_METATYPE(layerscope::app::TrainStep)
Q_DECLARE_METATYPE(layerscope::app::TrainOutcome)
Q_DECLARE_METATYPE(layerscope::app::EvalOutcome)
