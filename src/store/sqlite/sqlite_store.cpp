#include "store/sqlite/sqlite_store.h"

#include <sqlite3.h>

#include <boost/json/serialize.hpp>
#include <boost/json/value_from.hpp>
#include <map>
#include <unordered_set>

#include "base/metrics.h"
#include "base/thread_annotations.h"
#include "store/columns.h"
#include "store/delivery_columns.h"
#include "store/sqlite/checkpointer.h"
#include "store/sqlite/connection.h"
#include "store/sqlite/file_lock.h"
#include "store/sqlite/migrations.h"
#include "store/sqlite/readers.h"
#include "store/sqlite/rows.h"
#include "store/sqlite/statements.h"

// The SQLite store's transactions and locks (docs/design.md, "SQLite"): one
// writer connection under mu_ for every write and every query but get(),
// which the Readers serve; the statements' text is in statements.cpp, the
// row mapping in rows.cpp, the schema in migrations.cpp.
namespace lrogate::store::sqlite {
namespace {

class SqliteStore final : public OperationStore {
 public:
  explicit SqliteStore(const Options& options) : group_commit_(options.group_commit) {}
  ~SqliteStore() override {
    checkpointer_.stop();
    readers_.close();
    for (sqlite3_stmt* s : prepared_) {
      if (s) sqlite3_finalize(s);
    }
    if (db_) sqlite3_close(db_);
    file_lock_.release();
  }

  Result<void> open(const std::string& path) {
    MutexLock lock(mu_);  // not shared yet: the lock is for the analysis
    if (auto r = file_lock_.take(path); !r) return r;
    if (sqlite3_open_v2(path.c_str(), &db_,
                        SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE | SQLITE_OPEN_FULLMUTEX,
                        nullptr) != SQLITE_OK) {
      return make_error(ErrorCode::kUnavailable, "cannot open the SQLite store " + path,
                        db_ ? sqlite3_errmsg(db_) : "");
    }
    sqlite3_busy_timeout(db_, 5000);
    // The Checkpointer does the WAL's checkpoints (checkpointer.h).
    sqlite3_wal_autocheckpoint(db_, 0);
    if (auto r = readers_.open(path); !r) return r;
    // WAL + synchronous=NORMAL: a committed transaction survives the process
    // being killed (kill -9); only a power cut can lose the last commits.
    for (const char* pragma : {"PRAGMA journal_mode=WAL", "PRAGMA synchronous=NORMAL",
                               "PRAGMA foreign_keys=ON", "PRAGMA temp_store=MEMORY"}) {
      if (auto r = exec(pragma); !r) return r;
    }
    if (auto r = migrate(db_); !r) return r;
    if (auto r = readers_.prepare(); !r) return r;
    return checkpointer_.start(path);
  }

  // Group commit (docs/design.md, "SQLite"): an insert queues its row, then
  // takes the writer. The first queued insert to get it writes every row
  // queued by then in one transaction; the others find their answer when
  // the writer comes to them. So inserts that arrive together (concurrent
  // submits on the store threads) share one commit instead of one each.
  Result<void> insert(const Operation& op) override {
    metrics::StoreTimer timer("insert");
    if (op.resource.empty()) return columns::no_resource(op);
    PendingInsert mine{&op, {}, false};
    if (group_commit_) {
      MutexLock q(queue_mu_);
      queue_.push_back(&mine);
    }
    MutexLock lock(mu_);
    if (!group_commit_) return insert_row(op);
    if (mine.done) return std::move(mine.result);  // written by an earlier insert's group
    std::vector<PendingInsert*> group;
    {
      MutexLock q(queue_mu_);
      group.swap(queue_);
    }
    write_group(group);
    return std::move(mine.result);
  }

  // The hot read (every status poll): on one of the reader connections, so
  // polls neither wait for the writer's lock nor for each other.
  Result<std::optional<Operation>> get(std::string_view id) override {
    metrics::StoreTimer timer("get");
    return readers_.get(id);
  }

