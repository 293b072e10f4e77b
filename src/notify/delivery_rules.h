// What an attempt's answer means for its delivery (docs/design.md,
// "Completion webhooks"): a pure function, tested without a network.
//   2xx: delivered. 410 Gone: failed, and the receiver's URL is disabled.
//   An address the receiver policy refuses: failed at once (a policy does
//   not change between retries). Anything else (another status, a 3xx: no
//   redirect is followed, a timeout, a refused connection): tried again
//   after the schedule's next wait, ±20 % jitter, until the schedule is over.
#pragma once

#include <chrono>
#include <vector>

#include "http/client.h"
#include "store/operation_store.h"

namespace lrogate::notify {

// `attempts_before`: attempts recorded before this one; `jitter` in [0, 1).
store::DeliveryAttempt judge(const http::ClientResult& r, int attempts_before, Millis now,
                             const std::vector<std::chrono::milliseconds>& schedule,
                             double jitter);

}  // namespace lrogate::notify
