#include "store/postgres/statements.h"

#include "store/columns.h"
#include "store/delivery_columns.h"
#include "store/postgres/rows.h"

// kComplete's UPDATE, up to its RETURNING (kCompleteDelivering's too).
#define LROGATE_COMPLETE_UPDATE                                                \
  "UPDATE operations SET status = $3::text, result = $4::bytea,"               \
  " result_type = $5::text, error_code = $6::text, error_message = $7::text,"  \
  " updated_at = $8::bigint, expires_at = $9::bigint, next_poll_at = NULL,"    \
  " lease_owner = NULL, lease_until = NULL,"                                   \
  " poll_count = poll_count + $11::int"                                        \
  " WHERE id = $1::text AND " LROGATE_ACTIVE                                   \
  " AND ($2::text IS NULL OR ((lease_owner = $2::text OR lease_owner IS NULL)" \
  " AND fence = $10::bigint))"

// record_delivery's UPDATE, up to its RETURNING: $1 id, $2 owner, $3
// status, $4 next_attempt_at, $5 last_status, $6 last_error, $7 now, $8
// fence.
#define LROGATE_RECORD_DELIVERY_UPDATE                                      \
  "UPDATE deliveries SET status = $3::text, next_attempt_at = $4::bigint,"  \
  " last_status = $5::int, last_error = $6::text, updated_at = $7::bigint," \
  " attempts = attempts + 1, lease_owner = NULL, lease_until = NULL"        \
  " WHERE id = $1::text AND lease_owner = $2::text AND fence = $8::bigint"  \
  " AND status = 'pending'"