  Result<std::vector<Operation>> claim_due(
      std::string_view owner, Millis now, Millis lease_until, int limit,
      const std::vector<std::string>& skip_resources) override {
    metrics::StoreTimer timer("claim_due");
    // Outside the lock: the names as one JSON array (json_each reads it).
    std::string skip = boost::json::serialize(boost::json::value_from(skip_resources));
    MutexLock lock(mu_);
    auto st = prepare(skip_resources.empty() ? kClaim : kClaimSkipping);
    if (!st) return st.error();
    st->bind(1, owner).bind(2, lease_until).bind(3, now).bind(4, std::int64_t{limit});
    if (!skip_resources.empty()) st->bind(5, std::string_view(skip));
    return read_rows(*st, "claim_due");
  }

  Result<std::vector<std::string>> renew_leases(std::string_view owner,
                                                const std::vector<std::string>& ids,
                                                Millis lease_until) override {
    metrics::StoreTimer timer("renew_leases");
    std::unordered_set<std::string_view> seen;  // an id named twice is answered once
    MutexLock lock(mu_);
    auto st = prepare(kRenew);
    if (!st) return st.error();
    std::vector<std::string> renewed;
    auto r = in_transaction([&]() REQUIRES(mu_) -> Result<void> {
      for (const auto& id : ids) {
        if (!seen.insert(id).second) continue;
        st->bind(1, owner).bind(2, lease_until).bind(3, id);
        int rc = st->step();
        sqlite3_reset(st->raw());
        if (rc != SQLITE_DONE) return db_error(db_, "renew_leases");
        if (sqlite3_changes(db_) > 0) renewed.push_back(id);
      }
      return {};
    });
    if (!r) return r.error();
    return renewed;
  }

  Result<bool> record_progress(std::string_view id, std::string_view owner,
                               const Progress& p) override {
    metrics::StoreTimer timer("record_progress");
    MutexLock lock(mu_);
    return progress_locked(id, owner, p);
  }

  Result<std::vector<bool>> record_progress_many(std::string_view owner,
                                                 const std::vector<ProgressItem>& items) override {
    metrics::StoreTimer timer("record_progress_many");
    MutexLock lock(mu_);
    // One commit for the whole batch: the per-commit cost (WAL frame and
    // index writes, locks) is most of a single-row write.
    std::vector<bool> out;
    out.reserve(items.size());
    auto r = in_transaction([&]() REQUIRES(mu_) -> Result<void> {
      for (const auto& it : items) {
        auto one = progress_locked(it.id, owner, it.progress);
        if (!one) return one.error();
        out.push_back(one.value());
      }
      return {};
    });
    if (!r) return r.error();
    return out;
  }

  // Without events or usage, the one statement it always was; with them,
  // one transaction that writes them only when the completion took effect.
  Result<bool> complete(std::string_view id, std::string_view owner, const Completion& c) override {
    metrics::StoreTimer timer("complete");
    MutexLock lock(mu_);
    if (c.deliveries.empty() && !c.usage) return complete_locked(id, owner, c);
    bool done = false;
    int written = 0;
    auto r = in_transaction([&]() REQUIRES(mu_) -> Result<void> {
      auto finished = complete_locked(id, owner, c);
      if (!finished) return finished.error();
      done = finished.value();
      if (!done) return {};
      for (const NewDelivery& d : c.deliveries) {
        auto st = prepare(kInsertDelivery);
        if (!st) return st.error();
        st->bind_text(1, d.id).bind_text(2, id).bind_text(3, d.url).bind_blob(4, d.body);
        st->bind(5, c.now);
        if (st->step() != SQLITE_DONE) return db_error(db_, "complete");
        written += sqlite3_changes(db_);
      }
      if (c.usage) {
        auto st = prepare(kAddUsage);
        if (!st) return st.error();
        st->bind(1, id).bind(2, utc_day(c.now)).bind(3, c.usage->pages).bind(4, c.usage->tokens);
        st->bind(5, c.usage->bytes_in).bind(6, c.usage->bytes_out);
        if (st->step() != SQLITE_DONE) return db_error(db_, "complete");
      }
      return {};
    });
    if (!r) return r.error();
    if (written) metrics::count_store_writes("delivery", written);
    return done;
  }

