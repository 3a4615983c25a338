// The GUI's one job runner. A JobWorker QObject on one QThread runs every long job (analysis, training,
// evaluation, ablation), one at a time, and keeps the loaded base model between jobs. JobRunner (GUI thread)
// starts a job, refuses another while one runs, and returns a Job whose signals bring throttled progress
// (~10 Hz: stage, fraction, ETA), values the job posts, and exactly one of finished / cancelled / failed.
// Cancel flips the job's std::stop_source from the GUI thread; a job cancelled before it starts never runs.
#pragma once

#include <QElapsedTimer>
#include <QObject>
#include <QString>
#include <QThread>
#include <QVariant>
#include <QVariantList>
#include <functional>
#include <memory>
#include <stop_token>

#include "core/base/job_control.h"

namespace layerscope::experiments {
struct ModelHandle;
}  // namespace layerscope::experiments

namespace layerscope::app {

class JobWorker;

/// What a job body sees on the worker thread.
class JobContext {
 public:
  JobContext(const JobContext&) = delete;
  JobContext& operator=(const JobContext&) = delete;
  /// Progress (throttled, with ETA) and cancellation, for the library calls.
  const core::JobControl* control() const { return &control_; }
  /// The base model for (dir, dtype): the one kept from an earlier job when it matches, else loaded (the kept
  /// one released first) and kept for later jobs. Pass it to experiment requests as `preloaded`.
  const experiments::ModelHandle& model(const QString& dir, const QString& dtype,
                                        const QString& device = QStringLiteral("auto"));
  /// A stage without a known fraction (busy indicator); sent at once.
  void stage(const QString& text);
  /// Queues a value for Job::data: sent in batches with the progress (~10 Hz), all of it before the outcome.
  void post(const QVariant& value);

 private:
  friend class JobWorker;
  JobContext(JobWorker& worker, quint64 id, std::stop_token stop);
  void onProgress(const core::Progress& p);
  void flush(bool force);

  JobWorker& worker_;
  quint64 id_;
  core::JobControl control_;
  QVariantList pending_;
  QString stage_;
  double fraction_ = -1;
  bool stageDirty_ = false;
  qint64 lastEmitMs_ = -1;
  std::string emittedStep_;  // the step (core::progressStep) of the last stage sent
  qint64 etaStartMs_ = -1;  // first report with a known fraction: the ETA excludes model loading
  double etaStartFraction_ = 0;
  QElapsedTimer clock_;
};

/// A job body: runs on the worker thread; its return value is Job::finished's. Throws Cancelled (through the
/// context's control) when stopped, anything else to fail.
using JobBody = std::function<QVariant(JobContext&)>;

/// One started job, on the GUI thread. Deleted (deleteLater) after its outcome signal.
class Job : public QObject {
  Q_OBJECT
 public:
  QString name() const { return name_; }
  /// Asks the job to stop at its next check (between layers / batches / steps); before it starts: never run.
  void cancel() { stop_->request_stop(); }
  bool cancelRequested() const { return stop_->stop_requested(); }

 Q_SIGNALS:
  /// `fraction` in [0, 1], < 0 when unknown; `etaSeconds` < 0 when not yet known.
  void progress(const QString& stage, double fraction, double etaSeconds);
  /// Values the body posted since the last signal, in order.
  void data(const QVariantList& values);
  void finished(const QVariant& result);
  void cancelled();
  void failed(const QString& message);

 private:
  friend class JobRunner;
  Job(QString name, QObject* parent) : QObject(parent), name_(std::move(name)) {}
  QString name_;
  std::shared_ptr<std::stop_source> stop_ = std::make_shared<std::stop_source>();
};

/// Lives on the worker thread; JobRunner queues run() there. Owns the kept model.
class JobWorker : public QObject {
  Q_OBJECT
 public:
  JobWorker();
  ~JobWorker() override;
  /// Worker thread: runs `body` unless already cancelled; emits exactly one outcome, never throws.
  void run(quint64 id, const JobBody& body, std::shared_ptr<std::stop_source> stop);

 Q_SIGNALS:
  void progress(quint64 id, const QString& stage, double fraction, double etaSeconds);
  void data(quint64 id, const QVariantList& values);
  void finished(quint64 id, const QVariant& result);
  void cancelled(quint64 id);
  void failed(quint64 id, const QString& message);

 private:
  friend class JobContext;
  std::unique_ptr<experiments::ModelHandle> model_;
};

class JobRunner : public QObject {
  Q_OBJECT
 public:
  explicit JobRunner(QObject* parent = nullptr);
  /// Cancels the running job and waits for it to stop.
  ~JobRunner() override;

  /// Starts `body` on the worker thread; nullptr while another job runs (one job at a time).
  Job* start(const QString& name, JobBody body);
  bool isBusy() const { return current_ != nullptr; }
  Job* current() const { return current_; }
  void cancel() {
    if (current_) current_->cancel();
  }

 Q_SIGNALS:
  void busyChanged(bool busy);

 private:
  /// The current job if `id` is its id (stale signals are dropped).
  Job* jobFor(quint64 id) const { return id == currentId_ ? current_ : nullptr; }
  /// Ends the current job: not busy any more before its outcome is emitted, so handlers may start the next.
  Job* takeJob(quint64 id);

  QThread thread_;
  JobWorker* worker_;
  Job* current_ = nullptr;
  quint64 currentId_ = 0, nextId_ = 1;
};

}  // namespace layerscope::app
