#include "store/postgres/postgres_store.h"

#include <libpq-fe.h>
#include <poll.h>

#include <atomic>
#include <bitset>
#include <charconv>
#include <cstring>
#include <optional>
#include <thread>
#include <unordered_set>

#include "base/log.h"
#include "base/metrics.h"
#include "base/thread_annotations.h"

namespace lrogate::store::postgres {
namespace {

constexpr int kPoolSize = 4;
// The replicas' change feed (OperationStore::Change): final transitions on
// one channel (what wakes long-polls), every other client-visible write on
// the other (what keeps read caches coherent); the payload is the id.
constexpr const char* kFinishedChannel = "lrogate_finished";
constexpr const char* kChangedChannel = "lrogate_changed";
// The listener asks its connection for a sign of life after this long
// without one, and gives the connection up when none comes within the
// deadline: a silent network partition then costs a cache at most about
// kProbeAfter + kProbeDeadline of unheard changes.
constexpr std::chrono::milliseconds kProbeAfter{1000};
constexpr std::chrono::milliseconds kProbeDeadline{1500};
constexpr std::chrono::seconds kCheckoutWait{10};

constexpr const char* kColumns =
    "id, tenant, analyzer_id, upstream_url, status, created_at, updated_at, next_poll_at, "
    "poll_count, attempts, lease_owner, lease_until, result, result_type, error_code, "
    "error_message, retrieved_at, expires_at, idempotency_key, fence, kind";
constexpr const char* kListColumns =
    "id, tenant, analyzer_id, upstream_url, status, created_at, updated_at, next_poll_at, "
    "poll_count, attempts, lease_owner, lease_until, NULL::bytea, result_type, error_code, "
    "error_message, retrieved_at, expires_at, idempotency_key, fence, kind";
#define LROGATE_ACTIVE "status IN ('NotStarted', 'Running')"
// What the due index (operations_due_at, migration v3) holds.
#define LROGATE_DUE_AT "CASE WHEN status IN ('NotStarted', 'Running') THEN next_poll_at END"

// Versioned migrations; lrogate_schema.version holds how many have run.
// Ids compare bytewise (COLLATE "C"), as in SQLite, so listing pages are
// the same on both backends whatever the database's locale.
const char* const kMigrations[] = {
    R"sql(
CREATE TABLE operations (
  id              TEXT COLLATE "C" PRIMARY KEY,
  tenant          TEXT NOT NULL,
  analyzer_id     TEXT NOT NULL,
  upstream_url    TEXT NOT NULL,
  status          TEXT NOT NULL,
  created_at      BIGINT NOT NULL,
  updated_at      BIGINT NOT NULL,
  next_poll_at    BIGINT,
  poll_count      INTEGER NOT NULL DEFAULT 0,
  attempts        INTEGER NOT NULL DEFAULT 0,
  lease_owner     TEXT,
  lease_until     BIGINT,
  result          BYTEA,
  result_type     TEXT,
  error_code      TEXT,
  error_message   TEXT,
  retrieved_at    BIGINT,
  expires_at      BIGINT,
  idempotency_key TEXT,
  fence           BIGINT NOT NULL DEFAULT 0
);
CREATE INDEX operations_due ON operations(next_poll_at)
  WHERE status IN ('NotStarted', 'Running');
CREATE INDEX operations_expiry ON operations(expires_at) WHERE expires_at IS NOT NULL;
CREATE INDEX operations_listing ON operations(tenant, created_at DESC, id DESC);
CREATE UNIQUE INDEX operations_idempotency ON operations(tenant, idempotency_key)
  WHERE idempotency_key IS NOT NULL;
CREATE TABLE idempotency (
  tenant       TEXT NOT NULL,
  key          TEXT NOT NULL,
  request_hash TEXT NOT NULL,
  operation_id TEXT,
  created_at   BIGINT NOT NULL,
  expires_at   BIGINT NOT NULL,
  PRIMARY KEY (tenant, key)
);
CREATE INDEX idempotency_expiry ON idempotency(expires_at);
)sql",
    // v2: what an operation is (store::Kind); analyzer creations are found by
    // analyzer id, analyses never are (the partial index leaves them out).
    R"sql(
ALTER TABLE operations ADD COLUMN kind TEXT NOT NULL DEFAULT 'analysis';
CREATE INDEX operations_creations ON operations(analyzer_id, created_at DESC)
  WHERE kind <> 'analysis';
)sql",
    // v3: costs that stay flat with millions of records. The counts per
    // status were a scan of the whole table. Now every write that changes
    // them appends its difference to operation_count_changes (one row per
    // status an INSERT or DELETE statement touched, two per status change:
    // no shared row that writers would queue on), and a roll-up (kCountByStatus, the sweep,
    // under an advisory try-lock so replicas never wait for each other)
    // folds the changes into operation_counts; a count is the sum of both.
    // A listing by status has its own index. The due index is on an
    // expression (LROGATE_DUE_AT, next_poll_at while active) for its
    // statistics: the planner multiplied the selectivity of the status by
    // that of next_poll_at (NULL once finished, so the two go together) and,
    // expecting a few dozen due records, sorted all of them instead of
    // walking the index for the first few; the expression's own statistics
    // count them right.
    R"sql(
CREATE TABLE operation_counts (status TEXT PRIMARY KEY, n BIGINT NOT NULL);
CREATE TABLE operation_count_changes (status TEXT NOT NULL, delta BIGINT NOT NULL);
INSERT INTO operation_counts SELECT status, COUNT(*) FROM operations GROUP BY status;
CREATE FUNCTION lrogate_count_inserted() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  INSERT INTO operation_count_changes SELECT status, COUNT(*) FROM inserted GROUP BY status;
  RETURN NULL;
END $$;
CREATE FUNCTION lrogate_count_deleted() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  INSERT INTO operation_count_changes SELECT status, -COUNT(*) FROM deleted GROUP BY status;
  RETURN NULL;
END $$;
CREATE FUNCTION lrogate_count_status() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  INSERT INTO operation_count_changes VALUES (OLD.status, -1), (NEW.status, 1);
  RETURN NULL;
END $$;
CREATE TRIGGER operations_counted_insert AFTER INSERT ON operations
  REFERENCING NEW TABLE AS inserted FOR EACH STATEMENT EXECUTE FUNCTION lrogate_count_inserted();
CREATE TRIGGER operations_counted_delete AFTER DELETE ON operations
  REFERENCING OLD TABLE AS deleted FOR EACH STATEMENT EXECUTE FUNCTION lrogate_count_deleted();
CREATE TRIGGER operations_counted_status AFTER UPDATE OF status ON operations
  FOR EACH ROW WHEN (OLD.status IS DISTINCT FROM NEW.status)
  EXECUTE FUNCTION lrogate_count_status();
CREATE INDEX operations_listing_status ON operations(tenant, status, created_at DESC, id DESC);
DROP INDEX operations_due;
)sql"
    "CREATE INDEX operations_due_at ON operations ((" LROGATE_DUE_AT ")) WHERE " LROGATE_ACTIVE ";",
};

