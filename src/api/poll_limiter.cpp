#include "api/poll_limiter.h"

#include <cmath>

namespace lrogate::api {

PollLimiter::PollLimiter(const Clock& clock, double rate, int max_polls)
    : clock_(clock),
      rate_(rate),
      interval_ms_(rate > 0 ? static_cast<Millis>(std::ceil(1000.0 / rate)) : 0),
      max_polls_(max_polls) {}

PollLimiter::Entry& PollLimiter::entry(const std::string& id, Millis now) {
  constexpr std::size_t kMaxEntries = 200'000;
  constexpr Millis kIdle = 10 * 60'000;
  if (now - last_prune_ > 60'000 || entries_.size() >= kMaxEntries) {
    for (auto it = entries_.begin(); it != entries_.end();) {
      it = now - it->second.last_poll > kIdle ? entries_.erase(it) : std::next(it);
    }
    if (entries_.size() >= kMaxEntries) entries_.clear();
    last_prune_ = now;
  }
  return entries_[id];
}

Millis PollLimiter::admit(const std::string& id) {
  if (rate_ <= 0) return 0;
  Millis now = clock_.now_ms();
  MutexLock lock(mu_);
  Entry& e = entry(id, now);
  Millis since = e.last_poll < 0 ? interval_ms_ : now - e.last_poll;
  e.last_poll = now;
  return since >= interval_ms_ ? 0 : interval_ms_;
}

bool PollLimiter::count_processing(const std::string& id) {
  if (max_polls_ <= 0) return true;
  MutexLock lock(mu_);
  return ++entry(id, clock_.now_ms()).processing <= max_polls_;
}

void PollLimiter::forget(const std::string& id) {
  MutexLock lock(mu_);
  entries_.erase(id);
}

}  // namespace lrogate::api
