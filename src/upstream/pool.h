// Pool: the upstream resources one gateway spreads its operations over
// (docs/design.md, "Upstream pools"), built from PoolSettings
// (upstream/pool_settings.h) at start and again on SIGHUP.
//
// Submits (and analyzer calls) are placed by priority, then by weight
// (smooth weighted round-robin, exact shares), among
// the resources that can take one now: not draining, breaker closed (or
// half-open with no probe out), under their limits (submits/s, operations
// a minute, calls in flight). A resource whose own limits are used up is
// passed over for the next one, of the same priority or the next. A submit
// whose resource answers 429, 5xx, a timeout, a credential refusal or an
// unusable answer opens that resource's breaker (upstream/breaker.h) and
// moves on; one that finds no resource ready waits for the earliest to be
// ready, within its budget (--submit-timeout), then answers with the last
// answer it had (or "throttled" when it never went out). Resources that
// refused the gateway's credentials or failed for good are not tried again
// by the same submit. A 4xx refusal of the input ends the submit: another
// resource would refuse it too.
//
// Operations are bound to the resource that accepted them (the record's
// `resource`): the poller asks find(name) for it and polls through that
// resource's caller for its shard, under the resource's polls/s and calls
// in flight (take_poll). A resource that answers a poll 429 with
// Retry-After holds all its polls until then.
//
// Reload (apply on SIGHUP): resources are matched by name. A new one is
// added; one whose settings changed is replaced (operations bound to it go
// on with the new endpoint and credentials; the same-origin guard still
// applies); one no longer listed drains: it takes no submits and polls its
// operations to the end (after a restart without it, its operations fail
// when --max-wait ends: see poller/shard.cpp). Replaced and removed
// resources' objects are kept until the Pool is destroyed (their callers
// may have calls in flight and their credentials timers).
//
// Thread-safe. Callbacks run on the calling client's I/O thread. The Pool
// must be destroyed after every client it was given has stopped.
#pragma once

#include <atomic>
#include <chrono>
#include <deque>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "base/clock.h"
#include "base/result.h"
#include "base/sliding_window.h"
#include "base/thread_annotations.h"
#include "http/client.h"
#include "upstream/auth/credential.h"
#include "upstream/breaker.h"
#include "upstream/caller.h"
#include "upstream/pool_settings.h"
#include "upstream/shared_budget.h"
#include "upstream/upstream.h"

namespace lrogate::upstream {

// A rate of `per_second` as a sliding window: at most `limit` calls in any
// `window_ms` (15/s: 15 in 1000 ms; 0.5/s: 1 in 2000 ms). per_second <= 0:
// no limit (limit 0).
struct WindowLimit {
  int limit = 0;
  Millis window_ms = 1000;
};
WindowLimit window_limit(double per_second);

// What each of a resource's windows is held longer than its limit says: the
// time between a call leaving and reaching the resource varies by a few
// milliseconds, and two calls exactly one window apart when they left can
// arrive closer, inside the resource's own window (its 429). 20 ms costs 2 %
// of a 1 s window's rate.
inline constexpr Millis kWindowSlackMs = 20;

// One resource at run time: its adapter, credential and callers (one on the
// API's client, one on each poller shard's client), its breaker and the
// windows of its limits.
class Resource {
 public:
  // ledger: the budget the replicas share (each rate limit is then also a
  // SharedWindow's); empty: this replica's windows are the whole cluster's.
  Resource(ResourceSettings settings, std::unique_ptr<Upstream> upstream,
           std::unique_ptr<Credential> credential, http::Client& client,
           const std::vector<http::Client*>& shard_clients, const Clock& clock,
           const BudgetLedger& ledger = {});
  Resource(const Resource&) = delete;
  Resource& operator=(const Resource&) = delete;

  const std::string& name() const { return settings_.name; }
  // As built (its `drain` as then: draining() is the current one).
  const ResourceSettings& settings() const { return settings_; }
  const Upstream& upstream() const { return *upstream_; }
  Caller& caller() { return *callers_.front(); }
  // The caller on poller shard `shard`'s client.
  Caller& poll_caller(std::size_t shard);

  bool draining() const { return draining_.load(); }
  void set_draining(bool d) { draining_.store(d); }