namespace lrogate::store::postgres {
namespace {

// kListDeliveries, kListDeliveriesAfter: one statement with a cursor and
// one without, so the listing index is entered at the cursor. The tenant
// and status filter that walk and choose no index, so they may be "$n IS
// NULL OR ...". $1 tenant, $2 status, $3 limit, $4 and $5 the cursor.
// A tenant's through deliveries_by_tenant, every tenant's ($1 NULL)
// through deliveries_listing.
std::string list_deliveries(bool after, bool by_tenant) {
  std::string sql = "SELECT " + deliveries::listing_names("NULL::bytea") +
                    " FROM deliveries WHERE " +
                    (by_tenant ? "tenant = $1::text" : "$1::text IS NULL") +
                    " AND ($2::text IS NULL OR status = $2::text)";
  if (after) sql += " AND (created_at, id) < ($4::bigint, $5::text)";
  sql += " ORDER BY created_at DESC, id DESC LIMIT $3::int";
  return sql;
}

// kList, kListAfter, kListStatus, kListStatusAfter: one statement per
// shape, so the index is entered at the cursor (a seek at any depth) and by
// status when one is asked. $1 tenant, $2 now, $3 limit, then the status
// and the cursor, as each shape has them.
std::string list(bool by_status, bool after) {
  std::string sql = "SELECT " + listing_columns() + " FROM operations WHERE tenant = $1::text";
  if (by_status) sql += " AND status = $4::text";
  if (after) {
    sql += by_status ? " AND (created_at, id) < ($5::bigint, $6::text)"
                     : " AND (created_at, id) < ($4::bigint, $5::text)";
  }
  sql += " AND (expires_at IS NULL OR expires_at > $2::bigint) ORDER BY created_at DESC, id DESC";
  sql += " LIMIT $3::int";
  return sql;
}

// The events of a completion ($n ids, $n+1 urls, $n+2 bodies) joined to
// `done`, the UPDATE's RETURNING: "events AS (...)".
std::string events_cte(int n) {
  auto p = [n](int i) { return "$" + std::to_string(n + i); };
  return " events AS (INSERT INTO deliveries (id, operation_id, tenant, url, body, status,"
         " attempts, created_at, updated_at, next_attempt_at, fence, last_status, last_error)"
         " SELECT v.id, done.id, done.tenant, v.url, v.body,"
         " CASE WHEN d.url IS NULL THEN 'pending' ELSE 'failed' END, 0, $8::bigint,"
         " $8::bigint, $8::bigint, 0, 0,"
         " CASE WHEN d.url IS NULL THEN NULL ELSE '" LROGATE_DELIVERY_DISABLED
         "' END"
         " FROM done CROSS JOIN unnest(" +
         p(0) + "::text[], " + p(1) + "::text[], " + p(2) +
         "::bytea[]) AS v(id, url, body) LEFT JOIN disabled_urls AS d ON d.url = v.url"
         " ON CONFLICT (id) DO NOTHING RETURNING 1)";
}

}  // namespace

std::string statement_text(Sql which) {
  switch (which) {
    case kInsert:
      return "INSERT INTO operations (" + columns::names() + ") VALUES (" + insert_values() + ")";
    case kGet:
      return "SELECT " + columns::names() + " FROM operations WHERE id = $1::text";
    case kClaim:
    case kClaimSkipping:
      // The ids first, as an array: as "id IN (subquery)" the planner may
      // join against the whole table (see kDeleteExpired). Skipping: $5 the
      // resources left out, a filter on the same walk of the due index.
      return std::string(
                 "UPDATE operations SET lease_owner = $1::text, lease_until = $2::bigint,"
                 " fence = fence + 1 WHERE id = ANY(ARRAY(SELECT id FROM operations"
                 " WHERE " LROGATE_ACTIVE " AND " LROGATE_CLAIMABLE_AT " <= $3::bigint") +
             (which == kClaimSkipping ? " AND resource <> ALL($5::text[])" : "") +
             " ORDER BY " LROGATE_CLAIMABLE_AT
             " LIMIT $4::int FOR UPDATE SKIP LOCKED)) RETURNING " +
             columns::names();
    case kRenew:
      return "UPDATE operations SET lease_until = $2::bigint WHERE lease_owner = $1::text"
             " AND id = ANY($3::text[]) AND " LROGATE_ACTIVE " RETURNING id";
    case kProgress:
      // The writes a client can see tell the replicas' caches
      // (lrogate_changed); one row per record written.
      return "WITH done AS (UPDATE operations SET status = $3::text, next_poll_at = $4::bigint,"
             " attempts = $5::int, updated_at = $6::bigint, poll_count = poll_count + $8::int,"
             " lease_owner = NULL, lease_until = NULL"
             " WHERE id = $1::text AND lease_owner = $2::text AND fence = $7::bigint"
             " AND " LROGATE_ACTIVE
             " RETURNING id)"
             " SELECT pg_notify('lrogate_changed', id) FROM done";
    case kProgressMany:
      // A batch of progress writes in one round trip, each row fenced as
      // kProgress fences one.
      return "WITH done AS (UPDATE operations AS o SET status = v.status,"
             " next_poll_at = v.next_poll_at,"
             " attempts = v.attempts, updated_at = v.now, poll_count = o.poll_count + v.polls,"
             " lease_owner = NULL, lease_until = NULL"
             " FROM unnest($2::text[], $3::text[], $4::bigint[], $5::int[], $6::bigint[],"
             " $7::bigint[], $8::int[]) AS v(id, status, next_poll_at, attempts, now, fence, polls)"
             " WHERE o.id = v.id AND o.lease_owner = $1::text AND o.fence = v.fence"
             " AND o.status IN ('NotStarted', 'Running') RETURNING o.id)"
             " SELECT id, pg_notify('lrogate_changed', id) FROM done";
    case kComplete:
      // One statement that also tells every replica's listener.
      return "WITH done AS (" LROGATE_COMPLETE_UPDATE
             " RETURNING id)"
             " SELECT pg_notify('lrogate_finished', id) FROM done";
    case kCompleteDelivering:
      // kComplete, and its events ($12 ids, $13 urls, $14 bodies) in the
      // same statement: joined to what the UPDATE returned, so they are
      // written when, and only when, it took effect, with the operation's
      // tenant; failed when the url is disabled; a duplicate id keeps the
      // row there is. Answers how many it wrote.
      return "WITH done AS (" LROGATE_COMPLETE_UPDATE " RETURNING id, tenant, analyzer_id)," +
             events_cte(12) +
             " SELECT pg_notify('lrogate_finished', id), (SELECT count(*) FROM events) FROM done";
    case kCompleteCounting:
      // kCompleteDelivering (its arrays may be empty), and the usage
      // ($15 day, $16 pages, $17 tokens, $18 bytes in, $19 bytes out) added
      // to the day's row of the operation's tenant and analyzer, joined to
      // what the UPDATE returned as the events are: counted when, and only
      // when, the completion took effect.
      return "WITH done AS (" LROGATE_COMPLETE_UPDATE " RETURNING id, tenant, analyzer_id)," +
             events_cte(12) +
             ", counted AS (INSERT INTO usage_daily AS u (day, tenant, analyzer, operations,"
             " pages, tokens, bytes_in, bytes_out) SELECT $15::bigint, done.tenant,"
             " done.analyzer_id, 1, $16::bigint, $17::bigint, $18::bigint, $19::bigint FROM done"
             " ON CONFLICT (day, tenant, analyzer) DO UPDATE SET operations = u.operations + 1,"
             " pages = u.pages + EXCLUDED.pages, tokens = u.tokens + EXCLUDED.tokens,"
             " bytes_in = u.bytes_in + EXCLUDED.bytes_in,"
             " bytes_out = u.bytes_out + EXCLUDED.bytes_out RETURNING 1)"
             " SELECT pg_notify('lrogate_finished', id), (SELECT count(*) FROM events),"
             " (SELECT count(*) FROM counted) FROM done";
    case kRetrieved:
      return "WITH done AS (UPDATE operations SET retrieved_at = $2::bigint,"
             " expires_at = $3::bigint WHERE id = $1::text AND retrieved_at IS NULL RETURNING id)"
             " SELECT pg_notify('lrogate_changed', id) FROM done";
    case kRemove:
      return "WITH done AS (DELETE FROM operations WHERE id = $1::text RETURNING id)"
             " SELECT pg_notify('lrogate_changed', id) FROM done";
    case kDeleteExpired:
      // Expired records read as gone already; the notices keep a replica
      // whose clock lags from answering from memory. The ids are picked
      // first (an array, then deleted by primary key): as "id IN
      // (subquery)" the planner may join against the whole table. SKIP
      // LOCKED: replicas sweeping at once take different records.
      return "WITH done AS (DELETE FROM operations WHERE id = ANY(ARRAY(SELECT id FROM operations"
             " WHERE expires_at IS NOT NULL AND expires_at <= $1::bigint ORDER BY expires_at"
             " LIMIT $2::int FOR UPDATE SKIP LOCKED)) RETURNING id)"
             " SELECT pg_notify('lrogate_changed', id) FROM done";
    case kDeleteExpiredKeys:
      // And the counts' roll-up (as in kCountByStatus), in the same round
      // trip, so that the changes stay few when nobody asks for counts.
      return "WITH keys AS (DELETE FROM idempotency WHERE expires_at <= $1::bigint),"
             " moved AS (DELETE FROM operation_count_changes"
             " WHERE (SELECT pg_try_advisory_xact_lock(7405572)) RETURNING status, delta)"
             " INSERT INTO operation_counts (status, n) SELECT status, SUM(delta) FROM moved"
             " GROUP BY status ON CONFLICT (status) DO UPDATE SET n = operation_counts.n +"
             " EXCLUDED.n";
    case kNextDue:
      return "SELECT MIN(" LROGATE_CLAIMABLE_AT ") FROM operations WHERE " LROGATE_ACTIVE;
    case kRelease:
      return "UPDATE operations SET lease_owner = NULL, lease_until = NULL"
             " WHERE lease_owner IS NOT NULL AND ($1::text IS NULL OR lease_owner = $1::text)";
    case kCountActive:
      // The kept counts (see migration v3).
      return "SELECT COALESCE(SUM(n), 0)::bigint FROM (SELECT status, n FROM operation_counts"
             " UNION ALL SELECT status, delta FROM operation_count_changes) AS c"
             " WHERE " LROGATE_ACTIVE;
    case kCountByStatus:
      // Rolls the changes up when no other replica does at the moment (the
      // try-lock), and counts. Every part of one statement reads one
      // snapshot, so the sum is right whether the roll-up ran or not.
      return "WITH locked AS (SELECT pg_try_advisory_xact_lock(7405572) AS ok),"
             " moved AS (DELETE FROM operation_count_changes WHERE (SELECT ok FROM locked)"
             " RETURNING status, delta),"
             " rolled AS (INSERT INTO operation_counts (status, n) SELECT status, SUM(delta)"
             " FROM moved GROUP BY status ON CONFLICT (status) DO UPDATE"
             " SET n = operation_counts.n + EXCLUDED.n)"
             " SELECT status, SUM(n)::bigint FROM (SELECT status, n FROM operation_counts"
             " UNION ALL SELECT status, delta FROM operation_count_changes) AS c"
             " GROUP BY status HAVING SUM(n) <> 0 ORDER BY status";
    case kCountOpenByResource:
      // Only the open records, which the claim index (operations_claimable_at,
      // partial on them) finds whatever the number of finished ones. An
      // index of (resource) of its own was slower (at 1M rows, 20k open:
      // 160 ms against 28 ms; every progress write, not HOT, adds to it
      // entries the count must check in the table) and cost every write.
      return "SELECT resource, COUNT(*)::bigint FROM operations WHERE " LROGATE_ACTIVE
             " GROUP BY resource ORDER BY resource";
    case kList:
      return list(false, false);
    case kListAfter:
      return list(false, true);
    case kListStatus:
      return list(true, false);
    case kListStatusAfter:
      return list(true, true);
    case kLatestOfKind:
      return "SELECT " + columns::names() +
             " FROM operations WHERE analyzer_id = $1::text AND kind = $2::text"
             " AND kind <> 'analysis' AND (expires_at IS NULL OR expires_at > $3::bigint)"
             " ORDER BY created_at DESC, id DESC LIMIT 1";
    case kFindReusable:
      // Walks operations_reuse (tenant, reuse_key, created_at DESC).
      return "SELECT " + columns::names() +
             " FROM operations WHERE tenant = $1::text AND reuse_key = $2::text"
             " AND reuse_key IS NOT NULL AND status = 'Succeeded'"
             " AND (expires_at IS NULL OR expires_at > $3::bigint)"
             " ORDER BY created_at DESC LIMIT 1";
    case kKeyExpire:
      return "DELETE FROM idempotency WHERE tenant = $1::text AND key = $2::text"
             " AND expires_at <= $3::bigint";
    case kKeyInsert:
      return "INSERT INTO idempotency (tenant, key, request_hash, created_at, expires_at)"
             " VALUES ($1::text, $2::text, $3::text, $4::bigint, $5::bigint)"
             " ON CONFLICT DO NOTHING";
    case kKeySelect:
      return "SELECT request_hash, operation_id FROM idempotency WHERE tenant = $1::text"
             " AND key = $2::text";
    case kKeyBind:
      return "UPDATE idempotency SET operation_id = $3::text WHERE tenant = $1::text"
             " AND key = $2::text";
    case kKeyRelease:
      return "DELETE FROM idempotency WHERE tenant = $1::text AND key = $2::text"
             " AND operation_id IS NULL";
    case kPing:
      return "SELECT 1";
    case kClock:
      // The database's time, ms since the epoch (clock_timestamp(): now,
      // not the transaction's start).
      return "SELECT (extract(epoch FROM clock_timestamp()) * 1000)::bigint";
    case kBudgetTake:
      // $1 resource, $2 budget, $3 slot, $4 want, $5 cap, $6 ends_at. The
      // slot's row is locked by the first statement that inserts or
      // updates it, so concurrent asks are judged in turn; SET reads the
      // row as it was, so `granted` is what this ask took.
      return "INSERT INTO budget_slots AS b (resource, budget, slot, taken, granted, ends_at)"
             " VALUES ($1::text, $2::text, $3::bigint, LEAST($4::int, $5::int),"
             " LEAST($4::int, $5::int), $6::bigint)"
             " ON CONFLICT (resource, budget, slot) DO UPDATE"
             " SET taken = GREATEST(b.taken, LEAST(b.taken + $4::int, $5::int)),"
             " granted = GREATEST(0, LEAST(b.taken + $4::int, $5::int) - b.taken)"
             " RETURNING granted, taken";
    case kBudgetForget:
      return "DELETE FROM budget_slots WHERE ends_at < $1::bigint";
    case kDurationAdd:
      // One round trip, one transaction: the function of migration v6 (its
      // comment says how concurrent adds of a key take turns).
      return "SELECT lrogate_add_duration($1::text, $2::text, $3::int, $4::int, $5::bigint)";
    case kDurationLoad:
      return "SELECT resource, analyzer, band, bucket, n FROM duration_buckets WHERE n > 0"
             " ORDER BY resource, analyzer, band, bucket";
    // The outbox (postgres_store.cpp: complete() and the delivery calls).
    case kClaimDeliveries:
    case kClaimDeliveriesSkipping:
      // As kClaim, through deliveries_claimable_at; skipping: $5 the url
      // prefixes (receivers' origins) left out, a filter on the same walk.
      return std::string(
                 "UPDATE deliveries SET lease_owner = $1::text, lease_until = $2::bigint,"
                 " fence = fence + 1 WHERE id = ANY(ARRAY(SELECT id FROM deliveries"
                 " WHERE status = 'pending' AND " LROGATE_DELIVERY_CLAIMABLE_AT " <= $3::bigint") +
             (which == kClaimDeliveriesSkipping
                  ? " AND NOT EXISTS (SELECT 1 FROM unnest($5::text[]) AS s(p)"
                    " WHERE left(url, length(s.p)) = s.p)"
                  : "") +
             " ORDER BY " LROGATE_DELIVERY_CLAIMABLE_AT
             " LIMIT $4::int FOR UPDATE SKIP LOCKED)) RETURNING " +
             deliveries::kNames;
    case kRecordDelivery:
      return LROGATE_RECORD_DELIVERY_UPDATE " RETURNING id, 0::bigint";
    case kRecordDeliveryDisabling:
      // A 410: in the same statement, when the attempt was recorded, the
      // url is disabled and its other pending deliveries fail (through
      // deliveries_pending_url), but those another claim holds: their
      // attempts are under way. Answers how many others it failed.
      return "WITH done AS (" LROGATE_RECORD_DELIVERY_UPDATE
             " RETURNING id, url),"
             " off AS (INSERT INTO disabled_urls (url, disabled_at) SELECT url, $7::bigint"
             " FROM done ON CONFLICT (url) DO NOTHING),"
             " others AS (UPDATE deliveries AS o SET status = 'failed',"
             " last_error = '" LROGATE_DELIVERY_DISABLED
             "', updated_at = $7::bigint,"
             " lease_owner = NULL, lease_until = NULL FROM done"
             " WHERE o.url = done.url AND o.status = 'pending' AND o.id <> done.id"
             " AND (o.lease_until IS NULL OR o.lease_until <= $7::bigint) RETURNING 1)"
             " SELECT id, (SELECT count(*) FROM others) FROM done";
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
      return std::string("SELECT ") + deliveries::kNames + " FROM deliveries WHERE id = $1::text";
    case kRedeliver:
      // And its url enabled again, in the same statement.
      return "WITH again AS (UPDATE deliveries SET status = 'pending',"
             " next_attempt_at = $2::bigint, attempts = 0, updated_at = $2::bigint,"
             " lease_owner = NULL, lease_until = NULL"
             " WHERE id = $1::text AND status = 'failed' RETURNING url),"
             " enabled AS (DELETE FROM disabled_urls WHERE url IN (SELECT url FROM again))"
             " SELECT 1 FROM again";
    case kDeleteDeliveries:
      // The ids first (see kDeleteExpired), through deliveries_finished.
      return "DELETE FROM deliveries WHERE id = ANY(ARRAY(SELECT id FROM deliveries"
             " WHERE status <> 'pending' AND updated_at < $1::bigint ORDER BY updated_at"
             " LIMIT $2::int FOR UPDATE SKIP LOCKED))";
    case kUsageByTenant:
    case kUsageByAnalyzer: {
      // $1 from day, $2 to day (exclusive), $3 tenant (NULL: every tenant).
      std::string key = which == kUsageByTenant ? "tenant" : "analyzer";
      return "SELECT " + key +
             ", SUM(operations)::bigint, SUM(pages)::bigint, SUM(tokens)::bigint,"
             " SUM(bytes_in)::bigint, SUM(bytes_out)::bigint FROM usage_daily"
             " WHERE day >= $1::bigint AND day < $2::bigint"
             " AND ($3::text IS NULL OR tenant = $3::text) GROUP BY " +
             key + " ORDER BY " + key;
    }
    case kUsageOn:
      // $1 tenant, $2 day. In flight: the listing-by-status index.
      return "SELECT (SELECT COALESCE(SUM(operations), 0)::bigint FROM usage_daily"
             " WHERE day = $2::bigint AND tenant = $1::text),"
             " (SELECT COALESCE(SUM(pages), 0)::bigint FROM usage_daily"
             " WHERE day = $2::bigint AND tenant = $1::text),"
             " (SELECT COUNT(*) FROM operations WHERE tenant = $1::text"
             " AND status IN ('NotStarted', 'Running'))";
    case kSqlCount:
      break;
  }
  return {};
}

}  // namespace lrogate::store::postgres
