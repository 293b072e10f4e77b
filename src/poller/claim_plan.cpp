#include "poller/claim_plan.h"

#include <algorithm>
#include <map>

namespace lrogate::poller {
namespace {

// What `polls_per_second` (this shard's part of it) starts within half a
// lease, in [1, batch]; the batch without a limit.
int startable(double polls_per_second, double share, std::chrono::milliseconds lease, int batch) {
  if (!(polls_per_second > 0)) return batch;
  double n = polls_per_second * share * static_cast<double>(lease.count()) / 2000.0;
  return std::clamp(static_cast<int>(std::min(n, static_cast<double>(batch))), 1, batch);
}

}  // namespace

ClaimPlan plan_claim(const std::vector<ResourceRate>& pool,
                     const std::vector<std::string_view>& queued, double share,
                     std::chrono::milliseconds lease, int batch) {
  batch = std::max(batch, 1);
  // The queue's cap: the sum of the shares (each at least 1, so that a
  // low-rate resource's one place never takes all of a small cap).
  int cap = pool.empty() ? batch : 0;
  for (const auto& r : pool) {
    cap = std::min(batch, cap + startable(r.polls_per_second, share, lease, batch));
  }

  std::map<std::string_view, int> held;
  for (std::string_view name : queued) ++held[name];
  ClaimPlan plan;
  int within = 0;  // what the queue holds within the resources' shares
  for (const auto& r : pool) {
    auto it = held.find(r.name);
    if (it == held.end()) continue;
    int mine = startable(r.polls_per_second, share, lease, batch);
    within += std::min(it->second, mine);
    if (it->second >= mine) plan.skip.push_back(r.name);
    held.erase(it);
  }
  for (const auto& [name, n] : held) within += n;  // resources gone: no share of their own
  int total = static_cast<int>(queued.size());
  plan.room = std::max(0, std::min(cap - within, 2 * cap - total));
  return plan;
}

}  // namespace lrogate::poller