// Every statement the store runs, prepared once per connection. Parameters
// carry explicit types: libpq sends them as text (the result body as bytes).
enum Sql {
  kInsert,
  kGet,
  kClaim,
  kRenew,
  kProgress,
  kProgressMany,
  kComplete,
  kRetrieved,
  kRemove,
  kDeleteExpired,
  kDeleteExpiredKeys,
  kNextDue,
  kRelease,
  kCountActive,
  kCountByStatus,
  kList,
  kListAfter,
  kListStatus,
  kListStatusAfter,
  kLatestOfKind,
  kKeyExpire,
  kKeyInsert,
  kKeySelect,
  kKeyBind,
  kKeyRelease,
  kPing,
  kClock,
  kSqlCount
};

const std::string kStatements[kSqlCount] = {
    /* kInsert */ std::string("INSERT INTO operations (") + kColumns +
        ") VALUES ($1::text, $2::text, $3::text, $4::text, $5::text, $6::bigint, $7::bigint,"
        " $8::bigint, $9::int, $10::int, $11::text, $12::bigint, $13::bytea, $14::text,"
        " $15::text, $16::text, $17::bigint, $18::bigint, $19::text, $20::bigint, $21::text)",
    /* kGet */ std::string("SELECT ") + kColumns + " FROM operations WHERE id = $1::text",
    /* kClaim */
    /* the ids first, as an array: as "id IN (subquery)" the planner may
       join against the whole table (see kDeleteExpired) */
    std::string("UPDATE operations SET lease_owner = $1::text, lease_until = $2::bigint,"
                " fence = fence + 1 WHERE id = ANY(ARRAY(SELECT id FROM operations WHERE "
                LROGATE_ACTIVE " AND " LROGATE_DUE_AT " <= $3::bigint AND (lease_until IS NULL OR"
                " lease_until <= $3::bigint) ORDER BY " LROGATE_DUE_AT " LIMIT $4::int"
                " FOR UPDATE SKIP LOCKED)) RETURNING ") +
        kColumns,
    /* kRenew */
    "UPDATE operations SET lease_until = $2::bigint WHERE lease_owner = $1::text"
    " AND id = ANY($3::text[]) AND " LROGATE_ACTIVE,
    /* kProgress: the writes a client can see tell the replicas' caches
       (lrogate_changed); one row per record written */
    "WITH done AS (UPDATE operations SET status = $3::text, next_poll_at = $4::bigint,"
    " attempts = $5::int, updated_at = $6::bigint, poll_count = poll_count + 1,"
    " lease_owner = NULL, lease_until = NULL WHERE id = $1::text AND lease_owner = $2::text"
    " AND fence = $7::bigint AND " LROGATE_ACTIVE " RETURNING id)"
    " SELECT pg_notify('lrogate_changed', id) FROM done",
    /* kProgressMany: a batch of progress writes in one round trip, each row
       fenced as kProgress fences one */
    "WITH done AS (UPDATE operations AS o SET status = v.status, next_poll_at = v.next_poll_at,"
    " attempts = v.attempts, updated_at = v.now, poll_count = o.poll_count + 1,"
    " lease_owner = NULL, lease_until = NULL"
    " FROM unnest($2::text[], $3::text[], $4::bigint[], $5::int[], $6::bigint[], $7::bigint[])"
    " AS v(id, status, next_poll_at, attempts, now, fence)"
    " WHERE o.id = v.id AND o.lease_owner = $1::text AND o.fence = v.fence"
    " AND o.status IN ('NotStarted', 'Running') RETURNING o.id)"
    " SELECT id, pg_notify('lrogate_changed', id) FROM done",
    /* kComplete: one statement that also tells every replica's listener */
    "WITH done AS (UPDATE operations SET status = $3::text, result = $4::bytea,"
    " result_type = $5::text, error_code = $6::text, error_message = $7::text,"
    " updated_at = $8::bigint, expires_at = $9::bigint, next_poll_at = NULL,"
    " lease_owner = NULL, lease_until = NULL,"
    " poll_count = poll_count + CASE WHEN $2::text IS NULL THEN 0 ELSE 1 END"
    " WHERE id = $1::text AND " LROGATE_ACTIVE
    " AND ($2::text IS NULL OR ((lease_owner = $2::text OR lease_owner IS NULL)"
    " AND fence = $10::bigint)) RETURNING id)"
    " SELECT pg_notify('lrogate_finished', id) FROM done",
    /* kRetrieved */
    "WITH done AS (UPDATE operations SET retrieved_at = $2::bigint, expires_at = $3::bigint"
    " WHERE id = $1::text AND retrieved_at IS NULL RETURNING id)"
    " SELECT pg_notify('lrogate_changed', id) FROM done",
    /* kRemove */
    "WITH done AS (DELETE FROM operations WHERE id = $1::text RETURNING id)"
    " SELECT pg_notify('lrogate_changed', id) FROM done",
    /* kDeleteExpired: expired records read as gone already; the notices keep
       a replica whose clock lags from answering from memory. The ids are
       picked first (an array, then deleted by primary key): as "id IN
       (subquery)" the planner may join against the whole table. SKIP LOCKED:
       replicas sweeping at once take different records. */
    "WITH done AS (DELETE FROM operations WHERE id = ANY(ARRAY(SELECT id FROM operations"
    " WHERE expires_at IS NOT NULL AND expires_at <= $1::bigint ORDER BY expires_at"
    " LIMIT $2::int FOR UPDATE SKIP LOCKED)) RETURNING id)"
    " SELECT pg_notify('lrogate_changed', id) FROM done",
    /* kDeleteExpiredKeys: and the counts' roll-up (as in kCountByStatus),
       in the same round trip, so that the changes stay few when nobody asks
       for counts */
    "WITH keys AS (DELETE FROM idempotency WHERE expires_at <= $1::bigint),"
    " moved AS (DELETE FROM operation_count_changes"
    " WHERE (SELECT pg_try_advisory_xact_lock(7405572)) RETURNING status, delta)"
    " INSERT INTO operation_counts (status, n) SELECT status, SUM(delta) FROM moved"
    " GROUP BY status ON CONFLICT (status) DO UPDATE SET n = operation_counts.n + EXCLUDED.n",
    /* kNextDue */
    "SELECT MIN(" LROGATE_DUE_AT ") FROM operations WHERE " LROGATE_ACTIVE
    " AND (lease_until IS NULL OR lease_until <= $1::bigint)",
    /* kRelease */
    "UPDATE operations SET lease_owner = NULL, lease_until = NULL"
    " WHERE lease_owner IS NOT NULL AND ($1::text IS NULL OR lease_owner = $1::text)",
    /* kCountActive: the kept counts (see migration v3) */
    "SELECT COALESCE(SUM(n), 0)::bigint FROM (SELECT status, n FROM operation_counts UNION ALL"
    " SELECT status, delta FROM operation_count_changes) AS c WHERE " LROGATE_ACTIVE,
    /* kCountByStatus: rolls the changes up when no other replica does at the
       moment (the try-lock), and counts. Every part of one statement reads
       one snapshot, so the sum is right whether the roll-up ran or not. */
    "WITH locked AS (SELECT pg_try_advisory_xact_lock(7405572) AS ok),"
    " moved AS (DELETE FROM operation_count_changes WHERE (SELECT ok FROM locked)"
    " RETURNING status, delta),"
    " rolled AS (INSERT INTO operation_counts (status, n) SELECT status, SUM(delta) FROM moved"
    " GROUP BY status ON CONFLICT (status) DO UPDATE SET n = operation_counts.n + EXCLUDED.n)"
    " SELECT status, SUM(n)::bigint FROM (SELECT status, n FROM operation_counts UNION ALL"
    " SELECT status, delta FROM operation_count_changes) AS c"
    " GROUP BY status HAVING SUM(n) <> 0 ORDER BY status",
    /* kList, kListAfter, kListStatus, kListStatusAfter: one statement per
       shape, so the index is entered at the cursor (a seek at any depth) and
       by status when one is asked */
    std::string("SELECT ") + kListColumns +
        " FROM operations WHERE tenant = $1::text AND (expires_at IS NULL OR expires_at > "
        "$2::bigint) ORDER BY created_at DESC, id DESC LIMIT $3::int",
    std::string("SELECT ") + kListColumns +
        " FROM operations WHERE tenant = $1::text AND (created_at, id) < ($4::bigint, $5::text)"
        " AND (expires_at IS NULL OR expires_at > $2::bigint)"
        " ORDER BY created_at DESC, id DESC LIMIT $3::int",
    std::string("SELECT ") + kListColumns +
        " FROM operations WHERE tenant = $1::text AND status = $4::text"
        " AND (expires_at IS NULL OR expires_at > $2::bigint)"
        " ORDER BY created_at DESC, id DESC LIMIT $3::int",
    std::string("SELECT ") + kListColumns +
        " FROM operations WHERE tenant = $1::text AND status = $4::text"
        " AND (created_at, id) < ($5::bigint, $6::text)"
        " AND (expires_at IS NULL OR expires_at > $2::bigint)"
        " ORDER BY created_at DESC, id DESC LIMIT $3::int",
    /* kLatestOfKind */
    std::string("SELECT ") + kColumns +
        " FROM operations WHERE analyzer_id = $1::text AND kind = $2::text"
        " AND kind <> 'analysis' AND (expires_at IS NULL OR expires_at > $3::bigint)"
        " ORDER BY created_at DESC, id DESC LIMIT 1",
    /* kKeyExpire */
    "DELETE FROM idempotency WHERE tenant = $1::text AND key = $2::text"
    " AND expires_at <= $3::bigint",
    /* kKeyInsert */
    "INSERT INTO idempotency (tenant, key, request_hash, created_at, expires_at)"
    " VALUES ($1::text, $2::text, $3::text, $4::bigint, $5::bigint) ON CONFLICT DO NOTHING",
    /* kKeySelect */
    "SELECT request_hash, operation_id FROM idempotency WHERE tenant = $1::text"
    " AND key = $2::text",
    /* kKeyBind */
    "UPDATE idempotency SET operation_id = $3::text WHERE tenant = $1::text AND key = $2::text",
    /* kKeyRelease */
    "DELETE FROM idempotency WHERE tenant = $1::text AND key = $2::text"
    " AND operation_id IS NULL",
    /* kPing */ "SELECT 1",
    /* kClock: the database's time, ms since the epoch (clock_timestamp():
       now, not the transaction's start) */
    "SELECT (extract(epoch FROM clock_timestamp()) * 1000)::bigint",
};