  // A submit-type call: nullopt while a half-open probe is out (ask again
  // soon), else the earliest time the breaker and the limits allow one
  // (<= now: now). Takes nothing.
  std::optional<Millis> submit_ready_at(Millis now) EXCLUDES(mu_);
  // While the breaker is open because the resource refused the gateway's
  // credentials or failed for good (not worth waiting for within one
  // submit): that answer. Otherwise nullopt.
  std::optional<SubmitAnswer> hard_failure(Millis now) EXCLUDES(mu_);
  // Takes a place for a submit-type call now, when the breaker and every
  // limit allow one; false otherwise.
  bool take_submit(Millis now) EXCLUDES(mu_);
  // A place taken and not used (the call left meanwhile): freed, the
  // breaker not judged (its window keeps the call: erring on the safe side).
  void give_back() EXCLUDES(mu_);
  // Its answer: judges the breaker and frees the call's place.
  void submit_answered(const SubmitAnswer& a, Millis now) EXCLUDES(mu_);
  // A poll-type call (polls, lookups): 0 and a place taken, or the ms until
  // polls/s, calls in flight or a 429's Retry-After may allow one.
  Millis take_poll(Millis now) EXCLUDES(mu_);
  void poll_answered(const PollAnswer& a, Millis now) EXCLUDES(mu_);

  // For /metrics and /readyz.
  Breaker::State breaker_state(Millis now) EXCLUDES(mu_);
  void publish_metrics(Millis now) EXCLUDES(mu_);

 private:
  Millis limits_ready_at(Millis now) REQUIRES(mu_);
  // now, or a little later while calls in flight are at their limit.
  Millis in_flight_ready_at(Millis now) REQUIRES(mu_);

  const ResourceSettings settings_;
  const std::unique_ptr<Upstream> upstream_;
  const std::unique_ptr<Credential> credential_;
  std::vector<std::unique_ptr<Caller>> callers_;  // [0]: the API's client; [1 + i]: shard i
  std::atomic<bool> draining_;
  const WindowLimit submits_limit_;
  const WindowLimit polls_limit_;

  Mutex mu_;
  Breaker breaker_ GUARDED_BY(mu_);
  SlidingWindow submits_ GUARDED_BY(mu_);
  SlidingWindow operations_ GUARDED_BY(mu_);
  SlidingWindow polls_ GUARDED_BY(mu_);
  // The same limits shared with the other replicas (null: not shared, or
  // no limit). Taken under mu_, so a check and its take see one state.
  std::unique_ptr<SharedWindow> shared_submits_ PT_GUARDED_BY(mu_);
  std::unique_ptr<SharedWindow> shared_operations_ PT_GUARDED_BY(mu_);
  std::unique_ptr<SharedWindow> shared_polls_ PT_GUARDED_BY(mu_);
  int in_flight_ GUARDED_BY(mu_) = 0;
  Millis polls_held_until_ GUARDED_BY(mu_) = 0;  // a poll's 429 asked to wait until then
  std::optional<SubmitAnswer> hard_failure_ GUARDED_BY(mu_);
};

class Pool {
 public:
  using SubmitDone = std::function<void(SubmitAnswer, std::string resource)>;

  // client: the API's (submits, analyzer calls, lookups, token fetches);
  // shard_clients: one per poller shard (polls); ledger: the budget shared
  // with the other replicas of a shared store (empty: none, every limit is
  // this process's; see Resource).
  Pool(http::Client& client, std::vector<http::Client*> shard_clients, const Clock& clock,
       BudgetLedger ledger = {});
  Pool(const Pool&) = delete;
  Pool& operator=(const Pool&) = delete;

  // Builds the resources (at start) or reloads them (SIGHUP): see the head
  // of this file. An error (an adapter or credential that cannot be built,
  // a kind other than the pool's) leaves the pool as it was.
  Result<void> apply(const PoolSettings& settings) EXCLUDES(mu_);

  // Starts an analysis on a resource of the pool (`pin`: on that one only,
  // "" any), within `budget`, waiting in `tenant`'s line when no resource is
  // ready; done gets the answer and the resource that gave it ("" when no
  // resource was tried).
  void submit(std::string tenant, std::string_view analyzer_id, std::string body,
              std::string_view content_type, std::string pin, std::chrono::milliseconds budget,
              SubmitDone done, CallTags tags = {}, SubmitOptions options = {});
  // An analyzer call (create, read, delete), placed as a submit is; a read
  // or delete that a resource answers 404 asks the next one (the analyzer
  // may live on another), and answers the last 404 when none has it.
  void analyzer(std::string tenant, AnalyzerCall call, std::string_view analyzer_id,
                std::string body, bool allow_replace, std::string pin,
                std::chrono::milliseconds budget, SubmitDone done, CallTags tags = {},
                SubmitOptions options = {});
  // An operation this gateway does not know: each resource is asked in turn
  // (by priority, in the file's order) until one knows it; kVanished when
  // none does.
  void lookup(std::string analyzer_id, std::string operation_id,
              std::function<void(PollAnswer)> done, CallTags tags = {});

