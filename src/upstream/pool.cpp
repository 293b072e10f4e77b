#include "upstream/pool.h"

#include <algorithm>
#include <cmath>
#include <map>

#include "base/log.h"
#include "base/metrics.h"

namespace lrogate::upstream {
namespace {

// How soon a submit asks again while a half-open probe is out, or while
// calls in flight are at their limit (no time is known for either).
constexpr Millis kAskAgainMs = 20;

bool moves_on(const SubmitAnswer& a) {
  using K = SubmitAnswer::Kind;
  switch (a.kind) {
    case K::kThrottled:
    case K::kTransient:
    case K::kAuthRefused:
      return true;
    case K::kFailed:
      return a.error_code != "AnalyzersUnsupported";
    case K::kAccepted:
    case K::kRejected:
      return false;
  }
  return false;
}

// The resources in priority order, lowest first; the file's order within one.
std::vector<std::shared_ptr<Resource>> by_priority(std::vector<std::shared_ptr<Resource>> rs) {
  std::stable_sort(rs.begin(), rs.end(), [](const auto& a, const auto& b) {
    return a->settings().priority < b->settings().priority;
  });
  return rs;
}

}  // namespace

WindowLimit window_limit(double per_second) {
  if (!(per_second > 0)) return {};
  double limit = std::max(1.0, std::floor(per_second));
  limit = std::min(limit, 1'000'000.0);
  return {static_cast<int>(limit), static_cast<Millis>(std::llround(limit * 1000.0 / per_second))};
}

// ---- Resource

// A shared window's place spent late stays within the slack its window has.
static_assert(SharedWindow::kLateMs <= kWindowSlackMs);

Resource::Resource(ResourceSettings settings, std::unique_ptr<Upstream> upstream,
                   std::unique_ptr<Credential> credential, http::Client& client,
                   const std::vector<http::Client*>& shard_clients, const Clock& clock,
                   const BudgetLedger& ledger)
    : settings_(std::move(settings)),
      upstream_(std::move(upstream)),
      credential_(std::move(credential)),
      draining_(settings_.drain),
      submits_limit_(window_limit(settings_.limits.submits_per_second)),
      polls_limit_(window_limit(settings_.limits.polls_per_second)),
      submits_(submits_limit_.window_ms + kWindowSlackMs),
      operations_(60'000 + kWindowSlackMs),
      polls_(polls_limit_.window_ms + kWindowSlackMs) {
  if (ledger) {
    auto shared = [&](const char* budget, int limit, Millis window_ms) {
      // The window with its slack, as this replica's own (kWindowSlackMs).
      return limit > 0 ? std::make_unique<SharedWindow>(settings_.name, budget, limit,
                                                        window_ms + kWindowSlackMs, ledger)
                       : nullptr;
    };
    shared_submits_ = shared("submits", submits_limit_.limit, submits_limit_.window_ms);
    shared_operations_ = shared("operations", settings_.limits.operations_per_minute, 60'000);
    shared_polls_ = shared("polls", polls_limit_.limit, polls_limit_.window_ms);
  }
  callers_.push_back(
      std::make_unique<Caller>(*upstream_, *credential_, client, clock, settings_.name));
  for (http::Client* sc : shard_clients) {
    callers_.push_back(
        std::make_unique<Caller>(*upstream_, *credential_, *sc, clock, settings_.name));
  }
}

Caller& Resource::poll_caller(std::size_t shard) {
  return shard + 1 < callers_.size() ? *callers_[shard + 1] : *callers_.front();
}

Millis Resource::in_flight_ready_at(Millis now) {
  bool full =
      settings_.limits.calls_in_flight > 0 && in_flight_ >= settings_.limits.calls_in_flight;
  return full ? now + kAskAgainMs : now;
}

Millis Resource::limits_ready_at(Millis now) {
  Millis at = submits_.admit_at(now, submits_limit_.limit);
  at = std::max(at, operations_.admit_at(now, settings_.limits.operations_per_minute));
  at = std::max(at, in_flight_ready_at(now));
  // The shared windows last, and only when this replica's own allow a call
  // now: their look may ask the ledger for places.
  if (at > now) return at;
  if (shared_submits_) at = std::max(at, shared_submits_->ready_at(now));
  if (shared_operations_) at = std::max(at, shared_operations_->ready_at(now));
  return at;
}

std::optional<Millis> Resource::submit_ready_at(Millis now) {
  MutexLock lock(mu_);
  auto breaker = breaker_.ready_at(now);
  if (!breaker) return std::nullopt;
  return std::max(*breaker, limits_ready_at(now));
}

std::optional<SubmitAnswer> Resource::hard_failure(Millis now) {
  MutexLock lock(mu_);
  if (breaker_.state(now) != Breaker::State::kOpen) return std::nullopt;
  return hard_failure_;
}

bool Resource::take_submit(Millis now) {
  MutexLock lock(mu_);
  if (limits_ready_at(now) > now) return false;
  if (!breaker_.admit(now)) return false;
  submits_.record(now);
  operations_.record(now);
  if (shared_submits_) shared_submits_->take(now);
  if (shared_operations_) shared_operations_->take(now);
  ++in_flight_;
  return true;
}

void Resource::submit_answered(const SubmitAnswer& a, Millis now) {
  MutexLock lock(mu_);
  --in_flight_;
  if (a.kind == SubmitAnswer::Kind::kFailed && a.error_code == "AnalyzersUnsupported") {
    breaker_.abandoned();  // never sent
  } else if (moves_on(a)) {  // the resource's fault: worth another resource
    bool was_closed = breaker_.state(now) == Breaker::State::kClosed;
    breaker_.failed(now, a.retry_after);
    bool hard = a.kind == SubmitAnswer::Kind::kAuthRefused || a.kind == SubmitAnswer::Kind::kFailed;
    if (hard) {
      hard_failure_ = a;
    } else {
      hard_failure_.reset();
    }
    if (was_closed) {
      log::warn("upstream resource breaker opened",
                {{"resource", settings_.name},
                 {"answer", submit_kind_name(a.kind)},
                 {"status", a.status},
                 {"for_ms", a.retry_after ? a.retry_after->count() : Breaker::kFirstCoolDownMs}});
    }
  } else {
    bool was_closed = breaker_.state(now) == Breaker::State::kClosed;
    breaker_.succeeded(now);
    if (breaker_.state(now) == Breaker::State::kClosed) {
      hard_failure_.reset();
      if (!was_closed) log::info("upstream resource breaker closed", {{"resource", settings_.name}});
    }
  }
}

void Resource::give_back() {
  MutexLock lock(mu_);
  --in_flight_;
  breaker_.abandoned();
}

Millis Resource::take_poll(Millis now) {
  MutexLock lock(mu_);
  Millis at = std::max({polls_.admit_at(now, polls_limit_.limit), polls_held_until_,
                        in_flight_ready_at(now)});
  if (at <= now && shared_polls_) at = shared_polls_->ready_at(now);
  if (at > now) return at - now;
  polls_.record(now);
  if (shared_polls_) shared_polls_->take(now);
  ++in_flight_;
  return 0;
}

void Resource::poll_answered(const PollAnswer& a, Millis now) {
  MutexLock lock(mu_);
  --in_flight_;
  // A throttled poll (Retry-After on a transient answer) holds the
  // resource's other polls too: they would be refused the same way.
  if (a.kind == PollAnswer::Kind::kTransient && a.retry_after) {
    polls_held_until_ = std::max(polls_held_until_, now + a.retry_after->count());
  }
}

Breaker::State Resource::breaker_state(Millis now) {
  MutexLock lock(mu_);
  return breaker_.state(now);
}

void Resource::publish_metrics(Millis now) {
  MutexLock lock(mu_);
  metrics::set_resource_state(settings_.name, breaker_state_name(breaker_.state(now)), draining(),
                              in_flight_);
  auto used = [&](SlidingWindow& w, int limit) {
    return static_cast<double>(w.count(now)) / static_cast<double>(limit);
  };
  if (submits_limit_.limit > 0) {
    metrics::set_resource_budget(settings_.name, "submits", used(submits_, submits_limit_.limit));
  }
  if (polls_limit_.limit > 0) {
    metrics::set_resource_budget(settings_.name, "polls", used(polls_, polls_limit_.limit));
  }
  if (settings_.limits.operations_per_minute > 0) {
    metrics::set_resource_budget(settings_.name, "operations",
                                 used(operations_, settings_.limits.operations_per_minute));
  }
}

// ---- Pool

struct Pool::Call {
  SendAttempt send;
  std::string pin;
  Millis deadline = 0;
  SubmitDone done;
  std::optional<SubmitAnswer> last;
  std::string last_resource;
  // Resources this call will not try again: they refused the gateway's
  // credentials or failed for good (or, for analyzer reads and deletes,
  // do not have the analyzer).
  std::vector<std::string> excluded;
  bool next_on_not_found = false;  // analyzer reads and deletes
  std::string tenant;              // whose fair share it waits in
  bool queued = false;             // waiting in the queue (under queue_mu_)
  Millis queued_at = 0;
};

Pool::Pool(http::Client& client, std::vector<http::Client*> shard_clients, const Clock& clock,
           BudgetLedger ledger)
    : client_(client),
      shard_clients_(std::move(shard_clients)),
      clock_(clock),
      ledger_(std::move(ledger)) {}

Result<void> Pool::apply(const PoolSettings& settings) {
  if (settings.resources.empty()) {
    return make_error(ErrorCode::kInvalidArgument, "the upstream pool has no resource");
  }
  const std::string& kind = settings.resources.front().upstream.kind;
  {
    MutexLock lock(mu_);
    if (!kind_.empty() && kind != kind_) {
      return make_error(ErrorCode::kInvalidArgument,
                        "the pool's kind cannot change on reload (" + kind_ + " -> " + kind +
                            "); restart the gateway");
    }
  }
  // Build what is new or changed first: an error changes nothing.
  std::map<std::string, std::shared_ptr<Resource>> built;
  for (const auto& rs : settings.resources) {
    if (rs.upstream.kind != kind) {
      return make_error(ErrorCode::kInvalidArgument,
                        "resource '" + rs.name + "' is " + rs.upstream.kind + ", the pool is " +
                            kind + ": one pool fronts one service");
    }
    if (built.count(rs.name)) {
      return make_error(ErrorCode::kInvalidArgument, "resource '" + rs.name + "' is listed twice");
    }
    auto existing = find(rs.name);
    // Drain alone changes nothing else: the same resource, breaker and windows.
    auto same = [&rs](ResourceSettings kept) {
      kept.drain = rs.drain;
      return kept == rs;
    };
    if (existing && same(existing->settings())) {
      built.emplace(rs.name, existing);
      continue;
    }
    auto up = make_upstream(rs.upstream);
    if (!up) {
      return make_error(ErrorCode::kInvalidArgument,
                        "resource '" + rs.name + "': " + up.error().message);
    }
    auto credential = make_credential(rs.auth, client_, clock_);
    if (!credential) {
      return make_error(ErrorCode::kInvalidArgument,
                        "resource '" + rs.name + "': " + credential.error().message);
    }
    built.emplace(rs.name, std::make_shared<Resource>(rs, std::move(up).value(),
                                                      std::move(credential).value(), client_,
                                                      shard_clients_, clock_, ledger_));
  }
  MutexLock lock(mu_);
  std::vector<std::shared_ptr<Resource>> next;
  for (const auto& rs : settings.resources) {
    auto r = built.at(rs.name);
    r->set_draining(rs.drain);
    auto old = std::find_if(resources_.begin(), resources_.end(),
                            [&](const auto& o) { return o->name() == rs.name; });
    const char* what = old == resources_.end() ? "added"
                       : old->get() != r.get() ? "replaced"
                                               : "kept";
    if (old != resources_.end() && old->get() != r.get()) retired_.push_back(*old);
    log::info("upstream resource", {{"resource", rs.name},
                                    {"change", what},
                                    {"endpoint", rs.upstream.endpoint},
                                    {"priority", rs.priority},
                                    {"weight", rs.weight},
                                    {"drain", rs.drain}});
    next.push_back(std::move(r));
  }
  for (const auto& old : resources_) {
    if (built.count(old->name())) continue;
    // No longer listed: drains, so its operations are polled to the end.
    if (!old->draining()) {
      log::info("upstream resource", {{"resource", old->name()}, {"change", "removed, draining"}});
    }
    old->set_draining(true);
    next.push_back(old);
  }
  resources_ = std::move(next);
  kind_ = kind;
  return {};
}

std::shared_ptr<Resource> Pool::find(std::string_view name) const {
  MutexLock lock(mu_);
  for (const auto& r : resources_) {
    if (r->name() == name) return r;
  }
  return nullptr;
}

std::vector<std::shared_ptr<Resource>> Pool::resources() const {
  MutexLock lock(mu_);
  return resources_;
}

std::string Pool::document_url_body(std::string_view url) const {
  auto all = resources();
  return all.empty() ? std::string() : all.front()->upstream().document_url_body(url);
}

std::string Pool::kind() const {
  MutexLock lock(mu_);
  return kind_;
}

std::vector<std::string> Pool::api_versions() const {
  auto all = resources();
  return all.empty() ? std::vector<std::string>() : all.front()->upstream().api_versions();
}

bool Pool::degraded(Millis now) const {
  for (const auto& r : resources()) {
    if (!r->draining() && r->breaker_state(now) != Breaker::State::kOpen) return false;
  }
  return true;
}

void Pool::publish_metrics(Millis now) const {
  for (const auto& r : resources()) r->publish_metrics(now);
}

void Pool::submit(std::string tenant, std::string_view analyzer_id, std::string body,
                  std::string_view content_type, std::string pin,
                  std::chrono::milliseconds budget, SubmitDone done, CallTags tags,
                  SubmitOptions options) {
  auto shared_body = std::make_shared<const std::string>(std::move(body));
  auto send = [analyzer = std::string(analyzer_id), shared_body, type = std::string(content_type),
               tags = std::move(tags), options = std::move(options)](
                  Resource& r, std::chrono::milliseconds timeout,
                  std::function<void(SubmitAnswer)> answered) {
    r.caller().submit(analyzer, shared_body, type, options, timeout, std::move(answered), tags);
  };
  run(std::move(tenant), std::move(pin), budget, std::move(done), std::move(send), false);
}

void Pool::analyzer(std::string tenant, AnalyzerCall call, std::string_view analyzer_id,
                    std::string body, bool allow_replace, std::string pin,
                    std::chrono::milliseconds budget, SubmitDone done, CallTags tags,
                    SubmitOptions options) {
  auto shared_body = std::make_shared<const std::string>(std::move(body));
  auto send = [call, analyzer = std::string(analyzer_id), shared_body, allow_replace,
               tags = std::move(tags), options = std::move(options)](
                  Resource& r, std::chrono::milliseconds timeout,
                  std::function<void(SubmitAnswer)> answered) {
    r.caller().analyzer(call, analyzer, shared_body, allow_replace, timeout, std::move(answered),
                        tags, options);
  };
  run(std::move(tenant), std::move(pin), budget, std::move(done), std::move(send),
      call != AnalyzerCall::kCreate);
}

void Pool::run(std::string tenant, std::string pin, std::chrono::milliseconds budget,
               SubmitDone done, SendAttempt send, bool next_on_not_found) {
  auto c = std::make_shared<Call>();
  c->send = std::move(send);
  c->tenant = std::move(tenant);
  c->pin = std::move(pin);
  c->deadline = clock_.now_ms() + budget.count();
  c->done = std::move(done);
  c->next_on_not_found = next_on_not_found;
  start(std::move(c));
}

Pool::Choice Pool::choose(const Call& c, Millis now) {
  auto all = resources();
  std::vector<std::shared_ptr<Resource>> eligible;
  for (auto& r : all) {
    if (r->draining()) continue;
    if (!c.pin.empty() && r->name() != c.pin) continue;
    if (std::find(c.excluded.begin(), c.excluded.end(), r->name()) != c.excluded.end()) continue;
    eligible.push_back(r);
  }
  if (eligible.empty()) return {};
  eligible = by_priority(std::move(eligible));
  std::optional<Millis> earliest;
  Choice refused;
  for (std::size_t begin = 0; begin < eligible.size();) {
    int priority = eligible[begin]->settings().priority;
    std::size_t end = begin;
    std::vector<std::shared_ptr<Resource>> ready;
    for (; end < eligible.size() && eligible[end]->settings().priority == priority; ++end) {
      if (auto hard = eligible[end]->hard_failure(now)) {
        // Not worth waiting for: it refused the credentials or failed for good.
        if (!refused.refused) {
          refused.refused = std::move(hard);
          refused.refused_by = eligible[end]->name();
        }
        continue;
      }
      auto at = eligible[end]->submit_ready_at(now).value_or(now + kAskAgainMs);
      if (at <= now) {
        ready.push_back(eligible[end]);
      } else {
        earliest = earliest ? std::min(*earliest, at) : at;
      }
    }
    // By weight among those of this priority that are ready: smooth
    // weighted round-robin (nginx's), so shares are exact over any run, not
    // only on average. Another call may take the last place between the look
    // and the take: then the next.
    while (!ready.empty()) {
      std::shared_ptr<Resource> pick = next_by_weight(ready);
      if (pick->take_submit(now)) return {pick, now, std::nullopt, ""};
      earliest = now + kAskAgainMs;
      ready.erase(std::find(ready.begin(), ready.end(), pick));
    }
    begin = end;
  }
  if (earliest) return {nullptr, earliest, std::nullopt, ""};
  return refused;
}

std::shared_ptr<Resource> Pool::next_by_weight(
    const std::vector<std::shared_ptr<Resource>>& ready) {
  MutexLock lock(mu_);
  int total = 0;
  std::shared_ptr<Resource> best;
  int best_current = 0;
  for (const auto& r : ready) {
    int w = std::max(1, r->settings().weight);
    total += w;
    int& current = current_weight_[r->name()];
    current += w;
    if (!best || current > best_current) {
      best = r;
      best_current = current;
    }
  }
  current_weight_[best->name()] -= total;
  return best;
}

void Pool::start(std::shared_ptr<Call> c) {
  std::optional<Millis> full;  // the queue is: when a resource may be ready
  {
    MutexLock lock(queue_mu_);
    if (waiting_count_ >= kMaxWaiting) {
      full = dispatch_at_ ? dispatch_at_ : clock_.now_ms() + 1000;
    } else if (waiting_count_ > 0) {
      // Others already wait: this one waits its turn behind them (its
      // tenant's share), never ahead.
      enqueue(c, /*front=*/false);
      post_dispatch();
      return;
    }
  }
  if (full) {
    Choice choice;
    choice.retry_at = full;
    return finish(std::move(c), std::move(choice), clock_.now_ms());
  }
  place(std::move(c));
}

void Pool::place(std::shared_ptr<Call> c) {
  Millis now = clock_.now_ms();
  Choice choice = choose(*c, now);
  if (choice.resource) return send(std::move(c), std::move(choice.resource), now);
  if (choice.retry_at) {
    // Every eligible resource is at its limits or its breaker is open: wait
    // in the queue, in the tenant's fair share, until one is ready or the
    // budget is over; not when none can be ready before the budget ends (a
    // Retry-After longer than it): the answer would be the same, later.
    MutexLock lock(queue_mu_);
    if (waiting_count_ < kMaxWaiting && worth_waiting(*c, *choice.retry_at)) {
      enqueue(c, /*front=*/true);  // it was placed before (or is the first)
      arm_dispatch(*choice.retry_at);
      return;
    }
  }
  finish(std::move(c), std::move(choice), now);
}

void Pool::send(std::shared_ptr<Call> c, std::shared_ptr<Resource> r, Millis now) {
  std::chrono::milliseconds left(std::max<Millis>(c->deadline - now, 1));
  c->send(*r, left, [this, c, r](SubmitAnswer a) {
    r->submit_answered(a, clock_.now_ms());
    {
      // A place was freed (calls in flight, a breaker's probe): whoever waits
      // may go now.
      MutexLock lock(queue_mu_);
      if (waiting_count_ > 0) post_dispatch();
    }
    bool not_found =
        c->next_on_not_found && a.kind == SubmitAnswer::Kind::kRejected && a.status == 404;
    if (not_found) {
      c->excluded.push_back(r->name());
      c->last = std::move(a);
      c->last_resource = r->name();
      return place(c);
    }
    if (!moves_on(a)) return c->done(std::move(a), r->name());
    if (a.kind == SubmitAnswer::Kind::kAuthRefused || a.kind == SubmitAnswer::Kind::kFailed) {
      c->excluded.push_back(r->name());
    }
    c->last = std::move(a);
    c->last_resource = r->name();
    place(c);
  });
}

bool Pool::worth_waiting(const Call& c, Millis ready_at) {
  return ready_at + kAnswerMarginMs < c.deadline;
}

void Pool::finish(std::shared_ptr<Call> c, Choice choice, Millis now) {
  if (choice.retry_at && !c->last) {
    SubmitAnswer a;
    a.kind = SubmitAnswer::Kind::kThrottled;
    a.retry_after = queue_retry_after(*choice.retry_at - now);
    a.error_code = "PoolAtCapacity";
    a.error_message = "every upstream resource is at its limits or its breaker is open";
    c->last = std::move(a);
  }
  if (!c->last && choice.refused) {
    c->last = std::move(choice.refused);
    c->last_resource = choice.refused_by;
  }
  if (!c->last) {
    SubmitAnswer a;
    a.kind = SubmitAnswer::Kind::kFailed;
    a.status = 503;
    a.error_code = "NoUpstreamResource";
    if (c->pin.empty()) {
      a.error_message = "no upstream resource takes new analyses: every one is draining";
    } else if (auto pinned = find(c->pin); pinned && pinned->draining()) {
      a.error_message = "the upstream resource '" + c->pin +
                        "' this belongs to is draining and takes no new calls";
    } else {
      a.error_message =
          "the upstream resource '" + c->pin + "' this belongs to is not in the pool";
    }
    c->last = std::move(a);
  }
  SubmitAnswer last = std::move(*c->last);
  c->done(std::move(last), c->last_resource);
}

// ---- The queue: per-tenant lines served in turn (docs/design.md,
// "Upstream pools", admission).

void Pool::enqueue(const std::shared_ptr<Call>& c, bool front) {
  auto& line = waiting_[c->tenant];
  if (front) {
    line.push_front(c);
  } else {
    line.push_back(c);
  }
  if (!c->queued) c->queued_at = clock_.now_ms();
  c->queued = true;
  ++waiting_count_;
  metrics::set_submit_queue(static_cast<double>(waiting_count_));
  // The budget's end, less the margin an answer needs: then it leaves.
  Millis expire_in = std::max<Millis>(c->deadline - kAnswerMarginMs - clock_.now_ms(), 0);
  client_.post_after(std::chrono::milliseconds(expire_in), [this, c] { expire(c); });
}

bool Pool::dequeue(const std::shared_ptr<Call>& c) {
  if (!c->queued) return false;
  auto it = waiting_.find(c->tenant);
  if (it != waiting_.end()) {
    auto& line = it->second;
    line.erase(std::find(line.begin(), line.end(), c));
    if (line.empty()) waiting_.erase(it);
  }
  c->queued = false;
  --waiting_count_;
  metrics::set_submit_queue(static_cast<double>(waiting_count_));
  metrics::observe_submit_queue_wait(static_cast<double>(clock_.now_ms() - c->queued_at) / 1000.0);
  return true;
}

void Pool::expire(const std::shared_ptr<Call>& c) {
  Millis now = clock_.now_ms();
  Choice choice;
  {
    MutexLock lock(queue_mu_);
    if (!dequeue(c)) return;  // it went out meanwhile
    choice.retry_at = dispatch_at_ ? dispatch_at_ : now + 1000;
  }
  finish(c, std::move(choice), now);
}

void Pool::post_dispatch() {
  if (dispatch_posted_) return;
  dispatch_posted_ = true;
  client_.post([this] { dispatch(); });
}

void Pool::arm_dispatch(Millis at) {
  if (dispatch_at_ != 0 && dispatch_at_ <= at) return;
  dispatch_at_ = at;
  Millis in = std::max<Millis>(at - clock_.now_ms(), 0);
  client_.post_after(std::chrono::milliseconds(in), [this, at] {
    {
      MutexLock lock(queue_mu_);
      if (dispatch_at_ == at) dispatch_at_ = 0;
    }
    dispatch();
  });
}

void Pool::dispatch() {
  {
    MutexLock lock(queue_mu_);
    dispatch_posted_ = false;
  }
  // Tenants in turn, one call each, starting after the last one served; a
  // tenant whose first call cannot go now is passed over until every
  // tenant's first call was tried once without a resource.
  std::vector<std::string> stuck;
  std::optional<Millis> earliest;
  for (;;) {
    std::shared_ptr<Call> c;
    {
      MutexLock lock(queue_mu_);
      if (waiting_.empty()) return;
      auto it = waiting_.upper_bound(turn_);
      for (std::size_t seen = 0; seen < waiting_.size(); ++seen, ++it) {
        if (it == waiting_.end()) it = waiting_.begin();
        if (std::find(stuck.begin(), stuck.end(), it->first) == stuck.end()) break;
      }
      if (stuck.size() >= waiting_.size()) {
        if (earliest) arm_dispatch(*earliest);
        return;
      }
      c = it->second.front();
    }
    Millis now = clock_.now_ms();
    Choice choice = choose(*c, now);
    if (choice.resource) {
      {
        MutexLock lock(queue_mu_);
        turn_ = c->tenant;
        if (!dequeue(c)) {
          // Expired meanwhile: its place goes back unused.
          choice.resource->give_back();
          continue;
        }
      }
      send(std::move(c), std::move(choice.resource), now);
      stuck.clear();
      continue;
    }
    if (choice.retry_at && worth_waiting(*c, *choice.retry_at)) {
      stuck.push_back(c->tenant);
      earliest = earliest ? std::min(*earliest, *choice.retry_at) : *choice.retry_at;
      continue;
    }
    // Nothing can take it within its budget (no resource is ready before it
    // ends) or ever (drained, refused): answered at once.
    {
      MutexLock lock(queue_mu_);
      if (!dequeue(c)) continue;
    }
    finish(std::move(c), std::move(choice), now);
  }
}

std::chrono::milliseconds Pool::queue_retry_after(Millis until_ready) {
  // The queue's length over the pool's submit rate, at least the time until
  // a resource is ready, at least 1 s.
  double rate = 0;
  for (const auto& r : resources()) {
    if (r->draining()) continue;
    double per_s = r->settings().limits.submits_per_second;
    if (int per_min = r->settings().limits.operations_per_minute; per_min > 0) {
      per_s = per_s > 0 ? std::min(per_s, per_min / 60.0) : per_min / 60.0;
    }
    if (!(per_s > 0)) {
      rate = 0;
      break;
    }
    rate += per_s;
  }
  std::size_t waiting = 0;
  {
    MutexLock lock(queue_mu_);
    waiting = waiting_count_;
  }
  Millis ms = rate > 0 ? static_cast<Millis>(static_cast<double>(waiting) * 1000.0 / rate) : 0;
  ms = std::max({ms, until_ready, Millis{1000}});
  return std::chrono::milliseconds(std::min<Millis>(ms, 3'600'000));
}

void Pool::lookup(std::string analyzer_id, std::string operation_id,
                  std::function<void(PollAnswer)> done, CallTags tags) {
  auto order = std::make_shared<std::vector<std::shared_ptr<Resource>>>(by_priority(resources()));
  lookup_from(std::move(order), 0, std::move(analyzer_id), std::move(operation_id),
              std::move(done), std::move(tags), std::nullopt);
}

void Pool::lookup_from(std::shared_ptr<std::vector<std::shared_ptr<Resource>>> order,
                       std::size_t i, std::string analyzer_id, std::string operation_id,
                       std::function<void(PollAnswer)> done, CallTags tags,
                       std::optional<PollAnswer> last) {
  for (; i < order->size(); ++i) {
    auto r = (*order)[i];
    if (r->take_poll(clock_.now_ms()) > 0) {
      PollAnswer busy;
      busy.kind = PollAnswer::Kind::kTransient;
      busy.error_code = "PoolAtCapacity";
      busy.error_message = "upstream resource '" + r->name() + "' is at its poll limit";
      if (!last) last = std::move(busy);
      continue;
    }
    r->caller().lookup(
        analyzer_id, operation_id,
        [this, order, i, r, analyzer_id, operation_id, done, tags,
         last](PollAnswer a) mutable {
          r->poll_answered(a, clock_.now_ms());
          bool unknown_here = a.kind == PollAnswer::Kind::kVanished;
          if (!unknown_here || i + 1 >= order->size()) {
            // The last resource's "unknown" beats an earlier "busy" only
            // when no resource could be asked at all.
            if (unknown_here && last && last->kind == PollAnswer::Kind::kTransient) {
              return done(std::move(*last));
            }
            return done(std::move(a));
          }
          lookup_from(order, i + 1, std::move(analyzer_id), std::move(operation_id),
                      std::move(done), std::move(tags), std::move(last));
        },
        tags);
    return;
  }
  if (last) return done(std::move(*last));
  PollAnswer none;
  none.kind = PollAnswer::Kind::kVanished;
  done(std::move(none));
}

}  // namespace lrogate::upstream
