// PollLimiter: per-operation client poll limits (keyed by poll_key: one
// owner's polls of one operation), kept in this process's
// memory (a replica-local approximation; nothing is written per poll).
//
// The original design's rules, exactly: a poll of an operation sooner than
// 1/rate seconds after the previous poll of it is refused (and, as there,
// still counts as the previous poll: a client polling too fast keeps being
// refused until it slows down); no burst. Each operation also counts its
// "still processing" answers, capped at max_polls. Entries idle for 10
// minutes are dropped, and the table is capped so random ids cannot grow it
// without bound. Thread-safe.
#pragma once

#include <string>
#include <unordered_map>

#include "base/clock.h"
#include "base/thread_annotations.h"

namespace lrogate::api {

// The limiter's key of an operation as one owner polls it: limits are per
// (owner, operation), so no caller's polls change another owner's answers
// (nor tell it, by a 429, that an id it cannot read exists).
inline std::string poll_key(const std::string& owner, const std::string& id) {
  return owner + '\n' + id;
}

class PollLimiter {
 public:
  PollLimiter(const Clock& clock, double rate, int max_polls);

  // 0 when the poll may go on, else the ms to wait (429).
  Millis admit(const std::string& id);
  // Counts a "still processing" answer; false once max_polls is passed.
  bool count_processing(const std::string& id);
  void forget(const std::string& id);
  bool enabled() const { return rate_ > 0 || max_polls_ > 0; }
  int max_polls() const { return max_polls_; }
  double rate() const { return rate_; }

 private:
  struct Entry {
    Millis last_poll = -1;  // -1: never polled
    int processing = 0;
  };
  Entry& entry(const std::string& id, Millis now) REQUIRES(mu_);

  const Clock& clock_;
  const double rate_;
  const Millis interval_ms_;  // 1000 / rate
  const int max_polls_;
  Mutex mu_;
  std::unordered_map<std::string, Entry> entries_ GUARDED_BY(mu_);
  Millis last_prune_ GUARDED_BY(mu_) = 0;
};

}  // namespace lrogate::api
