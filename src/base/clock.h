// Clock: where every part gets the time, so schedules and expiry are testable
// without sleeping. Times are milliseconds since the Unix epoch (UTC).
#pragma once

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdint>

namespace lrogate {

using Millis = std::int64_t;

class Clock {
 public:
  virtual ~Clock() = default;
  virtual Millis now_ms() const = 0;
};

class SystemClock final : public Clock {
 public:
  Millis now_ms() const override {
    return std::chrono::duration_cast<std::chrono::milliseconds>(
               std::chrono::system_clock::now().time_since_epoch())
        .count();
  }
};

// The cluster's clock (docs/design.md, "One clock for the cluster"): this
// host's clock plus its offset from the clock of the store every replica
// shares (PostgreSQL's), so that a time one replica writes (a due time, a
// lease's end, a creation time judged by --max-wait) means the same to every
// other, whatever their hosts' clocks say. The offset is 0 until a sample is
// observed (SQLite: one process, its own clock is the only one).
class ClusterClock final : public Clock {
 public:
  explicit ClusterClock(const Clock& local) : local_(local) {}
  Millis now_ms() const override {
    return local_.now_ms() + offset_.load(std::memory_order_relaxed);
  }
  const Clock& local() const { return local_; }
  Millis offset_ms() const { return offset_.load(std::memory_order_relaxed); }

  // One sample: this host's clock when the question was sent and when the
  // answer came, and the store's clock in the answer, taken as read half
  // way between. The offset moves only when the sample differs from it by
  // more than the sample's own uncertainty (the round trip, at least
  // kSlackMs): the clock does not jitter by a few ms with each sample, yet
  // follows a host clock that was stepped. Returns whether it moved.
  bool observe(Millis sent, Millis store_time, Millis received) {
    Millis rtt = received - sent;
    if (rtt < 0) return false;  // the host's clock stepped meanwhile
    bool known = known_.load(std::memory_order_relaxed);
    // A slow answer says little; but a first one beats knowing nothing.
    if (known && rtt > kMaxRttMs) return false;
    Millis offset = store_time - (sent + rtt / 2);
    Millis now = offset_.load(std::memory_order_relaxed);
    Millis diff = offset > now ? offset - now : now - offset;
    if (known && diff <= std::max<Millis>(rtt, kSlackMs)) return false;
    offset_.store(offset, std::memory_order_relaxed);
    known_.store(true, std::memory_order_relaxed);
    return true;
  }

  static constexpr Millis kMaxRttMs = 1'000;
  static constexpr Millis kSlackMs = 10;

 private:
  const Clock& local_;
  std::atomic<Millis> offset_{0};
  std::atomic<bool> known_{false};
};

// A clock that moves only when told; safe to read from several threads.
class ManualClock final : public Clock {
 public:
  explicit ManualClock(Millis start = 1'700'000'000'000) : now_(start) {}
  Millis now_ms() const override { return now_.load(); }
  void advance(Millis ms) { now_ += ms; }
  void set(Millis ms) { now_ = ms; }

 private:
  std::atomic<Millis> now_;
};

}  // namespace lrogate
