#include "store/sqlite/sqlite_store.h"

#include <fcntl.h>
#include <sqlite3.h>
#include <sys/file.h>
#include <unistd.h>

#include <atomic>
#include <map>
#include <thread>

#include "base/log.h"
#include "base/metrics.h"
#include "base/thread_annotations.h"

namespace lrogate::store::sqlite {
namespace {

constexpr const char* kColumns =
    "id, tenant, analyzer_id, upstream_url, status, created_at, updated_at, next_poll_at, "
    "poll_count, attempts, lease_owner, lease_until, result, result_type, error_code, "
    "error_message, retrieved_at, expires_at, idempotency_key, fence, kind";

// Versioned migrations; PRAGMA user_version holds how many have run.
const char* const kMigrations[] = {
    R"sql(
CREATE TABLE operations (
  id              TEXT PRIMARY KEY,
  tenant          TEXT NOT NULL,
  analyzer_id     TEXT NOT NULL,
  upstream_url    TEXT NOT NULL,
  status          TEXT NOT NULL,
  created_at      INTEGER NOT NULL,
  updated_at      INTEGER NOT NULL,
  next_poll_at    INTEGER,
  poll_count      INTEGER NOT NULL DEFAULT 0,
  attempts        INTEGER NOT NULL DEFAULT 0,
  lease_owner     TEXT,
  lease_until     INTEGER,
  result          BLOB,
  result_type     TEXT,
  error_code      TEXT,
  error_message   TEXT,
  retrieved_at    INTEGER,
  expires_at      INTEGER,
  idempotency_key TEXT
);
CREATE INDEX operations_due ON operations(next_poll_at)
  WHERE status IN ('NotStarted', 'Running');
CREATE INDEX operations_expiry ON operations(expires_at) WHERE expires_at IS NOT NULL;
CREATE UNIQUE INDEX operations_idempotency ON operations(tenant, idempotency_key)
  WHERE idempotency_key IS NOT NULL;
)sql",
    R"sql(
CREATE TABLE idempotency (
  tenant       TEXT NOT NULL,
  key          TEXT NOT NULL,
  request_hash TEXT NOT NULL,
  operation_id TEXT,
  created_at   INTEGER NOT NULL,
  expires_at   INTEGER NOT NULL,
  PRIMARY KEY (tenant, key)
);
CREATE INDEX idempotency_expiry ON idempotency(expires_at);
CREATE INDEX operations_listing ON operations(tenant, created_at DESC, id DESC);
)sql",
    // v3: the fencing token; every claim increments it.
    R"sql(
ALTER TABLE operations ADD COLUMN fence INTEGER NOT NULL DEFAULT 0;
)sql",
    // v4: what an operation is (store::Kind); analyzer creations are found by
    // analyzer id, analyses never are (the partial index leaves them out).
    R"sql(
ALTER TABLE operations ADD COLUMN kind TEXT NOT NULL DEFAULT 'analysis';
CREATE INDEX operations_creations ON operations(analyzer_id, created_at DESC)
  WHERE kind <> 'analysis';
)sql",
    // v5: costs that stay flat with millions of records. The counts per
    // status are kept (count_by_status read the whole table): by triggers
    // on insert and on a status that changes, and by the store's deletes
    // themselves (uncount(): one UPDATE per status a sweep removed, where a
    // trigger would run one per row). A listing by status has its own index
    // (it scanned the tenant's records for rows of that status).
    R"sql(
CREATE TABLE operation_counts (status TEXT PRIMARY KEY, n INTEGER NOT NULL) WITHOUT ROWID;
INSERT INTO operation_counts SELECT status, COUNT(*) FROM operations GROUP BY status;
CREATE TRIGGER operations_counted_insert AFTER INSERT ON operations BEGIN
  INSERT INTO operation_counts VALUES (NEW.status, 1)
    ON CONFLICT (status) DO UPDATE SET n = n + 1;
END;
CREATE TRIGGER operations_counted_status AFTER UPDATE OF status ON operations
  WHEN OLD.status <> NEW.status BEGIN
  UPDATE operation_counts SET n = n - 1 WHERE status = OLD.status;
  INSERT INTO operation_counts VALUES (NEW.status, 1)
    ON CONFLICT (status) DO UPDATE SET n = n + 1;
END;
CREATE INDEX operations_listing_status ON operations(tenant, status, created_at DESC, id DESC);
)sql",
};

