// OperationStore: durable operation records, the single source of truth.
//
// Every method is one transaction. Transitions are conditional writes: a
// progress or completion write takes effect only while the caller holds the
// lease and the record is not terminal, so two pollers can never both finish
// one operation and a terminal state is never overwritten. Implementations
// are thread-safe. Errors: kConflict (duplicate id), kInvalidArgument (a
// record without its resource), kUnavailable (the database cannot answer
// now), kInternal.
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <tuple>
#include <vector>

#include "base/result.h"
#include "store/operation_record.h"

namespace lrogate::store {

// A poll that did not finish the operation.
struct Progress {
  Status status = Status::kRunning;  // NotStarted or Running
  Millis next_poll_at = 0;
  int attempts = 0;
  Millis now = 0;
  std::int64_t fence = 0;  // the record's fence as claim_due returned it
  // Upstream polls made since the record was last written, added to its
  // poll_count (a poller that keeps an operation in memory between polls
  // writes several at once).
  int polls = 1;
};

// A completion event for one receiver, written with the completion that
// makes it (docs/design.md, "Completion webhooks"): the outbox.
struct NewDelivery {
  std::string id;    // the webhook-id, the same on every attempt; unique
  std::string url;   // the receiver
  std::string body;  // the event: every attempt sends exactly these bytes
};

enum class DeliveryStatus { kPending, kDelivered, kFailed };
const char* delivery_status_name(DeliveryStatus s);  // "pending", "delivered", "failed"
std::optional<DeliveryStatus> parse_delivery_status(std::string_view name);

struct Delivery {
  std::string id;
  std::string operation_id;
  std::string tenant;  // the operation's
  std::string url;
  std::string body;  // empty in list_deliveries()
  DeliveryStatus status = DeliveryStatus::kPending;
  int attempts = 0;  // attempts made (recorded)
  Millis created_at = 0;
  Millis updated_at = 0;
  Millis next_attempt_at = 0;  // while pending
  std::string lease_owner;
  std::optional<Millis> lease_until;
  std::int64_t fence = 0;  // incremented by every claim, as an operation's
  int last_status = 0;     // the receiver's last HTTP status; 0: no answer
  std::string last_error;  // why the last attempt failed; empty when none did
};

// What one attempt came to.
struct DeliveryAttempt {
  // kDelivered: done. kPending: try again at next_attempt_at. kFailed: given
  // up (the schedule is over, or the receiver answered 410).
  DeliveryStatus status = DeliveryStatus::kDelivered;
  Millis next_attempt_at = 0;
  int last_status = 0;
  std::string last_error;
  Millis now = 0;
  std::int64_t fence = 0;  // the delivery's fence as claim_deliveries returned it
  // The receiver answered 410 Gone: its url is disabled (this and every
  // other pending delivery to it that no claim holds end failed, and later
  // completions' events to it are written failed) until an operator
  // redelivers one of them.
  bool disable_url = false;
};

struct DeliveryQuery {
  std::string tenant;  // empty: every tenant's
  std::optional<DeliveryStatus> status;
  std::optional<Millis> after_created;  // cursor: (created_at, id) of the last row seen
  std::string after_id;
  int limit = 50;
};

// What one Succeeded analysis used (docs/design.md, "Usage and quotas"):
// counted to its tenant and analyzer on the UTC day of its completion.
struct Usage {
  std::int64_t pages = 0;
  std::int64_t tokens = 0;
  std::int64_t bytes_in = 0;   // the submitted body as the gateway received it
  std::int64_t bytes_out = 0;  // the stored result
};

// Days since the epoch, UTC, of a time in ms: usage is kept per such day.
inline std::int64_t utc_day(Millis ms) {
  return ms >= 0 ? ms / 86'400'000 : -((-ms + 86'399'999) / 86'400'000);
}

// One row of usage_between: a tenant's or an analyzer's totals.
struct UsageRow {
  std::string key;  // the tenant or the analyzer, as grouped
  std::int64_t operations = 0;
  std::int64_t pages = 0;
  std::int64_t tokens = 0;
  std::int64_t bytes_in = 0;
  std::int64_t bytes_out = 0;
};
enum class UsageGroup { kTenant, kAnalyzer };

// What a quota is judged by: a tenant's day so far, and its operations
// not final yet.
struct UsageToday {
  std::int64_t operations = 0;  // succeeded on that day
  std::int64_t pages = 0;
  std::int64_t in_flight = 0;  // not final now, whenever submitted
};

// A poll (or a timeout, or a cancel) that finished it.
struct Completion {
  Status status = Status::kSucceeded;
  std::string result;
  std::string result_type;
  std::string error_code;
  std::string error_message;
  Millis now = 0;
  Millis expires_at = 0;
  std::int64_t fence = 0;  // checked with an owner: the fence of its claim
  // Upstream polls made since the record was last written (none for a
  // cancel or a timeout), added to its poll_count.
  int polls = 0;
  // The completion's events, inserted pending (due at `now`) in the same
  // transaction when, and only when, the completion takes effect; one to a
  // disabled url is inserted failed ("endpoint disabled"). (`= {}`: a
  // positional initializer may stop before it, -Wmissing-field-initializers
  // allowing.)
  std::vector<NewDelivery> deliveries = {};
  // A Succeeded analysis's usage, added to usage_daily (its tenant, its
  // analyzer, utc_day(now)) in the same transaction when, and only when,
  // the completion takes effect: counted once, whatever retries, replicas
  // or restarts happen. None: nothing is counted (failures, cancels).
  std::optional<Usage> usage = {};
};

// Whose learned durations (issue 16): the operations of one analyzer on one
// upstream resource, for one size band of their documents.
struct DurationKey {
  std::string resource;  // the pool resource's name
  std::string analyzer;  // the analyzer's id
  int band = -1;         // Operation::size_band; -1 when unknown
  bool operator<(const DurationKey& o) const {
    return std::tie(resource, analyzer, band) < std::tie(o.resource, o.analyzer, o.band);
  }
};
// Buckets per key: 0..kDurationBuckets-1.
inline constexpr int kDurationBuckets = 64;
// How many completions of `key` fell in `bucket` (a range of durations that
// core/ defines).
struct DurationCount {
  DurationKey key;
  int bucket = 0;
  std::int64_t count = 0;
};

// A page of the list: newest first, strictly after the `after` cursor.
struct ListQuery {
  std::string tenant = "default";
  std::optional<Status> status;
  std::optional<Millis> after_created;  // cursor: (created_at, id) of the last row seen
  std::string after_id;
  int limit = 50;
  Millis now = 0;  // expired records are not listed
};

// An idempotency key's reservation: the first submit creates it before it
// calls the upstream; a retry finds it (UNIQUE (tenant, key) decides races).
struct Reservation {
  bool created = false;      // this call made it
  std::string request_hash;  // of the request that made it
  std::string operation_id;  // empty while that request is still in flight
};

class OperationStore {
 public:
  virtual ~OperationStore() = default;

