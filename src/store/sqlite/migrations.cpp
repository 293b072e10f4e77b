#include "store/sqlite/migrations.h"

#include <iterator>
#include <string>

#include "store/sqlite/connection.h"

namespace lrogate::store::sqlite {
namespace {

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
    // v6: the upstream pool resource that accepted each operation (issue
    // 15); the rows stored before pools were all the one resource the
    // single-endpoint flags made, "default". Every insert names it. The
    // open records per resource are counted from an index of their own
    // (count_open_by_resource): partial, so only inserts and completions
    // write it, never a progress that keeps the status.
    R"sql(
ALTER TABLE operations ADD COLUMN resource TEXT NOT NULL DEFAULT 'default';
CREATE INDEX operations_open_resource ON operations(resource)
  WHERE status IN ('NotStarted', 'Running');
)sql",
    // v7: the learned durations (issue 16; docs/design.md, "Learned
    // durations"). Each operation's size band (-1: not told, as every row
    // stored before); per (resource, analyzer, band), the completions per
    // duration bucket and their total, which decides when the key's counts
    // are halved (add_duration).
    R"sql(
ALTER TABLE operations ADD COLUMN size_band INTEGER NOT NULL DEFAULT -1;
CREATE TABLE duration_totals (
  resource TEXT NOT NULL,
  analyzer TEXT NOT NULL,
  band     INTEGER NOT NULL,
  total    INTEGER NOT NULL,
  PRIMARY KEY (resource, analyzer, band)
) WITHOUT ROWID;
CREATE TABLE duration_buckets (
  resource TEXT NOT NULL,
  analyzer TEXT NOT NULL,
  band     INTEGER NOT NULL,
  bucket   INTEGER NOT NULL,
  n        INTEGER NOT NULL,
  PRIMARY KEY (resource, analyzer, band, bucket)
) WITHOUT ROWID;
)sql",
    // v8: claims walk the records by when they become claimable, due and
    // their lease over, no longer by due time alone: a record a poller
    // holds in memory between polls keeps its past next_poll_at under a
    // live lease, and 100,000 of them would be walked by every claim (issue
    // 16, item 3). The expression is the claim's (statements.cpp).
    R"sql(
DROP INDEX operations_due;
CREATE INDEX operations_claimable ON operations(MAX(next_poll_at, COALESCE(lease_until, 0)))
  WHERE status IN ('NotStarted', 'Running');
)sql",
    // v9: completion webhooks (issue 18; docs/design.md, "Completion
    // webhooks"). Each operation's callback url (NULL: none, as every row
    // stored before). The outbox: one row per event and receiver, written
    // by the completion that makes it, claimed like operations (a lease and
    // a fence) through an index of when a pending one becomes claimable
    // (the expression is the claim's, statements.cpp), listed newest first,
    // found by url when a 410 disables one (pending rows only), and swept
    // by when it was last written once final. No foreign key: an event
    // outlives its operation's expiry. The urls a 410 disabled, until an
    // operator redelivers one of their events.
    R"sql(
ALTER TABLE operations ADD COLUMN callback_url TEXT;
CREATE TABLE deliveries (
  id              TEXT PRIMARY KEY,
  operation_id    TEXT NOT NULL,
  tenant          TEXT NOT NULL,
  url             TEXT NOT NULL,
  body            BLOB,
  status          TEXT NOT NULL,
  attempts        INTEGER NOT NULL DEFAULT 0,
  created_at      INTEGER NOT NULL,
  updated_at      INTEGER NOT NULL,
  next_attempt_at INTEGER NOT NULL,
  lease_owner     TEXT,
  lease_until     INTEGER,
  fence           INTEGER NOT NULL DEFAULT 0,
  last_status     INTEGER NOT NULL DEFAULT 0,
  last_error      TEXT
);
CREATE INDEX deliveries_claimable ON deliveries(MAX(next_attempt_at, COALESCE(lease_until, 0)))
  WHERE status = 'pending';
CREATE INDEX deliveries_listing ON deliveries(created_at DESC, id DESC);
CREATE INDEX deliveries_by_tenant ON deliveries(tenant, created_at DESC, id DESC);
CREATE INDEX deliveries_pending_url ON deliveries(url) WHERE status = 'pending';
CREATE INDEX deliveries_finished ON deliveries(updated_at) WHERE status <> 'pending';
CREATE TABLE disabled_urls (
  url         TEXT PRIMARY KEY,
  disabled_at INTEGER NOT NULL
) WITHOUT ROWID;
)sql",
    // v10: usage (issue 18; docs/design.md, "Usage and quotas"). Each
    // operation's submitted size (0 for the rows stored before), and the
    // daily rollup a Succeeded analysis's completion adds to in its own
    // transaction: per UTC day (days since the epoch), tenant and analyzer.
    R"sql(
ALTER TABLE operations ADD COLUMN request_bytes INTEGER NOT NULL DEFAULT 0;
CREATE TABLE usage_daily (
  day        INTEGER NOT NULL,
  tenant     TEXT NOT NULL,
  analyzer   TEXT NOT NULL,
  operations INTEGER NOT NULL DEFAULT 0,
  pages      INTEGER NOT NULL DEFAULT 0,
  tokens     INTEGER NOT NULL DEFAULT 0,
  bytes_in   INTEGER NOT NULL DEFAULT 0,
  bytes_out  INTEGER NOT NULL DEFAULT 0,
  PRIMARY KEY (day, tenant, analyzer)
) WITHOUT ROWID;
)sql",
    // v11: reuse of results (issue 18, item 3; docs/design.md, "Reuse of
    // results"): each operation's reuse key (NULL: not reusable, as every
    // row stored before), found by tenant and key, newest first.
    R"sql(
ALTER TABLE operations ADD COLUMN reuse_key TEXT;
CREATE INDEX operations_reuse ON operations(tenant, reuse_key, created_at DESC)
  WHERE reuse_key IS NOT NULL;
)sql",
};

}  // namespace

Result<void> migrate(sqlite3* db) {
  sqlite3_stmt* s = nullptr;
  sqlite3_prepare_v2(db, "PRAGMA user_version", -1, &s, nullptr);
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
    if (auto r = exec(db, sql.c_str()); !r) {
      (void)exec(db, "ROLLBACK");
      return r;
    }
  }
  return {};
}

}  // namespace lrogate::store::sqlite
