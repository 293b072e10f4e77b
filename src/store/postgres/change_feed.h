// The replicas' change feed (OperationStore::Change) on PostgreSQL: one
// connection of its own (application_name=lrogate-listener) that LISTENs on
// both channels (statements.h) and hands every notification, from every
// replica, to the store's listener as a Change, on its own thread. It
// proves the connection alive with a probe when it has heard nothing for
// kProbeAfter, reconnects on its own (every second while it cannot), and
// says kLost when it stops hearing and kListening once LISTEN holds again:
// what went by in between is unheard (docs/design.md, "PostgreSQL").
#pragma once

#include <atomic>
#include <chrono>
#include <string>
#include <thread>

#include "base/thread_annotations.h"
#include "store/operation_store.h"

namespace lrogate::store::postgres {

class ChangeFeed {
 public:
  explicit ChangeFeed(std::string url) : url_(std::move(url)) {}
  ChangeFeed(const ChangeFeed&) = delete;
  ChangeFeed& operator=(const ChangeFeed&) = delete;
  ~ChangeFeed() { stop(); }

  // Starts the thread, which connects and listens.
  void start();
  // Stops the thread (within about 200 ms: its poll's timeout) and closes
  // the connection; the destructor does it too.
  void stop();
  // OperationStore::set_change_listener: `fn` hears every Change from now
  // on, kListening first when the feed runs already; nullptr stops the
  // calls and waits for one in progress.
  void set_listener(OperationStore::ChangeListener fn);

 private:
  using Change = OperationStore::Change;
  // A silent network partition costs a cache at most about kProbeAfter +
  // kProbeDeadline of unheard changes.
  static constexpr std::chrono::milliseconds kProbeAfter{1000};
  static constexpr std::chrono::milliseconds kProbeDeadline{1500};

  void run();
  void deliver(Change c);

  const std::string url_;
  Mutex mu_;
  OperationStore::ChangeListener listener_ GUARDED_BY(mu_);
  bool listening_ GUARDED_BY(mu_) = false;
  std::atomic<bool> stop_{false};
  std::thread thread_;
};

}  // namespace lrogate::store::postgres