  // kInvalidArgument when op.resource is empty: every record is bound to
  // the resource that accepted it.
  virtual Result<void> insert(const Operation& op) = 0;
  // The record. Every write this process made is seen; behind the read
  // cache of a shared store another process's write is seen once its Change
  // is heard (milliseconds), and its lease fields (lease_owner, lease_until,
  // fence: claims notify nothing) may be older. Clients never see those, and
  // the poller works from what claim_due returns.
  virtual Result<std::optional<Operation>> get(std::string_view id) = 0;
  // The record as get() would read it, when this process holds it in memory
  // and can answer without any I/O or wait (the read cache); null when only
  // get() can tell. The record is shared, never copied, and never changes
  // (a write replaces it). Safe to call on an event loop; the default has no
  // memory of records.
  virtual std::shared_ptr<const Operation> cached(std::string_view id) {
    (void)id;
    return nullptr;
  }

  // Leases up to `limit` non-terminal records due at `now` whose lease is
  // free or expired, and whose resource is not one of `skip_resources`, to
  // `owner` until `lease_until`; returns them, earliest due first. Every
  // claim increments the record's fence (a fencing token): a write carrying
  // an older fence comes from a claim that has since been superseded.
  // Skipped resources' due records are passed over in the walk of the due
  // index, so the claim's cost grows with how many of them are due first.
  virtual Result<std::vector<Operation>> claim_due(
      std::string_view owner, Millis now, Millis lease_until, int limit,
      const std::vector<std::string>& skip_resources) = 0;
  // Extends the leases `owner` still holds on `ids` to `lease_until` (the
  // poller's heartbeat); returns the ids it extended, each once, in no
  // particular order. An id missing from the answer is no longer the
  // owner's: taken over by another claim, finished, released or gone.
  virtual Result<std::vector<std::string>> renew_leases(std::string_view owner,
                                                        const std::vector<std::string>& ids,
                                                        Millis lease_until) = 0;
  // Records a non-final poll and releases the lease; false unless `owner`
  // holds the lease with the fence p.fence.
  virtual Result<bool> record_progress(std::string_view id, std::string_view owner,
                                       const Progress& p) = 0;
  // Several record_progress calls in one transaction (the poller's batches);
  // one answer per item, in order. The default runs them one by one.
  struct ProgressItem {
    std::string id;
    Progress progress;
  };
  virtual Result<std::vector<bool>> record_progress_many(std::string_view owner,
                                                         const std::vector<ProgressItem>& items) {
    std::vector<bool> out;
    out.reserve(items.size());
    for (const auto& it : items) {
      auto r = record_progress(it.id, owner, it.progress);
      if (!r) return r.error();
      out.push_back(r.value());
    }
    return out;
  }
  // Finishes the record; false if it is terminal already or another claim
  // has superseded `owner`'s (fence c.fence). An empty owner finishes
  // regardless of leases (cancel).
  virtual Result<bool> complete(std::string_view id, std::string_view owner,
                                const Completion& c) = 0;
  // Sets retrieved_at and expires_at on the first retrieval only.
  virtual Result<bool> mark_retrieved(std::string_view id, Millis now, Millis expires_at) = 0;
  virtual Result<bool> remove(std::string_view id) = 0;
  // Deletes up to `limit` records (and idempotency keys) whose expires_at <=
  // now; returns how many records.
  virtual Result<int> delete_expired(Millis now, int limit) = 0;
  // The newest record of `kind` for `analyzer_id` that has not expired at
  // `now` (an analyze asks for the analyzer's latest creation), if any.
  // Only for kinds other than kAnalysis: analyses are not indexed by
  // analyzer, and this never finds one.
  virtual Result<std::optional<Operation>> latest_of_kind(Kind kind, std::string_view analyzer_id,
                                                          Millis now) = 0;
  // The newest Succeeded record of `tenant` whose reuse_key is `reuse_key`
  // (never empty) and that has not expired at `now`, if any: a result a
  // submit may reuse (docs/design.md, "Reuse of results").
  virtual Result<std::optional<Operation>> find_reusable(std::string_view tenant,
                                                         std::string_view reuse_key,
                                                         Millis now) = 0;
  // What latest_of_kind would answer, when this process can tell from
  // memory without I/O or wait (the read cache of an exclusive store):
  // nullopt when only latest_of_kind can tell; a null record inside when it
  // knows there is none. Shared, never copied. Safe to call on an event
  // loop (a submit with nothing else to read skips a thread hop with it);
  // the default knows nothing.
  virtual std::optional<std::shared_ptr<const Operation>> cached_latest_of_kind(
      Kind kind, std::string_view analyzer_id, Millis now) {
    (void)kind, (void)analyzer_id, (void)now;
    return std::nullopt;
  }
  // The earliest time an open record can be claimed (due, its lease over),
  // if any: before `now` when some can be claimed now.
  virtual Result<std::optional<Millis>> next_due(Millis now) = 0;
  // Frees the leases of `owner` (all leases when empty); returns how many.
  virtual Result<int> release_leases(std::string_view owner) = 0;
  virtual Result<int> count_active() = 0;
  // Operations per status name (for metrics).
  virtual Result<std::vector<std::pair<std::string, int>>> count_by_status() = 0;
  // Operations not final yet per resource, ordered by name; a resource with
  // none is absent (for metrics, and to tell when a drained resource is
  // empty). Its cost follows the open records, not the table's size.
  virtual Result<std::vector<std::pair<std::string, std::int64_t>>> count_open_by_resource() = 0;
  // A page of operations without their result bodies.
  virtual Result<std::vector<Operation>> list(const ListQuery& q) = 0;

