// Progress display and Ctrl-C handling for long CLI jobs (see progress.h).
#include "app/cli/progress.h"

#include <iomanip>
#include <iostream>
#include <sstream>

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

CliJob::CliJob()
    : control_(cancel_.token(), [this](const core::Progress& p) { draw(p); }), t0_(std::chrono::steady_clock::now()) {}

CliJob::~CliJob() {
  if (!shown_.empty()) std::cerr << "\n";
}

void CliJob::clear() {
  if (shown_.empty()) return;
  std::cerr << "\r" << std::string(shown_.size(), ' ') << "\r";
}

void CliJob::line(const std::string& text) {
  clear();
  std::cerr << text << "\n";
  if (!shown_.empty()) std::cerr << shown_ << std::flush;
}

void CliJob::draw(const core::Progress& p) {
  const auto now = std::chrono::steady_clock::now();
  std::string step = core::progressStep(p.stage);
  // A new step is drawn at once (a step shorter than the interval would otherwise never show); reports within one
  // step at most every 250 ms.
  if (now - last_ < std::chrono::milliseconds(250) && p.done < p.total && step == drawnStep_) return;
  last_ = now;
  drawnStep_ = std::move(step);
  const double el = std::chrono::duration<double>(now - t0_).count();
  const double f = p.total > 0 ? p.done / p.total : 0;
  std::ostringstream os;
  os << std::fixed << std::setprecision(0) << std::setw(3) << 100 * f << "% " << std::setprecision(1) << el << "s";
  if (f > 0.01 && f < 1) os << ", ETA " << el * (1 - f) / f << "s";
  os << "  " << p.stage;
  std::string s = os.str();
  if (s.size() > 110) s.resize(110);
  if (s.size() < shown_.size()) s.resize(shown_.size(), ' ');
  std::cerr << "\r" << s << std::flush;
  shown_ = s;
}

}  // namespace layerscope::app