Error db_error(sqlite3* db, std::string_view what) {
  int code = sqlite3_errcode(db);
  ErrorCode ec = (code == SQLITE_BUSY || code == SQLITE_LOCKED || code == SQLITE_IOERR ||
                  code == SQLITE_FULL || code == SQLITE_CANTOPEN)
                     ? ErrorCode::kUnavailable
                     : ErrorCode::kInternal;
  return make_error(ec, "the operation store failed",
                    std::string(what) + ": " + sqlite3_errmsg(db));
}

// A cached prepared statement, reset on destruction of the binder.
class Stmt {
 public:
  Stmt(sqlite3* db, sqlite3_stmt* s) : db_(db), s_(s) {}
  ~Stmt() {
    sqlite3_reset(s_);
    sqlite3_clear_bindings(s_);
  }
  Stmt& bind(int i, std::string_view v) {
    if (v.empty())
      sqlite3_bind_null(s_, i);
    else
      sqlite3_bind_text(s_, i, v.data(), static_cast<int>(v.size()), SQLITE_TRANSIENT);
    return *this;
  }
  // Text as given, the empty string too (bind() makes it NULL).
  Stmt& bind_text(int i, std::string_view v) {
    sqlite3_bind_text(s_, i, v.empty() ? "" : v.data(), static_cast<int>(v.size()),
                      SQLITE_TRANSIENT);
    return *this;
  }
  Stmt& bind_blob(int i, std::string_view v) {
    if (v.empty())
      sqlite3_bind_null(s_, i);
    else
      sqlite3_bind_blob(s_, i, v.data(), static_cast<int>(v.size()), SQLITE_TRANSIENT);
    return *this;
  }
  Stmt& bind(int i, std::int64_t v) {
    sqlite3_bind_int64(s_, i, v);
    return *this;
  }
  Stmt& bind(int i, std::optional<std::int64_t> v) {
    if (v)
      sqlite3_bind_int64(s_, i, *v);
    else
      sqlite3_bind_null(s_, i);
    return *this;
  }
  int step() { return sqlite3_step(s_); }
  sqlite3_stmt* raw() { return s_; }
  sqlite3* db() { return db_; }

 private:
  sqlite3* db_;
  sqlite3_stmt* s_;
};

std::string col_text(sqlite3_stmt* s, int i) {
  const void* p = sqlite3_column_blob(s, i);
  int n = sqlite3_column_bytes(s, i);
  return p ? std::string(static_cast<const char*>(p), static_cast<std::size_t>(n)) : std::string();
}

std::optional<std::int64_t> col_opt(sqlite3_stmt* s, int i) {
  if (sqlite3_column_type(s, i) == SQLITE_NULL) return std::nullopt;
  return sqlite3_column_int64(s, i);
}

Operation read_row(sqlite3_stmt* s) {
  Operation op;
  op.id = col_text(s, 0);
  op.tenant = col_text(s, 1);
  op.analyzer_id = col_text(s, 2);
  op.upstream_url = col_text(s, 3);
  op.status = parse_status(col_text(s, 4)).value_or(Status::kRunning);
  op.created_at = sqlite3_column_int64(s, 5);
  op.updated_at = sqlite3_column_int64(s, 6);
  op.next_poll_at = col_opt(s, 7);
  op.poll_count = sqlite3_column_int(s, 8);
  op.attempts = sqlite3_column_int(s, 9);
  op.lease_owner = col_text(s, 10);
  op.lease_until = col_opt(s, 11);
  op.result = col_text(s, 12);
  op.result_type = col_text(s, 13);
  op.error_code = col_text(s, 14);
  op.error_message = col_text(s, 15);
  op.retrieved_at = col_opt(s, 16);
  op.expires_at = col_opt(s, 17);
  op.idempotency_key = col_text(s, 18);
  op.fence = sqlite3_column_int64(s, 19);
  op.kind = parse_kind(col_text(s, 20)).value_or(Kind::kAnalysis);
  return op;
}

class SqliteStore final : public OperationStore {
 public:
  explicit SqliteStore(const Options& options) : group_commit_(options.group_commit) {}
  ~SqliteStore() override {
    {
      MutexLock lock(ckpt_mu_);
      ckpt_stop_ = true;
    }
    ckpt_cv_.notify_all();
    if (ckpt_thread_.joinable()) ckpt_thread_.join();
    if (ckpt_db_) sqlite3_close(ckpt_db_);
    for (auto& r : readers_) {
      if (r.get) sqlite3_finalize(r.get);
      if (r.db) sqlite3_close(r.db);
    }
    for (auto& [sql, s] : cache_) sqlite3_finalize(s);
    if (db_) sqlite3_close(db_);
    if (lock_fd_ >= 0) close(lock_fd_);
  }

