// Wall-clock durations for timings recorded in results (steady clock, seconds as double), and the UTC time stamp
// results record as "created_utc".
#pragma once

#include <chrono>
#include <ctime>
#include <string>

namespace layerscope::core {

using Clock = std::chrono::steady_clock;

/// Seconds elapsed since `t0`.
inline double secondsSince(Clock::time_point t0) { return std::chrono::duration<double>(Clock::now() - t0).count(); }

/// The current time as ISO 8601 UTC, "2026-11-30T16:09:12Z".
inline std::string utcNow() {
  const std::time_t t = std::time(nullptr);
  std::tm tm{};
  gmtime_r(&t, &tm);
  char buf[32];
  std::strftime(buf, sizeof buf, "%Y-%m-%dT%H:%M:%SZ", &tm);
  return buf;
}

}  // namespace layerscope::core
