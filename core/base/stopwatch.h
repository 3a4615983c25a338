// Wall-clock durations for timings recorded in results (steady clock, seconds as double).
#pragma once

#include <chrono>

namespace layerscope::core {

using Clock = std::chrono::steady_clock;

/// Seconds elapsed since `t0`.
inline double secondsSince(Clock::time_point t0) { return std::chrono::duration<double>(Clock::now() - t0).count(); }

}  // namespace layerscope::core
