// Notifier: wakes whoever waits on an operation when it reaches a final
// state in this process (long-poll). Across replicas the store's own
// notification (PostgreSQL LISTEN/NOTIFY) feeds the same notify().
//
// A waiter subscribes *before* it reads the state, so a completion between
// its read and its wait is never missed. Callbacks run on the notifying
// thread, outside the lock, once each. Thread-safe.
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <unordered_map>
#include <vector>

#include "base/thread_annotations.h"

namespace lrogate::core {

class Notifier {
 public:
  using Token = std::uint64_t;

  Token subscribe(const std::string& operation_id, std::function<void()> fn);
  // Removes a waiter; false if it was already notified or removed.
  bool unsubscribe(const std::string& operation_id, Token token);
  void notify(const std::string& operation_id);
  // Wakes every waiter (shutdown: they answer with the state they find).
  void notify_all();
  std::size_t waiters() const;

  // A listener hears every notify (the id) and notify_all (an empty id), on
  // the notifying thread, after the waiters (the poller's shards: an
  // operation they hold between polls was canceled or finished elsewhere).
  // Not counted in waiters(). A call already under way when unlisten
  // returns may still run: `fn` must stay safe to call until its owner is
  // gone.
  Token listen(std::function<void(const std::string& operation_id)> fn);
  void unlisten(Token token);

 private:
  using Listener = std::shared_ptr<const std::function<void(const std::string&)>>;
  std::vector<Listener> listeners() const;
  mutable Mutex mu_;
  Token next_ GUARDED_BY(mu_) = 1;
  std::size_t count_ GUARDED_BY(mu_) = 0;
  std::unordered_map<std::string, std::unordered_map<Token, std::function<void()>>> waiters_
      GUARDED_BY(mu_);
  std::unordered_map<Token, Listener> listeners_ GUARDED_BY(mu_);
};

}  // namespace lrogate::core
