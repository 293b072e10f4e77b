// Shard: one of the Poller's shards (docs/design.md, "Threads"). Each shard
// claims due operations from the store under the replica's owner id, polls
// each through the caller its operation's pool resource has on this shard's
// http::Client (one I/O thread and one keep-alive pool per shard), under
// that resource's limits, and writes each outcome as one conditional transition on
// a store thread of its own. The store's lease is what keeps an operation on
// one shard: a claim takes only records with no live lease, and the shard
// holds the lease from its claim until its outcome write releases it (its
// heartbeat renews it meanwhile), so no two shards ever poll one operation
// at once, exactly as no two replicas do.
//
// A poll whose answer changes nothing (the same status, not final) with its
// next poll less than half a lease away is not written: the shard keeps the
// operation in memory (waiting_) under its lease and polls it again at its
// time without a claim. The heartbeat renews, in one batch, only the leases
// that would end before the next heartbeat plus a margin; one the store no
// longer renews (taken over, finished, canceled) is dropped unwritten. The
// polls not yet written go with the operation's next write (a transition,
// its finish, a poll due further off, a cancel heard by the notifier, or
// stop()), so poll_count stays exact unless the process dies.
//
// State lives on the shard's client thread; store calls run in order on its
// store thread, and their results come back to the client thread. Public
// methods may be called from any thread. What shards share (the count of
// polls in flight) is in ShardShared; the resources' limits are the Pool's.
//
// Internal to the poller part: serve.cpp and tests use poller::Poller.
#pragma once

#include <atomic>
#include <chrono>
#include <deque>
#include <functional>
#include <map>
#include <memory>
#include <string>
#include <unordered_map>
#include <unordered_set>
#include <vector>

#include "base/clock.h"
#include "base/executor.h"
#include "base/random.h"
#include "base/thread_annotations.h"
#include "base/token_bucket.h"
#include "core/operation_service.h"
#include "poller/claim_plan.h"
#include "poller/poller_config.h"
#include "poller/schedule.h"
#include "upstream/pool.h"

namespace lrogate::poller {

// Called after a transition was written (for logs and waiters), on the
// client thread of the shard that wrote it.
using TransitionObserver =
    std::function<void(const core::Operation& before, core::Status after, const Decision& d)>;

// What the shards of one Poller share. Thread-safe.
class ShardShared {
 public:
  // The polls in flight over all shards, after adding delta.
  int add_inflight(int delta) { return inflight_.fetch_add(delta) + delta; }

 private:
  std::atomic<int> inflight_{0};
};

class Shard {
 public:
  using OpPtr = std::shared_ptr<const core::Operation>;

  // config.max_inflight and config.batch are this shard's share; `lead`
  // makes it the one that frees leftover leases at start and sweeps.
  // Polls go out on `client` (this shard's), through pool resources'
  // callers for shard `index`.
  Shard(core::OperationService& service, upstream::Pool& pool, http::Client& client,
        const Clock& clock, Random& random, PollerConfig config, std::string owner,
        ShardShared& shared, int index, bool lead);
  ~Shard();

  void set_observer(TransitionObserver observer) { observer_ = std::move(observer); }
  // Starts claiming, sweeping (lead) and renewing leases. The lead first
  // frees leases left by an earlier run, then calls started (on its client
  // thread); the others call it at once.
  void start(std::function<void()> started);
  void wake(std::chrono::milliseconds due_in);
  // Stops claiming and drops the queue; once the polls in flight have ended
  // and their outcomes are written, calls done on the client thread.
  void stop(std::function<void()> done);
  // release_leases(owner) on this shard's store thread, then done (on the
  // client thread). Called by the Poller once every shard has stopped.
  void release_leases(std::function<void()> done);

 private:
  void tick();
  void arm(std::chrono::milliseconds delay);
  // The next claim's room and the resources it leaves out.
  ClaimPlan plan_now() const;
  void pump();
  void poll_one(OpPtr op, std::shared_ptr<upstream::Resource> resource);
  void on_answer(const OpPtr& op, upstream::PollAnswer answer);
  void sweep();
  void heartbeat();
  void flush_progress();
  // Keeps `op` in memory until d.next_poll_at (its answer changed nothing).
  void hold(const OpPtr& op, const Decision& d, Millis now);
  // Queues the held operations now due (pump() calls it first).
  void promote_due();
  void arm_waiting();
  // Writes a held operation's unwritten polls as it leaves memory.
  void leave(const OpPtr& op);
  void queue_progress(const OpPtr& op, Decision d, int polls);
  // A final transition (or a gap in the store's feed: empty id) was heard.
  void on_notified(const std::string& id);
  // Its lease is gone: forgotten now, or (in flight) when its answer comes.
  void drop(const std::string& id);
  void written(const core::Operation& op, const Decision& d, const Result<bool>& r);
  void maybe_stopped();
  // Runs work on the store thread, then then(result) on the client's thread
  // (dropped once the shard is gone).
  template <class Work, class Then>
  void on_store(Work work, Then then);

  core::OperationService& service_;
  upstream::Pool& pool_;
  http::Client& client_;
  const Clock& clock_;
  Random& random_;
  PollerConfig config_;
  std::string owner_;
  ShardShared& shared_;
  int index_;
  bool lead_;
  TransitionObserver observer_;

  // Touched only on the client's thread.
  std::deque<OpPtr> queue_;
  // Every operation whose lease this shard holds: queued, in flight, or
  // waiting in memory for its next poll.
  struct Held {
    enum class State { kQueued, kInFlight, kWaiting } state = State::kQueued;
    Millis lease_until = 0;  // as far as this shard knows (claim, renewals)
    int unwritten = 0;       // polls made since the record was last written
    bool lost = false;       // in flight when its lease was found gone: write nothing
    bool recheck = false;    // a final transition may have been heard: write, do not hold
    std::multimap<Millis, OpPtr>::iterator wait;  // while kWaiting
  };
  std::unordered_map<std::string, Held> held_;
  std::multimap<Millis, OpPtr> waiting_;  // by next poll time
  std::uint64_t wait_gen_ = 0;
  Millis wait_at_ = 0;
  core::Notifier::Token listener_ = 0;
  // Non-final outcomes waiting to be written in one transaction: flushed
  // after the answers that arrived together were handled (or at 256).
  struct PendingProgress {
    OpPtr op;
    Decision d;
    int polls = 1;
  };
  std::vector<PendingProgress> pending_;
  int inflight_ = 0;
  std::uint64_t timer_gen_ = 0;
  Millis timer_at_ = 0;
  bool more_due_ = false;     // the last claim was full: more work may be due now
  bool idle_ = true;          // pump() left nothing that can start now queued
  bool claiming_ = false;     // a claim is on the store thread
  bool claim_again_ = false;  // tick() was called meanwhile
  bool started_ = false;  // start() ran: claims may begin
  bool stopping_ = false;
  std::function<void()> on_stopped_;
  std::shared_ptr<std::atomic<bool>> wake_pending_ = std::make_shared<std::atomic<bool>>(false);
  std::shared_ptr<std::atomic<bool>> alive_ = std::make_shared<std::atomic<bool>>(true);
  // Last: destroyed first, it runs what is queued and joins its thread while
  // everything its work touches still exists. Unbounded in practice: the
  // shard's own work is bounded by its batches and max_inflight.
  BoundedExecutor store_{1, 1'000'000};
};

}  // namespace lrogate::poller
