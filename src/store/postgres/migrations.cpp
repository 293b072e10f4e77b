#include "store/postgres/migrations.h"

#include <iterator>
#include <string>

#include "base/log.h"
#include "store/postgres/connection.h"
#include "store/postgres/rows.h"
#include "store/postgres/statements.h"

namespace lrogate::store::postgres {
namespace {

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
    // v4: the upstream pool resource that accepted each operation (issue
    // 15); the rows stored before pools were all the one resource the
    // single-endpoint flags made, "default". Every insert names it; the
    // default (PostgreSQL 11 and later: no table rewrite) also covers an
    // older replica inserting during a rolling upgrade. Names compare
    // bytewise, as ids do and as in SQLite. No index of it: the open
    // records per resource are counted through the due index (see
    // kCountOpenByResource).
    R"sql(
ALTER TABLE operations ADD COLUMN resource TEXT COLLATE "C" NOT NULL DEFAULT 'default';
)sql",
    // v5: the budget the replicas share (issue 15 item 4): per upstream
    // resource, budget and slot of the database's clock, what the replicas
    // took of it (docs/design.md, "The budget shared by replicas").
    // UNLOGGED: a slot is over in at most seconds, so a crash of the
    // database that empties the table loses nothing worth keeping, and its
    // writes skip the WAL. ends_at: when a row may be forgotten.
    R"sql(
CREATE UNLOGGED TABLE budget_slots (
  resource TEXT COLLATE "C" NOT NULL,
  budget TEXT COLLATE "C" NOT NULL,
  slot BIGINT NOT NULL,
  taken INTEGER NOT NULL,
  granted INTEGER NOT NULL,
  ends_at BIGINT NOT NULL,
  PRIMARY KEY (resource, budget, slot)
);
CREATE INDEX budget_slots_ends_at ON budget_slots (ends_at);
)sql",
    // v6: the learned durations (issue 16; docs/design.md, "Learned
    // durations"). Each operation's size band (-1: not told, as every row
    // stored before); per (resource, analyzer, band), the completions per
    // duration bucket and their total. Logged tables: the history is worth
    // keeping across a crash of the database. lrogate_add_duration is
    // add_duration: the total's row, locked by its upsert until the commit,
    // makes the adds of one key take turns across replicas, and each of the
    // function's statements reads afresh (READ COMMITTED, a VOLATILE
    // function), so the halving sees every bucket the adds before it wrote.
    // Returns the key's total after it.
    R"sql(
ALTER TABLE operations ADD COLUMN size_band INTEGER NOT NULL DEFAULT -1;
CREATE TABLE duration_totals (
  resource TEXT COLLATE "C" NOT NULL,
  analyzer TEXT COLLATE "C" NOT NULL,
  band     INTEGER NOT NULL,
  total    BIGINT NOT NULL,
  PRIMARY KEY (resource, analyzer, band)
);
CREATE TABLE duration_buckets (
  resource TEXT COLLATE "C" NOT NULL,
  analyzer TEXT COLLATE "C" NOT NULL,
  band     INTEGER NOT NULL,
  bucket   INTEGER NOT NULL,
  n        BIGINT NOT NULL,
  PRIMARY KEY (resource, analyzer, band, bucket)
);
CREATE FUNCTION lrogate_add_duration(r TEXT, a TEXT, b INTEGER, k INTEGER, halve_at BIGINT)
  RETURNS BIGINT LANGUAGE plpgsql VOLATILE AS $$
DECLARE
  t BIGINT;
BEGIN
  INSERT INTO duration_totals AS d VALUES (r, a, b, 1)
    ON CONFLICT (resource, analyzer, band) DO UPDATE SET total = d.total + 1
    RETURNING d.total INTO t;
  INSERT INTO duration_buckets AS d VALUES (r, a, b, k, 1)
    ON CONFLICT (resource, analyzer, band, bucket) DO UPDATE SET n = d.n + 1;
  IF t >= halve_at THEN
    DELETE FROM duration_buckets AS d
      WHERE d.resource = r AND d.analyzer = a AND d.band = b AND d.n < 2;
    UPDATE duration_buckets AS d SET n = d.n / 2
      WHERE d.resource = r AND d.analyzer = a AND d.band = b;
    UPDATE duration_totals AS d SET total = (SELECT COALESCE(SUM(x.n), 0)
      FROM duration_buckets AS x WHERE x.resource = r AND x.analyzer = a AND x.band = b)
      WHERE d.resource = r AND d.analyzer = a AND d.band = b
      RETURNING d.total INTO t;
  END IF;
  RETURN t;
