// The webhook outbox's table as both stores read it (docs/design.md,
// "Completion webhooks"): the `deliveries` columns every statement that
// reads a whole delivery names, in the order each backend's reader
// (sqlite/rows.cpp, postgres/rows.cpp) walks them, and the texts and
// orders the two stores share. The outbox is not an operation record, so
// it has its own short list here rather than a place in columns.h.
#pragma once

#include <algorithm>
#include <string>
#include <string_view>
#include <tuple>
#include <vector>

#include "store/operation_store.h"

namespace lrogate::store::deliveries {

// The places of the columns in kNames (a SELECT or RETURNING list).
enum Col {
  kId,
  kOperationId,
  kTenant,
  kUrl,
  kBody,
  kStatus,
  kAttempts,
  kCreatedAt,
  kUpdatedAt,
  kNextAttemptAt,
  kLeaseOwner,
  kLeaseUntil,
  kFence,
  kLastStatus,
  kLastError,
};

inline constexpr const char* kNames =
    "id, operation_id, tenant, url, body, status, attempts, created_at, updated_at,"
    " next_attempt_at, lease_owner, lease_until, fence, last_status, last_error";

// kNames with the body left out: `null_body` (a NULL of the body's type in
// the backend's dialect) in its place, so a listing's rows read like any
// other.
inline std::string listing_names(std::string_view null_body) {
  return "id, operation_id, tenant, url, " + std::string(null_body) +
         ", status, attempts, created_at, updated_at, next_attempt_at, lease_owner,"
         " lease_until, fence, last_status, last_error";
}

// The last_error of a delivery to a disabled url: the ones a 410 failed,
// and the ones written failed while it stays disabled. A SQL literal in
// both stores' statements (no quote in it).
#define LROGATE_DELIVERY_DISABLED "endpoint disabled: the receiver answered 410 Gone"

// A stored status the store does not know (a row written by a newer
// lrogate) reads as failed: nothing claims it, and an operator can
// redeliver it.
inline DeliveryStatus status_from(std::string_view name) {
  return parse_delivery_status(name).value_or(DeliveryStatus::kFailed);
}

// A claim's answer in the contract's order, earliest due first (id for
// ties): neither backend's UPDATE ... RETURNING keeps the order its inner
// SELECT chose.
inline void sort_by_due(std::vector<Delivery>& v) {
  std::sort(v.begin(), v.end(), [](const Delivery& a, const Delivery& b) {
    return std::tie(a.next_attempt_at, a.id) < std::tie(b.next_attempt_at, b.id);
  });
}

}  // namespace lrogate::store::deliveries
