// BoundedExecutor: a few threads for work that must not run on an event
// loop (checking a large JSON body, hashing it), with a bounded queue.
//
// Promises: at most `threads` tasks run at once; at most `max_queued` wait,
// and try_post() refuses the next one at once (the caller answers "busy"
// instead of queueing without bound). Tasks run in the order posted. stop()
// runs what is queued, then joins the threads; the destructor calls it, so
// whoever owns the executor owns its threads' lifetime. Thread-safe.
#pragma once

#include <cstddef>
#include <deque>
#include <functional>
#include <thread>
#include <vector>

#include "base/thread_annotations.h"

namespace lrogate {

class BoundedExecutor {
 public:
  BoundedExecutor(std::size_t threads, std::size_t max_queued);
  ~BoundedExecutor();
  BoundedExecutor(const BoundedExecutor&) = delete;
  BoundedExecutor& operator=(const BoundedExecutor&) = delete;

  // Queues fn; false (fn dropped, not run) when max_queued already wait or
  // the executor is stopping.
  bool try_post(std::function<void()> fn);
  // Queues fn past max_queued too: for work that must not be lost (a record
  // of what the upstream accepted), whose number something else bounds.
  // False (fn dropped) only when the executor is stopping.
  bool post(std::function<void()> fn);
  // Runs what is queued, refuses new work, joins the threads. Idempotent.
  void stop();

 private:
  void loop();

  const std::size_t max_queued_;
  Mutex mu_;
  CondVar cv_;
  std::deque<std::function<void()>> queue_ GUARDED_BY(mu_);
  bool stopping_ GUARDED_BY(mu_) = false;
  std::vector<std::thread> threads_;  // constant after construction
};

}  // namespace lrogate
