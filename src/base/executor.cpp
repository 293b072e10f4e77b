#include "base/executor.h"

#include "base/log.h"

namespace lrogate {

BoundedExecutor::BoundedExecutor(std::size_t threads, std::size_t max_queued)
    : max_queued_(max_queued) {
  for (std::size_t i = 0; i < std::max<std::size_t>(1, threads); ++i) {
    threads_.emplace_back([this] { loop(); });
  }
}

BoundedExecutor::~BoundedExecutor() { stop(); }

bool BoundedExecutor::try_post(std::function<void()> fn) {
  {
    MutexLock lock(mu_);
    if (stopping_ || queue_.size() >= max_queued_) return false;
    queue_.push_back(std::move(fn));
  }
  cv_.notify_one();
  return true;
}

bool BoundedExecutor::post(std::function<void()> fn) {
  {
    MutexLock lock(mu_);
    if (stopping_) return false;
    queue_.push_back(std::move(fn));
  }
  cv_.notify_one();
  return true;
}

void BoundedExecutor::stop() {
  {
    MutexLock lock(mu_);
    stopping_ = true;
  }
  cv_.notify_all();
  for (auto& t : threads_) {
    if (t.joinable() && t.get_id() != std::this_thread::get_id()) t.join();
  }
}

void BoundedExecutor::loop() {
  for (;;) {
    std::function<void()> fn;
    {
      MutexLock lock(mu_);
      cv_.wait(mu_, [this]() REQUIRES(mu_) { return stopping_ || !queue_.empty(); });
      if (queue_.empty()) return;  // stopping, and nothing left to run
      fn = std::move(queue_.front());
      queue_.pop_front();
    }
    try {
      fn();
    } catch (const std::exception& e) {
      log::error("background task threw", {{"detail", e.what()}});
    }
  }
}

}  // namespace lrogate
