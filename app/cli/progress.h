// How a long CLI job reports and stops: a throttled one-line progress display with an ETA on stderr, and Ctrl-C
// handling (the first SIGINT requests a stop through a std::stop_source, so the job throws Cancelled at its next
// check and cleans up; a second SIGINT kills the process as usual).
#pragma once

#include <chrono>
#include <csignal>
#include <stop_token>
#include <string>

#include "core/base/job_control.h"

namespace layerscope::app {

class CancelOnSigint {
 public:
  CancelOnSigint();
  ~CancelOnSigint();
  CancelOnSigint(const CancelOnSigint&) = delete;
  CancelOnSigint& operator=(const CancelOnSigint&) = delete;
  std::stop_token token() const { return source().get_token(); }

 private:
  static std::stop_source& source();
  static void handler(int);
  void (*previous_)(int) = nullptr;
};

/// A JobControl for the lifetime of this object: Ctrl-C cancels; progress is drawn as one rewritten line
/// ("42% 12.3s, ETA 17.0s  stage") at most 4 times a second, except that the first report of a new step
/// (core::progressStep) is drawn at once. `lines`: print the log lines a job emits on their
/// own lines above the progress display.
class CliJob {
 public:
  CliJob();
  ~CliJob();
  const core::JobControl* control() const { return &control_; }
  /// A log line (the experiments' `log` callback): printed on its own line, the progress line redrawn after it.
  void line(const std::string& text);

 private:
  void draw(const core::Progress& p);
  void clear();
  CancelOnSigint cancel_;
  core::JobControl control_;
  std::chrono::steady_clock::time_point t0_, last_{};
  std::string shown_;
  std::string drawnStep_;  // core::progressStep of the stage last drawn
};

}  // namespace layerscope::app
