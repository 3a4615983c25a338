// The stop source a GUI worker shares with the thread that queues its jobs. The GUI thread arms it just before
// queuing a job (so a cancel that arrives before the job starts is kept) and may cancel it at any time; the
// worker thread takes it at the start of a job (making one if the job was queued unarmed) and drops it at the end.
#pragma once

#include <memory>
#include <mutex>
#include <stop_token>

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

 private:
  std::mutex mutex_;
  std::shared_ptr<std::stop_source> stop_;
};

}  // namespace layerscope::app
