// Every statement the PostgreSQL store runs, by name, and the change feed's
// channels. Each is prepared once per pooled connection, on its first use
// there (postgres_store.cpp, run()). Parameters carry explicit types: libpq
// sends them as text (the result body as bytes).
#pragma once

#include <string>

// Records not finished yet (what claims and sweeps look at).
#define LROGATE_ACTIVE "status IN ('NotStarted', 'Running')"
// What the due index (operations_due_at, migration v3) holds.
#define LROGATE_DUE_AT "CASE WHEN status IN ('NotStarted', 'Running') THEN next_poll_at END"
// When an open record can be claimed: due, and its lease (if any) over. The
// claims walk its index (operations_claimable_at, migration v7), so records
// a poller holds between polls (a live lease, a past next_poll_at) are never
// walked (docs/design.md, "Claiming and the loop").
#define LROGATE_CLAIMABLE_AT                                                  \
  "CASE WHEN status IN ('NotStarted', 'Running') THEN GREATEST(next_poll_at," \
  " COALESCE(lease_until, 0)) END"
// The same for a pending delivery (its index: deliveries_claimable_at,
// migration v8).
#define LROGATE_DELIVERY_CLAIMABLE_AT \
  "CASE WHEN status = 'pending' THEN GREATEST(next_attempt_at, COALESCE(lease_until, 0)) END"

namespace lrogate::store::postgres {

// The replicas' change feed (OperationStore::Change): final transitions on
// one channel (what wakes long-polls), every other client-visible write on
// the other (what keeps read caches coherent); the payload is the id. The
// statements below name them as literals.
inline constexpr const char* kFinishedChannel = "lrogate_finished";
inline constexpr const char* kChangedChannel = "lrogate_changed";

enum Sql {
  kInsert,
  kGet,
  kClaim,
  kClaimSkipping,  // kClaim leaving some resources' records out
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
  kCountOpenByResource,
  kList,
  kListAfter,
  kListStatus,
  kListStatusAfter,
  kLatestOfKind,
  kFindReusable,
  kKeyExpire,
  kKeyInsert,
  kKeySelect,
  kKeyBind,
  kKeyRelease,
  kPing,
  kClock,
  kBudgetTake,
  kBudgetForget,
  kDurationAdd,
  kDurationLoad,
  // The webhook outbox (docs/design.md, "Completion webhooks").
  kCompleteDelivering,  // kComplete writing the completion's events too
  kClaimDeliveries,
  kClaimDeliveriesSkipping,  // kClaimDeliveries leaving some urls' deliveries out
  kRecordDelivery,
  kRecordDeliveryDisabling,  // kRecordDelivery of a 410: the url is disabled
  kNextDeliveryDue,
  kListDeliveries,
  kListDeliveriesAfter,
  kListTenantDeliveries,
  kListTenantDeliveriesAfter,
  kGetDelivery,
  kRedeliver,
  kDeleteDeliveries,
  // Usage (docs/design.md, "Usage and quotas").
  kCompleteCounting,  // kCompleteDelivering adding a Succeeded analysis's usage too
  kUsageByTenant,
  kUsageByAnalyzer,
  kUsageOn,
  kSqlCount
};

// The statement's SQL (built at each prepare; a switch, so a name without
// its text does not compile).
std::string statement_text(Sql which);

}  // namespace lrogate::store::postgres
