// SlidingWindow: at most `limit` admissions in any window of `window_ms`,
// the strictest reading of "N a second" (or a minute): a call is admitted
// only if fewer than `limit` were admitted in the window that ends with it,
// so no window of that length ever holds more. The simulator's quotas
// (sim/throttle.h) and the upstream pool's own limits (upstream/pool.h)
// both use it, so a pool configured with a resource's quota never sends it
// a call its quota refuses.
//
// Times are passed in (milliseconds) and never decrease: a time earlier
// than the last one seen is taken as the last one. Not thread-safe: the
// owner locks.
#pragma once

#include <cstddef>
#include <deque>

#include "base/clock.h"

namespace lrogate {

class SlidingWindow {
 public:
  explicit SlidingWindow(Millis window_ms) : window_ms_(window_ms) {}

  // The earliest time >= now at which one more call would be admitted under
  // `limit` (0: no limit, always now).
  Millis admit_at(Millis now, int limit);
  // Counts one admission at `now`; returns how many admissions the window
  // ending at `now` holds, this one included.
  std::size_t record(Millis now);
  // How many admissions the window ending at `now` holds.
  std::size_t count(Millis now);
  Millis window_ms() const { return window_ms_; }

 private:
  void drop_before(Millis now);  // forgets admissions outside the window ending at now

  Millis window_ms_;          // constant after construction
  std::deque<Millis> times_;  // admissions in the window ending at the last time seen
  Millis last_ = 0;
};

}  // namespace lrogate
