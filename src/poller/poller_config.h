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
  // --poll-schedule learned: a running analysis is polled next where its
  // learned durations say it may have finished (core/poll_history.h); the
  // grid starts at first_poll_delay. Past the learned range the gap grows
  // up to backoff_cap.
  bool learned = true;
  std::chrono::milliseconds first_poll_delay{1'000};
};

struct PollerConfig {
  ScheduleConfig schedule;
  std::chrono::milliseconds lease{60'000};
  int batch = 256;
  int max_inflight = 64;     // over all shards
  // --upstream-rps: the polls/s of the pool of one that the single-endpoint
  // flags make (config/pool_file.cpp). The shards' claim caps follow the
  // pool's limits as they are at each claim (poller/claim_plan.h).
  double upstream_rps = 50;
  // This shard's part of each resource's polls/s, for its claim caps: 1 /
  // the shards (set by the Poller).
  double rate_share = 1.0;
  std::chrono::milliseconds sweep_interval{10'000};
  std::chrono::milliseconds idle_recheck{1'000};  // longest sleep without a wake()
};

}  // namespace lrogate::poller
