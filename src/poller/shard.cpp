#include "poller/shard.h"

#include "base/log.h"
#include "base/metrics.h"

namespace lrogate::poller {

Shard::Shard(core::OperationService& service, upstream::Pool& pool, http::Client& client,
             const Clock& clock, Random& random, PollerConfig config, std::string owner,
             ShardShared& shared, int index, bool lead)
    : service_(service),
      pool_(pool),
      client_(client),
      clock_(clock),
      random_(random),
      config_(config),
      owner_(std::move(owner)),
      shared_(shared),
      index_(index),
      lead_(lead) {}

Shard::~Shard() {
  *alive_ = false;
  if (listener_) service_.notifier().unlisten(listener_);
}

template <class Work, class Then>
void Shard::on_store(Work work, Then then) {
  bool queued = store_.try_post(
      [this, work = std::move(work), then = std::move(then), alive = alive_]() mutable {
        auto result = work();
        client_.post([alive, then = std::move(then), result = std::move(result)]() mutable {
          if (*alive) then(std::move(result));
        });
      });
  if (!queued) log::error("poller store call dropped: its thread is stopping", {});
}

void Shard::start(std::function<void()> started) {
  // Cancels (and finishes by other replicas) of operations held between
  // polls: the notifier hears them; the shard writes what it holds, which
  // the store refuses for a final record.
  listener_ = service_.notifier().listen([this, alive = alive_](const std::string& id) {
    if (!*alive) return;
    client_.post([this, alive, id] {
      if (*alive) on_notified(id);
    });
  });
  if (!lead_) {
    client_.post([this, started = std::move(started), alive = alive_] {
      if (!*alive) return;
      started_ = true;
      tick();
      heartbeat();
      started();
    });
    return;
  }
  on_store(
      [this] { return std::make_pair(service_.resume_all(), service_.store().count_active()); },
      [this, started = std::move(started)](std::pair<Result<int>, Result<int>> r) {
        auto& [freed, active] = r;
        boost::json::object f{{"owner", owner_}};
        if (freed) f["leases_freed"] = freed.value();
        if (active) f["resumed"] = active.value();
        if (config_.max_inflight <= 0) {
          f["polls"] = false;
          log::warn(
              "this replica never polls the upstream (--max-inflight-polls 0): another "
              "replica on the same store must",
              boost::json::object(f));
        }
        log::info("poller started", std::move(f));
        started_ = true;
        tick();
        sweep();
        heartbeat();
        started();
      });
}

void Shard::wake(std::chrono::milliseconds due_in) {
  if (wake_pending_->exchange(true)) return;
  client_.post([this, due_in, alive = alive_] {
    if (!*alive) return;
    wake_pending_->store(false);
    if (due_in.count() > 0) {
      arm(due_in);  // no claim now: nothing new is due before then
    } else {
      tick();
    }
  });
}

void Shard::stop(std::function<void()> done) {
  client_.post([this, done = std::move(done), alive = alive_] {
    if (!*alive) return;
    stopping_ = true;
    on_stopped_ = std::move(done);
    // Queued operations keep their leases until they expire; the Poller
    // frees them once every shard has stopped, so another replica (or the
    // next start) takes them at once.
    // Held ones with polls not yet written write them (and so free their
    // leases) before release_leases.
    for (const auto& op : queue_) {
      auto h = held_.find(op->id);
      if (h != held_.end() && h->second.unwritten > 0) {
        leave(op);
      } else {
        held_.erase(op->id);
      }
    }
    queue_.clear();
    while (!waiting_.empty()) {
      OpPtr op = waiting_.begin()->second;
      waiting_.erase(waiting_.begin());
      leave(op);
    }
    if (listener_) service_.notifier().unlisten(listener_);
    listener_ = 0;
    maybe_stopped();
  });
}

void Shard::maybe_stopped() {
  if (stopping_ && inflight_ == 0 && on_stopped_) {
    flush_progress();  // queued on the store thread before the barrier below
    auto done = std::move(on_stopped_);
    on_stopped_ = nullptr;
    on_store([] { return 0; }, [done = std::move(done)](int) { done(); });
  }
}

void Shard::release_leases(std::function<void()> done) {
  on_store([this] { return service_.store().release_leases(owner_); },
           [done = std::move(done)](Result<int>) { done(); });
}

void Shard::arm(std::chrono::milliseconds delay) {
  Millis at = clock_.now_ms() + delay.count();
  // Keep the earlier of two timers; a later one would only delay work.
  if (timer_at_ != 0 && timer_at_ <= at && timer_at_ > clock_.now_ms()) return;
  timer_at_ = at;
  std::uint64_t gen = ++timer_gen_;
  client_.post_after(delay, [this, gen, alive = alive_] {
    if (!*alive || gen != timer_gen_) return;
    timer_at_ = 0;
    tick();
  });
}

void Shard::tick() {
  // Not before start(): the lead may still be freeing an earlier run's leases.
  if (!started_ || stopping_ || config_.max_inflight <= 0) return;  // 0: only answers clients
  if (claiming_) {
    claim_again_ = true;
    return;
  }
  // Claim no more than the resources' polls/s (this shard's share, as the
  // pool has them now) can start within half a lease, and leave out the
  // resources whose share of the queue is full (poller/claim_plan.h).
  ClaimPlan plan = plan_now();
  int room = plan.room;
  if (room <= 0) return pump();
  claiming_ = true;
  struct Claimed {
    Result<std::vector<core::Operation>> ops;
    Result<std::optional<Millis>> next_due;  // asked when the claim was not full
  };
  bool skipping = !plan.skip.empty();
  on_store(
      [this, room, skip = std::move(plan.skip)] {
        Claimed c{service_.claim_due(owner_, config_.lease, room, skip), std::optional<Millis>()};
        if (c.ops && static_cast<int>(c.ops.value().size()) < room)
          c.next_due = service_.next_due();
        return c;
      },
      [this, room, skipping](Claimed c) {
        claiming_ = false;
        if (!c.ops) {
          log::warn("poller cannot claim work", {{"error", c.ops.error().message},
                                                 {"detail", c.ops.error().detail},
                                                 {"shard", index_}});
          arm(config_.idle_recheck);
          return;
        }
        more_due_ = static_cast<int>(c.ops.value().size()) >= room;
        for (auto& op : c.ops.value()) {
          if (stopping_) break;  // its lease expires, or stop's release frees it
          Held h;
          h.lease_until = op.lease_until.value_or(clock_.now_ms() + config_.lease.count());
          if (held_.try_emplace(op.id, h).second) {
            queue_.push_back(std::make_shared<const core::Operation>(std::move(op)));
          }
        }
        pump();
        if (claim_again_) {
          claim_again_ = false;
          return tick();
        }
        if (idle_) {
          // Nothing queued can start now: sleep until the next due time, but
          // no longer than idle_recheck. While resources were skipped, a due
          // time now may be theirs (next_due does not tell): idle_recheck.
          std::chrono::milliseconds delay =
              more_due_ ? std::chrono::milliseconds(0) : config_.idle_recheck;
          if (!more_due_ && c.next_due && c.next_due.value()) {
            Millis d = *c.next_due.value() - clock_.now_ms();
            if (!(skipping && d <= 0)) {
              delay =
                  std::chrono::milliseconds(std::clamp<Millis>(d, 0, config_.idle_recheck.count()));
            }
          }
          arm(delay);
        }
      });
}

ClaimPlan Shard::plan_now() const {
  std::vector<ResourceRate> rates;
  for (const auto& r : pool_.resources()) {
    rates.push_back({r->name(), r->settings().limits.polls_per_second});
  }
  std::vector<std::string_view> queued;
  queued.reserve(queue_.size());
  for (const auto& op : queue_) queued.push_back(op->resource);
  return plan_claim(rates, queued, config_.rate_share, config_.lease, config_.batch);
}

void Shard::pump() {
  // In queue order, each operation through its resource; an operation whose
  // resource is at its limits waits (polls over budget are delayed, never
  // dropped) without holding up the others' (docs/design.md, "Upstream pools").
  promote_due();
  Millis now = clock_.now_ms();
  Millis soonest = 0;  // the ms until a waiting resource may poll again; 0: none waits
  std::vector<std::pair<std::string_view, std::shared_ptr<upstream::Resource>>> seen;
  std::vector<std::string_view> waiting;
  auto it = queue_.begin();
  for (; it != queue_.end() && inflight_ < config_.max_inflight && !stopping_;) {
    std::string_view name = (*it)->resource;
    if (std::find(waiting.begin(), waiting.end(), name) != waiting.end()) {
      ++it;
      continue;
    }
    auto known = std::find_if(seen.begin(), seen.end(), [&](auto& s) { return s.first == name; });
    if (known == seen.end()) known = seen.insert(seen.end(), {name, pool_.find(name)});
    std::shared_ptr<upstream::Resource> resource = known->second;
    if (resource) {
      if (Millis wait = resource->take_poll(now); wait > 0) {
        soonest = soonest ? std::min(soonest, wait) : wait;
        waiting.push_back(name);
        ++it;
        continue;
      }
    }
    OpPtr op = std::move(*it);
    it = queue_.erase(it);
    poll_one(std::move(op), std::move(resource));
  }
  // Every operation left waits for its resource (or none is left).
  idle_ = it == queue_.end();
  if (soonest > 0 && !stopping_) arm(std::chrono::milliseconds(soonest));
  arm_waiting();
}

void Shard::hold(const OpPtr& op, const Decision& d, Millis now) {
  auto next = std::make_shared<core::Operation>(*op);
  next->next_poll_at = d.next_poll_at;
  next->attempts = d.attempts;
  next->poll_count += 1;   // the polls it took, for the completion's metrics
  next->updated_at = now;  // the last poll that found it running (learning, lateness)
  Held& h = held_[op->id];
  h.state = Held::State::kWaiting;
  h.unwritten += 1;
  h.wait = waiting_.emplace(d.next_poll_at, std::move(next));
  arm_waiting();
}

void Shard::promote_due() {
  Millis now = clock_.now_ms();
  // A lease that ends this soon was not renewed (the store failing): the
  // poll's answer could come after it; write and let a claim take it.
  Millis safe = now + config_.lease.count() / 6;
  while (!waiting_.empty() && waiting_.begin()->first <= now && !stopping_) {
    OpPtr op = std::move(waiting_.begin()->second);
    waiting_.erase(waiting_.begin());
    Held& h = held_[op->id];
    if (h.lease_until <= safe) {
      leave(op);
      continue;
    }
    h.state = Held::State::kQueued;
    queue_.push_back(std::move(op));
  }
}

void Shard::arm_waiting() {
  if (waiting_.empty() || stopping_) return;
  Millis at = waiting_.begin()->first;
  Millis now = clock_.now_ms();
  if (wait_at_ != 0 && wait_at_ <= at && wait_at_ >= now) return;
  wait_at_ = at;
  std::uint64_t gen = ++wait_gen_;
  client_.post_after(std::chrono::milliseconds(std::max<Millis>(at - now, 0)),
                     [this, gen, alive = alive_] {
                       if (!*alive || gen != wait_gen_) return;
                       wait_at_ = 0;
                       pump();
                     });
}

void Shard::leave(const OpPtr& op) {
  auto h = held_.find(op->id);
  int polls = h == held_.end() ? 0 : h->second.unwritten;
  if (h != held_.end()) held_.erase(h);
  Decision d;
  d.status = op->status;
  d.next_poll_at = op->next_poll_at.value_or(clock_.now_ms());
  d.attempts = op->attempts;
  queue_progress(op, std::move(d), polls);
}

void Shard::queue_progress(const OpPtr& op, Decision d, int polls) {
  // Progress is batched: answers that arrive together share one commit.
  if (pending_.empty()) {
    client_.post([this, alive = alive_] {
      if (*alive) flush_progress();
    });
  }
  pending_.push_back({op, std::move(d), polls});
  if (pending_.size() >= 256) flush_progress();
}

void Shard::on_notified(const std::string& id) {
  if (id.empty()) {  // anything may have finished unheard: write what is held
    while (!waiting_.empty()) {
      OpPtr op = waiting_.begin()->second;
      waiting_.erase(waiting_.begin());
      leave(op);
    }
    for (auto& [_, h] : held_) h.recheck = true;
    return;
  }
  auto h = held_.find(id);
  if (h == held_.end()) return;
  if (h->second.state == Held::State::kWaiting) {
    OpPtr op = h->second.wait->second;
    waiting_.erase(h->second.wait);
    leave(op);  // refused when it is final: then forgotten
  } else {
    h->second.recheck = true;
  }
}

void Shard::drop(const std::string& id) {
  auto h = held_.find(id);
  if (h == held_.end()) return;
  log::info("poll lease lost; the operation is left to whoever holds it",
            {{"operation_id", id}, {"shard", index_}});
  switch (h->second.state) {
    case Held::State::kInFlight:
      h->second.lost = true;
      return;
    case Held::State::kWaiting:
      waiting_.erase(h->second.wait);
      break;
    case Held::State::kQueued:
      queue_.erase(std::remove_if(queue_.begin(), queue_.end(),
                                  [&](const OpPtr& op) { return op->id == id; }),
                   queue_.end());
      break;
  }
  held_.erase(h);
}

void Shard::poll_one(OpPtr op, std::shared_ptr<upstream::Resource> resource) {
  if (!resource) {
    // Bound to a resource no longer in the pool (nor drained: the process
    // started without it). It may come back (a SIGHUP); past --max-wait the
    // operation fails, saying why.
    upstream::PollAnswer gone;
    bool over = clock_.now_ms() >= op->created_at + config_.schedule.max_wait.count();
    gone.kind = over ? upstream::PollAnswer::Kind::kPermanent : upstream::PollAnswer::Kind::kTransient;
    gone.error_code = "UpstreamResourceGone";
    gone.error_message = "the upstream resource '" + op->resource +
                         "' that accepted this operation is not in the pool" +
                         (over ? " and --max-wait has passed" : "");
    gone.retry_after = config_.schedule.poll_interval;
    on_answer(op, std::move(gone));
    return;
  }
  // The SSRF guard, again at poll time: a stored Operation-Location that is
  // not on the resource's endpoint (say the endpoint changed) is never called.
  if (!resource->upstream().same_origin(op->upstream_url)) {
    resource->poll_answered(upstream::PollAnswer{}, clock_.now_ms());  // its place, unused
    upstream::PollAnswer refuse;
    refuse.kind = upstream::PollAnswer::Kind::kPermanent;
    refuse.error_code = "ForeignOperationLocation";
    refuse.error_message =
        "the operation's Operation-Location is not on the configured upstream endpoint";
    on_answer(op, std::move(refuse));
    return;
  }
  if (auto h = held_.find(op->id); h != held_.end()) h->second.state = Held::State::kInFlight;
  ++inflight_;
  metrics::set_inflight_polls(shared_.add_inflight(1));
  resource->poll_caller(static_cast<std::size_t>(index_)).poll(
      op->upstream_url, [this, op, resource, alive = alive_](upstream::PollAnswer a) {
    resource->poll_answered(a, clock_.now_ms());
    if (!*alive) return;
    --inflight_;
    metrics::set_inflight_polls(shared_.add_inflight(-1));
    on_answer(op, std::move(a));
    if (op->next_poll_at) {
      metrics::observe_poll_lag(static_cast<double>(clock_.now_ms() - *op->next_poll_at) /
                                1000.0);
    }
    if (stopping_) {
      maybe_stopped();
      return;
    }
    pump();
    // Claim again once nothing queued can start now, and only when the last
    // claim was full (more is due now) or no timer is waiting for the next
    // due time: a claim per answer would cost two queries per poll when
    // little is due. A timer for a resource's wait (a Retry-After) may be
    // far: claim within idle_recheck all the same, for the other resources.
    if (idle_) {
      if (more_due_ || timer_at_ == 0) {
        tick();
      } else {
        arm(config_.idle_recheck);  // keeps an earlier timer
      }
    }
  });
}

void Shard::on_answer(const OpPtr& op, upstream::PollAnswer a) {
  // Leaves held_ here, unless the operation is held for its next poll.
  auto h = held_.find(op->id);
  int polls = 1;
  bool recheck = false;
  if (h != held_.end()) {
    if (h->second.lost) {  // another claim holds it now: its writes would be refused
      held_.erase(h);
      return;
    }
    polls += h->second.unwritten;
    recheck = h->second.recheck;
  }
  Millis now = clock_.now_ms();
  auto learned = service_.learned_for(*op);
  Decision d = decide(*op, a, config_.schedule, now, random_.uniform(), learned.get());
  if (!d.finish) {
    if (a.kind != upstream::PollAnswer::Kind::kStatus) {
      log::warn("poll failed; will retry", {{"operation_id", op->id},
                                            {"error_code", a.error_code},
                                            {"error", a.error_message},
                                            {"attempt", d.attempts},
                                            {"retry_in_ms", d.next_poll_at - clock_.now_ms()}});
    }
    // The status the write would give it (never back to NotStarted).
    core::Status after = core::can_transition(op->status, d.status) ? d.status : op->status;
    bool unchanged = after == op->status;
    if (unchanged) metrics::count_unchanged_poll();
    // Held in memory, unwritten, when its next poll comes well within the
    // lease (the heartbeat renews it in time): docs/design.md, "Claiming
    // and the loop".
    if (unchanged && !recheck && !stopping_ && h != held_.end() &&
        d.next_poll_at - now < config_.lease.count() / 2) {
      hold(op, d, now);
      return;
    }
    if (h != held_.end()) held_.erase(h);
    queue_progress(op, std::move(d), polls);
    return;
  }
  if (h != held_.end()) held_.erase(h);
  auto shared_d = std::make_shared<const Decision>(std::move(d));
  on_store(
      [this, op, d = shared_d, body = std::move(a.body), type = std::move(a.content_type), polls,
       pages = a.pages, tokens = a.tokens]() mutable {
        return service_.finish(*op, owner_, d->status, std::move(body), std::move(type),
                               d->error_code, d->error_message, polls, pages, tokens);
      },
      [this, op, d = shared_d](Result<bool> r) { written(*op, *d, r); });
}

void Shard::flush_progress() {
  if (pending_.empty()) return;
  auto batch = std::make_shared<std::vector<PendingProgress>>();
  batch->swap(pending_);
  on_store(
      [this, batch] {
        std::vector<core::OperationService::ProgressWrite> writes;
        writes.reserve(batch->size());
        for (const auto& p : *batch) {
          writes.push_back({p.op.get(), p.d.status, p.d.next_poll_at, p.d.attempts, p.polls});
        }
        return service_.record_progress_many(owner_, writes);
      },
      [this, batch](Result<std::vector<bool>> r) {
        for (std::size_t i = 0; i < batch->size(); ++i) {
          Result<bool> one = r ? Result<bool>(r.value()[i]) : Result<bool>(r.error());
          written(*(*batch)[i].op, (*batch)[i].d, one);
        }
      });
}

void Shard::written(const core::Operation& op, const Decision& d, const Result<bool>& r) {
  if (!r) {
    log::error(
        "cannot record poll outcome",
        {{"operation_id", op.id}, {"error", r.error().message}, {"detail", r.error().detail}});
    return;
  }
  if (!r.value()) {
    log::warn("poll outcome not recorded: lease lost or operation already final",
              {{"operation_id", op.id}});
    return;
  }
  core::Status after = d.status;
  if (d.finish && op.kind == core::Kind::kAnalysis && after == core::Status::kSucceeded) {
    // The polls it took and how late the gateway may have seen it: it
    // finished after the last poll that found it running.
    Millis now = clock_.now_ms();
    metrics::observe_completion(op.analyzer_id, op.poll_count + 1,
                                static_cast<double>(now - std::max(op.updated_at, op.created_at)) /
                                    1000.0);
  }
  if (after != op.status || d.finish) {
    boost::json::object f{{"operation_id", op.id},
                          {"from", core::status_name(op.status)},
                          {"to", core::status_name(after)}};
    if (!d.error_code.empty()) f["error_code"] = d.error_code;
    log::info("state", std::move(f));
  }
  if (observer_) observer_(op, after, d);
}

void Shard::heartbeat() {
  if (stopping_) return;
  if (index_ == 0) {
    // The cluster clock follows the store's (docs/design.md, "One clock for
    // the cluster"): measured again on every heartbeat of one shard.
    on_store(
        [this] {
          if (auto r = service_.sync_clock(); !r) {
            log::warn("cannot read the database's clock",
                      {{"error", r.error().message}, {"detail", r.error().detail}});
          }
          return 0;
        },
        [](int) {});
  }
  // Only the leases that would end before the next heartbeat (plus a
  // margin for a late one) are renewed, all in one batch; an operation the
  // store no longer renews is someone else's (or final): dropped.
  std::chrono::milliseconds period = std::max(config_.lease / 3, std::chrono::milliseconds(100));
  Millis now = clock_.now_ms();
  Millis renew_before = now + period.count() + config_.lease.count() / 6;
  std::vector<std::string> ids;
  for (const auto& [id, h] : held_) {
    if (!h.lost && h.lease_until < renew_before) ids.push_back(id);
  }
  if (!ids.empty()) {
    auto asked = std::make_shared<const std::vector<std::string>>(std::move(ids));
    Millis until = now + config_.lease.count();  // no later than the store's
    on_store(
        [this, asked] {
          auto renewed = service_.renew_leases(owner_, *asked, config_.lease);
          if (!renewed) {
            log::warn("cannot renew poll leases", {{"error", renewed.error().message},
                                                   {"detail", renewed.error().detail},
                                                   {"held", asked->size()},
                                                   {"shard", index_}});
          }
          // Null: not renewed now, tried again at the next heartbeat.
          return renewed ? std::make_shared<const std::unordered_set<std::string>>(
                               renewed.value().begin(), renewed.value().end())
                         : std::shared_ptr<const std::unordered_set<std::string>>();
        },
        [this, asked, until](std::shared_ptr<const std::unordered_set<std::string>> kept_ptr) {
          if (!kept_ptr) return;
          const auto& kept = *kept_ptr;
          for (const auto& id : *asked) {
            auto h = held_.find(id);
            if (h == held_.end()) continue;  // written meanwhile
            if (kept.count(id)) {
              h->second.lease_until = std::max(h->second.lease_until, until);
            } else {
              drop(id);
            }
          }
        });
  }
  client_.post_after(period,
                     [this, alive = alive_] {
                       if (*alive) heartbeat();
                     });
}

void Shard::sweep() {
  if (stopping_) return;
  on_store(
      [this] {
        int total = 0;
        for (;;) {
          auto n = service_.sweep(1000);
          if (!n) {
            log::warn("sweep failed", {{"error", n.error().message}, {"detail", n.error().detail}});
            break;
          }
          total += n.value();
          if (n.value() < 1000) break;
        }
        if (total > 0) log::info("swept expired operations", {{"count", total}});
        // The other replicas' learned durations (and, at start, the store's).
        if (auto r = service_.refresh_history(); !r) {
          log::warn("cannot load the learned durations",
                    {{"error", r.error().message}, {"detail", r.error().detail}});
        }
        return total;
      },
      [this](int) {
        client_.post_after(config_.sweep_interval, [this, alive = alive_] {
          if (*alive) sweep();
        });
      });
}

}  // namespace lrogate::poller
