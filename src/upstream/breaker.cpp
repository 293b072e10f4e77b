#include "upstream/breaker.h"

#include <algorithm>

namespace lrogate::upstream {

Breaker::State Breaker::state(Millis now) const {
  if (state_ == State::kOpen && now >= open_until_) return State::kHalfOpen;
  return state_;
}

bool Breaker::admit(Millis now) {
  switch (state(now)) {
    case Breaker::State::kClosed:
      return true;
    case Breaker::State::kOpen:
      return false;
    case Breaker::State::kHalfOpen:
      if (probe_out_) return false;
      state_ = State::kHalfOpen;
      probe_out_ = true;
      return true;
  }
  return false;
}

std::optional<Millis> Breaker::ready_at(Millis now) const {
  switch (state(now)) {
    case Breaker::State::kClosed:
      return now;
    case Breaker::State::kOpen:
      return open_until_;
    case Breaker::State::kHalfOpen:
      if (probe_out_) return std::nullopt;
      return now;
  }
  return now;
}

void Breaker::succeeded(Millis now) {
  if (state_ == State::kOpen && now < open_until_) return;
  state_ = State::kClosed;
  openings_ = 0;
  probe_out_ = false;
}

void Breaker::failed(Millis now, std::optional<std::chrono::milliseconds> retry_after) {
  // Answers of calls sent before an opening may arrive after it: each
  // failure extends the opening at most to its own cool-down.
  Millis cool = kFirstCoolDownMs << std::min(openings_, 7);
  cool = std::min(cool, kMaxCoolDownMs);
  if (retry_after) cool = std::max<Millis>(retry_after->count(), 1);
  if (state_ != State::kOpen || probe_out_) ++openings_;
  state_ = State::kOpen;
  open_until_ = std::max(open_until_, now + cool);
  probe_out_ = false;
}

void Breaker::abandoned() { probe_out_ = false; }

const char* breaker_state_name(Breaker::State s) {
  switch (s) {
    case Breaker::State::kClosed:
      return "closed";
    case Breaker::State::kOpen:
      return "open";
    case Breaker::State::kHalfOpen:
      return "half_open";
  }
  return "unknown";
}

}  // namespace lrogate::upstream
