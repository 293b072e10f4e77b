#include "base/strings.h"
#include "store/operation_store.h"
#include "store/postgres/postgres_store.h"
#include "store/read_cache.h"
#include "store/sqlite/sqlite_store.h"

namespace lrogate::store {

const char* status_name(Status s) {
  switch (s) {
    case Status::kNotStarted:
      return "NotStarted";
    case Status::kRunning:
      return "Running";
    case Status::kSucceeded:
      return "Succeeded";
    case Status::kFailed:
      return "Failed";
    case Status::kCanceled:
      return "Canceled";
  }
  return "Running";
}

std::optional<Status> parse_status(std::string_view name) {
  auto eq = [&](std::string_view want) { return iequals(name, want); };
  for (Status s : {Status::kNotStarted, Status::kRunning, Status::kSucceeded, Status::kFailed,
                   Status::kCanceled}) {
    if (eq(status_name(s))) return s;
  }
  if (eq("Cancelled")) return Status::kCanceled;
  return std::nullopt;
}

const char* delivery_status_name(DeliveryStatus s) {
  switch (s) {
    case DeliveryStatus::kPending:
      return "pending";
    case DeliveryStatus::kDelivered:
      return "delivered";
    case DeliveryStatus::kFailed:
      return "failed";
  }
  return "pending";
}

std::optional<DeliveryStatus> parse_delivery_status(std::string_view name) {
  for (DeliveryStatus s :
       {DeliveryStatus::kPending, DeliveryStatus::kDelivered, DeliveryStatus::kFailed}) {
    if (iequals(name, delivery_status_name(s))) return s;
  }
  return std::nullopt;
}

const char* kind_name(Kind k) {
  return k == Kind::kAnalyzerCreation ? "analyzerCreation" : "analysis";
}

std::optional<Kind> parse_kind(std::string_view name) {
  if (name == "analysis") return Kind::kAnalysis;
  if (name == "analyzerCreation") return Kind::kAnalyzerCreation;
  return std::nullopt;
}

Result<std::unique_ptr<OperationStore>> open_store(std::string_view url) {
  if (url.rfind("sqlite:", 0) == 0) {
    std::string_view path = url.substr(7);
    if (path.empty())
      return make_error(ErrorCode::kInvalidArgument, "--store sqlite: needs a path");
    auto s = sqlite::open(std::string(path));
    if (!s) return s.error();
    // This process is the file's only writer (its lock says so), so what it
    // read stays true until it writes: hot status reads come from memory.
    return with_read_cache(std::move(s).value());
  }
  if (url.rfind("postgresql://", 0) == 0 || url.rfind("postgres://", 0) == 0) {
    auto s = postgres::open(std::string(url));
    if (!s) return s.error();
    // Other replicas write it too: the cache holds only while the store's
    // change feed runs, and every change it hears drops the record.
    return with_read_cache(std::move(s).value());
  }
  return make_error(ErrorCode::kInvalidArgument,
                    "unsupported --store URL: expected sqlite:PATH or postgresql://...");
}

}  // namespace lrogate::store
