// Poller: follows every unfinished operation's Operation-Location in the
// background, with no client attached.
//
// It claims due operations from the store in batches under a lease, polls
// each through the Caller — at most max_inflight at once and upstream_rps per
// second (a token bucket) — and writes each outcome as one conditional
// transition. While it holds work (queued or in flight) it renews those
// leases every lease/3 (a heartbeat), so a slow upstream call never lets a
// live lease lapse; a replica that dies stops renewing and its leases
// expire. It also sweeps expired records.
//
// Its state lives on the http::Client's I/O thread, and so do its upstream
// calls; its store calls run on a thread of its own (one, so they keep their
// order: a batch of progress is written before the leases are released), and
// their results come back to the client's thread (docs/design.md, "Threads").
// wake() and stop() may be called from any thread.
#pragma once

#include <chrono>
#include <deque>
#include <functional>
#include <memory>
#include <string>
#include <unordered_set>
#include <vector>

#include "base/clock.h"
#include "base/executor.h"
#include "base/random.h"
#include "base/token_bucket.h"
#include "core/operation_service.h"
#include "poller/poller_config.h"
#include "poller/schedule.h"
#include "upstream/caller.h"

namespace lrogate::poller {

// Called after a transition was written (for logs and waiters).
using TransitionObserver =
    std::function<void(const core::Operation& before, core::Status after, const Decision& d)>;

class Poller {
 public:
  Poller(core::OperationService& service, upstream::Caller& caller, const Clock& clock,
         Random& random, PollerConfig config, std::string owner);
  ~Poller();

  void set_observer(TransitionObserver observer) { observer_ = std::move(observer); }
  // Frees leases left by an earlier run of this node and starts polling.
  void start();
  // New work is due in `due_in` (a submit): claim then (or now, for 0)
  // without waiting for a later timer.
  void wake(std::chrono::milliseconds due_in = std::chrono::milliseconds(0));
  // Stops claiming and calls done once the polls in flight have ended.
  void stop(std::function<void()> done);

 private:
  void tick();
  void arm(std::chrono::milliseconds delay);
  void pump();
  void poll_one(core::Operation op);
  void on_answer(const core::Operation& op, const upstream::PollAnswer& answer);
  void sweep();
  void heartbeat();
  void flush_progress();
  void written(const core::Operation& op, const Decision& d, const Result<bool>& r);
  void maybe_stopped();
  // Runs work on the store thread, then then(result) on the client's thread
  // (dropped once the poller is gone).
  template <class Work, class Then>
  void on_store(Work work, Then then);

  core::OperationService& service_;
  upstream::Caller& caller_;
  http::Client& client_;
  const Clock& clock_;
  Random& random_;
  PollerConfig config_;
  std::string owner_;
  TransitionObserver observer_;

  // Touched only on the client's thread.
  std::deque<core::Operation> queue_;
  std::unordered_set<std::string> held_;  // queued or in flight
  // Non-final outcomes waiting to be written in one transaction: flushed
  // after the answers that arrived together were handled (or at 256).
  struct PendingProgress {
    core::Operation op;
    Decision d;
  };
  std::vector<PendingProgress> pending_;
  int inflight_ = 0;
  TokenBucket bucket_;
  std::uint64_t timer_gen_ = 0;
  Millis timer_at_ = 0;
  bool more_due_ = false;     // the last claim was full: more work may be due now
  bool claiming_ = false;     // a claim is on the store thread
  bool claim_again_ = false;  // tick() was called meanwhile
  bool stopping_ = false;
  std::function<void()> on_stopped_;
  std::shared_ptr<std::atomic<bool>> wake_pending_ = std::make_shared<std::atomic<bool>>(false);
  std::shared_ptr<std::atomic<bool>> alive_ = std::make_shared<std::atomic<bool>>(true);
  // Last: destroyed first, it runs what is queued and joins its thread while
  // everything its work touches still exists. Unbounded in practice: the
  // poller's own work is bounded by its batches and max_inflight.
  BoundedExecutor store_{1, 1'000'000};
};

}  // namespace lrogate::poller