END $$;
)sql",
    // v7: claims walk the records by when they become claimable, due and
    // their lease over (LROGATE_CLAIMABLE_AT), no longer by due time alone:
    // a record a poller holds in memory between polls keeps its past
    // next_poll_at under a live lease, and 100,000 of them would be walked
    // by every claim (issue 16, item 3).
    "DROP INDEX operations_due_at;"
    "CREATE INDEX operations_claimable_at ON operations ((" LROGATE_CLAIMABLE_AT
    ")) WHERE " LROGATE_ACTIVE ";",
    // v8: completion webhooks (issue 18; docs/design.md, "Completion
    // webhooks"). Each operation's callback url (NULL: none, as every row
    // stored before; no table rewrite). The outbox: one row per event and
    // receiver, written by the statement of the completion that makes it,
    // claimed like operations (a lease and a fence) through an index of
    // when a pending one becomes claimable (LROGATE_DELIVERY_CLAIMABLE_AT,
    // the claim's expression, as operations_claimable_at), listed newest
    // first, found by url when a 410 disables one (pending rows only), and
    // swept by when it was last written once final. No foreign key: an
    // event outlives its operation's expiry. The urls a 410 disabled, until
    // an operator redelivers one of their events.
    R"sql(
ALTER TABLE operations ADD COLUMN callback_url TEXT;
CREATE TABLE deliveries (
  id              TEXT COLLATE "C" PRIMARY KEY,
  operation_id    TEXT COLLATE "C" NOT NULL,
  tenant          TEXT NOT NULL,
  url             TEXT COLLATE "C" NOT NULL,
  body            BYTEA,
  status          TEXT NOT NULL,
  attempts        INTEGER NOT NULL DEFAULT 0,
  created_at      BIGINT NOT NULL,
  updated_at      BIGINT NOT NULL,
  next_attempt_at BIGINT NOT NULL,
  lease_owner     TEXT,
  lease_until     BIGINT,
  fence           BIGINT NOT NULL DEFAULT 0,
  last_status     INTEGER NOT NULL DEFAULT 0,
  last_error      TEXT
);
CREATE INDEX deliveries_listing ON deliveries (created_at DESC, id DESC);
CREATE INDEX deliveries_by_tenant ON deliveries (tenant, created_at DESC, id DESC);
CREATE INDEX deliveries_pending_url ON deliveries (url) WHERE status = 'pending';
CREATE INDEX deliveries_finished ON deliveries (updated_at) WHERE status <> 'pending';
CREATE TABLE disabled_urls (
  url         TEXT COLLATE "C" PRIMARY KEY,
  disabled_at BIGINT NOT NULL
);
)sql"
    "CREATE INDEX deliveries_claimable_at ON deliveries ((" LROGATE_DELIVERY_CLAIMABLE_AT
    ")) WHERE status = 'pending';",
    // v9: usage (issue 18; docs/design.md, "Usage and quotas"). Each
    // operation's submitted size (0 for the rows stored before), and the
    // daily rollup a Succeeded analysis's completion adds to in its own
    // statement: per UTC day (days since the epoch), tenant and analyzer.
    R"sql(
ALTER TABLE operations ADD COLUMN request_bytes BIGINT NOT NULL DEFAULT 0;
CREATE TABLE usage_daily (
  day        BIGINT NOT NULL,
  tenant     TEXT COLLATE "C" NOT NULL,
  analyzer   TEXT COLLATE "C" NOT NULL,
  operations BIGINT NOT NULL DEFAULT 0,
  pages      BIGINT NOT NULL DEFAULT 0,
  tokens     BIGINT NOT NULL DEFAULT 0,
  bytes_in   BIGINT NOT NULL DEFAULT 0,
  bytes_out  BIGINT NOT NULL DEFAULT 0,
  PRIMARY KEY (day, tenant, analyzer)
);
)sql",
    // v10: reuse of results (issue 18, item 3; docs/design.md, "Reuse of
    // results"): each operation's reuse key (NULL: not reusable, as every
    // row stored before; no table rewrite), found by tenant and key, newest
    // first.
    R"sql(
ALTER TABLE operations ADD COLUMN reuse_key TEXT COLLATE "C";
CREATE INDEX operations_reuse ON operations (tenant, reuse_key, created_at DESC)
  WHERE reuse_key IS NOT NULL;
)sql",
};

}  // namespace

Result<void> migrate(PGconn* conn) {
  auto exec = [&](const std::string& sql) -> Result<PgResult> {
    PgResult r(PQexec(conn, sql.c_str()), &PQclear);
    ExecStatusType st = PQresultStatus(r.get());
    if (st != PGRES_COMMAND_OK && st != PGRES_TUPLES_OK) return fail(r.get(), conn, "migrate");
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

}  // namespace lrogate::store::postgres