  virtual Result<Reservation> reserve_key(std::string_view tenant, std::string_view key,
                                          std::string_view request_hash, Millis now,
                                          Millis expires_at) = 0;
  virtual Result<void> bind_key(std::string_view tenant, std::string_view key,
                                std::string_view operation_id) = 0;
  virtual Result<void> release_key(std::string_view tenant, std::string_view key) = 0;
  virtual Result<void> ping() = 0;
  // The time on the clock every process sharing the store is judged by
  // (PostgreSQL's), ms since the epoch; none for a store only this process
  // uses (SQLite), whose own clock is the one. See docs/design.md, "One
  // clock for the cluster".
  virtual Result<std::optional<Millis>> database_time() { return std::optional<Millis>(); }

  // One replica's ask for part of a limit that every process sharing the
  // store holds together (an upstream resource's submits/s, polls/s or
  // operations a minute: docs/design.md, "The budget shared by replicas").
  // The limit is cut into slots on the database's clock; `slot` is one of
  // them, `cap` what it holds for the whole cluster, `want` what this
  // replica asks of it now. `ends_at` (the database's clock, ms) is when
  // the slot is over: after it, its row is only kept until
  // forget_budget.
  struct BudgetAsk {
    std::string_view resource;
    std::string_view budget;
    std::int64_t slot = 0;
    Millis ends_at = 0;
    int want = 0;
    int cap = 0;
  };
  // Takes up to `want` of what the slot still has (one statement, so the
  // replicas' asks of one slot are judged one after the other): how many
  // it took, 0..want, and the first one's place in the slot (0..cap-1;
  // the places taken are first..first+granted-1). A store only this process uses (SQLite) has
  // no shared budget: its processes' own windows are the whole cluster's.
  struct BudgetGrant {
    int granted = 0;
    int first = 0;
  };
  virtual Result<BudgetGrant> take_budget(const BudgetAsk& ask) {
    (void)ask;
    return make_error(ErrorCode::kInvalidArgument, "this store is not shared: no shared budget");
  }
  // Forgets the slots that ended before `before`; returns how many.
  virtual Result<int> forget_budget(Millis before) {
    (void)before;
    return 0;
  }