  Result<std::vector<UsageRow>> usage_between(std::int64_t from_day, std::int64_t to_day,
                                              std::string_view tenant, UsageGroup group) override {
    metrics::StoreTimer timer("usage_between");
    MutexLock lock(mu_);
    auto st = prepare(group == UsageGroup::kTenant ? kUsageByTenant : kUsageByAnalyzer);
    if (!st) return st.error();
    st->bind(1, from_day).bind(2, to_day).bind(3, tenant);
    std::vector<UsageRow> out;
    int rc;
    while ((rc = st->step()) == SQLITE_ROW) {
      sqlite3_stmt* s = st->raw();
      out.push_back({column_text(s, 0), sqlite3_column_int64(s, 1), sqlite3_column_int64(s, 2),
                     sqlite3_column_int64(s, 3), sqlite3_column_int64(s, 4),
                     sqlite3_column_int64(s, 5)});
    }
    if (rc != SQLITE_DONE) return db_error(db_, "usage_between");
    return out;
  }

  Result<UsageToday> usage_on(std::string_view tenant, std::int64_t day) override {
    metrics::StoreTimer timer("usage_on");
    MutexLock lock(mu_);
    auto st = prepare(kUsageOn);
    if (!st) return st.error();
    st->bind_text(1, tenant).bind(2, day);
    if (st->step() != SQLITE_ROW) return db_error(db_, "usage_on");
    sqlite3_stmt* s = st->raw();
    return UsageToday{sqlite3_column_int64(s, 0), sqlite3_column_int64(s, 1),
                      sqlite3_column_int64(s, 2)};
  }

  Result<bool> mark_retrieved(std::string_view id, Millis now, Millis expires_at) override {
    metrics::StoreTimer timer("mark_retrieved");
    MutexLock lock(mu_);
    auto st = prepare(kRetrieved);
    if (!st) return st.error();
    st->bind(1, id).bind(2, now).bind(3, expires_at);
    return changed(*st, "mark_retrieved");
  }

  Result<bool> remove(std::string_view id) override {
    metrics::StoreTimer timer("remove");
    MutexLock lock(mu_);
    int deleted = 0;
    auto r = in_transaction([&]() REQUIRES(mu_) -> Result<void> {
      auto st = prepare(kRemove);
      if (!st) return st.error();
      st->bind(1, id);
      auto gone = read_statuses(*st, "remove", &deleted);
      if (!gone) return gone.error();
      return uncount(gone.value());
    });
    if (!r) return r.error();
    return deleted > 0;
  }

  Result<int> delete_expired(Millis now, int limit) override {
    metrics::StoreTimer timer("delete_expired");
    MutexLock lock(mu_);
    int deleted = 0;
    auto r = in_transaction([&]() REQUIRES(mu_) -> Result<void> {
      auto st = prepare(kDeleteExpired);
      if (!st) return st.error();
      st->bind(1, now).bind(2, std::int64_t{limit});
      auto gone = read_statuses(*st, "delete_expired", &deleted);
      if (!gone) return gone.error();
      if (auto u = uncount(gone.value()); !u) return u;
      auto keys = prepare(kDeleteExpiredKeys);
      if (!keys) return keys.error();
      keys->bind(1, now);
      if (keys->step() != SQLITE_DONE) return db_error(db_, "delete_expired");
      return {};
    });
    if (!r) return r.error();
    return deleted;
  }

  Result<std::optional<Millis>> next_due(Millis) override {
    MutexLock lock(mu_);
    auto st = prepare(kNextDue);
    if (!st) return st.error();
    if (st->step() != SQLITE_ROW) return db_error(db_, "next_due");
    return column_opt(st->raw(), 0);
  }

