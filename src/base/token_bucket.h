// TokenBucket: `rate` tokens per second, holding at most `burst`.
// Not thread-safe: the owner locks. rate <= 0 means unlimited.
#pragma once

#include <algorithm>
#include <cmath>

#include "base/clock.h"

namespace lrogate {

class TokenBucket {
 public:
  TokenBucket(double rate, double burst, Millis now)
      : rate_(rate), burst_(std::max(1.0, burst)), tokens_(burst_), last_(now) {}

  // Takes a token and returns 0, or returns the ms until one is available.
  Millis take(Millis now) {
    if (rate_ <= 0) return 0;
    refill(now);
    if (tokens_ >= 1.0) {
      tokens_ -= 1.0;
      return 0;
    }
    return static_cast<Millis>(std::ceil((1.0 - tokens_) * 1000.0 / rate_));
  }

  Millis last_used() const { return last_; }

 private:
  void refill(Millis now) {
    if (now > last_) {
      tokens_ = std::min(burst_, tokens_ + (now - last_) * rate_ / 1000.0);
      last_ = now;
    }
  }

  double rate_;
  double burst_;
  double tokens_;
  Millis last_;
};

}  // namespace lrogate
