#include "poller/poller.h"

#include <algorithm>
#include <atomic>

namespace lrogate::poller {

Poller::Poller(core::OperationService& service, upstream::Pool& pool,
               std::vector<http::Client*> clients, const Clock& clock, Random& random,
               PollerConfig config, std::string owner) {
  // More shards than polls allowed in flight would leave some with none.
  int n = std::clamp(std::min(static_cast<int>(clients.size()), config.max_inflight), 1,
                     std::max(1, static_cast<int>(clients.size())));
  for (int i = 0; i < n; ++i) {
    PollerConfig sc = config;
    if (config.max_inflight > 0) sc.max_inflight = config.max_inflight / n + (i < config.max_inflight % n);
    sc.batch = std::max(1, config.batch / n);
    sc.rate_share = 1.0 / n;  // for the claim caps
    shards_.push_back(std::make_unique<Shard>(service, pool, *clients[i], clock, random, sc,
                                              owner, shared_, i, i == 0));
  }
}

Poller::~Poller() = default;

void Poller::set_observer(const TransitionObserver& observer) {
  for (auto& s : shards_) s->set_observer(observer);
}

void Poller::start() {
  // The others start once the lead has freed an earlier run's leases: a
  // lease they took before that would be freed under them.
  shards_[0]->start([this] {
    for (std::size_t i = 1; i < shards_.size(); ++i) shards_[i]->start([] {});
  });
}

void Poller::wake(std::chrono::milliseconds due_in) {
  for (auto& s : shards_) s->wake(due_in);
}

void Poller::stop(std::function<void()> done) {
  auto left = std::make_shared<std::atomic<int>>(static_cast<int>(shards_.size()));
  auto finish = std::make_shared<std::function<void()>>(std::move(done));
  for (auto& s : shards_) {
    s->stop([this, left, finish] {
      // The last shard to stop frees the leases: every outcome is written.
      if (left->fetch_sub(1) == 1) shards_[0]->release_leases(*finish);
    });
  }
}

}  // namespace lrogate::poller