  Result<int> release_leases(std::string_view owner) override {
    MutexLock lock(mu_);
    auto st = prepare(kRelease);
    if (!st) return st.error();
    st->bind(1, owner);
    if (st->step() != SQLITE_DONE) return db_error(db_, "release_leases");
    return sqlite3_changes(db_);
  }

  Result<int> count_active() override {
    MutexLock lock(mu_);
    auto st = prepare(kCountActive);
    if (!st) return st.error();
    if (st->step() != SQLITE_ROW) return db_error(db_, "count_active");
    return sqlite3_column_int(st->raw(), 0);
  }

  Result<std::vector<std::pair<std::string, int>>> count_by_status() override {
    MutexLock lock(mu_);
    auto st = prepare(kCountByStatus);
    if (!st) return st.error();
    std::vector<std::pair<std::string, int>> out;
    int rc;
    while ((rc = st->step()) == SQLITE_ROW) {
      out.emplace_back(column_text(st->raw(), 0), sqlite3_column_int(st->raw(), 1));
    }
    if (rc != SQLITE_DONE) return db_error(db_, "count_by_status");
    return out;
  }

  Result<std::vector<std::pair<std::string, std::int64_t>>> count_open_by_resource() override {
    MutexLock lock(mu_);
    auto st = prepare(kCountOpenByResource);
    if (!st) return st.error();
    std::vector<std::pair<std::string, std::int64_t>> out;
    int rc;
    while ((rc = st->step()) == SQLITE_ROW) {
      out.emplace_back(column_text(st->raw(), 0), sqlite3_column_int64(st->raw(), 1));
    }
    if (rc != SQLITE_DONE) return db_error(db_, "count_open_by_resource");
    return out;
  }

  Result<std::optional<Operation>> latest_of_kind(Kind kind, std::string_view analyzer_id,
                                                  Millis now) override {
    metrics::StoreTimer timer("latest_of_kind");
    MutexLock lock(mu_);
    auto st = prepare(kLatestOfKind);
    if (!st) return st.error();
    st->bind(1, analyzer_id).bind(2, std::string_view(kind_name(kind))).bind(3, now);
    int rc = st->step();
    if (rc == SQLITE_ROW) return std::optional<Operation>(read_row(st->raw()));
    if (rc != SQLITE_DONE) return db_error(db_, "latest_of_kind");
    return std::optional<Operation>();
  }

  Result<std::optional<Operation>> find_reusable(std::string_view tenant,
                                                 std::string_view reuse_key, Millis now) override {
    metrics::StoreTimer timer("find_reusable");
    MutexLock lock(mu_);
    auto st = prepare(kFindReusable);
    if (!st) return st.error();
    st->bind(1, tenant).bind(2, reuse_key).bind(3, now);
    int rc = st->step();
    if (rc == SQLITE_ROW) return std::optional<Operation>(read_row(st->raw()));
    if (rc != SQLITE_DONE) return db_error(db_, "find_reusable");
    return std::optional<Operation>();
  }

  Result<std::vector<Operation>> list(const ListQuery& q) override {
    metrics::StoreTimer timer("list");
    MutexLock lock(mu_);
    // One statement per shape (statements.cpp, list()).
    auto st = prepare(q.status ? (q.after_created ? kListStatusAfter : kListStatus)
                               : (q.after_created ? kListAfter : kList));
    if (!st) return st.error();
    st->bind(1, q.tenant);
    if (q.status) st->bind(2, std::string_view(status_name(*q.status)));
    st->bind(3, q.now);
    // An empty id sorts before every other: (created, "") pages like "older
    // than created" did.
    if (q.after_created) st->bind(4, *q.after_created).bind_text(5, q.after_id);
    st->bind(6, std::int64_t{q.limit});
    return read_rows(*st, "list");
  }

