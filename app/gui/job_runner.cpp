#include "app/gui/job_runner.h"

#include <QFileInfo>
#include <algorithm>
#include <exception>
#include <filesystem>

#include "core/base/error.h"
#include "core/model/runtime.h"
#include "experiments/common.h"

namespace layerscope::app {
namespace fs = std::filesystem;

namespace {

// At most ~10 progress signals a second: the GUI queue never floods. A report that starts a new step
// (core::progressStep) is sent at once, so every step reaches the GUI (the reproduce dialog's tree lists them all).
constexpr qint64 kMinIntervalMs = 100;

}  // namespace

JobContext::JobContext(JobWorker& worker, quint64 id, std::stop_token stop)
    : worker_(worker), id_(id), control_(std::move(stop), [this](const core::Progress& p) { onProgress(p); }) {
  clock_.start();
}

const experiments::ModelHandle& JobContext::model(const QString& dir, const QString& dtype, const QString& device) {
  experiments::ModelHandle& kept = *worker_.model_;
  const fs::path path = dir.toStdString();
  const std::string dt = dtype.toStdString(), dev = device.toStdString();
  if (!kept.matches(path, dt, dev)) {
    kept = {};  // released before the next one loads: never two sets of weights at once
    stage(QObject::tr("Loading %1 (%2, %3)...").arg(QFileInfo(dir).fileName(), dtype, device));
  }
  kept = experiments::modelFor(path, dt, kept, dev);
  control_.checkCancelled();
  return kept;
}

void JobContext::stage(const QString& text) {
  stage_ = text;
  fraction_ = -1;
  stageDirty_ = true;
  flush(true);
}

void JobContext::post(const QVariant& value) {
  pending_.append(value);
  flush(false);
}

void JobContext::onProgress(const core::Progress& p) {
  stage_ = QString::fromStdString(p.stage);
  fraction_ = p.total > 0 ? std::clamp(p.done / p.total, 0.0, 1.0) : -1.0;
  if (fraction_ >= 0 && etaStartMs_ < 0) {
    etaStartMs_ = clock_.elapsed();
    etaStartFraction_ = fraction_;
  }
  stageDirty_ = true;
  flush(fraction_ >= 1 || core::progressStep(p.stage) != emittedStep_);
}

void JobContext::flush(bool force) {
  const qint64 now = clock_.elapsed();
  if (!force && lastEmitMs_ >= 0 && now - lastEmitMs_ < kMinIntervalMs) return;
  lastEmitMs_ = now;
  if (!pending_.isEmpty()) {
    Q_EMIT worker_.data(id_, pending_);
    pending_.clear();
  }
  if (!stageDirty_) return;
  stageDirty_ = false;
  // ETA from the rate since the first known fraction (model loading and set-up excluded).
  double eta = -1;
  const double gained = fraction_ - etaStartFraction_;
  if (fraction_ >= 0 && etaStartMs_ >= 0 && gained > 0.01)
    eta = double(now - etaStartMs_) / 1000.0 * (1 - fraction_) / gained;
  emittedStep_ = core::progressStep(stage_.toStdString());
  Q_EMIT worker_.progress(id_, stage_, fraction_, eta);
}

JobWorker::JobWorker() : model_(std::make_unique<experiments::ModelHandle>()) {}
JobWorker::~JobWorker() = default;

void JobWorker::run(quint64 id, const JobBody& body, std::shared_ptr<std::stop_source> stop) {
  JobContext ctx(*this, id, stop->get_token());
  // Values posted before the job ended reach the GUI before its outcome (e.g. the last loss points).
  auto sendPending = [&] {
    if (!ctx.pending_.isEmpty()) Q_EMIT data(id, ctx.pending_);
    ctx.pending_.clear();
  };
  try {
    ctx.control()->checkCancelled();  // cancelled while queued: the body never runs
    core::configureRuntime();
    const QVariant result = body(ctx);
    sendPending();
    Q_EMIT finished(id, result);
  } catch (const Cancelled&) {
    sendPending();
    Q_EMIT cancelled(id);
  } catch (const std::exception& e) {
    sendPending();
    Q_EMIT failed(id, QString::fromUtf8(e.what()));
  } catch (...) {
    sendPending();
    Q_EMIT failed(id, tr("unknown internal error"));
  }
}

JobRunner::JobRunner(QObject* parent) : QObject(parent), worker_(new JobWorker) {
  worker_->moveToThread(&thread_);
  connect(&thread_, &QThread::finished, worker_, &QObject::deleteLater);
  // The worker's signals arrive queued on this (GUI) thread and go to the job they belong to.
  connect(worker_, &JobWorker::progress, this, [this](quint64 id, const QString& stage, double f, double eta) {
    if (Job* j = jobFor(id)) Q_EMIT j->progress(stage, f, eta);
  });
  connect(worker_, &JobWorker::data, this, [this](quint64 id, const QVariantList& values) {
    if (Job* j = jobFor(id)) Q_EMIT j->data(values);
  });
  connect(worker_, &JobWorker::finished, this, [this](quint64 id, const QVariant& result) {
    // A cancel requested before the outcome reaches the GUI wins: the body may have ended on the worker just
    // before the user's cancel, but the window already treats the job as cancelled.
    if (Job* j = takeJob(id)) {
      if (j->cancelRequested())
        Q_EMIT j->cancelled();
      else
        Q_EMIT j->finished(result);
    }
  });
  connect(worker_, &JobWorker::cancelled, this, [this](quint64 id) {
    if (Job* j = takeJob(id)) Q_EMIT j->cancelled();
  });
  connect(worker_, &JobWorker::failed, this, [this](quint64 id, const QString& message) {
    if (Job* j = takeJob(id)) Q_EMIT j->failed(message);
  });
  thread_.setObjectName(QStringLiteral("layerscope-jobs"));
  thread_.start();
}

JobRunner::~JobRunner() {
  cancel();
  thread_.quit();
  thread_.wait();  // the job stops at its next cancellation check
}

Job* JobRunner::start(const QString& name, JobBody body) {
  if (current_) return nullptr;
  current_ = new Job(name, this);
  currentId_ = nextId_++;
  QMetaObject::invokeMethod(
      worker_, [w = worker_, id = currentId_, body = std::move(body), stop = current_->stop_] { w->run(id, body, stop); },
      Qt::QueuedConnection);
  Q_EMIT busyChanged(true);
  return current_;
}

Job* JobRunner::takeJob(quint64 id) {
  Job* j = jobFor(id);
  if (!j) return nullptr;
  current_ = nullptr;
  currentId_ = 0;
  j->deleteLater();  // after the outcome signal's handlers have run
  Q_EMIT busyChanged(false);
  return j;
}

}  // namespace layerscope::app