using PgResult = std::unique_ptr<PGresult, decltype(&PQclear)>;

// Parameters of one statement. Empty strings and empty optionals go as
// NULL, as the SQLite backend binds them.
class Params {
 public:
  Params& text(std::string_view v) {
    if (v.empty()) return null();
    return add(std::string(v), 0);
  }
  // Text as given, the empty string too (text() makes it NULL).
  Params& text_or_empty(std::string_view v) { return add(std::string(v), 0); }
  Params& bytes(std::string_view v) {
    if (v.empty()) return null();
    return add(std::string(v), 1);
  }
  Params& num(std::int64_t v) { return add(std::to_string(v), 0); }
  Params& num(std::optional<std::int64_t> v) { return v ? num(*v) : null(); }
  Params& null() {
    storage_.emplace_back();
    null_.push_back(true);
    formats_.push_back(0);
    return *this;
  }
  // A text[] literal: {"a","b"} with quotes and backslashes escaped.
  Params& text_array(const std::vector<std::string>& items) {
    std::string lit = "{";
    for (std::size_t i = 0; i < items.size(); ++i) {
      if (i) lit += ',';
      lit += '"';
      for (char c : items[i]) {
        if (c == '"' || c == '\\') lit += '\\';
        lit += c;
      }
      lit += '"';
    }
    lit += '}';
    return add(std::move(lit), 0);
  }

