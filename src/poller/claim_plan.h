// ClaimPlan: how much a poller shard claims next, and which resources' due
// operations it leaves out (docs/design.md, "Claiming and the loop"). A pure
// function of the pool's polls/s limits as they are now (they follow a
// SIGHUP) and of what the shard holds queued, so that one slow resource
// (a low polls/s, or its polls held by a Retry-After) cannot fill the
// queue and starve the others' operations.
//
// Each resource has a share of the queue: what its polls/s (this shard's
// part of it) can start within half a lease, at least 1, at most the
// batch; a resource without a limit, the batch. The queue's cap is the sum
// of the shares, at most the batch. A resource holding its share is
// skipped by the claim; the room is the cap less what the resources hold
// within their shares, so one resource's excess (a claim returns the
// earliest due, whichever resource they are on) never keeps the others
// out, and less the queue's excess over twice the cap, so the queue stays
// bounded.
#pragma once

#include <chrono>
#include <string>
#include <string_view>
#include <vector>

namespace lrogate::poller {

struct ResourceRate {
  std::string name;
  double polls_per_second = 0;  // <= 0: no limit
};

struct ClaimPlan {
  int room = 0;                   // claim at most this many (0: do not claim)
  std::vector<std::string> skip;  // the resources whose share is full
};

// `queued`: the resource of each operation the shard holds queued (not in
// flight); a name not in `pool` (a resource gone) has no share of its own.
// `share`: this shard's part of each resource's polls/s (1 / shards).
ClaimPlan plan_claim(const std::vector<ResourceRate>& pool,
                     const std::vector<std::string_view>& queued, double share,
                     std::chrono::milliseconds lease, int batch);

}  // namespace lrogate::poller
