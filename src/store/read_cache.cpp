#include "store/read_cache.h"

#include <unordered_map>

#include "base/thread_annotations.h"

namespace lrogate::store {
namespace {

class ReadCache final : public OperationStore {
 public:
  ReadCache(std::unique_ptr<OperationStore> inner, ReadCacheLimits limits)
      : inner_(std::move(inner)), limits_(limits) {}

  Result<void> insert(const Operation& op) override {
    auto r = inner_->insert(op);
    drop(op.id);
    return r;
  }

  std::optional<Operation> cached(std::string_view id) override {
    ReaderLock lock(mu_);
    auto it = records_.find(std::string(id));
    if (it == records_.end()) return std::nullopt;
    return *it->second;
  }

  Result<std::optional<Operation>> get(std::string_view id) override {
    std::uint64_t gen;
    {
      ReaderLock lock(mu_);
      auto it = records_.find(std::string(id));
      if (it != records_.end()) return std::optional<Operation>(*it->second);
      gen = gen_;
    }
    auto r = inner_->get(id);
    if (r && r.value()) {
      WriterLock lock(mu_);
      if (gen == gen_) {  // no write since the read began: the record is current
        if (records_.size() >= limits_.max_entries ||
            bytes_ + r.value()->result.size() > limits_.max_bytes) {
          records_.clear();
          bytes_ = 0;
        }
        bytes_ += r.value()->result.size();
        records_.emplace(std::string(id), std::make_shared<const Operation>(*r.value()));
      }
    }
    return r;
  }

  Result<std::vector<Operation>> claim_due(std::string_view owner, Millis now, Millis lease_until,
                                           int limit) override {
    auto r = inner_->claim_due(owner, now, lease_until, limit);
    if (r) {
      for (const auto& op : r.value()) drop(op.id);
    }
    return r;
  }

  Result<int> renew_leases(std::string_view owner, const std::vector<std::string>& ids,
                           Millis lease_until) override {
    auto r = inner_->renew_leases(owner, ids, lease_until);
    for (const auto& id : ids) drop(id);
    return r;
  }

  Result<bool> record_progress(std::string_view id, std::string_view owner,
                               const Progress& p) override {
    auto r = inner_->record_progress(id, owner, p);
    drop(id);
    return r;
  }

  Result<std::vector<bool>> record_progress_many(std::string_view owner,
                                                 const std::vector<ProgressItem>& items) override {
    auto r = inner_->record_progress_many(owner, items);
    for (const auto& it : items) drop(it.id);
    return r;
  }

  Result<bool> complete(std::string_view id, std::string_view owner, const Completion& c) override {
    auto r = inner_->complete(id, owner, c);
    drop(id);
    return r;
  }

  Result<bool> mark_retrieved(std::string_view id, Millis now, Millis expires_at) override {
    auto r = inner_->mark_retrieved(id, now, expires_at);
    drop(id);
    return r;
  }

  Result<bool> remove(std::string_view id) override {
    auto r = inner_->remove(id);
    drop(id);
    return r;
  }

  Result<int> delete_expired(Millis now, int limit) override {
    auto r = inner_->delete_expired(now, limit);
    if (!r || r.value() > 0) drop_all();
    return r;
  }

  Result<int> release_leases(std::string_view owner) override {
    auto r = inner_->release_leases(owner);
    if (!r || r.value() > 0) drop_all();
    return r;
  }

  Result<std::optional<Millis>> next_due(Millis now) override { return inner_->next_due(now); }
  Result<int> count_active() override { return inner_->count_active(); }
  Result<std::vector<std::pair<std::string, int>>> count_by_status() override {
    return inner_->count_by_status();
  }
  Result<std::vector<Operation>> list(const ListQuery& q) override { return inner_->list(q); }
  Result<std::optional<Operation>> latest_of_kind(Kind kind, std::string_view analyzer_id,
                                                  Millis now) override {
    return inner_->latest_of_kind(kind, analyzer_id, now);
  }
  Result<Reservation> reserve_key(std::string_view tenant, std::string_view key,
                                  std::string_view request_hash, Millis now,
                                  Millis expires_at) override {
    return inner_->reserve_key(tenant, key, request_hash, now, expires_at);
  }
  Result<void> bind_key(std::string_view tenant, std::string_view key,
                        std::string_view operation_id) override {
    return inner_->bind_key(tenant, key, operation_id);
  }
  Result<void> release_key(std::string_view tenant, std::string_view key) override {
    return inner_->release_key(tenant, key);
  }
  Result<void> ping() override { return inner_->ping(); }
  bool exclusive() const override { return inner_->exclusive(); }
  void set_finished_listener(FinishedListener fn) override {
    inner_->set_finished_listener(std::move(fn));
  }

 private:
  void drop(std::string_view id) {
    WriterLock lock(mu_);
    ++gen_;
    auto it = records_.find(std::string(id));
    if (it == records_.end()) return;
    bytes_ -= it->second->result.size();
    records_.erase(it);
  }
  void drop_all() {
    WriterLock lock(mu_);
    ++gen_;
    records_.clear();
    bytes_ = 0;
  }

  std::unique_ptr<OperationStore> inner_;  // constant after construction
  ReadCacheLimits limits_;                 // constant after construction
  SharedMutex mu_;
  std::uint64_t gen_ GUARDED_BY(mu_) = 0;  // bumped by every write
  std::size_t bytes_ GUARDED_BY(mu_) = 0;
  std::unordered_map<std::string, std::shared_ptr<const Operation>> records_ GUARDED_BY(mu_);
};

}  // namespace

std::unique_ptr<OperationStore> with_read_cache(std::unique_ptr<OperationStore> inner,
                                                ReadCacheLimits limits) {
  return std::make_unique<ReadCache>(std::move(inner), limits);
}

}  // namespace lrogate::store
