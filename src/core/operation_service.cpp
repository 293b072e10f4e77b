#include "core/operation_service.h"

namespace lrogate::core {

OperationService::OperationService(store::OperationStore& store, const Clock& clock,
                                   ServiceConfig config)
    : store_(store), clock_(clock), config_(config) {}

Result<Operation> OperationService::record_submitted(const NewOperation& n) {
  Millis now = clock_.now_ms();
  Operation op;
  op.id = n.id;
  op.tenant = n.tenant;
  op.analyzer_id = n.analyzer_id;
  op.upstream_url = n.upstream_url;
  op.status = Status::kNotStarted;
  op.created_at = now;
  op.updated_at = now;
  op.next_poll_at = now + config_.first_poll_delay.count();
  if (auto r = store_.insert(op); !r) return r.error();
  return op;
}

Result<std::optional<Operation>> OperationService::find(std::string_view id) {
  auto r = store_.get(id);
  if (!r) return r.error();
  auto& op = r.value();
  if (op && op->expires_at && *op->expires_at <= clock_.now_ms()) return std::optional<Operation>();
  return std::move(r).value();
}

Result<void> OperationService::note_retrieved(const Operation& op) {
  if (!is_terminal(op.status) || op.retrieved_at) return {};
  Millis now = clock_.now_ms();
  if (config_.retrieval_grace.count() == 0) {
    if (auto r = store_.remove(op.id); !r) return r.error();
    return {};
  }
  Millis expires = now + config_.retrieval_grace.count();
  // Never extend a record past the expiry it already has.
  if (op.expires_at && *op.expires_at < expires) expires = *op.expires_at;
  if (auto r = store_.mark_retrieved(op.id, now, expires); !r) return r.error();
  return {};
}

Result<std::vector<Operation>> OperationService::claim_due(std::string_view owner,
                                                           std::chrono::milliseconds lease,
                                                           int limit) {
  Millis now = clock_.now_ms();
  return store_.claim_due(owner, now, now + lease.count(), limit);
}

Result<bool> OperationService::record_progress(const Operation& op, std::string_view owner,
                                               Status status, Millis next_poll_at, int attempts) {
  if (!can_transition(op.status, status) || is_terminal(status)) {
    status = op.status;  // a Running operation never goes back to NotStarted
  }
  store::Progress p{status, next_poll_at, attempts, clock_.now_ms()};
  return store_.record_progress(op.id, owner, p);
}

Result<bool> OperationService::finish(const Operation& op, std::string_view owner, Status status,
                                      std::string result, std::string result_type,
                                      std::string error_code, std::string error_message) {
  if (!is_terminal(status) || !can_transition(op.status, status)) {
    return make_error(ErrorCode::kInvalidArgument, "not a final transition");
  }
  Millis now = clock_.now_ms();
  store::Completion c{status,
                      std::move(result),
                      std::move(result_type),
                      std::move(error_code),
                      std::move(error_message),
                      now,
                      now + config_.result_ttl.count()};
  return store_.complete(op.id, owner, c);
}

Result<std::optional<Millis>> OperationService::next_due() {
  return store_.next_due(clock_.now_ms());
}

Result<int> OperationService::resume_all() { return store_.release_leases(""); }

Result<int> OperationService::sweep(int limit) {
  return store_.delete_expired(clock_.now_ms(), limit);
}

}  // namespace lrogate::core
