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
    if (it != waiters_.end()) {
      for (auto& [t, fn] : it->second) fire.push_back(std::move(fn));
      count_ -= it->second.size();
      waiters_.erase(it);
    }
  }
  for (auto& fn : fire) fn();
  for (const auto& l : listeners()) (*l)(operation_id);
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
  for (const auto& l : listeners()) (*l)(std::string());
}

Notifier::Token Notifier::listen(std::function<void(const std::string&)> fn) {
  MutexLock lock(mu_);
  Token t = next_++;
  listeners_.emplace(t, std::make_shared<const std::function<void(const std::string&)>>(std::move(fn)));
  return t;
}

void Notifier::unlisten(Token token) {
  MutexLock lock(mu_);
  listeners_.erase(token);
}

std::vector<Notifier::Listener> Notifier::listeners() const {
  MutexLock lock(mu_);
  std::vector<Listener> out;
  out.reserve(listeners_.size());
  for (const auto& [t, l] : listeners_) out.push_back(l);
  return out;
}

std::size_t Notifier::waiters() const {
  MutexLock lock(mu_);
  return count_;
}

}  // namespace lrogate::core