  // The learned durations (docs/design.md, "Learned durations"): per key,
  // how many recent completions fell in each bucket, shared by every
  // process using the store and kept across restarts.
  //
  // Adds one completion to bucket `bucket` (0..63) of `key`. When the
  // key's total after this reaches `halve_at` (> 1), every bucket of the
  // key is halved (integer division; a bucket reaching 0 is gone) in the
  // same transaction, so a key's counts favour recent completions.
  // Concurrent adds, from any number of processes sharing the store, never
  // lose a count and halve once per crossing. kInvalidArgument for a bucket
  // out of range or halve_at < 2.
  virtual Result<void> add_duration(const DurationKey& key, int bucket, std::int64_t halve_at) = 0;
  // Every key's non-zero buckets (keys x at most 64 rows), ordered by key
  // (resource, analyzer, band; names bytewise) then bucket.
  virtual Result<std::vector<DurationCount>> load_durations() = 0;

  // The webhook outbox (docs/design.md, "Completion webhooks"). Claimed
  // like polls: a lease and a fence, so one process at a time attempts a
  // delivery, and a process that died mid-attempt leaves it to be claimed
  // again when its lease ends.
  //
  // Leases up to `limit` pending deliveries due at `now` whose lease is free
  // or expired, and whose url starts with none of `skip_prefixes` (the
  // origins, "scheme://host:port/", of receivers with as many attempts in
  // flight as they may have), to `owner` until `lease_until`; earliest due
  // first, each with its body.
  virtual Result<std::vector<Delivery>> claim_deliveries(
      std::string_view owner, Millis now, Millis lease_until, int limit,
      const std::vector<std::string>& skip_prefixes) = 0;
  // Records an attempt (attempts + 1, the answer, the next state) and frees
  // the lease; false unless `owner` holds the lease with fence a.fence.
  virtual Result<bool> record_delivery(std::string_view id, std::string_view owner,
                                       const DeliveryAttempt& a) = 0;
  // The earliest time a pending delivery can be claimed (due, its lease
  // over), if any: before `now` when some can be claimed now.
  virtual Result<std::optional<Millis>> next_delivery_due(Millis now) = 0;
  // A page of deliveries without their bodies, newest first (created_at,
  // then id, descending), strictly after the cursor.
  virtual Result<std::vector<Delivery>> list_deliveries(const DeliveryQuery& q) = 0;
  // One delivery with its body.
  virtual Result<std::optional<Delivery>> get_delivery(std::string_view id) = 0;
  // An operator's retry: a failed delivery becomes pending, due at `now`,
  // its attempts back to 0, and its url enabled again. False when it is not
  // failed (or unknown).
  virtual Result<bool> redeliver(std::string_view id, Millis now) = 0;
  // Deletes up to `limit` delivered or failed deliveries last updated before
  // `before`; returns how many.
  virtual Result<int> delete_deliveries(Millis before, int limit) = 0;