  // A bigint[]/int[] literal: {1,2,3}.
  Params& num_array(const std::vector<std::int64_t>& items) {
    std::string lit = "{";
    for (std::size_t i = 0; i < items.size(); ++i) {
      if (i) lit += ',';
      lit += std::to_string(items[i]);
    }
    lit += '}';
    return add(std::move(lit), 0);
  }

  int size() const { return static_cast<int>(storage_.size()); }
  // Pointers into storage_: valid until the Params changes.
  void view(std::vector<const char*>* values, std::vector<int>* lengths) const {
    values->clear();
    lengths->clear();
    for (std::size_t i = 0; i < storage_.size(); ++i) {
      values->push_back(null_[i] ? nullptr : storage_[i].data());
      lengths->push_back(static_cast<int>(storage_[i].size()));
    }
  }
  const int* formats() const { return formats_.data(); }

 private:
  Params& add(std::string v, int format) {
    storage_.push_back(std::move(v));
    null_.push_back(false);
    formats_.push_back(format);
    return *this;
  }
  std::vector<std::string> storage_;
  std::vector<bool> null_;
  std::vector<int> formats_;
};

std::string get_text(const PGresult* r, int row, int col) {
  if (PQgetisnull(r, row, col)) return {};
  return std::string(PQgetvalue(r, row, col), static_cast<std::size_t>(PQgetlength(r, row, col)));
}

std::optional<std::int64_t> get_opt(const PGresult* r, int row, int col) {
  if (PQgetisnull(r, row, col)) return std::nullopt;
  const char* v = PQgetvalue(r, row, col);
  std::int64_t out = 0;
  std::from_chars(v, v + PQgetlength(r, row, col), out);
  return out;
}

std::int64_t get_num(const PGresult* r, int row, int col) {
  return get_opt(r, row, col).value_or(0);
}

std::string get_bytes(const PGresult* r, int row, int col) {
  if (PQgetisnull(r, row, col)) return {};
  std::size_t n = 0;
  unsigned char* raw =
      PQunescapeBytea(reinterpret_cast<const unsigned char*>(PQgetvalue(r, row, col)), &n);
  if (!raw) return {};
  std::string out(reinterpret_cast<const char*>(raw), n);
  PQfreemem(raw);
  return out;
}

Operation read_row(const PGresult* r, int row) {
  Operation op;
  op.id = get_text(r, row, 0);
  op.tenant = get_text(r, row, 1);
  op.analyzer_id = get_text(r, row, 2);
  op.upstream_url = get_text(r, row, 3);
  op.status = parse_status(get_text(r, row, 4)).value_or(Status::kRunning);
  op.created_at = get_num(r, row, 5);
  op.updated_at = get_num(r, row, 6);
  op.next_poll_at = get_opt(r, row, 7);
  op.poll_count = static_cast<int>(get_num(r, row, 8));
  op.attempts = static_cast<int>(get_num(r, row, 9));
  op.lease_owner = get_text(r, row, 10);
  op.lease_until = get_opt(r, row, 11);
  op.result = get_bytes(r, row, 12);
  op.result_type = get_text(r, row, 13);
  op.error_code = get_text(r, row, 14);
  op.error_message = get_text(r, row, 15);
  op.retrieved_at = get_opt(r, row, 16);
  op.expires_at = get_opt(r, row, 17);
  op.idempotency_key = get_text(r, row, 18);
  op.fence = get_num(r, row, 19);
  op.kind = parse_kind(get_text(r, row, 20)).value_or(Kind::kAnalysis);
  return op;
}