  Result<Reservation> reserve_key(std::string_view tenant, std::string_view key,
                                  std::string_view request_hash, Millis now,
                                  Millis expires_at) override {
    metrics::StoreTimer timer("reserve_key");
    MutexLock lock(mu_);
    {
      auto del = prepare(kKeyExpire);
      if (!del) return del.error();
      del->bind(1, tenant).bind(2, key).bind(3, now);
      if (del->step() != SQLITE_DONE) return db_error(db_, "reserve_key");
    }
    auto ins = prepare(kKeyInsert);
    if (!ins) return ins.error();
    ins->bind(1, tenant).bind(2, key).bind(3, request_hash).bind(4, now).bind(5, expires_at);
    if (ins->step() != SQLITE_DONE) return db_error(db_, "reserve_key");
    Reservation r;
    r.created = sqlite3_changes(db_) > 0;
    auto sel = prepare(kKeySelect);
    if (!sel) return sel.error();
    sel->bind(1, tenant).bind(2, key);
    if (sel->step() != SQLITE_ROW) return db_error(db_, "reserve_key");
    r.request_hash = column_text(sel->raw(), 0);
    r.operation_id = column_text(sel->raw(), 1);
    return r;
  }

  Result<void> bind_key(std::string_view tenant, std::string_view key,
                        std::string_view operation_id) override {
    MutexLock lock(mu_);
    auto st = prepare(kKeyBind);
    if (!st) return st.error();
    st->bind(1, tenant).bind(2, key).bind(3, operation_id);
    if (st->step() != SQLITE_DONE) return db_error(db_, "bind_key");
    return {};
  }

  Result<void> release_key(std::string_view tenant, std::string_view key) override {
    MutexLock lock(mu_);
    auto st = prepare(kKeyRelease);
    if (!st) return st.error();
    st->bind(1, tenant).bind(2, key);
    if (st->step() != SQLITE_DONE) return db_error(db_, "release_key");
    return {};
  }

  // The total first: when it reaches halve_at, the key's buckets are
  // halved and the total recounted from them, all in this transaction.
  Result<void> add_duration(const DurationKey& key, int bucket, std::int64_t halve_at) override {
    if (bucket < 0 || bucket >= kDurationBuckets || halve_at < 2) {
      return make_error(ErrorCode::kInvalidArgument, "a duration bucket out of range",
                        std::to_string(bucket) + " (halve at " + std::to_string(halve_at) + ")");
    }
    metrics::StoreTimer timer("add_duration");
    MutexLock lock(mu_);
    return in_transaction([&]() REQUIRES(mu_) -> Result<void> {
      auto total = prepare(kDurationTotal);
      if (!total) return total.error();
      bind_duration_key(*total, key);
      if (total->step() != SQLITE_ROW) return db_error(db_, "add_duration");
      const std::int64_t after = sqlite3_column_int64(total->raw(), 0);
      if (total->step() != SQLITE_DONE) return db_error(db_, "add_duration");
      auto one = prepare(kDurationBucket);
      if (!one) return one.error();
      bind_duration_key(*one, key).bind(4, std::int64_t{bucket});
      if (one->step() != SQLITE_DONE) return db_error(db_, "add_duration");
      if (after < halve_at) return {};
      for (Sql which : {kDurationHalve, kDurationDropEmpty, kDurationRecount}) {
        auto st = prepare(which);
        if (!st) return st.error();
        bind_duration_key(*st, key);
        if (st->step() != SQLITE_DONE) return db_error(db_, "add_duration");
      }
      return {};
    });
  }

  Result<std::vector<DurationCount>> load_durations() override {
    metrics::StoreTimer timer("load_durations");
    MutexLock lock(mu_);
    auto st = prepare(kDurationLoad);
    if (!st) return st.error();
    std::vector<DurationCount> out;
    int rc;
    while ((rc = st->step()) == SQLITE_ROW) {
      sqlite3_stmt* s = st->raw();
      out.push_back({{column_text(s, 0), column_text(s, 1), sqlite3_column_int(s, 2)},
                     sqlite3_column_int(s, 3),
                     sqlite3_column_int64(s, 4)});
    }
    if (rc != SQLITE_DONE) return db_error(db_, "load_durations");
    return out;
  }

