// The analysis worker: a QObject living on its own QThread that runs one analysis at a time through
// analysis/pipeline.h. Cancellation is a std::stop_source flipped from the GUI thread (cancel() is
// thread-safe); progress is throttled to ~10 Hz; every slot turns exceptions into failed(QString).
#pragma once

#include <QElapsedTimer>
#include <QObject>
#include <QString>
#include <QStringList>

#include "app/gui/job_stop.h"

namespace layerscope::app {

/// Everything one analysis run needs, as plain Qt values (copied across threads).
struct AnalysisJob {
  QString modelDir;
  QString adapterDir;   ///< empty: none
  QString taskFile;
  QString outDir;       ///< results directory to create (must not exist)
  // METHODS options (defaults as in METHODS.md / AnalyzeRequest)
  QString sensitivityMode = QStringLiteral("outcome");
  QString position = QStringLiteral("auto");
  QString metric = QStringLiteral("rel_l2");  ///< co-localization profile; all metrics are computed
  QString ropeMode = QStringLiteral("gradient");
  bool redundancy = true;
  QStringList manipulations;
  int kSens = 0, kRope = 0;  ///< 0 = ceil(0.28 L) / ceil(0.31 L)
  int bootstrap = 1000;
  qulonglong seed = 1234;
  double eps = 0.1;
  QString dtype = QStringLiteral("float32");
  int batchSize = 8;
};

class AnalysisWorker : public QObject {
  Q_OBJECT
 public:
  using QObject::QObject;
  /// Thread-safe: asks the running job to stop at its next check (between layers / batches).
  void cancel() { stop_.cancel(); }
  /// Thread-safe: called by the GUI thread just before queuing run(), so a cancel that arrives before the
  /// queued job starts is kept instead of lost.
  void arm() { stop_.arm(); }

 public Q_SLOTS:
  /// Runs `job` on the worker thread. Emits exactly one of finished / cancelled / failed.
  void run(const layerscope::app::AnalysisJob& job);

 Q_SIGNALS:
  void progress(const QString& stage, double fraction);
  void finished(const QString& resultsDir);
  void cancelled();
  void failed(const QString& message);

 private:
  JobStop stop_;
};

}  // namespace layerscope::app

Q_DECLARE_METATYPE(layerscope::app::AnalysisJob)
