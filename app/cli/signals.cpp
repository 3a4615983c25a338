// Ctrl-C handling for long CLI jobs (see signals.h).
#include "app/cli/signals.h"

namespace layerscope::app {

std::stop_source& CancelOnSigint::source() {
  static std::stop_source s;
  return s;
}

void CancelOnSigint::handler(int) {
  // request_stop is lock-free in libstdc++; restore the default so a second Ctrl-C terminates.
  source().request_stop();
  std::signal(SIGINT, SIG_DFL);
}

CancelOnSigint::CancelOnSigint() { previous_ = std::signal(SIGINT, &CancelOnSigint::handler); }
CancelOnSigint::~CancelOnSigint() { std::signal(SIGINT, previous_); }

}  // namespace layerscope::app