  Result<std::vector<Delivery>> claim_deliveries(
      std::string_view owner, Millis now, Millis lease_until, int limit,
      const std::vector<std::string>& skip_prefixes) override {
    metrics::StoreTimer timer("claim_deliveries");
    std::string skip = boost::json::serialize(boost::json::value_from(skip_prefixes));
    MutexLock lock(mu_);
    auto st = prepare(skip_prefixes.empty() ? kClaimDeliveries : kClaimDeliveriesSkipping);
    if (!st) return st.error();
    st->bind(1, owner).bind(2, lease_until).bind(3, now).bind(4, std::int64_t{limit});
    if (!skip_prefixes.empty()) st->bind(5, std::string_view(skip));
    auto r = read_deliveries(*st, "claim_deliveries");
    if (!r) return r;
    deliveries::sort_by_due(r.value());
    metrics::count_store_writes("delivery", static_cast<std::int64_t>(r.value().size()));
    return r;
  }

  // A 410 also disables the url and fails its other pending deliveries, in
  // the same transaction, and only when the attempt itself was recorded.
  Result<bool> record_delivery(std::string_view id, std::string_view owner,
                               const DeliveryAttempt& a) override {
    metrics::StoreTimer timer("record_delivery");
    MutexLock lock(mu_);
    bool recorded = false;
    int written = 0;
    auto write = [&]() REQUIRES(mu_) -> Result<void> {
      auto st = prepare(kRecordDelivery);
      if (!st) return st.error();
      st->bind(1, id).bind(2, owner).bind(3, std::string_view(delivery_status_name(a.status)));
      st->bind(4, a.next_attempt_at).bind(5, std::int64_t{a.last_status}).bind(6, a.last_error);
      st->bind(7, a.now).bind(8, a.fence);
      auto one = changed(*st, "record_delivery");
      if (!one) return one.error();
      recorded = one.value();
      written = recorded ? 1 : 0;
      if (!recorded || !a.disable_url) return {};
      for (Sql which : {kDisableUrl, kFailUrlDeliveries}) {
        auto more = prepare(which);
        if (!more) return more.error();
        more->bind(1, id).bind(2, a.now);
        if (more->step() != SQLITE_DONE) return db_error(db_, "record_delivery");
        if (which == kFailUrlDeliveries) written += sqlite3_changes(db_);
      }
      return {};
    };
    auto r = a.disable_url ? in_transaction(write) : write();
    if (!r) return r.error();
    metrics::count_store_writes("delivery", written);
    return recorded;
  }

  Result<std::optional<Millis>> next_delivery_due(Millis) override {
    metrics::StoreTimer timer("next_delivery_due");
    MutexLock lock(mu_);
    auto st = prepare(kNextDeliveryDue);
    if (!st) return st.error();
    if (st->step() != SQLITE_ROW) return db_error(db_, "next_delivery_due");
    return column_opt(st->raw(), 0);
  }

  Result<std::vector<Delivery>> list_deliveries(const DeliveryQuery& q) override {
    metrics::StoreTimer timer("list_deliveries");
    MutexLock lock(mu_);
    auto st = prepare(q.tenant.empty()
                          ? (q.after_created ? kListDeliveriesAfter : kListDeliveries)
                          : (q.after_created ? kListTenantDeliveriesAfter : kListTenantDeliveries));
    if (!st) return st.error();
    st->bind(1, q.tenant);  // empty: NULL, every tenant's
    if (q.status) st->bind(2, std::string_view(delivery_status_name(*q.status)));
    st->bind(3, std::int64_t{q.limit});
    if (q.after_created) st->bind(4, *q.after_created).bind_text(5, q.after_id);
    return read_deliveries(*st, "list_deliveries");
  }

