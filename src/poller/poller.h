// Poller: follows every unfinished operation's Operation-Location in the
// background, with no client attached.
//
// It claims due operations from the store in batches under a lease, polls
// each through its pool resource (upstream/pool.h: the resource's caller on
// the shard's client, under the resource's limits) — at most max_inflight at
// once over all its shards — and writes each
// outcome as one conditional transition. While it holds work (queued or in
// flight) it renews those leases every lease/3 (a heartbeat), so a slow
// upstream call never lets a live lease lapse; a replica that dies stops
// renewing and its leases expire. It also sweeps expired records.
//
// The work is spread over shards, one per http::Client given (so each
// shard has its own I/O thread and keep-alive pool; the pool's resources
// have a caller on each, in the same order), each with its own store thread
// (poller/shard.h). Every shard claims
// under the same owner id; the lease keeps each operation on one shard at a
// time, so the shards of one replica together claim what one poller would,
// and never poll one operation twice at once. max_inflight is split between
// the shards (a shard gets at least 1; there are never more shards than
// max_inflight). The first shard frees an
// earlier run's leases before any shard claims, and sweeps.
//
// wake() and stop() may be called from any thread. stop() frees the leases
// (release_leases) only once every shard has stopped and written the
// outcomes of its polls in flight.
#pragma once

#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "poller/shard.h"

namespace lrogate::poller {

class Poller {
 public:
  // One shard per client (at most max_inflight of them, at least one): the
  // pool's shard clients, in its order; the pool and the clients must
  // outlive the Poller.
  Poller(core::OperationService& service, upstream::Pool& pool, std::vector<http::Client*> clients,
         const Clock& clock, Random& random, PollerConfig config, std::string owner);
  ~Poller();

  // Before start().
  void set_observer(const TransitionObserver& observer);
  // Frees leases left by an earlier run of this node and starts polling.
  void start();
  // New work is due in `due_in` (a submit): claim then (or now, for 0)
  // without waiting for a later timer.
  void wake(std::chrono::milliseconds due_in = std::chrono::milliseconds(0));
  // Stops claiming and calls done once the polls in flight have ended and
  // the leases are released.
  void stop(std::function<void()> done);

  int shards() const { return static_cast<int>(shards_.size()); }

 private:
  ShardShared shared_;
  std::vector<std::unique_ptr<Shard>> shards_;
};

}  // namespace lrogate::poller
