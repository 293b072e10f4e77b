#include "store/sqlite/statements.h"

#include "store/columns.h"
#include "store/delivery_columns.h"

namespace lrogate::store::sqlite {
namespace {

#define LROGATE_ACTIVE "status IN ('NotStarted', 'Running')"
// When an open record can be claimed: due, and its lease (if any) over. The
// claims walk its index (operations_claimable, migration v8), so records a
// poller holds between polls (a live lease, a past next_poll_at) are never
// walked (docs/design.md, "Claiming and the loop").
#define LROGATE_CLAIMABLE_AT "MAX(next_poll_at, COALESCE(lease_until, 0))"
// The same for a pending delivery (its index: deliveries_claimable, v9).
#define LROGATE_DELIVERY_CLAIMABLE_AT "MAX(next_attempt_at, COALESCE(lease_until, 0))"

// "?1,?2,...": one parameter per column, in list order.
std::string insert_params() {
  std::string out;
  for (int i = 1; i <= columns::kCount; ++i) {
    if (i > 1) out += ',';
    out += '?' + std::to_string(i);
  }
  return out;
}

// Each list shape its own statement, so that the index is entered at the
// cursor (a seek, whatever the page's depth) and by status when one is
// asked: "?2 IS NULL OR ..." conditions would make SQLite scan instead.
// ?1 tenant, ?2 status, ?3 now, ?4 and ?5 the cursor, ?6 the limit.
std::string list(bool by_status, bool after) {
  std::string sql = "SELECT " +
                    columns::listing_names([](const auto&) { return "NULL"; }) +  // no bodies
                    " FROM operations WHERE tenant = ?1";
  if (by_status) sql += " AND status = ?2";
  if (after) sql += " AND (created_at, id) < (?4, ?5)";
  sql += " AND (expires_at IS NULL OR expires_at > ?3) ORDER BY created_at DESC, id DESC LIMIT ?6";
  return sql;
}

// list_deliveries: one statement with a cursor and one without, so the
// listing index is entered at the cursor (a seek at any depth). The tenant
// and status are filters on that walk, not a choice of index, so they may
// be "?n IS NULL OR ...". ?1 tenant, ?2 status, ?3 limit, ?4 and ?5 the
// cursor.
// A tenant's through deliveries_by_tenant (the status a filter on its
// rows), every tenant's (?1 NULL) through deliveries_listing.
std::string list_deliveries(bool after, bool by_tenant) {
  std::string sql = "SELECT " + deliveries::listing_names("NULL") + " FROM deliveries WHERE " +
                    (by_tenant ? "tenant = ?1" : "?1 IS NULL") + " AND (?2 IS NULL OR status = ?2)";
  if (after) sql += " AND (created_at, id) < (?4, ?5)";
  sql += " ORDER BY created_at DESC, id DESC LIMIT ?3";
  return sql;
}

}  // namespace

std::string statement_text(Sql which) {
  switch (which) {
    case kInsert:
      return "INSERT INTO operations (" + columns::names() + ") VALUES (" + insert_params() + ")";
    case kGet:
      return "SELECT " + columns::names() + " FROM operations WHERE id = ?1";
    case kClaim:
    case kClaimSkipping:
      // Skipping: ?5 is a JSON array of resource names, a filter on the
      // same walk of the due index (its rows are passed over, not sought).
      return std::string(
                 "UPDATE operations SET lease_owner = ?1, lease_until = ?2,"
                 " fence = fence + 1 WHERE id IN ("
                 " SELECT id FROM operations WHERE " LROGATE_ACTIVE " AND " LROGATE_CLAIMABLE_AT
                 " <= ?3") +
             (which == kClaimSkipping ? " AND resource NOT IN (SELECT value FROM json_each(?5))"
                                      : "") +
             " ORDER BY " LROGATE_CLAIMABLE_AT " LIMIT ?4) RETURNING " + columns::names();
    case kRenew:
      return "UPDATE operations SET lease_until = ?2 WHERE id = ?3 AND lease_owner = ?1"
             " AND " LROGATE_ACTIVE;
    // A progress write sets the status only when it changes (see
    // progress_locked() in sqlite_store.cpp): the first matches only an
    // unchanged status, the second is for a change.
    case kProgressSameStatus:
      return "UPDATE operations SET next_poll_at = ?4, attempts = ?5, updated_at = ?6,"
             " poll_count = poll_count + ?8, lease_owner = NULL, lease_until = NULL"
             " WHERE id = ?1 AND lease_owner = ?2 AND fence = ?7 AND status = ?3"
             " AND " LROGATE_ACTIVE;
    case kProgressNewStatus:
      return "UPDATE operations SET status = ?3, next_poll_at = ?4, attempts = ?5, updated_at = ?6,"
             " poll_count = poll_count + ?8, lease_owner = NULL, lease_until = NULL"
             " WHERE id = ?1 AND lease_owner = ?2 AND fence = ?7"
             " AND " LROGATE_ACTIVE;
    case kAddUsage:
      // The row the completion just wrote names the tenant and analyzer.
      // ?1 id, ?2 day, ?3 pages, ?4 tokens, ?5 bytes in, ?6 bytes out.
      return "INSERT INTO usage_daily (day, tenant, analyzer, operations, pages, tokens, bytes_in,"
             " bytes_out) SELECT ?2, tenant, analyzer_id, 1, ?3, ?4, ?5, ?6 FROM operations"
             " WHERE id = ?1 ON CONFLICT (day, tenant, analyzer) DO UPDATE SET"
             " operations = operations + 1, pages = pages + excluded.pages,"
             " tokens = tokens + excluded.tokens, bytes_in = bytes_in + excluded.bytes_in,"
             " bytes_out = bytes_out + excluded.bytes_out";
    case kUsageByTenant:
    case kUsageByAnalyzer: {
      // ?1 from day, ?2 to day (exclusive), ?3 tenant (NULL: every tenant).
      std::string key = which == kUsageByTenant ? "tenant" : "analyzer";
      return "SELECT " + key +
             ", SUM(operations), SUM(pages), SUM(tokens), SUM(bytes_in), SUM(bytes_out)"
             " FROM usage_daily WHERE day >= ?1 AND day < ?2 AND (?3 IS NULL OR tenant = ?3)"
             " GROUP BY " +
             key + " ORDER BY " + key;
    }
    case kUsageOn:
      // ?1 tenant, ?2 day. In flight: the listing-by-status index.
      return "SELECT (SELECT COALESCE(SUM(operations), 0) FROM usage_daily"
             " WHERE day = ?2 AND tenant = ?1),"
             " (SELECT COALESCE(SUM(pages), 0) FROM usage_daily WHERE day = ?2 AND tenant = ?1),"
             " (SELECT COUNT(*) FROM operations WHERE tenant = ?1"
             " AND status IN ('NotStarted', 'Running'))";
    case kComplete:
      return "UPDATE operations SET status = ?3, result = ?4, result_type = ?5, error_code = ?6,"
             " error_message = ?7, updated_at = ?8, expires_at = ?9, next_poll_at = NULL,"
             " lease_owner = NULL, lease_until = NULL, poll_count = poll_count + ?11"
             " WHERE id = ?1 AND " LROGATE_ACTIVE
             " AND (?2 IS NULL OR ((lease_owner = ?2 OR lease_owner IS NULL) AND fence = ?10))";
    case kRetrieved:
      return "UPDATE operations SET retrieved_at = ?2, expires_at = ?3"
             " WHERE id = ?1 AND retrieved_at IS NULL";
    case kRemove:
      return "DELETE FROM operations WHERE id = ?1 RETURNING status";
    case kDeleteExpired:
      // By rowid: the expiry index holds it, so each row is found without a
      // lookup of its id.
      return "DELETE FROM operations WHERE rowid IN (SELECT rowid FROM operations"
             " WHERE expires_at IS NOT NULL AND expires_at <= ?1 LIMIT ?2) RETURNING status";
    case kDeleteExpiredKeys:
      return "DELETE FROM idempotency WHERE expires_at <= ?1";
    case kUncount:
      return "UPDATE operation_counts SET n = n - ?2 WHERE status = ?1";
    case kNextDue:
      return "SELECT MIN(" LROGATE_CLAIMABLE_AT ") FROM operations WHERE " LROGATE_ACTIVE;
    case kRelease:
      return "UPDATE operations SET lease_owner = NULL, lease_until = NULL"
             " WHERE lease_owner IS NOT NULL AND (?1 IS NULL OR lease_owner = ?1)";
    case kCountActive:
      return "SELECT COALESCE(SUM(n), 0) FROM operation_counts WHERE " LROGATE_ACTIVE;
    case kCountByStatus:
      return "SELECT status, n FROM operation_counts WHERE n > 0 ORDER BY status";
    case kCountOpenByResource:
      // Only the open records: a scan of operations_open_resource (v6),
      // partial on them and covering, whatever the number of finished ones
      // (at 1M rows, 20k open: 2.3 ms; through the due index and the table,
      // 68 ms).
      return "SELECT resource, COUNT(*) FROM operations INDEXED BY operations_open_resource"
             " WHERE " LROGATE_ACTIVE " GROUP BY resource ORDER BY resource";
    case kLatestOfKind:
      return "SELECT " + columns::names() +
             " FROM operations WHERE analyzer_id = ?1 AND kind = ?2"
             " AND kind <> 'analysis' AND (expires_at IS NULL OR expires_at > ?3)"
             " ORDER BY created_at DESC, id DESC LIMIT 1";
    case kFindReusable:
      // Walks operations_reuse (tenant, reuse_key, created_at DESC).
      return "SELECT " + columns::names() +
             " FROM operations WHERE tenant = ?1 AND reuse_key = ?2 AND reuse_key IS NOT NULL"
             " AND status = 'Succeeded'"
             " AND (expires_at IS NULL OR expires_at > ?3) ORDER BY created_at DESC LIMIT 1";
    case kList:
      return list(false, false);
    case kListAfter:
      return list(false, true);
    case kListStatus:
      return list(true, false);
    case kListStatusAfter:
      return list(true, true);
    case kKeyExpire:
      // An expired reservation no longer holds its key.
      return "DELETE FROM idempotency WHERE tenant = ?1 AND key = ?2 AND expires_at <= ?3";
    case kKeyInsert:
      return "INSERT OR IGNORE INTO idempotency (tenant, key, request_hash, created_at, expires_at)"
             " VALUES (?1, ?2, ?3, ?4, ?5)";
    case kKeySelect:
      return "SELECT request_hash, operation_id FROM idempotency WHERE tenant = ?1 AND key = ?2";
    case kKeyBind:
      return "UPDATE idempotency SET operation_id = ?3 WHERE tenant = ?1 AND key = ?2";
    case kKeyRelease:
      return "DELETE FROM idempotency WHERE tenant = ?1 AND key = ?2 AND operation_id IS NULL";
    case kPing:
      return "SELECT 1";
    // add_duration's statements, in one transaction (sqlite_store.cpp,
    // add_duration()); ?1 resource, ?2 analyzer, ?3 band.
    case kDurationTotal:
      return "INSERT INTO duration_totals (resource, analyzer, band, total) VALUES (?1, ?2, ?3, 1)"
             " ON CONFLICT (resource, analyzer, band) DO UPDATE SET total = total + 1"
             " RETURNING total";
    case kDurationBucket:
      return "INSERT INTO duration_buckets (resource, analyzer, band, bucket, n)"
             " VALUES (?1, ?2, ?3, ?4, 1)"
             " ON CONFLICT (resource, analyzer, band, bucket) DO UPDATE SET n = n + 1";
    case kDurationHalve:
      return "UPDATE duration_buckets SET n = n / 2"
             " WHERE resource = ?1 AND analyzer = ?2 AND band = ?3";
    case kDurationDropEmpty:
      return "DELETE FROM duration_buckets"
             " WHERE resource = ?1 AND analyzer = ?2 AND band = ?3 AND n = 0";
    case kDurationRecount:
      return "UPDATE duration_totals SET total = (SELECT COALESCE(SUM(n), 0) FROM duration_buckets"
             " WHERE resource = ?1 AND analyzer = ?2 AND band = ?3)"
             " WHERE resource = ?1 AND analyzer = ?2 AND band = ?3";
    case kDurationLoad:
      return "SELECT resource, analyzer, band, bucket, n FROM duration_buckets WHERE n > 0"
             " ORDER BY resource, analyzer, band, bucket";
    // The outbox's statements (sqlite_store.cpp: complete() and the
    // delivery calls).
    case kInsertDelivery:
      // ?1 id, ?2 the operation, ?3 url, ?4 body, ?5 now. The operation's
      // tenant; written failed when the url is disabled. A duplicate id
      // keeps the row there is.
      return "INSERT INTO deliveries (id, operation_id, tenant, url, body, status, attempts,"
             " created_at, updated_at, next_attempt_at, fence, last_status, last_error)"
             " SELECT ?1, o.id, o.tenant, ?3, ?4,"
             " CASE WHEN d.url IS NULL THEN 'pending' ELSE 'failed' END, 0, ?5, ?5, ?5, 0, 0,"
             " CASE WHEN d.url IS NULL THEN NULL ELSE '" LROGATE_DELIVERY_DISABLED
             "' END"
             " FROM operations AS o LEFT JOIN disabled_urls AS d ON d.url = ?3"
             " WHERE o.id = ?2 ON CONFLICT (id) DO NOTHING";
    case kClaimDeliveries:
    case kClaimDeliveriesSkipping:
      // As kClaim; skipping: ?5 a JSON array of url prefixes (receivers'
      // origins), a filter on the same walk of deliveries_claimable.
      return std::string(
                 "UPDATE deliveries SET lease_owner = ?1, lease_until = ?2, fence = fence + 1"
                 " WHERE rowid IN (SELECT rowid FROM deliveries WHERE status = 'pending'"
                 " AND " LROGATE_DELIVERY_CLAIMABLE_AT " <= ?3") +
             (which == kClaimDeliveriesSkipping ? " AND NOT EXISTS (SELECT 1 FROM json_each(?5)"
                                                  " WHERE substr(url, 1, length(value)) = value)"
                                                : "") +
             " ORDER BY " LROGATE_DELIVERY_CLAIMABLE_AT " LIMIT ?4) RETURNING " +
             deliveries::kNames;
    case kRecordDelivery:
      return "UPDATE deliveries SET status = ?3, next_attempt_at = ?4, last_status = ?5,"
             " last_error = ?6, updated_at = ?7, attempts = attempts + 1, lease_owner = NULL,"
             " lease_until = NULL"
             " WHERE id = ?1 AND lease_owner = ?2 AND fence = ?8 AND status = 'pending'";
    case kDisableUrl:
      return "INSERT INTO disabled_urls (url, disabled_at) SELECT url, ?2 FROM deliveries"
             " WHERE id = ?1 ON CONFLICT (url) DO NOTHING";
    case kFailUrlDeliveries:
      // Through deliveries_pending_url; ?1 the delivery that was answered
      // 410 (already written), ?2 now. One another claim holds is left to
      // it: its attempt is under way, and its answer is recorded.
      return "UPDATE deliveries SET status = 'failed', last_error = '" LROGATE_DELIVERY_DISABLED
             "', updated_at = ?2, lease_owner = NULL, lease_until = NULL"
             " WHERE status = 'pending' AND url = (SELECT url FROM deliveries WHERE id = ?1)"
             " AND id <> ?1 AND (lease_until IS NULL OR lease_until <= ?2)";
    case kNextDeliveryDue:
      return "SELECT MIN(" LROGATE_DELIVERY_CLAIMABLE_AT
             ") FROM deliveries"
             " WHERE status = 'pending'";
    case kListDeliveries:
      return list_deliveries(false, false);
    case kListDeliveriesAfter:
      return list_deliveries(true, false);
    case kListTenantDeliveries:
      return list_deliveries(false, true);
    case kListTenantDeliveriesAfter:
      return list_deliveries(true, true);
    case kGetDelivery:
      return std::string("SELECT ") + deliveries::kNames + " FROM deliveries WHERE id = ?1";
    case kRedeliver:
      return "UPDATE deliveries SET status = 'pending', next_attempt_at = ?2, attempts = 0,"
             " updated_at = ?2, lease_owner = NULL, lease_until = NULL"
             " WHERE id = ?1 AND status = 'failed'";
    case kEnableUrl:
      return "DELETE FROM disabled_urls WHERE url = (SELECT url FROM deliveries WHERE id = ?1)";
    case kDeleteDeliveries:
      // Through deliveries_finished (its condition is this one's).
      return "DELETE FROM deliveries WHERE rowid IN (SELECT rowid FROM deliveries"
             " WHERE status <> 'pending' AND updated_at < ?1 LIMIT ?2)";
    case kSqlCount:
      break;
  }
  return {};
}

}  // namespace lrogate::store::sqlite