  Result<std::optional<Delivery>> get_delivery(std::string_view id) override {
    metrics::StoreTimer timer("get_delivery");
    MutexLock lock(mu_);
    auto st = prepare(kGetDelivery);
    if (!st) return st.error();
    st->bind(1, id);
    int rc = st->step();
    if (rc == SQLITE_ROW) return std::optional<Delivery>(read_delivery(st->raw()));
    if (rc != SQLITE_DONE) return db_error(db_, "get_delivery");
    return std::optional<Delivery>();
  }

  Result<bool> redeliver(std::string_view id, Millis now) override {
    metrics::StoreTimer timer("redeliver");
    MutexLock lock(mu_);
    bool again = false;
    auto r = in_transaction([&]() REQUIRES(mu_) -> Result<void> {
      auto st = prepare(kRedeliver);
      if (!st) return st.error();
      st->bind(1, id).bind(2, now);
      auto one = changed(*st, "redeliver");
      if (!one) return one.error();
      again = one.value();
      if (!again) return {};
      auto enable = prepare(kEnableUrl);
      if (!enable) return enable.error();
      enable->bind(1, id);
      if (enable->step() != SQLITE_DONE) return db_error(db_, "redeliver");
      return {};
    });
    if (!r) return r.error();
    metrics::count_store_writes("delivery", again ? 1 : 0);
    return again;
  }

  Result<int> delete_deliveries(Millis before, int limit) override {
    metrics::StoreTimer timer("delete_deliveries");
    MutexLock lock(mu_);
    auto st = prepare(kDeleteDeliveries);
    if (!st) return st.error();
    st->bind(1, before).bind(2, std::int64_t{limit});
    if (st->step() != SQLITE_DONE) return db_error(db_, "delete_deliveries");
    return sqlite3_changes(db_);
  }

  bool exclusive() const override { return true; }

  Result<void> ping() override {
    MutexLock lock(mu_);
    auto st = prepare(kPing);
    if (!st) return st.error();
    if (st->step() != SQLITE_ROW) return db_error(db_, "ping");
    return {};
  }

 private:
  // What one insert waits for: its row, and its answer once written.
  struct PendingInsert {
    const Operation* op;
    Result<void> result;
    bool done;  // under mu_
  };

  // Writes `group` (it holds the caller's own row) in one transaction; a
  // row's constraint failure is that row's answer alone (SQLite undoes only
  // the statement); any other failure is every row's.
  void write_group(const std::vector<PendingInsert*>& group) REQUIRES(mu_) {
    if (group.size() == 1) {  // alone: autocommit, one statement
      group[0]->result = insert_row(*group[0]->op);
      group[0]->done = true;
      return;
    }
    Result<void> all = exec("BEGIN");
    if (all) {
      for (PendingInsert* p : group) {
        p->result = insert_row(*p->op);
        if (!p->result && p->result.error().code != ErrorCode::kConflict) {
          all = p->result;
          break;
        }
      }
      if (all) all = exec("COMMIT");
      if (!all) (void)exec("ROLLBACK");
    }
    for (PendingInsert* p : group) {
      if (!all) p->result = all.error();
      p->done = true;
    }
  }

  Result<bool> complete_locked(std::string_view id, std::string_view owner, const Completion& c)
      REQUIRES(mu_) {
    auto st = prepare(kComplete);
    if (!st) return st.error();
    st->bind(1, id).bind(2, owner).bind(3, std::string_view(status_name(c.status)));
    st->bind_blob(4, c.result).bind(5, c.result_type).bind(6, c.error_code);
    st->bind(7, c.error_message).bind(8, c.now).bind(9, c.expires_at).bind(10, c.fence);
    st->bind(11, std::int64_t{c.polls});
    return changed(*st, "complete");
  }

  Result<void> insert_row(const Operation& op) REQUIRES(mu_) {
    auto st = prepare(kInsert);
    if (!st) return st.error();
    bind_row(*st, op);
    int rc = st->step();
    if (rc == SQLITE_CONSTRAINT) {
      return make_error(ErrorCode::kConflict, "operation already exists", op.id);
    }
    if (rc != SQLITE_DONE) return db_error(db_, "insert");
    return {};
  }

