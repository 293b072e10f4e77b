// OperationService: the rules around the record, shared by the API and the
// poller — what an operation looks like when it is created, when a client can
// still see it, how retrieval and expiry work, how transitions are written.
//
// It owns no I/O beyond the OperationStore it is given and no threads; it is
// as thread-safe as that store. Time comes from the injected Clock.
#pragma once

#include <chrono>
#include <optional>
#include <string>
#include <vector>

#include "base/clock.h"
#include "base/result.h"
#include "core/operation.h"
#include "store/operation_store.h"

namespace lrogate::core {

struct ServiceConfig {
  std::chrono::milliseconds max_wait{30 * 60'000};
  std::chrono::milliseconds result_ttl{3'600'000};
  std::chrono::milliseconds retrieval_grace{5 * 60'000};
  std::chrono::milliseconds first_poll_delay{1'000};
};

struct NewOperation {
  std::string id;
  std::string tenant = "default";
  std::string analyzer_id;
  std::string upstream_url;
};

class OperationService {
 public:
  OperationService(store::OperationStore& store, const Clock& clock, ServiceConfig config);

  // Records an operation the upstream accepted, due for its first poll.
  // kConflict if the id is already known.
  Result<Operation> record_submitted(const NewOperation& n);

  // The operation as a client may see it: nullopt when unknown or expired
  // (an expired record reads as gone even before the sweep deletes it).
  Result<std::optional<Operation>> find(std::string_view id);

  // Called after a client was handed a terminal answer: starts the retrieval
  // grace on the first retrieval, or deletes the record when the grace is 0.
  Result<void> note_retrieved(const Operation& op);

  // --- the poller's side ---
  Result<std::vector<Operation>> claim_due(std::string_view owner, std::chrono::milliseconds lease,
                                           int limit);
  Result<bool> record_progress(const Operation& op, std::string_view owner, Status status,
                               Millis next_poll_at, int attempts);
  // Ends the operation; the record then expires at result_ttl.
  Result<bool> finish(const Operation& op, std::string_view owner, Status status,
                      std::string result, std::string result_type, std::string error_code,
                      std::string error_message);
  Result<std::optional<Millis>> next_due();
  // Frees every lease: on start of a single-node store, all work resumes.
  Result<int> resume_all();
  // Deletes expired records; returns how many.
  Result<int> sweep(int limit);

  Millis now() const { return clock_.now_ms(); }
  const ServiceConfig& config() const { return config_; }
  store::OperationStore& store() { return store_; }

 private:
  store::OperationStore& store_;
  const Clock& clock_;
  ServiceConfig config_;
};

}  // namespace lrogate::core
