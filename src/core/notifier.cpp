#include "core/notifier.h"

#include <vector>

namespace lrogate::core {

Notifier::Token Notifier::subscribe(const std::string& operation_id, std::function<void()> fn) {
  MutexLock lock(mu_);
  Token t = next_++;
  waiters_[operation_id].emplace(t, std::move(fn));
  ++count_;
  return t;
}

bool Notifier::unsubscribe(const std::string& operation_id, Token token) {
  MutexLock lock(mu_);
  auto it = waiters_.find(operation_id);
  if (it == waiters_.end() || it->second.erase(token) == 0) return false;
  --count_;
  if (it->second.empty()) waiters_.erase(it);
  return true;
}

void Notifier::notify(const std::string& operation_id) {
  std::vector<std::function<void()>> fire;
  {
    MutexLock lock(mu_);
    auto it = waiters_.find(operation_id);
    if (it == waiters_.end()) return;
    for (auto& [t, fn] : it->second) fire.push_back(std::move(fn));
    count_ -= it->second.size();
    waiters_.erase(it);
  }
  for (auto& fn : fire) fn();
}

void Notifier::notify_all() {
  std::vector<std::function<void()>> fire;
  {
    MutexLock lock(mu_);
    for (auto& [id, m] : waiters_) {
      for (auto& [t, fn] : m) fire.push_back(std::move(fn));
    }
    waiters_.clear();
    count_ = 0;
  }
  for (auto& fn : fire) fn();
}

std::size_t Notifier::waiters() const {
  MutexLock lock(mu_);
  return count_;
}

}  // namespace lrogate::core