  // The status is written only when it changes (rarely: NotStarted to
  // Running): SQLite rewrites every index holding a column the UPDATE sets,
  // whatever the value, so setting it on each poll would rewrite the
  // listing-by-status index each time. The first statement matches only an
  // unchanged status; the second, for a change, runs when it did not.
  Result<bool> progress_locked(std::string_view id, std::string_view owner, const Progress& p)
      REQUIRES(mu_) {
    auto write = [&](Sql which) REQUIRES(mu_) -> Result<bool> {
      auto st = prepare(which);
      if (!st) return st.error();
      st->bind(1, id).bind(2, owner).bind(3, std::string_view(status_name(p.status)));
      st->bind(4, p.next_poll_at).bind(5, std::int64_t{p.attempts}).bind(6, p.now);
      st->bind(7, p.fence).bind(8, std::int64_t{p.polls});
      return changed(*st, "record_progress");
    };
    auto same = write(kProgressSameStatus);
    if (!same || same.value()) return same;
    return write(kProgressNewStatus);
  }

  // Takes deleted records off the kept counts (migration v5), in the
  // deleting transaction.
  Result<void> uncount(const std::map<std::string, int>& gone) REQUIRES(mu_) {
    for (const auto& [status, n] : gone) {
      auto st = prepare(kUncount);
      if (!st) return st.error();
      st->bind(1, status).bind(2, std::int64_t{n});
      if (st->step() != SQLITE_DONE) return db_error(db_, "uncount");
    }
    return {};
  }

  // Runs fn between BEGIN and COMMIT (ROLLBACK if it fails); mu_ is held.
  template <class Fn>
  Result<void> in_transaction(Fn fn) REQUIRES(mu_) {
    if (auto r = exec("BEGIN"); !r) return r;
    auto r = fn();
    if (r) r = exec("COMMIT");
    if (!r) (void)exec("ROLLBACK");
    return r;
  }

  Result<void> exec(const char* sql) REQUIRES(mu_) { return sqlite::exec(db_, sql); }

  // A duration statement's key: ?1 resource, ?2 analyzer, ?3 band (names
  // as given, the empty one too).
  static Stmt& bind_duration_key(Stmt& st, const DurationKey& key) {
    return st.bind_text(1, key.resource).bind_text(2, key.analyzer).bind(3, std::int64_t{key.band});
  }

  // The writer's statement `which`, prepared on its first use.
  Result<Stmt> prepare(Sql which) REQUIRES(mu_) {
    sqlite3_stmt*& s = prepared_[which];
    if (!s && sqlite3_prepare_v3(db_, statement_text(which).c_str(), -1, SQLITE_PREPARE_PERSISTENT,
                                 &s, nullptr) != SQLITE_OK) {
      return db_error(db_, "prepare");
    }
    return Stmt(db_, s);
  }

  Result<bool> changed(Stmt& s, std::string_view what) REQUIRES(mu_) {
    if (s.step() != SQLITE_DONE) return db_error(db_, what);
    return sqlite3_changes(db_) > 0;
  }

  FileLock file_lock_;  // one process per file: what makes exclusive() true
  Checkpointer checkpointer_;
  Readers readers_;
  const bool group_commit_;
  // Inserts waiting for the writer (see insert()); taken under mu_.
  Mutex queue_mu_ ACQUIRED_AFTER(mu_);
  std::vector<PendingInsert*> queue_ GUARDED_BY(queue_mu_);
  Mutex mu_;
  sqlite3* db_ GUARDED_BY(mu_) = nullptr;                   // the writer connection
  sqlite3_stmt* prepared_[kSqlCount] GUARDED_BY(mu_) = {};  // db_'s statements, by name
};

}  // namespace

Result<std::unique_ptr<OperationStore>> open(const std::string& path, const Options& options) {
  auto s = std::make_unique<SqliteStore>(options);
  if (auto r = s->open(path); !r) return r.error();
  return std::unique_ptr<OperationStore>(std::move(s));
}

}  // namespace lrogate::store::sqlite