  Result<void> open(const std::string& path) {
    MutexLock lock(mu_);  // not shared yet: the lock is for the analysis
    lock_fd_ = ::open((path + ".lock").c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0600);
    if (lock_fd_ < 0) {
      return make_error(ErrorCode::kUnavailable,
                        "cannot open the store lock file " + path + ".lock");
    }
    if (flock(lock_fd_, LOCK_EX | LOCK_NB) != 0) {
      return make_error(ErrorCode::kUnavailable, "the store " + path +
                                                     " is in use by another lrogate process; "
                                                     "use PostgreSQL to run several replicas");
    }
    if (sqlite3_open_v2(path.c_str(), &db_,
                        SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE | SQLITE_OPEN_FULLMUTEX,
                        nullptr) != SQLITE_OK) {
      return make_error(ErrorCode::kUnavailable, "cannot open the SQLite store " + path,
                        db_ ? sqlite3_errmsg(db_) : "");
    }
    sqlite3_busy_timeout(db_, 5000);
    // The checkpointer below does the WAL's checkpoints (see there).
    sqlite3_wal_autocheckpoint(db_, 0);
    if (auto r = open_readers(path); !r) return r;
    // WAL + synchronous=NORMAL: a committed transaction survives the process
    // being killed (kill -9); only a power cut can lose the last commits.
    for (const char* pragma : {"PRAGMA journal_mode=WAL", "PRAGMA synchronous=NORMAL",
                               "PRAGMA foreign_keys=ON", "PRAGMA temp_store=MEMORY"}) {
      if (auto r = exec(pragma); !r) return r;
    }
    if (auto r = migrate(); !r) return r;
    if (auto r = prepare_readers(); !r) return r;
    return start_checkpointer(path);
  }

