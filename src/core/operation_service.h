// OperationService: the rules around the record, shared by the API and the
// poller — what an operation looks like when it is created, when a client can
// still see it, how retrieval and expiry work, how transitions are written.
//
// It owns no I/O beyond the OperationStore it is given and no threads; it is
// as thread-safe as that store. Time comes from the injected Clock.
#pragma once

#include <chrono>
#include <functional>
#include <optional>
#include <string>
#include <vector>

#include "base/clock.h"
#include "base/result.h"
#include "core/notifier.h"
#include "core/operation.h"
#include "core/poll_history.h"
#include "core/service_config.h"
#include "store/operation_store.h"

namespace lrogate::core {

struct NewOperation {
  std::string id;
  std::string tenant = "default";
  std::string analyzer_id;
  std::string upstream_url;
  std::string idempotency_key;
  store::Kind kind = store::Kind::kAnalysis;
  // The pool resource that accepted it: its polls go there and nowhere else.
  std::string resource = "default";
  // The document's size band (core::size_band), -1 when the submit does not
  // tell: its schedule learns from its band's durations.
  int size_band = -1;
  // Where its completion event goes (docs/design.md, "Completion webhooks");
  // empty: nowhere.
  std::string callback_url{};
  // The submitted body's size (usage's bytes in).
  std::int64_t request_bytes = 0;
  // What a later submit asking for reuse matches (store::Operation::
  // reuse_key); empty: not reusable.
  std::string reuse_key{};
};

// What a final transition tells its receivers (docs/design.md, "Completion
// webhooks"): the event's bytes for the operation as it is once final, a
// call made after a completion wrote events (wakes the dispatcher), and the
// endpoints a tenant's settings name (canonical receiver URLs; null: none),
// which get every final transition of that tenant's operations.
struct EventWriter {
  std::function<std::string(const Operation& final_op, std::string_view event_id)> body;
  std::function<void()> written;
  std::function<std::vector<std::string>(std::string_view tenant)> endpoints = {};
};

enum class CancelOutcome { kNotFound, kCanceled, kPurged };

// What an idempotency key says about a submit before it goes upstream.
struct KeyCheck {
  enum class Kind {
    kFirst,     // this request reserved the key: submit, then bind or release
    kReplay,    // the same request was accepted before: answer with operation_id
    kMismatch,  // the key was used for a different request (422)
    kInFlight,  // the first request with this key has not finished yet (409)
  } kind = Kind::kFirst;
  std::string operation_id;
};

struct Page {
  std::vector<Operation> items;
  std::string next_token;  // empty on the last page
};

class OperationService {
 public:
  OperationService(store::OperationStore& store, const Clock& clock, ServiceConfig config);
  // With the cluster's clock, which sync_clock() keeps on the store's.
  OperationService(store::OperationStore& store, ClusterClock& clock, ServiceConfig config);
  ~OperationService();
  OperationService(const OperationService&) = delete;
  OperationService& operator=(const OperationService&) = delete;

  // Records an operation the upstream accepted, due for its first poll.
  // kConflict if the id is already known.
  Result<Operation> record_submitted(const NewOperation& n);
  // Reuse of results (docs/design.md, "Reuse of results"): when n.tenant has
  // a Succeeded operation with n.reuse_key that has not expired, records a
  // new operation under a fresh id that is Succeeded already, with that
  // result (expiring at result_ttl from now; neither reusable itself nor
  // holding n's idempotency key, which the caller binds), and returns it;
  // nullopt when there is none. No upstream call, no poll, no event and no
  // usage: it is written final in one insert.
  Result<std::optional<Operation>> reuse(const NewOperation& n);

  // The operation as a client may see it: nullopt when unknown or expired
  // (an expired record reads as gone even before the sweep deletes it).
  Result<std::optional<Operation>> find(std::string_view id);
  // What find() would answer, when the store can tell from memory without
  // I/O (store::OperationStore::cached), shared and not copied; null: call
  // find() where blocking is allowed. An expired record is a miss here
  // (find() reads it as gone).
  std::shared_ptr<const Operation> cached(std::string_view id);

  // Called after a client was handed a terminal answer: starts the retrieval
  // grace on the first retrieval, or deletes the record when the grace is 0.
  Result<void> note_retrieved(const Operation& op);

  // The latest creation of analyzer `analyzer_id` this gateway followed, as
  // a client may see it (not expired), whoever submitted it; nullopt if none.
  Result<std::optional<Operation>> latest_creation(std::string_view analyzer_id);
  // What latest_creation would answer, from memory without I/O
  // (store::OperationStore::cached_latest_of_kind): nullopt when only
  // latest_creation can tell; a null record inside: none.
  std::optional<std::shared_ptr<const Operation>> cached_latest_creation(
      std::string_view analyzer_id);

  // Stops polling a running operation (it ends Canceled) or purges a final one.
  Result<CancelOutcome> cancel(std::string_view id);

  // The tenant's operations, newest first; skip_token comes from a previous
  // page (kInvalidArgument when it is not one).
  Result<Page> list(const std::string& tenant, std::optional<Status> status, int top,
                    std::string_view skip_token);

  // Idempotent submits: the key is held for max_wait + result_ttl.
  Result<KeyCheck> check_key(const std::string& tenant, const std::string& key,
                             const std::string& request_hash);
  Result<void> bind_key(const std::string& tenant, const std::string& key,
                        const std::string& operation_id);
  Result<void> release_key(const std::string& tenant, const std::string& key);