  // Usage (docs/design.md, "Usage and quotas"), from the daily rollup the
  // completions write. Totals of the days from_day <= day < to_day (utc_day),
  // of one tenant (or of every tenant when `tenant` is empty), one row per
  // tenant or per analyzer, ordered by that name (bytewise).
  virtual Result<std::vector<UsageRow>> usage_between(std::int64_t from_day, std::int64_t to_day,
                                                      std::string_view tenant,
                                                      UsageGroup group) = 0;
  // A tenant's succeeded operations and pages on `day`, and its operations
  // not final now (what a quota is checked against).
  virtual Result<UsageToday> usage_on(std::string_view tenant, std::int64_t day) = 0;

  // True when this process is the store's only user (SQLite's file lock):
  // every lease found at start is then a leftover of an earlier run.
  virtual bool exclusive() const = 0;
  // What other processes sharing the store wrote (PostgreSQL LISTEN/NOTIFY),
  // this one's writes included: the feed a read cache stays coherent by and
  // long-polls are woken by. A store no other process writes (SQLite) never
  // calls a listener.
  struct Change {
    enum class Kind {
      kFinished,   // `id` reached a final state
      kChanged,    // `id` changed in a way a client can see (progress,
                   // retrieval, removal, expiry), not finished
      kLost,       // the feed stopped: anything may change unheard until kListening
      kListening,  // the feed runs: every write committed from now on is heard
    };
    Kind kind;
    std::string id;  // kFinished and kChanged only
  };
  using ChangeListener = std::function<void(const Change&)>;
  // Calls `fn` with every Change, on the store's own thread, in the order
  // heard; when the feed runs already, the first call is kListening.
  // `nullptr` stops the calls (and waits for one in progress).
  virtual void set_change_listener(ChangeListener fn) { (void)fn; }
};

// Opens a store from its URL: "sqlite:PATH" (WAL; created if missing) or
// "postgresql://user@host:port/db" (libpq; schema migrated at open).
Result<std::unique_ptr<OperationStore>> open_store(std::string_view url);

}  // namespace lrogate::store
