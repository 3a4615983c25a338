// Ctrl-C handling for long CLI jobs: the first SIGINT requests a stop through a std::stop_source (the job
// then throws Cancelled at its next check and cleans up); a second SIGINT kills the process as usual.
#pragma once

#include <csignal>
#include <stop_token>

namespace layerscope::app {

class CancelOnSigint {
 public:
  CancelOnSigint();
  ~CancelOnSigint();
  std::stop_token token() const { return source().get_token(); }

 private:
  static std::stop_source& source();
  static void handler(int);
  void (*previous_)(int) = nullptr;
};

}  // namespace layerscope::app
