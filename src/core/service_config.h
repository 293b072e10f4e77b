// The operation service's settings (core/operation_service.h), filled by
// config/.
#pragma once

#include <chrono>

#include "core/poll_history.h"

namespace lrogate::core {

struct ServiceConfig {
  std::chrono::milliseconds max_wait{30 * 60'000};
  std::chrono::milliseconds result_ttl{3'600'000};
  std::chrono::milliseconds retrieval_grace{5 * 60'000};
  std::chrono::milliseconds first_poll_delay{1'000};
  // --poll-schedule learned: an analysis's first poll follows its learned
  // durations (core/poll_history.h); the durations are learned either way.
  bool learned_schedule = true;
  ScheduleShape shape;
  // How long delivered and failed webhook deliveries stay listed
  // (--webhook-keep); the sweep deletes them after.
  std::chrono::milliseconds deliveries_kept{7LL * 24 * 3'600'000};
};

}  // namespace lrogate::core
