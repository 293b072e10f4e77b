// The poll schedule as pure functions: given an operation and what its last
// poll answered, what happens next. No I/O, no clock: tested without sleeping.
//
// - a readable non-final status: next poll at max(poll_interval, Retry-After),
//   or, for an analysis with a learned history (--poll-schedule learned),
//   at the next point of its learned schedule (core/poll_history.h), at
//   least Retry-After;
//   an analyzer's creation, which analyzes may be waiting for, is polled
//   sooner: 1 s, 2 s, 4 s, … after its 1st, 2nd, 3rd, … poll, up to
//   poll_interval (Retry-After still honoured);
// - a transient failure (429, 5xx, timeout, reset, unparsable body): jittered
//   exponential backoff, at least Retry-After; it never fails the operation;
// - 404 after accept: Failed "Expired"; another permanent answer: Failed with
//   the upstream's code and message;
// - past created_at + max_wait without a final status: Failed "Timeout", and
//   no poll is ever scheduled past that deadline.
#pragma once

#include <chrono>
#include <string>

#include "core/operation.h"
#include "core/poll_history.h"
#include "poller/poller_config.h"
#include "upstream/upstream.h"

namespace lrogate::poller {

struct Decision {
  bool finish = false;
  core::Status status = core::Status::kRunning;
  Millis next_poll_at = 0;  // when !finish
  int attempts = 0;         // consecutive transient failures
  std::string error_code;   // when finishing as Failed/Canceled
  std::string error_message;
};

// `history`: the durations the operation's schedule learns from (null: none
// yet, or not an analysis).
Decision decide(const core::Operation& op, const upstream::PollAnswer& answer,
                const ScheduleConfig& config, Millis now, double jitter_u,
                const core::DurationSketch* history = nullptr);

}  // namespace lrogate::poller