  // Group commit (docs/design.md, "SQLite"): an insert queues its row, then
  // takes the writer. The first queued insert to get it writes every row
  // queued by then in one transaction; the others find their answer when
  // the writer comes to them. So inserts that arrive together (concurrent
  // submits on the store threads) share one commit instead of one each.
  Result<void> insert(const Operation& op) override {
    metrics::StoreTimer timer("insert");
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

  Result<void> insert_row(const Operation& op) REQUIRES(mu_) {
    auto st = prepare(
        std::string("INSERT INTO operations (") + kColumns +
        ") VALUES (?1,?2,?3,?4,?5,?6,?7,?8,?9,?10,?11,?12,?13,?14,?15,?16,?17,?18,?19,?20,?21)");
    if (!st) return st.error();
    Stmt& s = *st;
    s.bind(1, op.id).bind(2, op.tenant).bind(3, op.analyzer_id).bind(4, op.upstream_url);
    s.bind(5, std::string_view(status_name(op.status)))
        .bind(6, op.created_at)
        .bind(7, op.updated_at);
    s.bind(8, op.next_poll_at)
        .bind(9, std::int64_t{op.poll_count})
        .bind(10, std::int64_t{op.attempts});
    s.bind(11, op.lease_owner).bind(12, op.lease_until).bind_blob(13, op.result);
    s.bind(14, op.result_type).bind(15, op.error_code).bind(16, op.error_message);
    s.bind(17, op.retrieved_at).bind(18, op.expires_at).bind(19, op.idempotency_key);
    s.bind(20, op.fence).bind(21, std::string_view(kind_name(op.kind)));
    int rc = s.step();
    if (rc == SQLITE_CONSTRAINT) {
      return make_error(ErrorCode::kConflict, "operation already exists", op.id);
    }
    if (rc != SQLITE_DONE) return db_error(db_, "insert");
    return {};
  }

  // The hot read (every status poll): on one of the reader connections, so
  // polls neither wait for the writer's lock nor for each other.
  Result<std::optional<Operation>> get(std::string_view id) override {
    metrics::StoreTimer timer("get");
    static std::atomic<unsigned> next{0};
    unsigned start = next.fetch_add(1, std::memory_order_relaxed);
    for (unsigned i = 0; i < kReaders; ++i) {
      Reader& cand = readers_[(start + i) % kReaders];
      if (cand.mu.try_lock()) {
        MutexLock lock(cand.mu, kAdoptLock);
        return read_one(cand, id);
      }
    }
    Reader& r = readers_[start % kReaders];
    MutexLock lock(r.mu);
    return read_one(r, id);
  }

  Result<std::vector<Operation>> claim_due(std::string_view owner, Millis now, Millis lease_until,
                                           int limit) override {
    metrics::StoreTimer timer("claim_due");
    MutexLock lock(mu_);
    auto st =
        prepare(std::string("UPDATE operations SET lease_owner = ?1, lease_until = ?2,"
                            " fence = fence + 1 WHERE id IN ("
                            " SELECT id FROM operations WHERE status IN ('NotStarted', 'Running')"
                            " AND next_poll_at <= ?3 AND (lease_until IS NULL OR lease_until <= ?3)"
                            " ORDER BY next_poll_at LIMIT ?4) RETURNING ") +
                kColumns);
    if (!st) return st.error();
    st->bind(1, owner).bind(2, lease_until).bind(3, now).bind(4, std::int64_t{limit});
    std::vector<Operation> out;
    int rc;
    while ((rc = st->step()) == SQLITE_ROW) out.push_back(read_row(st->raw()));
    if (rc != SQLITE_DONE) return db_error(db_, "claim_due");
    return out;
  }

  Result<int> renew_leases(std::string_view owner, const std::vector<std::string>& ids,
                           Millis lease_until) override {
    metrics::StoreTimer timer("renew_leases");
    MutexLock lock(mu_);
    auto st = prepare(
        "UPDATE operations SET lease_until = ?2 WHERE id = ?3 AND lease_owner = ?1"
        " AND status IN ('NotStarted', 'Running')");
    if (!st) return st.error();
    int renewed = 0;
    auto r = in_transaction([&]() REQUIRES(mu_) -> Result<void> {
      for (const auto& id : ids) {
        st->bind(1, owner).bind(2, lease_until).bind(3, id);
        int rc = st->step();
        sqlite3_reset(st->raw());
        if (rc != SQLITE_DONE) return db_error(db_, "renew_leases");
        renewed += sqlite3_changes(db_);
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

  Result<bool> complete(std::string_view id, std::string_view owner, const Completion& c) override {
    metrics::StoreTimer timer("complete");
    MutexLock lock(mu_);
    auto st = prepare(
        "UPDATE operations SET status = ?3, result = ?4, result_type = ?5, error_code = ?6,"
        " error_message = ?7, updated_at = ?8, expires_at = ?9, next_poll_at = NULL,"
        " lease_owner = NULL, lease_until = NULL, poll_count = poll_count + (?2 IS NOT NULL)"
        " WHERE id = ?1 AND status IN ('NotStarted', 'Running')"
        " AND (?2 IS NULL OR ((lease_owner = ?2 OR lease_owner IS NULL) AND fence = ?10))");
    if (!st) return st.error();
    st->bind(1, id).bind(2, owner).bind(3, std::string_view(status_name(c.status)));
    st->bind_blob(4, c.result).bind(5, c.result_type).bind(6, c.error_code);
    st->bind(7, c.error_message).bind(8, c.now).bind(9, c.expires_at).bind(10, c.fence);
    return changed(*st, "complete");
  }

  Result<bool> mark_retrieved(std::string_view id, Millis now, Millis expires_at) override {
    metrics::StoreTimer timer("mark_retrieved");
    MutexLock lock(mu_);
    auto st = prepare(
        "UPDATE operations SET retrieved_at = ?2, expires_at = ?3"
        " WHERE id = ?1 AND retrieved_at IS NULL");
    if (!st) return st.error();
    st->bind(1, id).bind(2, now).bind(3, expires_at);
    return changed(*st, "mark_retrieved");
  }

  Result<bool> remove(std::string_view id) override {
    metrics::StoreTimer timer("remove");
    MutexLock lock(mu_);
    int deleted = 0;
    auto r = in_transaction([&]() REQUIRES(mu_) -> Result<void> {
      auto st = prepare("DELETE FROM operations WHERE id = ?1 RETURNING status");
      if (!st) return st.error();
      st->bind(1, id);
      auto gone = deleted_statuses(*st, "remove", &deleted);
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
      // By rowid: the expiry index holds it, so each row is found without a
      // lookup of its id.
      auto st = prepare(
          "DELETE FROM operations WHERE rowid IN (SELECT rowid FROM operations"
          " WHERE expires_at IS NOT NULL AND expires_at <= ?1 LIMIT ?2) RETURNING status");
      if (!st) return st.error();
      st->bind(1, now).bind(2, std::int64_t{limit});
      auto gone = deleted_statuses(*st, "delete_expired", &deleted);
      if (!gone) return gone.error();
      if (auto u = uncount(gone.value()); !u) return u;
      auto keys = prepare("DELETE FROM idempotency WHERE expires_at <= ?1");
      if (!keys) return keys.error();
      keys->bind(1, now);
      if (keys->step() != SQLITE_DONE) return db_error(db_, "delete_expired");
      return {};
    });
    if (!r) return r.error();
    return deleted;
  }

  Result<std::optional<Millis>> next_due(Millis now) override {
    MutexLock lock(mu_);
    auto st = prepare(
        "SELECT MIN(next_poll_at) FROM operations WHERE status IN ('NotStarted', 'Running')"
        " AND (lease_until IS NULL OR lease_until <= ?1)");
    if (!st) return st.error();
    st->bind(1, now);
    if (st->step() != SQLITE_ROW) return db_error(db_, "next_due");
    return col_opt(st->raw(), 0);
  }

  Result<int> release_leases(std::string_view owner) override {
    MutexLock lock(mu_);
    auto st = prepare(
        "UPDATE operations SET lease_owner = NULL, lease_until = NULL"
        " WHERE lease_owner IS NOT NULL AND (?1 IS NULL OR lease_owner = ?1)");
    if (!st) return st.error();
    st->bind(1, owner);
    if (st->step() != SQLITE_DONE) return db_error(db_, "release_leases");
    return sqlite3_changes(db_);
  }

  Result<int> count_active() override {
    MutexLock lock(mu_);
    auto st = prepare(
        "SELECT COALESCE(SUM(n), 0) FROM operation_counts"
        " WHERE status IN ('NotStarted', 'Running')");
    if (!st) return st.error();
    if (st->step() != SQLITE_ROW) return db_error(db_, "count_active");
    return sqlite3_column_int(st->raw(), 0);
  }

  Result<std::vector<std::pair<std::string, int>>> count_by_status() override {
    MutexLock lock(mu_);
    auto st = prepare("SELECT status, n FROM operation_counts WHERE n > 0 ORDER BY status");
    if (!st) return st.error();
    std::vector<std::pair<std::string, int>> out;
    int rc;
    while ((rc = st->step()) == SQLITE_ROW) {
      out.emplace_back(col_text(st->raw(), 0), sqlite3_column_int(st->raw(), 1));
    }
    if (rc != SQLITE_DONE) return db_error(db_, "count_by_status");
    return out;
  }

  Result<std::optional<Operation>> latest_of_kind(Kind kind, std::string_view analyzer_id,
                                                  Millis now) override {
    metrics::StoreTimer timer("latest_of_kind");
    MutexLock lock(mu_);
    auto st = prepare(std::string("SELECT ") + kColumns +
                      " FROM operations WHERE analyzer_id = ?1 AND kind = ?2"
                      " AND kind <> 'analysis' AND (expires_at IS NULL OR expires_at > ?3)"
                      " ORDER BY created_at DESC, id DESC LIMIT 1");
    if (!st) return st.error();
    st->bind(1, analyzer_id).bind(2, std::string_view(kind_name(kind))).bind(3, now);
    int rc = st->step();
    if (rc == SQLITE_ROW) return std::optional<Operation>(read_row(st->raw()));
    if (rc != SQLITE_DONE) return db_error(db_, "latest_of_kind");
    return std::optional<Operation>();
  }

  Result<std::vector<Operation>> list(const ListQuery& q) override {
    metrics::StoreTimer timer("list");
    MutexLock lock(mu_);
    std::string cols = kColumns;
    cols.replace(cols.find("result, "), 8, "NULL, ");  // no bodies in a listing
    // Each shape its own statement, so that the index is entered at the
    // cursor (a seek, whatever the page's depth) and by status when one is
    // asked: "?2 IS NULL OR ..." conditions would make SQLite scan instead.
    std::string sql = "SELECT " + cols + " FROM operations WHERE tenant = ?1";
    if (q.status) sql += " AND status = ?2";
    if (q.after_created) sql += " AND (created_at, id) < (?4, ?5)";
    sql += " AND (expires_at IS NULL OR expires_at > ?3) ORDER BY created_at DESC, id DESC LIMIT ?6";
    auto st = prepare(sql);
    if (!st) return st.error();
    st->bind(1, q.tenant);
    if (q.status) st->bind(2, std::string_view(status_name(*q.status)));
    st->bind(3, q.now);
    // An empty id sorts before every other: (created, "") pages like "older
    // than created" did.
    if (q.after_created) st->bind(4, *q.after_created).bind_text(5, q.after_id);
    st->bind(6, std::int64_t{q.limit});
    std::vector<Operation> out;
    int rc;
    while ((rc = st->step()) == SQLITE_ROW) out.push_back(read_row(st->raw()));
    if (rc != SQLITE_DONE) return db_error(db_, "list");
    return out;
  }

  Result<Reservation> reserve_key(std::string_view tenant, std::string_view key,
                                  std::string_view request_hash, Millis now,
                                  Millis expires_at) override {
    metrics::StoreTimer timer("reserve_key");
    MutexLock lock(mu_);
    {
      // An expired reservation no longer holds its key.
      auto del =
          prepare("DELETE FROM idempotency WHERE tenant = ?1 AND key = ?2 AND expires_at <= ?3");
      if (!del) return del.error();
      del->bind(1, tenant).bind(2, key).bind(3, now);
      if (del->step() != SQLITE_DONE) return db_error(db_, "reserve_key");
    }
    auto ins = prepare(
        "INSERT OR IGNORE INTO idempotency (tenant, key, request_hash, created_at, expires_at)"
        " VALUES (?1, ?2, ?3, ?4, ?5)");
    if (!ins) return ins.error();
    ins->bind(1, tenant).bind(2, key).bind(3, request_hash).bind(4, now).bind(5, expires_at);
    if (ins->step() != SQLITE_DONE) return db_error(db_, "reserve_key");
    Reservation r;
    r.created = sqlite3_changes(db_) > 0;
    auto sel = prepare(
        "SELECT request_hash, operation_id FROM idempotency WHERE tenant = ?1 AND key = ?2");
    if (!sel) return sel.error();
    sel->bind(1, tenant).bind(2, key);
    if (sel->step() != SQLITE_ROW) return db_error(db_, "reserve_key");
    r.request_hash = col_text(sel->raw(), 0);
    r.operation_id = col_text(sel->raw(), 1);
    return r;
  }

  Result<void> bind_key(std::string_view tenant, std::string_view key,
                        std::string_view operation_id) override {
    MutexLock lock(mu_);
    auto st = prepare("UPDATE idempotency SET operation_id = ?3 WHERE tenant = ?1 AND key = ?2");
    if (!st) return st.error();
    st->bind(1, tenant).bind(2, key).bind(3, operation_id);
    if (st->step() != SQLITE_DONE) return db_error(db_, "bind_key");
    return {};
  }

  Result<void> release_key(std::string_view tenant, std::string_view key) override {
    MutexLock lock(mu_);
    auto st =
        prepare("DELETE FROM idempotency WHERE tenant = ?1 AND key = ?2 AND operation_id IS NULL");
    if (!st) return st.error();
    st->bind(1, tenant).bind(2, key);
    if (st->step() != SQLITE_DONE) return db_error(db_, "release_key");
    return {};
  }

  bool exclusive() const override { return true; }

  Result<void> ping() override {
    MutexLock lock(mu_);
    auto st = prepare("SELECT 1");
    if (!st) return st.error();
    if (st->step() != SQLITE_ROW) return db_error(db_, "ping");
    return {};
  }

 private:
  // The status is written only when it changes (rarely: NotStarted to
  // Running): SQLite rewrites every index holding a column the UPDATE sets,
  // whatever the value, so setting it on each poll would rewrite the
  // listing-by-status index each time. The first statement matches only an
  // unchanged status; the second, for a change, runs when it did not.
  Result<bool> progress_locked(std::string_view id, std::string_view owner, const Progress& p)
      REQUIRES(mu_) {
    {
      auto same = prepare(
          "UPDATE operations SET next_poll_at = ?4, attempts = ?5, updated_at = ?6,"
          " poll_count = poll_count + 1, lease_owner = NULL, lease_until = NULL"
          " WHERE id = ?1 AND lease_owner = ?2 AND fence = ?7 AND status = ?3"
          " AND status IN ('NotStarted', 'Running')");
      if (!same) return same.error();
      same->bind(1, id).bind(2, owner).bind(3, std::string_view(status_name(p.status)));
      same->bind(4, p.next_poll_at).bind(5, std::int64_t{p.attempts}).bind(6, p.now);
      same->bind(7, p.fence);
      auto r = changed(*same, "record_progress");
      if (!r || r.value()) return r;
    }
    auto st = prepare(
        "UPDATE operations SET status = ?3, next_poll_at = ?4, attempts = ?5, updated_at = ?6,"
        " poll_count = poll_count + 1, lease_owner = NULL, lease_until = NULL"
        " WHERE id = ?1 AND lease_owner = ?2 AND fence = ?7"
        " AND status IN ('NotStarted', 'Running')");
    if (!st) return st.error();
    st->bind(1, id).bind(2, owner).bind(3, std::string_view(status_name(p.status)));
    st->bind(4, p.next_poll_at).bind(5, std::int64_t{p.attempts}).bind(6, p.now);
    st->bind(7, p.fence);
    return changed(*st, "record_progress");
  }

  // Runs a DELETE ... RETURNING status; how many rows of each status it
  // deleted, their sum in *total.
  Result<std::map<std::string, int>> deleted_statuses(Stmt& st, std::string_view what, int* total)
      REQUIRES(mu_) {
    std::map<std::string, int> gone;
    int rc;
    while ((rc = st.step()) == SQLITE_ROW) {
      ++gone[col_text(st.raw(), 0)];
      ++*total;
    }
    if (rc != SQLITE_DONE) return db_error(db_, what);
    return gone;
  }

  // Takes deleted records off the kept counts (migration v5), in the
  // deleting transaction.
  Result<void> uncount(const std::map<std::string, int>& gone) REQUIRES(mu_) {
    for (const auto& [status, n] : gone) {
      auto st = prepare("UPDATE operation_counts SET n = n - ?2 WHERE status = ?1");
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

  Result<void> exec(const char* sql) REQUIRES(mu_) {
    char* err = nullptr;
    if (sqlite3_exec(db_, sql, nullptr, nullptr, &err) != SQLITE_OK) {
      std::string detail = err ? err : "";
      sqlite3_free(err);
      return make_error(ErrorCode::kUnavailable, "the operation store failed", detail);
    }
    return {};
  }

  Result<void> migrate() REQUIRES(mu_) {
    sqlite3_stmt* s = nullptr;
    sqlite3_prepare_v2(db_, "PRAGMA user_version", -1, &s, nullptr);
    int version = sqlite3_step(s) == SQLITE_ROW ? sqlite3_column_int(s, 0) : 0;
    sqlite3_finalize(s);
    const int latest = static_cast<int>(std::size(kMigrations));
    if (version > latest) {
      return make_error(ErrorCode::kInvalidArgument,
                        "the store was written by a newer lrogate (schema version " +
                            std::to_string(version) + ")");
    }
    for (int v = version; v < latest; ++v) {
      std::string sql = std::string("BEGIN;") + kMigrations[v] +
                        "PRAGMA user_version = " + std::to_string(v + 1) + "; COMMIT;";
      if (auto r = exec(sql.c_str()); !r) {
        (void)exec("ROLLBACK");
        return r;
      }
    }
    return {};
  }

  Result<Stmt> prepare(const std::string& sql) REQUIRES(mu_) {
    auto it = cache_.find(sql);
    if (it == cache_.end()) {
      sqlite3_stmt* s = nullptr;
      if (sqlite3_prepare_v3(db_, sql.c_str(), -1, SQLITE_PREPARE_PERSISTENT, &s, nullptr) !=
          SQLITE_OK) {
        return db_error(db_, "prepare");
      }
      it = cache_.emplace(sql, s).first;
    }
    return Stmt(db_, it->second);
  }

  Result<bool> changed(Stmt& s, std::string_view what) REQUIRES(mu_) {
    if (s.step() != SQLITE_DONE) return db_error(db_, what);
    return sqlite3_changes(db_) > 0;
  }

  // WAL checkpoints, off the request path: SQLite's automatic checkpoint
  // runs inside whichever commit crosses 1,000 WAL pages (4 MB), copying the
  // pages and syncing the file there: a stall of several ms for that request,
  // four times a second at 1,000 submits/s. Instead this thread copies pages
  // every 200 ms on its own connection (PASSIVE: it neither waits for nor
  // blocks readers and the writer), and once the WAL passes kRestartFrames
  // (32 MB) it makes the WAL start over (RESTART: new writes wait while the
  // little that is left is copied), which bounds the WAL.
  static constexpr int kRestartFrames = 8192;
  Result<void> start_checkpointer(const std::string& path) {
    if (sqlite3_open_v2(path.c_str(), &ckpt_db_, SQLITE_OPEN_READWRITE | SQLITE_OPEN_NOMUTEX,
                        nullptr) != SQLITE_OK) {
      return make_error(ErrorCode::kUnavailable, "cannot open the SQLite store " + path,
                        ckpt_db_ ? sqlite3_errmsg(ckpt_db_) : "");
    }
    ckpt_thread_ = std::thread([this] {
      MutexLock lock(ckpt_mu_);
      bool warned = false;
      while (!ckpt_cv_.wait_for(ckpt_mu_, std::chrono::milliseconds(200),
                                [this]() REQUIRES(ckpt_mu_) { return ckpt_stop_; })) {
        // A connection learns that the file is in WAL mode by reading it;
        // until it has, a checkpoint is a silent no-op.
        sqlite3_exec(ckpt_db_, "SELECT 1 FROM sqlite_master LIMIT 1", nullptr, nullptr, nullptr);
        int wal_frames = 0, done = 0;
        int rc = sqlite3_wal_checkpoint_v2(ckpt_db_, "main", SQLITE_CHECKPOINT_PASSIVE, &wal_frames,
                                           &done);
        if (rc == SQLITE_OK && wal_frames > kRestartFrames) {
          // Under steady writes a passive checkpoint never catches up, so
          // the WAL would never start over: now and then, briefly hold new
          // writers back until the rest is copied; the next write restarts it.
          rc = sqlite3_wal_checkpoint_v2(ckpt_db_, "main", SQLITE_CHECKPOINT_RESTART, &wal_frames,
                                         &done);
        }
        if (rc != SQLITE_OK && rc != SQLITE_BUSY && !warned) {
          warned = true;
          log::warn("store checkpoint failed", {{"detail", sqlite3_errmsg(ckpt_db_)}});
        }
      }
    });
    return {};
  }
  sqlite3* ckpt_db_ = nullptr;  // the checkpointer thread's alone once it runs
  Mutex ckpt_mu_;
  CondVar ckpt_cv_;
  bool ckpt_stop_ GUARDED_BY(ckpt_mu_) = false;
  std::thread ckpt_thread_;

  // Read-only connections for get(): WAL lets them read while the writer
  // writes; each has its own lock and statement.
  static constexpr unsigned kReaders = 4;
  struct Reader {
    Mutex mu;
    sqlite3* db GUARDED_BY(mu) = nullptr;
    sqlite3_stmt* get GUARDED_BY(mu) = nullptr;
  };
  Reader readers_[kReaders];

  // One get() on a reader the caller holds.
  static Result<std::optional<Operation>> read_one(Reader& r, std::string_view id) REQUIRES(r.mu) {
    sqlite3_stmt* s = r.get;
    sqlite3_bind_text(s, 1, id.data(), static_cast<int>(id.size()), SQLITE_STATIC);
    int rc = sqlite3_step(s);
    Result<std::optional<Operation>> out = std::optional<Operation>();
    if (rc == SQLITE_ROW)
      out = std::optional<Operation>(read_row(s));
    else if (rc != SQLITE_DONE)
      out = db_error(r.db, "get");
    sqlite3_reset(s);
    return out;
  }

  Result<void> open_readers(const std::string& path) {
    for (auto& r : readers_) {
      MutexLock lock(r.mu);
      if (sqlite3_open_v2(path.c_str(), &r.db, SQLITE_OPEN_READWRITE | SQLITE_OPEN_NOMUTEX,
                          nullptr) != SQLITE_OK) {
        return make_error(ErrorCode::kUnavailable, "cannot open the SQLite store " + path,
                          r.db ? sqlite3_errmsg(r.db) : "");
      }
      sqlite3_busy_timeout(r.db, 5000);
    }
    return {};
  }
  // After the migrations: the statement needs the schema.
  Result<void> prepare_readers() {
    std::string sql = std::string("SELECT ") + kColumns + " FROM operations WHERE id = ?1";
    for (auto& r : readers_) {
      MutexLock lock(r.mu);
      if (sqlite3_prepare_v3(r.db, sql.c_str(), -1, SQLITE_PREPARE_PERSISTENT, &r.get, nullptr) !=
          SQLITE_OK) {
        return db_error(r.db, "prepare");
      }
    }
    return {};
  }

  const bool group_commit_;
  // Inserts waiting for the writer (see insert()); taken under mu_.
  Mutex queue_mu_ ACQUIRED_AFTER(mu_);
  std::vector<PendingInsert*> queue_ GUARDED_BY(queue_mu_);
  Mutex mu_;
  sqlite3* db_ GUARDED_BY(mu_) = nullptr;  // the writer connection
  int lock_fd_ = -1;                       // set by open()
  // db_'s prepared statements.
  std::map<std::string, sqlite3_stmt*> cache_ GUARDED_BY(mu_);
};

}  // namespace

Result<std::unique_ptr<OperationStore>> open(const std::string& path, const Options& options) {
  auto s = std::make_unique<SqliteStore>(options);
  if (auto r = s->open(path); !r) return r.error();
  return std::unique_ptr<OperationStore>(std::move(s));
}

}  // namespace lrogate::store::sqlite
