// Breaker: a pool resource's circuit breaker (docs/design.md, "Upstream
// pools"). Closed, it lets every call through. A call the resource answers
// with a 429, a 5xx, a timeout or reset, a refusal of the gateway's
// credentials, or an unusable answer opens it: for the answer's Retry-After
// when there is one, else for a cool-down that doubles with each opening in
// a row (250 ms, 500 ms, ... up to 30 s). Once that time is over it is
// half-open: one call (the probe) goes through, the others wait; the probe's
// success closes it, its failure opens it again for a longer cool-down.
// An answer that is the client's fault (a 4xx refusal of the input) is a
// success here: the resource answered.
//
// Pure logic over times passed in; not thread-safe (upstream::Resource
// holds it under its mutex).
#pragma once

#include <chrono>
#include <optional>

#include "base/clock.h"

namespace lrogate::upstream {

class Breaker {
 public:
  enum class State { kClosed, kOpen, kHalfOpen };

  static constexpr Millis kFirstCoolDownMs = 250;
  static constexpr Millis kMaxCoolDownMs = 30'000;

  // Whether a call may go now. In half-open the first call admitted is the
  // probe; no other is admitted until its answer came (succeeded/failed).
  bool admit(Millis now);
  // The earliest time a call could be admitted: now when closed, the end
  // of the cool-down when open, nullopt while a probe is out (its answer
  // decides).
  std::optional<Millis> ready_at(Millis now) const;
  // A success: closes it, except while it is open and its time is not over
  // (the answer of a call sent before it opened must not cut short a
  // Retry-After the resource asked for).
  void succeeded(Millis now);
  // `retry_after`: what the answer asked for, when it did.
  void failed(Millis now, std::optional<std::chrono::milliseconds> retry_after);
  // A call admitted that never reached the resource (it was not sent):
  // frees the probe without judging the resource.
  void abandoned();

  State state(Millis now) const;
  int openings() const { return openings_; }  // in a row, 0 when closed

 private:
  State state_ = State::kClosed;
  Millis open_until_ = 0;
  int openings_ = 0;
  bool probe_out_ = false;
};

const char* breaker_state_name(Breaker::State s);

}  // namespace lrogate::upstream
