// The stop source a GUI worker shares with the thread that queues its jobs. The GUI thread arms it just before
// queuing a job (so a cancel that arrives before the job starts is kept) and may cancel it at any time; the
// worker thread takes it at the start of a job (making one if the job was queued unarmed) and drops it at the end.
#pragma once

#include <QObject>
#include <QString>
#include <exception>
#include <memory>
#include <mutex>
#include <stop_token>

#include "core/error.h"

namespace layerscope::app {

class JobStop {
 public:
  /// GUI thread: a fresh stop source for the job about to be queued.
  void arm() {
    std::lock_guard lock(mutex_);
    stop_ = std::make_shared<std::stop_source>();
  }
  /// Any thread: asks the current job (armed or running) to stop at its next check.
  void cancel() {
    std::lock_guard lock(mutex_);
    if (stop_) stop_->request_stop();
  }
  /// Worker thread, job start: the armed source, or a new one.
  std::shared_ptr<std::stop_source> begin() {
    std::lock_guard lock(mutex_);
    if (!stop_) stop_ = std::make_shared<std::stop_source>();
    return stop_;
  }
  /// Worker thread, job end: the next job needs arming again.
  void end() {
    std::lock_guard lock(mutex_);
    stop_.reset();
  }
  /// Worker thread: runs a job's body, turns a Cancelled into onCancelled() and any other exception into
  /// onFailed(message), then end(). Every worker slot ends this way, so each emits exactly one outcome.
  template <class Body, class OnCancelled, class OnFailed>
  void finish(Body&& body, OnCancelled&& onCancelled, OnFailed&& onFailed) {
    try {
      body();
    } catch (const Cancelled&) {
      onCancelled();
    } catch (const std::exception& e) {
      onFailed(QString::fromUtf8(e.what()));
    } catch (...) {
      onFailed(QObject::tr("unknown internal error"));
    }
    end();
  }

 private:
  std::mutex mutex_;
  std::shared_ptr<std::stop_source> stop_;
};

}  // namespace layerscope::app
