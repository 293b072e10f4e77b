// Throttle: the per-resource quotas of a simulated Azure resource, so that
// upstream pools, breakers and shared budgets are tested against throttling
// that behaves like Azure's. One simulator instance is one resource:
//   analyze_rps     analyze-type calls admitted in any 1 s window
//                   (Document Intelligence S0: 15 "analyze transactions" a second)
//   status_rps      status-type calls admitted in any 1 s window
//                   (Document Intelligence S0: 50 "get operations" a second)
//   ops_per_minute  calls of both kinds admitted in any 60 s window
//                   (Content Understanding S0: 3,000 operations a minute)
// 0 is no limit, the default. A call over any limit is refused (429) and
// told when it would be admitted: Retry-After in whole seconds, rounded up.
//
// The limits are sliding windows over the admitted calls' times, the
// strictest reading of "N a second": a call is admitted only if fewer than N
// were admitted in the window that ends with it, so no window of that length
// ever holds more than N. Every pattern it admits a fixed-window or
// token-bucket limiter of the same rate admits too, so a client that never
// sees a 429 here sees none from Azure's limiter, whichever it is. Refused
// calls use up nothing (they never reached the service).
//
// It also counts what it saw, for tests to assert at the upstream: calls
// admitted and refused by kind, the most admitted in any 1 s window (and in
// any 60 s window while ops_per_minute is set), and per-second counts of the
// last 60 s.
//
// Times are passed in (milliseconds, from the simulator's Clock), so tests
// drive it with a manual clock. A time earlier than the last one seen is
// taken as the last one (the wall clock may step back). Thread-safe.
#pragma once

#include <array>
#include <boost/json/object.hpp>
#include <cstddef>
#include <cstdint>
#include <deque>

#include "base/clock.h"
#include "base/sliding_window.h"
#include "base/thread_annotations.h"
#include "http/router.h"

namespace lrogate::sim {

// Which quota a call counts against (docs/design.md and the README say which
// routes are which).
enum class CallKind { kAnalyze, kStatus };

struct ThrottleLimits {
  int analyze_rps = 0;     // 0: no limit
  int status_rps = 0;      // 0: no limit
  int ops_per_minute = 0;  // 0: no limit
};

// The largest limit each setting takes (the flags check it).
inline constexpr int kMaxRps = 100'000;
inline constexpr int kMaxOpsPerMinute = 1'000'000;

class Throttle {
 public:
  explicit Throttle(ThrottleLimits limits = {});

  struct Verdict {
    bool admitted = true;
    int retry_after_s = 0;    // when refused: ceil((admit_at - now) / 1 s), at least 1
    Millis wait_ms = 0;       // when refused: admit_at - now, exactly
    int limit = 0;            // when refused: the limit that refused it (the largest wait's)
    bool per_minute = false;  // ... and whether it was ops_per_minute
  };
  // Admits or refuses one call of `kind` at `now`, and counts it.
  Verdict admit(CallKind kind, Millis now) EXCLUDES(mu_);

  ThrottleLimits limits() const EXCLUDES(mu_);
  // New limits from the next call on; the admissions already seen still count.
  void set_limits(ThrottleLimits limits) EXCLUDES(mu_);
  // Zeroes the counts, maxima and per-second counts (not the admissions the
  // limits are judged by).
  void reset_counts() EXCLUDES(mu_);
  // Adds the counts to a /_sim/stats object: admitted_analyze,
  // admitted_status, throttled_analyze, throttled_status, max_analyze_1s,
  // max_status_1s, max_calls_1s, max_calls_60s (ops_per_minute set only),
  // the limits, and per_second: [{"t": epoch second, "analyze", "status",
  // "throttled_analyze", "throttled_status"}] for the seconds of the last 60
  // (the one holding `now` included) that saw a call, oldest first.
  void add_stats(boost::json::object& o, Millis now) const EXCLUDES(mu_);

 private:
  struct Second {
    std::int64_t t = -1;  // epoch second; -1: unused
    std::array<long long, 2> admitted{};
    std::array<long long, 2> throttled{};
  };
  Second& second_of(Millis now) REQUIRES(mu_);

  mutable Mutex mu_;
  ThrottleLimits limits_ GUARDED_BY(mu_);
  Millis last_ GUARDED_BY(mu_) = 0;
  // Admissions by kind in the last second, of both kinds in the last second
  // and (while ops_per_minute is set) in the last minute.
  std::array<SlidingWindow, 2> per_kind_ GUARDED_BY(mu_){SlidingWindow(1000), SlidingWindow(1000)};
  SlidingWindow all_1s_ GUARDED_BY(mu_){1000};
  SlidingWindow all_60s_ GUARDED_BY(mu_){60'000};
  std::array<long long, 2> admitted_ GUARDED_BY(mu_){};
  std::array<long long, 2> throttled_ GUARDED_BY(mu_){};
  std::array<std::size_t, 2> max_kind_1s_ GUARDED_BY(mu_){};
  std::size_t max_all_1s_ GUARDED_BY(mu_) = 0;
  std::size_t max_all_60s_ GUARDED_BY(mu_) = 0;
  std::array<Second, 60> seconds_ GUARDED_BY(mu_){};  // by epoch second mod 60
};

// The control routes, for tests that throttle a resource and lift it again:
//   GET /_sim/throttle  → {"analyze_rps","status_rps","ops_per_minute"}
//   PUT /_sim/throttle  {"analyze_rps"?,"status_rps"?,"ops_per_minute"?,"reset"?}
//       sets the limits named (integers from 0 to kMaxRps / kMaxOpsPerMinute),
//       and with "reset": true zeroes the counts (reset_counts); answers
//       the limits now in force, or 400 naming the bad field.
// `throttle` must outlive `router`.
void add_throttle_routes(http::Router& router, Throttle& throttle);

}  // namespace lrogate::sim
