// Every statement the SQLite store runs on its writer connection, and the
// readers' get, by name. The store prepares each once, on first use
// (sqlite_store.cpp, prepare()); the text is here.
#pragma once

#include <string>

namespace lrogate::store::sqlite {

enum Sql {
  kInsert,
  kGet,  // prepared on each reader connection (readers.cpp)
  kClaim,
  kClaimSkipping,  // kClaim leaving some resources' records out
  kRenew,
  kProgressSameStatus,
  kProgressNewStatus,
  kComplete,
  kRetrieved,
  kRemove,
  kDeleteExpired,
  kDeleteExpiredKeys,
  kUncount,
  kNextDue,
  kRelease,
  kCountActive,
  kCountByStatus,
  kCountOpenByResource,
  kLatestOfKind,
  kFindReusable,
  kList,
  kListAfter,
  kListStatus,
  kListStatusAfter,
  kKeyExpire,
  kKeyInsert,
  kKeySelect,
  kKeyBind,
  kKeyRelease,
  kPing,
  kDurationTotal,  // add_duration: the key's total, counted up first
  kDurationBucket,
  kDurationHalve,
  kDurationDropEmpty,
  kDurationRecount,
  kDurationLoad,
  // The webhook outbox (docs/design.md, "Completion webhooks").
  kInsertDelivery,  // complete(): one event, after the completion took effect
  kClaimDeliveries,
  kClaimDeliveriesSkipping,  // kClaimDeliveries leaving some urls' deliveries out
  kRecordDelivery,
  kDisableUrl,         // record_delivery() of a 410: the url is disabled,
  kFailUrlDeliveries,  // and its other pending deliveries fail
  kNextDeliveryDue,
  kListDeliveries,
  kListDeliveriesAfter,
  kListTenantDeliveries,
  kListTenantDeliveriesAfter,
  kGetDelivery,
  kRedeliver,
  kEnableUrl,  // redeliver(): its url is enabled again
  kDeleteDeliveries,
  // Usage (docs/design.md, "Usage and quotas").
  kAddUsage,  // complete(): a Succeeded analysis's usage, after it took effect
  kUsageByTenant,
  kUsageByAnalyzer,
  kUsageOn,
  kSqlCount
};

// The statement's SQL (built once per prepare; a switch, so a name without
// its text does not compile).
std::string statement_text(Sql which);

}  // namespace lrogate::store::sqlite