  // The learned durations (core/poll_history.h): a new analysis's first
  // poll follows them (with config().learned_schedule), and every analysis
  // this service sees succeed from a poll adds to them, here and in the
  // store. Null: nothing is learned. Set before serving.
  void set_history(PollHistory* history) { history_ = history; }
  PollHistory* history() const { return history_; }
  // The learned durations an operation's schedule follows; null: none yet.
  std::shared_ptr<const DurationSketch> learned_for(const Operation& op) const;
  // Loads every replica's learned durations from the store into history()
  // (a store call: on a store thread).
  Result<void> refresh_history();

  // With events set, every final transition of an operation with a
  // callback, or of a tenant with endpoints (EventWriter::endpoints), writes
  // its event to the outbox in the completion's own transaction
  // (store::Completion::deliveries), one delivery per receiver: id "msg_" +
  // the operation's id for its callback, "msg_" + id + "~" + 12 hex digits
  // of the SHA-256 of the URL for each other endpoint. Set before serving.
  void set_events(EventWriter events) { events_ = std::move(events); }

  // The webhook outbox, for the API: a tenant's deliveries (newest first;
  // skip_token from a previous page), one of them, an operator's retry of a
  // failed one (false when it is not failed).
  struct DeliveryPage {
    std::vector<store::Delivery> items;
    std::string next_token;
  };
  Result<DeliveryPage> list_deliveries(const std::string& tenant,
                                       std::optional<store::DeliveryStatus> status, int top,
                                       std::string_view skip_token);
  Result<std::optional<store::Delivery>> find_delivery(std::string_view id);
  Result<bool> redeliver(std::string_view id);

  // Usage (docs/design.md, "Usage and quotas"): totals over UTC days
  // [from_day, to_day) of one tenant (empty: every tenant), and one
  // tenant's day so far with its operations in flight (for quotas).
  Result<std::vector<store::UsageRow>> usage_between(std::int64_t from_day, std::int64_t to_day,
                                                     const std::string& tenant,
                                                     store::UsageGroup group) {
    return store_.usage_between(from_day, to_day, tenant, group);
  }
  Result<store::UsageToday> usage_on(const std::string& tenant, std::int64_t day) {
    return store_.usage_on(tenant, day);
  }

  // Long-poll waiters are woken on every final transition made here.
  Notifier& notifier() { return notifier_; }

  // --- the poller's side ---
  // Leaves out the due records of `skip_resources` (the poller's resources
  // whose share of its queue is full).
  Result<std::vector<Operation>> claim_due(std::string_view owner, std::chrono::milliseconds lease,
                                           int limit,
                                           const std::vector<std::string>& skip_resources = {});
  Result<bool> record_progress(const Operation& op, std::string_view owner, Status status,
                               Millis next_poll_at, int attempts);
  // Many of those in one store transaction; one answer per write, in order.
  struct ProgressWrite {
    const Operation* op;
    Status status;
    Millis next_poll_at;
    int attempts;
    // Upstream polls since the record was last written (a shard that held
    // the operation in memory between polls writes them at once).
    int polls = 1;
  };
  Result<std::vector<bool>> record_progress_many(std::string_view owner,
                                                 const std::vector<ProgressWrite>& writes);
  // Ends the operation; the record then expires at result_ttl. `polls`:
  // the upstream polls since the record was last written (the one that
  // finished it included; 0 for a finish that polled nothing). A Succeeded
  // analysis counts its usage (pages and tokens as the upstream reported
  // them; its bytes in and out) in the completion's own transaction.
  Result<bool> finish(const Operation& op, std::string_view owner, Status status,
                      std::string result, std::string result_type, std::string error_code,
                      std::string error_message, int polls = 1, std::int64_t pages = 0,
                      std::int64_t tokens = 0);
  Result<std::optional<Millis>> next_due();
  // The poller's heartbeat: keeps the leases on work it still holds;
  // returns the ids still held (store::OperationStore::renew_leases).
  Result<std::vector<std::string>> renew_leases(std::string_view owner,
                                                const std::vector<std::string>& ids,
                                                std::chrono::milliseconds lease);
  // On start with a store this process alone uses, frees every lease (all
  // work resumes at once); with a shared store, does nothing: leases of dead
  // replicas expire and are claimed again.
  Result<int> resume_all();
  // Deletes expired records; returns how many.
  Result<int> sweep(int limit);
  // Measures the cluster clock's offset from the store's clock again (a
  // store call: on a store thread, or before serving). Nothing without a
  // cluster clock or with a store that has no shared clock (SQLite).
  Result<void> sync_clock();

  Millis now() const { return clock_.now_ms(); }
  const ServiceConfig& config() const { return config_; }
  store::OperationStore& store() { return store_; }

 private:
  store::OperationStore& store_;
  const Clock& clock_;
  ClusterClock* cluster_ = nullptr;  // the same clock, when it is the cluster's
  // A completion's duration, learned (after finish() wrote it).
  void learn(const Operation& op, Millis now);

  // The completion's outbox rows for `op` ending as `c` says (none without
  // a callback or events).
  std::vector<store::NewDelivery> events_for(const Operation& op, const store::Completion& c) const;

  ServiceConfig config_;
  Notifier notifier_;
  EventWriter events_;
  PollHistory* history_ = nullptr;
};

}  // namespace lrogate::core
