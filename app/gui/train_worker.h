// The adapter-training worker: a QObject on its own QThread that owns the loaded base model (kept between
// jobs for the same folder and dtype) and runs one job at a time: LS-LoRA / GARFA training through
// core::trainAdapters, or "evaluate vs base" through core::evaluateWithAdapter. Cancel flips a
// std::stop_source from the GUI thread; step reports are batched and throttled to ~10 Hz; every slot turns
// exceptions into failed(QString).
#pragma once

#include <QObject>
#include <QString>
#include <QVector>
#include <functional>
#include <memory>

#include "app/gui/job_stop.h"

namespace layerscope::core {
class LlamaModel;
class Tokenizer;
}  // namespace layerscope::core

namespace layerscope::app {

/// One fine-tune, as plain Qt values (copied across threads). Defaults: METHODS.md section 7.
struct TrainJob {
  QString modelDir;
  QString trainFile;
  QString outDir;           ///< adapter folder (train_options.json, checkpoints/, adapter files)
  bool resume = false;      ///< continue from outDir's newest complete checkpoint
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
};

/// Base vs adapter accuracy on one evaluation file.
struct EvalJob {
  QString modelDir;
  QString adapterDir;
  QString evalFile;  ///< LayerScope task JSONL or a benchmark layout (auto-detected)
  QString dtype = QStringLiteral("float32");
  int batchSize = 8;
  qulonglong seed = 0;
};

/// A batch of step reports (everything since the last signal) plus the newest rates.
struct TrainProgress {
  QVector<double> steps, losses;
  qint64 step = 0, totalSteps = 0;
  double tokensPerSecond = 0, etaSeconds = 0;
};

struct TrainOutcome {
  QString outDir;
  QVector<double> losses;  ///< every step from 1 (replayed steps included after a resume)
  qint64 resumedFromStep = 0;
  double seconds = 0, tokensPerSecond = 0;
  qint64 loraParameters = 0, garfaParameters = 0;
};

struct EvalOutcome {
  QString task, kind;
  int items = 0;
  double baseAccuracy = 0, adapterAccuracy = 0;
};

class TrainWorker : public QObject {
  Q_OBJECT
 public:
  explicit TrainWorker(QObject* parent = nullptr);
  ~TrainWorker() override;
  /// Thread-safe: asks the running job to stop before its next step / batch.
  void cancel() { stop_.cancel(); }
  /// Thread-safe: called by the GUI thread just before queuing a job, so an early cancel is not lost.
  void arm() { stop_.arm(); }

 public Q_SLOTS:
  /// Emits exactly one of trained / cancelled / failed.
  void train(const layerscope::app::TrainJob& job);
  /// Emits exactly one of evaluated / cancelled / failed.
  void evaluate(const layerscope::app::EvalJob& job);

 Q_SIGNALS:
  void stage(const QString& text, double fraction);  ///< loading / evaluating; fraction < 0: unknown
  void progress(const layerscope::app::TrainProgress& p);
  void trained(const layerscope::app::TrainOutcome& outcome);
  void evaluated(const layerscope::app::EvalOutcome& outcome);
  void cancelled();
  void failed(const QString& message);

 private:
  /// Runs a slot's body, emitting cancelled() / failed(message) for its exceptions, then stop_.end().
  void guarded(const std::function<void()>& body);
  /// The base model for (dir, dtype), loaded once and kept for the next job.
  void ensureModel(const QString& dir, const QString& dtype);

  JobStop stop_;
  // Owned by the worker thread only.
  QString loadedDir_, loadedDtype_;
  std::shared_ptr<const core::LlamaModel> model_;
  std::unique_ptr<core::Tokenizer> tok_;
};

}  // namespace layerscope::app

Q_DECLARE_METATYPE(layerscope::app::TrainJob)
Q_DECLARE_METATYPE(layerscope::app::EvalJob)
Q_DECLARE_METATYPE(layerscope::app::TrainProgress)
Q_DECLARE_METATYPE(layerscope::app::TrainOutcome)
Q_DECLARE_METATYPE(layerscope::app::EvalOutcome)