std::vector<Operation> read_rows(const PGresult* r) {
  std::vector<Operation> out;
  out.reserve(static_cast<std::size_t>(PQntuples(r)));
  for (int i = 0; i < PQntuples(r); ++i) out.push_back(read_row(r, i));
  return out;
}

int affected(const PGresult* r) {
  const char* n = PQcmdTuples(const_cast<PGresult*>(r));
  int out = 0;
  if (n) std::from_chars(n, n + std::strlen(n), out);
  return out;
}

// libpq's own message, one line: it names the host and the failure, never
// the password.
std::string pg_message(PGconn* c) {
  std::string m = c ? PQerrorMessage(c) : "out of memory";
  while (!m.empty() && (m.back() == '\n' || m.back() == ' ')) m.pop_back();
  for (char& ch : m) {
    if (ch == '\n') ch = ' ';
  }
  return m;
}

Error unavailable(std::string detail) {
  return make_error(ErrorCode::kUnavailable, "the operation store is unavailable",
                    std::move(detail));
}

// Opens one connection: short connect timeout, keepalives and a statement
// timeout, so a database that hangs cannot hold a request for long. The
// user's URL comes last and wins over these defaults.
PGconn* connect(const std::string& url, const char* application_name = "lrogate") {
  const char* keys[] = {
      "connect_timeout", "keepalives", "keepalives_idle", "application_name", "options",
      "dbname",          nullptr};
  const char* values[] = {"3",         "1",    "10", application_name, "-c statement_timeout=10000",
                          url.c_str(), nullptr};
  return PQconnectdbParams(keys, values, 1);
}

struct Conn {
  PGconn* pg = nullptr;
  std::bitset<kSqlCount> prepared;
  void close() {
    if (pg) PQfinish(pg);
    pg = nullptr;
    prepared.reset();
  }
};

class PostgresStore final : public OperationStore {
 public:
  explicit PostgresStore(std::string url) : url_(std::move(url)) {
    for (auto& c : conns_) free_.push_back(&c);
  }

  ~PostgresStore() override {
    stop_ = true;
    if (listener_thread_.joinable()) listener_thread_.join();
    for (auto& c : conns_) c.close();
  }

  Result<void> open() {
    if (auto r = migrate(); !r) return r;
    listener_thread_ = std::thread([this] { listen_loop(); });
    return {};
  }

  Result<void> insert(const Operation& op) override {
    metrics::StoreTimer timer("insert");
    Params p;
    p.text(op.id).text(op.tenant).text(op.analyzer_id).text(op.upstream_url);
    p.text(status_name(op.status)).num(op.created_at).num(op.updated_at).num(op.next_poll_at);
    p.num(std::int64_t{op.poll_count}).num(std::int64_t{op.attempts}).text(op.lease_owner);
    p.num(op.lease_until).bytes(op.result).text(op.result_type).text(op.error_code);
    p.text(op.error_message).num(op.retrieved_at).num(op.expires_at).text(op.idempotency_key);
    p.num(op.fence).text(kind_name(op.kind));
    auto r = run(kInsert, p, "insert");
    if (!r) {
      if (r.error().code == ErrorCode::kConflict) {
        return make_error(ErrorCode::kConflict, "operation already exists", op.id);
      }
      return r.error();
    }
    return {};
  }

  Result<std::optional<Operation>> get(std::string_view id) override {
    metrics::StoreTimer timer("get");
    auto r = run(kGet, Params().text(id), "get");
    if (!r) return r.error();
    if (PQntuples(r->get()) == 0) return std::optional<Operation>();
    return std::optional<Operation>(read_row(r->get(), 0));
  }

  Result<std::vector<Operation>> claim_due(std::string_view owner, Millis now, Millis lease_until,
                                           int limit) override {
    metrics::StoreTimer timer("claim_due");
    Params p;
    p.text(owner).num(lease_until).num(now).num(std::int64_t{limit});
    auto r = run(kClaim, p, "claim_due");
    if (!r) return r.error();
    return read_rows(r->get());
  }

  Result<int> renew_leases(std::string_view owner, const std::vector<std::string>& ids,
                           Millis lease_until) override {
    metrics::StoreTimer timer("renew_leases");
    Params p;
    p.text(owner).num(lease_until).text_array(ids);
    auto r = run(kRenew, p, "renew_leases");
    if (!r) return r.error();
    return affected(r->get());
  }

  Result<bool> record_progress(std::string_view id, std::string_view owner,
                               const Progress& pr) override {
    metrics::StoreTimer timer("record_progress");
    Params p;
    p.text(id).text(owner).text(status_name(pr.status)).num(pr.next_poll_at);
    p.num(std::int64_t{pr.attempts}).num(pr.now).num(pr.fence);
    auto r = run(kProgress, p, "record_progress");
    if (!r) return r.error();
    return PQntuples(r->get()) > 0;
  }

  Result<std::vector<bool>> record_progress_many(std::string_view owner,
                                                 const std::vector<ProgressItem>& items) override {
    if (items.empty()) return std::vector<bool>{};
    std::unordered_set<std::string_view> ids;
    for (const auto& it : items) ids.insert(it.id);
    // One row joined twice would be updated once: keep the one-by-one order.
    if (ids.size() != items.size()) return OperationStore::record_progress_many(owner, items);
    metrics::StoreTimer timer("record_progress_many");
    std::vector<std::string> id_list, statuses;
    std::vector<std::int64_t> next, attempts, now, fence;
    for (const auto& it : items) {
      id_list.push_back(it.id);
      statuses.emplace_back(status_name(it.progress.status));
      next.push_back(it.progress.next_poll_at);
      attempts.push_back(it.progress.attempts);
      now.push_back(it.progress.now);
      fence.push_back(it.progress.fence);
    }
    Params p;
    p.text(owner).text_array(id_list).text_array(statuses).num_array(next);
    p.num_array(attempts).num_array(now).num_array(fence);
    auto r = run(kProgressMany, p, "record_progress_many");
    if (!r) return r.error();
    std::unordered_set<std::string> written;
    for (int row = 0; row < PQntuples(r->get()); ++row) written.insert(get_text(r->get(), row, 0));
    std::vector<bool> out;
    out.reserve(items.size());
    for (const auto& it : items) out.push_back(written.count(it.id) > 0);
    return out;
  }

