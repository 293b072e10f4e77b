// Random: an injectable source of uniform numbers in [0, 1), for jitter.
// SystemRandom is thread-safe; FixedRandom returns one value (tests).
#pragma once

#include <random>

#include "base/thread_annotations.h"

namespace lrogate {

class Random {
 public:
  virtual ~Random() = default;
  virtual double uniform() = 0;
};

class SystemRandom final : public Random {
 public:
  SystemRandom() : gen_(std::random_device{}()) {}
  double uniform() override {
    MutexLock lock(mu_);
    return dist_(gen_);
  }

 private:
  Mutex mu_;
  std::mt19937_64 gen_ GUARDED_BY(mu_);
  std::uniform_real_distribution<double> dist_ GUARDED_BY(mu_){0.0, 1.0};
};

class FixedRandom final : public Random {
 public:
  explicit FixedRandom(double v) : v_(v) {}
  double uniform() override { return v_; }

 private:
  double v_;
};

}  // namespace lrogate
