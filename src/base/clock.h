// Clock: where every part gets the time, so schedules and expiry are testable
// without sleeping. Times are milliseconds since the Unix epoch (UTC).
#pragma once

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