  Result<bool> complete(std::string_view id, std::string_view owner, const Completion& c) override {
    metrics::StoreTimer timer("complete");
    Params p;
    p.text(id).text(owner).text(status_name(c.status)).bytes(c.result).text(c.result_type);
    p.text(c.error_code).text(c.error_message).num(c.now).num(c.expires_at).num(c.fence);
    auto r = run(kComplete, p, "complete");
    if (!r) return r.error();
    return PQntuples(r->get()) > 0;
  }

  Result<bool> mark_retrieved(std::string_view id, Millis now, Millis expires_at) override {
    metrics::StoreTimer timer("mark_retrieved");
    auto r = run(kRetrieved, Params().text(id).num(now).num(expires_at), "mark_retrieved");
    if (!r) return r.error();
    return PQntuples(r->get()) > 0;
  }

  Result<bool> remove(std::string_view id) override {
    metrics::StoreTimer timer("remove");
    auto r = run(kRemove, Params().text(id), "remove");
    if (!r) return r.error();
    return PQntuples(r->get()) > 0;
  }

  Result<int> delete_expired(Millis now, int limit) override {
    metrics::StoreTimer timer("delete_expired");
    auto r = run(kDeleteExpired, Params().num(now).num(std::int64_t{limit}), "delete_expired");
    if (!r) return r.error();
    auto keys = run(kDeleteExpiredKeys, Params().num(now), "delete_expired");
    if (!keys) return keys.error();
    return PQntuples(r->get());
  }

  Result<std::optional<Millis>> next_due(Millis now) override {
    auto r = run(kNextDue, Params().num(now), "next_due");
    if (!r) return r.error();
    return get_opt(r->get(), 0, 0);
  }

  Result<int> release_leases(std::string_view owner) override {
    auto r = run(kRelease, Params().text(owner), "release_leases");
    if (!r) return r.error();
    return affected(r->get());
  }

  Result<int> count_active() override {
    auto r = run(kCountActive, Params(), "count_active");
    if (!r) return r.error();
    return static_cast<int>(get_num(r->get(), 0, 0));
  }

  Result<std::vector<std::pair<std::string, int>>> count_by_status() override {
    auto r = run(kCountByStatus, Params(), "count_by_status");
    if (!r) return r.error();
    std::vector<std::pair<std::string, int>> out;
    for (int i = 0; i < PQntuples(r->get()); ++i) {
      out.emplace_back(get_text(r->get(), i, 0), static_cast<int>(get_num(r->get(), i, 1)));
    }
    return out;
  }

  Result<std::optional<Operation>> latest_of_kind(Kind kind, std::string_view analyzer_id,
                                                  Millis now) override {
    metrics::StoreTimer timer("latest_of_kind");
    auto r = run(kLatestOfKind, Params().text(analyzer_id).text(kind_name(kind)).num(now),
                 "latest_of_kind");
    if (!r) return r.error();
    if (PQntuples(r->get()) == 0) return std::optional<Operation>();
    return std::optional<Operation>(read_row(r->get(), 0));
  }

  Result<std::vector<Operation>> list(const ListQuery& q) override {
    metrics::StoreTimer timer("list");
    Params p;
    p.text(q.tenant).num(q.now).num(std::int64_t{q.limit});
    if (q.status) p.text(status_name(*q.status));
    // An empty id sorts before every other: (created, "") pages like "older
    // than created" did.
    if (q.after_created) p.num(*q.after_created).text_or_empty(q.after_id);
    Sql which = q.status ? (q.after_created ? kListStatusAfter : kListStatus)
                         : (q.after_created ? kListAfter : kList);
    auto r = run(which, p, "list");
    if (!r) return r.error();
    return read_rows(r->get());
  }

  Result<Reservation> reserve_key(std::string_view tenant, std::string_view key,
                                  std::string_view request_hash, Millis now,
                                  Millis expires_at) override {
    metrics::StoreTimer timer("reserve_key");
    // The UNIQUE key decides between racing requests; the first one may
    // release its key between our insert and our read, hence the retries.
    for (int attempt = 0; attempt < 3; ++attempt) {
      auto del = run(kKeyExpire, Params().text(tenant).text(key).num(now), "reserve_key");
      if (!del) return del.error();
      Params ins;
      ins.text(tenant).text(key).text(request_hash).num(now).num(expires_at);
      auto made = run(kKeyInsert, ins, "reserve_key");
      if (!made) return made.error();
      auto sel = run(kKeySelect, Params().text(tenant).text(key), "reserve_key");
      if (!sel) return sel.error();
      if (PQntuples(sel->get()) == 0) continue;
      Reservation res;
      res.created = affected(made->get()) > 0;
      res.request_hash = get_text(sel->get(), 0, 0);
      res.operation_id = get_text(sel->get(), 0, 1);
      return res;
    }
    return make_error(ErrorCode::kUnavailable, "the idempotency key is contended; retry");
  }

  Result<void> bind_key(std::string_view tenant, std::string_view key,
                        std::string_view operation_id) override {
    auto r = run(kKeyBind, Params().text(tenant).text(key).text(operation_id), "bind_key");
    if (!r) return r.error();
    return {};
  }

