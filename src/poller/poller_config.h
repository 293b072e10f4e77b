// The poller's settings (poller/poller.h) and its schedule's
// (poller/schedule.h), filled by config/.
#pragma once

#include <chrono>

namespace lrogate::poller {

struct ScheduleConfig {
  std::chrono::milliseconds poll_interval{10'000};
  std::chrono::milliseconds max_wait{30 * 60'000};
  std::chrono::milliseconds backoff_base{1'000};
  std::chrono::milliseconds backoff_cap{60'000};
};

struct PollerConfig {
  ScheduleConfig schedule;
  std::chrono::milliseconds lease{60'000};
  int batch = 256;
  int max_inflight = 64;     // over all shards
  // The pool's polls a second over all shards, for the claim cap only (each
  // resource holds its own limit: upstream/pool.h); <= 0: unlimited.
  double upstream_rps = 50;
  std::chrono::milliseconds sweep_interval{10'000};
  std::chrono::milliseconds idle_recheck{1'000};  // longest sleep without a wake()
};

}  // namespace lrogate::poller