  // The resource named so (draining ones included); null when none is.
  std::shared_ptr<Resource> find(std::string_view name) const EXCLUDES(mu_);
  std::vector<std::shared_ptr<Resource>> resources() const EXCLUDES(mu_);
  // The JSON body that asks the pool's service to analyze the document at
  // url (one service per pool: any resource's adapter says the same).
  std::string document_url_body(std::string_view url) const;
  // The pool's service (settings.kind: azure-cu, azure-di, generic) and the
  // versions its adapter serves (Upstream::api_versions).
  std::string kind() const EXCLUDES(mu_);
  std::vector<std::string> api_versions() const;
  // Whether every resource that takes submits has its breaker open (or
  // none takes submits): /readyz says "degraded".
  bool degraded(Millis now) const;
  void publish_metrics(Millis now) const;

  // The most calls waiting for a resource at once; past it a submit is
  // answered 503 at once.
  static constexpr std::size_t kMaxWaiting = 10'000;

 private:
  struct Call;
  // One attempt of a call on a resource, given at most `timeout`.
  using SendAttempt = std::function<void(Resource&, std::chrono::milliseconds,
                                         std::function<void(SubmitAnswer)>)>;
  // A submit-type call's shared start: its Call, then start().
  void run(std::string tenant, std::string pin, std::chrono::milliseconds budget, SubmitDone done,
           SendAttempt send, bool next_on_not_found);
  // The time an attempt needs at least: a call leaves the queue this long
  // before its budget ends.
  static constexpr Millis kAnswerMarginMs = 100;

  void start(std::shared_ptr<Call> c);  // a new call: placed, or queued behind others
  void place(std::shared_ptr<Call> c);  // now, or queued at its tenant's front
  void send(std::shared_ptr<Call> c, std::shared_ptr<Resource> r, Millis now);
  // The resource to try now (a place taken), or the time to ask again.
  struct Choice {
    std::shared_ptr<Resource> resource;
    std::optional<Millis> retry_at;  // nullopt with no resource: none can take it soon
    // With neither: the answer of a resource whose breaker a hard failure
    // opened (answered at once), and its name.
    std::optional<SubmitAnswer> refused;
    std::string refused_by;
  };
  Choice choose(const Call& c, Millis now);
  // Whether a resource ready at `ready_at` (at the earliest) leaves the call
  // time for an attempt within its budget.
  static bool worth_waiting(const Call& c, Millis ready_at);
  // Smooth weighted round-robin over `ready` (one priority's resources).
  std::shared_ptr<Resource> next_by_weight(const std::vector<std::shared_ptr<Resource>>& ready)
      EXCLUDES(mu_);
  // Answers a call that cannot go: the last answer it had, else what the
  // choice says (throttled with the queue's Retry-After, a hard refusal,
  // or no resource).
  void finish(std::shared_ptr<Call> c, Choice choice, Millis now);
  void enqueue(const std::shared_ptr<Call>& c, bool front) REQUIRES(queue_mu_);
  bool dequeue(const std::shared_ptr<Call>& c) REQUIRES(queue_mu_);
  void expire(const std::shared_ptr<Call>& c) EXCLUDES(queue_mu_);
  void post_dispatch() REQUIRES(queue_mu_);
  void arm_dispatch(Millis at) REQUIRES(queue_mu_);
  void dispatch() EXCLUDES(queue_mu_);
  std::chrono::milliseconds queue_retry_after(Millis until_ready) EXCLUDES(queue_mu_);
  void lookup_from(std::shared_ptr<std::vector<std::shared_ptr<Resource>>> order, std::size_t i,
                   std::string analyzer_id, std::string operation_id,
                   std::function<void(PollAnswer)> done, CallTags tags,
                   std::optional<PollAnswer> last);

  http::Client& client_;
  const std::vector<http::Client*> shard_clients_;
  const Clock& clock_;
  const BudgetLedger ledger_;

  mutable Mutex mu_;
  std::vector<std::shared_ptr<Resource>> resources_ GUARDED_BY(mu_);  // the file's order
  std::vector<std::shared_ptr<Resource>> retired_ GUARDED_BY(mu_);    // replaced ones
  std::string kind_ GUARDED_BY(mu_);
  std::map<std::string, int, std::less<>> current_weight_ GUARDED_BY(mu_);  // round-robin state

  // The calls waiting for a resource, a line per tenant, served in turn.
  Mutex queue_mu_;
  std::map<std::string, std::deque<std::shared_ptr<Call>>, std::less<>> waiting_
      GUARDED_BY(queue_mu_);
  std::size_t waiting_count_ GUARDED_BY(queue_mu_) = 0;
  std::string turn_ GUARDED_BY(queue_mu_);        // the tenant served last
  Millis dispatch_at_ GUARDED_BY(queue_mu_) = 0;  // a timer will dispatch then; 0: none
  bool dispatch_posted_ GUARDED_BY(queue_mu_) = false;
};

}  // namespace lrogate::upstream