  Result<void> release_key(std::string_view tenant, std::string_view key) override {
    auto r = run(kKeyRelease, Params().text(tenant).text(key), "release_key");
    if (!r) return r.error();
    return {};
  }

  Result<void> ping() override {
    auto r = run(kPing, Params(), "ping");
    if (!r) return r.error();
    return {};
  }

  Result<std::optional<Millis>> database_time() override {
    auto r = run(kClock, Params(), "database_time");
    if (!r) return r.error();
    return std::optional<Millis>(get_num(r->get(), 0, 0));
  }

  bool exclusive() const override { return false; }

  void set_change_listener(ChangeListener fn) override {
    MutexLock lock(listener_mu_);
    listener_ = std::move(fn);
    if (listener_ && listening_) listener_(Change{Change::Kind::kListening, {}});
  }

 private:
  // Takes a pooled connection, waiting for one if all are busy.
  Conn* checkout() {
    MutexLock lock(pool_mu_);
    if (!pool_cv_.wait_for(pool_mu_, kCheckoutWait,
                           [this]() REQUIRES(pool_mu_) { return !free_.empty(); })) {
      return nullptr;
    }
    Conn* c = free_.back();
    free_.pop_back();
    return c;
  }
  void checkin(Conn* c) {
    {
      MutexLock lock(pool_mu_);
      free_.push_back(c);
    }
    pool_cv_.notify_one();
  }

  // Runs one prepared statement. A connection found broken is reopened and
  // the statement tried once more (after a server restart every pooled
  // connection is stale once); other failures are mapped to error codes.
  Result<PgResult> run(Sql which, const Params& params, std::string_view what) {
    Conn* c = checkout();
    if (!c) return unavailable(std::string(what) + ": every store connection is busy");
    struct Return {
      PostgresStore* self;
      Conn* c;
      ~Return() { self->checkin(c); }
    } give_back{this, c};

    std::vector<const char*> values;
    std::vector<int> lengths;
    params.view(&values, &lengths);
    const std::string name = "lrogate_" + std::to_string(static_cast<int>(which));
    std::string last;
    for (int attempt = 0; attempt < 2; ++attempt) {
      if (!c->pg || PQstatus(c->pg) != CONNECTION_OK) {
        c->close();
        c->pg = connect(url_);
        if (PQstatus(c->pg) != CONNECTION_OK) {
          last = pg_message(c->pg);
          c->close();
          return unavailable(std::string(what) + ": cannot connect to PostgreSQL: " + last);
        }
      }
      if (!c->prepared[which]) {
        PgResult prep(PQprepare(c->pg, name.c_str(), kStatements[which].c_str(), 0, nullptr),
                      &PQclear);
        if (PQresultStatus(prep.get()) != PGRES_COMMAND_OK) {
          if (PQstatus(c->pg) == CONNECTION_BAD) {
            last = pg_message(c->pg);
            c->close();
            continue;
          }
          return fail(prep.get(), c->pg, what);
        }
        c->prepared.set(which);
      }
      PgResult res(PQexecPrepared(c->pg, name.c_str(), params.size(), values.data(), lengths.data(),
                                  params.formats(), 0),
                   &PQclear);
      ExecStatusType st = PQresultStatus(res.get());
      if (st == PGRES_COMMAND_OK || st == PGRES_TUPLES_OK) return res;
      if (PQstatus(c->pg) == CONNECTION_BAD) {
        last = pg_message(c->pg);
        c->close();
        continue;
      }
      return fail(res.get(), c->pg, what);
    }
    return unavailable(std::string(what) + ": the connection to PostgreSQL was lost: " + last);
  }

  static Error fail(const PGresult* r, PGconn* conn, std::string_view what) {
    const char* state = r ? PQresultErrorField(r, PG_DIAG_SQLSTATE) : nullptr;
    std::string sqlstate = state ? state : "";
    std::string detail = std::string(what) + ": " + (sqlstate.empty() ? "" : sqlstate + " ") +
                         (r ? PQresultErrorMessage(r) : pg_message(conn));
    while (!detail.empty() && detail.back() == '\n') detail.pop_back();
    if (sqlstate == "23505") return make_error(ErrorCode::kConflict, "duplicate", detail);
    // Connection trouble, shutdown, overload, timeouts, serialization: retry later.
    bool transient = sqlstate.rfind("08", 0) == 0 || sqlstate.rfind("53", 0) == 0 ||
                     sqlstate.rfind("57", 0) == 0 || sqlstate == "40001" || sqlstate == "40P01" ||
                     sqlstate.empty();
    if (transient) return unavailable(detail);
    return make_error(ErrorCode::kInternal, "the operation store failed", detail);
  }

