// Progress and cancellation for long jobs, in plain C++ (no Qt): the GUI and CLI pass one in, the core
// checks it between layers and batches and throws layerscope::Cancelled when asked to stop.
#pragma once

#include <functional>
#include <stop_token>
#include <string>

#include "core/base/error.h"

namespace layerscope::core {

/// The step of a stage "a: b: c" (nested stages, experiments/common.h StageJob): "a"; empty for a stage without ": ".
/// Progress displays (the CLI's line, the GUI's worker) show the first report of a new step at once, so that a step
/// ending within their throttle interval is still seen, and throttle the reports within a step (steps are few).
inline std::string progressStep(const std::string& stage) {
  const auto colon = stage.find(": ");
  return colon == std::string::npos ? std::string() : stage.substr(0, colon);
}

/// One progress report: `done` of `total` units of the named stage.
struct Progress {
  std::string stage;  ///< what is running ("forward", "layer 3", "bootstrap")
  double done = 0;    ///< units finished
  double total = 0;   ///< units in all (0 when unknown)
};

/// Cancellation token plus progress callback. Cheap to pass by pointer; nullptr means "no control".
class JobControl {
 public:
  JobControl() = default;
  explicit JobControl(std::stop_token stop, std::function<void(const Progress&)> onProgress = {})
      : stop_(std::move(stop)), onProgress_(std::move(onProgress)) {}

  /// True once a stop was requested.
  bool stopRequested() const { return stop_.stop_requested(); }
  /// Throws Cancelled if a stop was requested.
  void checkCancelled() const {
    if (stop_.stop_requested()) throw Cancelled();
  }
  /// Reports progress (if anyone listens) and then checks for cancellation.
  void report(const Progress& p) const {
    if (onProgress_) onProgress_(p);
    checkCancelled();
  }

 private:
  std::stop_token stop_;
  std::function<void(const Progress&)> onProgress_;
};

/// Null-safe helpers so library code can take `const JobControl*`.
inline void checkCancelled(const JobControl* job) {
  if (job) job->checkCancelled();
}
inline void reportProgress(const JobControl* job, const Progress& p) {
  if (job) job->report(p);
}

}  // namespace layerscope::core