  // Applies what migrations are missing, under an advisory lock so replicas
  // starting together wait for each other instead of racing.
  Result<void> migrate() {
    Conn* c = checkout();
    struct Return {
      PostgresStore* self;
      Conn* c;
      ~Return() { self->checkin(c); }
    } give_back{this, c};
    c->pg = connect(url_);
    if (PQstatus(c->pg) != CONNECTION_OK) {
      std::string m = pg_message(c->pg);
      c->close();
      return unavailable("cannot connect to PostgreSQL: " + m);
    }
    auto exec = [&](const std::string& sql) -> Result<PgResult> {
      PgResult r(PQexec(c->pg, sql.c_str()), &PQclear);
      ExecStatusType st = PQresultStatus(r.get());
      if (st != PGRES_COMMAND_OK && st != PGRES_TUPLES_OK) return fail(r.get(), c->pg, "migrate");
      return r;
    };
    if (auto r = exec("SELECT pg_advisory_lock(7405571)"); !r) return r.error();
    auto unlock = [&] { (void)exec("SELECT pg_advisory_unlock(7405571)"); };
    auto done = [&]() -> Result<void> {
      if (auto r = exec("CREATE TABLE IF NOT EXISTS lrogate_schema (version INTEGER NOT NULL)"); !r)
        return r.error();
      auto v = exec("SELECT version FROM lrogate_schema");
      if (!v) return v.error();
      int version = 0;
      if (PQntuples(v->get()) == 0) {
        if (auto r = exec("INSERT INTO lrogate_schema VALUES (0)"); !r) return r.error();
      } else {
        version = static_cast<int>(get_num(v->get(), 0, 0));
      }
      const int latest = static_cast<int>(std::size(kMigrations));
      if (version > latest) {
        return make_error(ErrorCode::kInvalidArgument,
                          "the store was written by a newer lrogate (schema version " +
                              std::to_string(version) + ")");
      }
      for (int n = version; n < latest; ++n) {
        std::string sql = std::string("BEGIN;") + kMigrations[n] +
                          "UPDATE lrogate_schema SET version = " + std::to_string(n + 1) +
                          "; COMMIT;";
        if (auto r = exec(sql); !r) {
          (void)exec("ROLLBACK");
          return r.error();
        }
        log::info("store migrated", {{"backend", "postgresql"}, {"version", n + 1}});
      }
      return {};
    }();
    unlock();
    return done;
  }

  void deliver(Change c) {
    MutexLock lock(listener_mu_);
    if (c.kind == Change::Kind::kListening) listening_ = true;
    if (c.kind == Change::Kind::kLost) listening_ = false;
    if (listener_) listener_(c);
  }

  // The listener: one connection that LISTENs on both channels and hands
  // every notification on as a Change. It proves the connection alive with
  // a probe when it has heard nothing for kProbeAfter, reconnects on its own
  // (every second while it cannot), and says kLost when it stops hearing and
  // kListening once LISTEN holds again: what went by in between is unheard.
  void listen_loop() {
    using Clock = std::chrono::steady_clock;
    PGconn* conn = nullptr;
    Clock::time_point heard{};
    std::optional<Clock::time_point> probe_sent;
    auto nap = [this](int ms) {
      for (int i = 0; i < ms / 50 && !stop_; ++i)
        std::this_thread::sleep_for(std::chrono::milliseconds(50));
    };
    auto lose = [&](const char* what) {
      log::warn(what, {{"backend", "postgresql"}, {"detail", pg_message(conn)}});
      PQfinish(conn);
      conn = nullptr;
      deliver(Change{Change::Kind::kLost, {}});
    };
    while (!stop_) {
      if (!conn) {
        conn = connect(url_, "lrogate-listener");
        const std::string sql =
            std::string("LISTEN ") + kFinishedChannel + "; LISTEN " + kChangedChannel;
        PgResult r(PQexec(conn, sql.c_str()), &PQclear);
        if (PQstatus(conn) != CONNECTION_OK || PQresultStatus(r.get()) != PGRES_COMMAND_OK) {
          log::warn("store listener cannot connect; retrying",
                    {{"backend", "postgresql"}, {"detail", pg_message(conn)}});
          PQfinish(conn);
          conn = nullptr;
          nap(1000);
          continue;
        }
        log::info("store listener listening", {{"backend", "postgresql"}});
        heard = Clock::now();
        probe_sent.reset();
        deliver(Change{Change::Kind::kListening, {}});
      }
      pollfd pfd{PQsocket(conn), POLLIN, 0};
      int ready = ::poll(&pfd, 1, 200);
      if (ready < 0) continue;
      if (ready > 0) {
        if (PQconsumeInput(conn) == 0) {
          lose("store listener lost its connection");
          continue;
        }
        heard = Clock::now();
        // The probe's answer, once it is all in.
        while (probe_sent && !PQisBusy(conn)) {
          PGresult* res = PQgetResult(conn);
          if (!res) {
            probe_sent.reset();
            break;
          }
          PQclear(res);
        }
      }
      while (PGnotify* n = PQnotifies(conn)) {
        Change c{std::strcmp(n->relname, kFinishedChannel) == 0 ? Change::Kind::kFinished
                                                                : Change::Kind::kChanged,
                 n->extra ? n->extra : ""};
        PQfreemem(n);
        if (!c.id.empty()) deliver(std::move(c));
      }
      auto now = Clock::now();
      if (probe_sent && now - *probe_sent > kProbeDeadline) {
        lose("store listener heard nothing from its connection; reconnecting");
      } else if (!probe_sent && now - heard > kProbeAfter) {
        if (PQsendQuery(conn, "SELECT 1") == 0) {
          lose("store listener lost its connection");
        } else {
          probe_sent = now;
        }
      }
    }
    if (conn) PQfinish(conn);
  }

  const std::string url_;
  Mutex pool_mu_;
  CondVar pool_cv_;
  Conn conns_[kPoolSize];  // each used by whoever checked it out of free_
  std::vector<Conn*> free_ GUARDED_BY(pool_mu_);

  Mutex listener_mu_;
  ChangeListener listener_ GUARDED_BY(listener_mu_);
  bool listening_ GUARDED_BY(listener_mu_) = false;
  std::atomic<bool> stop_{false};
  std::thread listener_thread_;
};

}  // namespace

Result<std::unique_ptr<OperationStore>> open(const std::string& url) {
  auto s = std::make_unique<PostgresStore>(url);
  if (auto r = s->open(); !r) return r.error();
  return std::unique_ptr<OperationStore>(std::move(s));
}

}  // namespace lrogate::store::postgres
