#include "store/read_cache.h"

#include <unordered_map>

#include "base/thread_annotations.h"

namespace lrogate::store {
namespace {

class ReadCache final : public OperationStore {
 public:
  ReadCache(std::unique_ptr<OperationStore> inner, ReadCacheLimits limits)
      : inner_(std::move(inner)), limits_(limits), shared_(!inner_->exclusive()) {
    {
      WriterLock lock(mu_);
      serving_ = !shared_;  // a shared store's cache waits for its feed
    }
    // Outside mu_: a store whose feed runs already calls heard() at once.
    if (shared_) inner_->set_change_listener([this](const Change& c) { heard(c); });
  }
  ~ReadCache() override {
    if (shared_) inner_->set_change_listener(nullptr);
  }

  Result<void> insert(const Operation& op) override {
    auto r = inner_->insert(op);
    drop(op.id);
    if (op.kind != Kind::kAnalysis) {
      WriterLock lock(mu_);
      ++latest_gen_;
      latest_.erase(latest_key(op.kind, op.analyzer_id));
    }
    return r;
  }

  std::shared_ptr<const Operation> cached(std::string_view id) override {
    ReaderLock lock(mu_);
    if (!serving_) return nullptr;
    auto it = records_.find(id);
    if (it == records_.end()) return nullptr;
    return it->second.op;
  }

  Result<std::optional<Operation>> get(std::string_view id) override {
    if (auto hit = cached(id)) return std::optional<Operation>(*hit);
    std::string key(id);
    std::uint64_t token = 0;  // 0: this read will not be kept
    {
      WriterLock lock(mu_);
      if (serving_) {
        auto it = records_.find(key);
        if (it != records_.end() && it->second.op) return std::optional<Operation>(*it->second.op);
        if (it == records_.end() && records_.size() >= limits_.max_entries) clear();
        token = ++next_token_;
        records_[key] = Entry{nullptr, token};  // a pending read: the latest reader's
      }
    }
    auto r = inner_->get(id);
    if (token == 0) return r;
    WriterLock lock(mu_);
    auto it = records_.find(key);
    // Gone or another token: a write or a Change came since the read began.
    if (it == records_.end() || it->second.op || it->second.token != token) return r;
    if (!r || !r.value()) {
      records_.erase(it);
      return r;
    }
    std::size_t size = r.value()->result.size();
    if (bytes_ + size > limits_.max_bytes) {
      clear();
      it = records_.emplace(key, Entry{}).first;
    }
    bytes_ += size;
    it->second.op = std::make_shared<const Operation>(*r.value());
    return r;
  }

  Result<std::vector<Operation>> claim_due(
      std::string_view owner, Millis now, Millis lease_until, int limit,
      const std::vector<std::string>& skip_resources) override {
    auto r = inner_->claim_due(owner, now, lease_until, limit, skip_resources);
    if (r) {
      for (const auto& op : r.value()) drop(op.id);
    }
    return r;
  }

  Result<std::vector<std::string>> renew_leases(std::string_view owner,
                                                const std::vector<std::string>& ids,
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
    WriterLock lock(mu_);
    forget_latest();
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
  Result<std::vector<std::pair<std::string, std::int64_t>>> count_open_by_resource() override {
    return inner_->count_open_by_resource();
  }
  Result<std::vector<Operation>> list(const ListQuery& q) override { return inner_->list(q); }
  // Every analyze asks for its analyzer's latest creation; almost always the
  // answer is "none" or the same record. With a store only this process
  // writes, which record is the latest changes only when this process
  // inserts a creation of that analyzer or deletes records, so the answer
  // (an id, or none) is remembered until then; the record itself comes from
  // get(), and an expired one sends the question to the store again.
  Result<std::optional<Operation>> latest_of_kind(Kind kind, std::string_view analyzer_id,
                                                  Millis now) override {
    if (shared_) return inner_->latest_of_kind(kind, analyzer_id, now);
    std::string key = latest_key(kind, analyzer_id);
    std::uint64_t gen;
    std::optional<std::string> known_id;
    {
      ReaderLock lock(mu_);
      gen = latest_gen_;
      auto it = latest_.find(key);
      if (it != latest_.end()) {
        if (!it->second) return std::optional<Operation>();
        known_id = *it->second;
      }
    }
    if (known_id) {
      auto op = get(*known_id);
      if (!op) return op.error();
      if (op.value() && (!op.value()->expires_at || *op.value()->expires_at > now)) return op;
    }
    auto r = inner_->latest_of_kind(kind, analyzer_id, now);
    if (!r) return r;
    WriterLock lock(mu_);
    if (gen != latest_gen_) return r;  // a creation or a deletion raced the read
    if (latest_.size() >= limits_.max_entries) latest_.clear();
    latest_[key] = r.value() ? std::optional<std::string>(r.value()->id) : std::nullopt;
    return r;
  }
  // Read afresh each time: only submits that ask for reuse ask.
  Result<std::optional<Operation>> find_reusable(std::string_view tenant,
                                                 std::string_view reuse_key, Millis now) override {
    return inner_->find_reusable(tenant, reuse_key, now);
  }
  std::optional<std::shared_ptr<const Operation>> cached_latest_of_kind(
      Kind kind, std::string_view analyzer_id, Millis now) override {
    if (shared_) return std::nullopt;
    ReaderLock lock(mu_);
    if (!serving_) return std::nullopt;
    auto it = latest_.find(latest_key(kind, analyzer_id));
    if (it == latest_.end()) return std::nullopt;
    if (!it->second) return std::shared_ptr<const Operation>();
    auto rec = records_.find(*it->second);
    if (rec == records_.end() || !rec->second.op) return std::nullopt;
    const auto& op = rec->second.op;
    // Expired: latest_of_kind looks for an older one that has not.
    if (op->expires_at && *op->expires_at <= now) return std::nullopt;
    return op;
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
  Result<std::optional<Millis>> database_time() override { return inner_->database_time(); }
  Result<BudgetGrant> take_budget(const BudgetAsk& ask) override {
    return inner_->take_budget(ask);
  }
  Result<int> forget_budget(Millis before) override { return inner_->forget_budget(before); }
  // The durations are no record's: nothing to drop.
  Result<void> add_duration(const DurationKey& key, int bucket, std::int64_t halve_at) override {
    return inner_->add_duration(key, bucket, halve_at);
  }
  Result<std::vector<DurationCount>> load_durations() override { return inner_->load_durations(); }
  // Nor is the outbox: the cache holds no delivery (complete() above drops
  // the operation whatever events it wrote).
  Result<std::vector<Delivery>> claim_deliveries(
      std::string_view owner, Millis now, Millis lease_until, int limit,
      const std::vector<std::string>& skip_prefixes) override {
    return inner_->claim_deliveries(owner, now, lease_until, limit, skip_prefixes);
  }
  Result<bool> record_delivery(std::string_view id, std::string_view owner,
                               const DeliveryAttempt& a) override {
    return inner_->record_delivery(id, owner, a);
  }
  Result<std::optional<Millis>> next_delivery_due(Millis now) override {
    return inner_->next_delivery_due(now);
  }
  Result<std::vector<Delivery>> list_deliveries(const DeliveryQuery& q) override {
    return inner_->list_deliveries(q);
  }
  Result<std::optional<Delivery>> get_delivery(std::string_view id) override {
    return inner_->get_delivery(id);
  }
  Result<bool> redeliver(std::string_view id, Millis now) override {
    return inner_->redeliver(id, now);
  }
  Result<int> delete_deliveries(Millis before, int limit) override {
    return inner_->delete_deliveries(before, limit);
  }
  Result<std::vector<UsageRow>> usage_between(std::int64_t from_day, std::int64_t to_day,
                                              std::string_view tenant, UsageGroup group) override {
    return inner_->usage_between(from_day, to_day, tenant, group);
  }
  Result<UsageToday> usage_on(std::string_view tenant, std::int64_t day) override {
    return inner_->usage_on(tenant, day);
  }
  bool exclusive() const override { return inner_->exclusive(); }

  void set_change_listener(ChangeListener fn) override {
    MutexLock lock(listener_mu_);
    listener_ = std::move(fn);
    if (listener_ && listening_) listener_(Change{Change::Kind::kListening, {}});
  }

 private:
  struct Entry {
    std::shared_ptr<const Operation> op;  // null: a read is pending
    std::uint64_t token = 0;              // of that pending read
  };

  // A Change from the shared store (its listener thread): first the cache,
  // then whoever listens here, so a woken long-poll reads the new record.
  void heard(const Change& c) {
    switch (c.kind) {
      case Change::Kind::kFinished:
      case Change::Kind::kChanged:
        drop(c.id);
        break;
      case Change::Kind::kLost: {
        WriterLock lock(mu_);
        serving_ = false;
        clear();
        break;
      }
      case Change::Kind::kListening: {
        WriterLock lock(mu_);
        clear();
        serving_ = true;
        break;
      }
    }
    MutexLock lock(listener_mu_);
    if (c.kind == Change::Kind::kLost) listening_ = false;
    if (c.kind == Change::Kind::kListening) listening_ = true;
    if (listener_) listener_(c);
  }

  void drop(std::string_view id) {
    WriterLock lock(mu_);
    auto it = records_.find(id);
    if (it == records_.end()) return;
    if (it->second.op) bytes_ -= it->second.op->result.size();
    records_.erase(it);
  }
  void drop_all() {
    WriterLock lock(mu_);
    clear();
    forget_latest();
  }
  // A deleted record may have been an analyzer's latest creation.
  void forget_latest() REQUIRES(mu_) {
    ++latest_gen_;
    latest_.clear();
  }
  static std::string latest_key(Kind kind, std::string_view analyzer_id) {
    std::string key = kind_name(kind);
    key += '/';
    key += analyzer_id;
    return key;
  }
  void clear() REQUIRES(mu_) {
    records_.clear();
    bytes_ = 0;
  }

  std::unique_ptr<OperationStore> inner_;  // constant after construction
  const ReadCacheLimits limits_;
  const bool shared_;  // other processes write the store: serve only while its feed runs
  SharedMutex mu_;
  bool serving_ GUARDED_BY(mu_) = false;
  std::uint64_t next_token_ GUARDED_BY(mu_) = 0;
  std::size_t bytes_ GUARDED_BY(mu_) = 0;
  // Transparent: a lookup by string_view builds no std::string.
  struct Hash {
    using is_transparent = void;
    std::size_t operator()(std::string_view s) const { return std::hash<std::string_view>{}(s); }
  };
  std::unordered_map<std::string, Entry, Hash, std::equal_to<>> records_ GUARDED_BY(mu_);
  // latest_of_kind's answers ("kind/analyzer" → id, or none), exclusive
  // stores only; latest_gen_ is bumped by whatever may change one.
  std::unordered_map<std::string, std::optional<std::string>> latest_ GUARDED_BY(mu_);
  std::uint64_t latest_gen_ GUARDED_BY(mu_) = 0;

  Mutex listener_mu_;  // after mu_, never held while taking it
  ChangeListener listener_ GUARDED_BY(listener_mu_);
  bool listening_ GUARDED_BY(listener_mu_) = false;
};

}  // namespace

std::unique_ptr<OperationStore> with_read_cache(std::unique_ptr<OperationStore> inner,
                                                ReadCacheLimits limits) {
  return std::make_unique<ReadCache>(std::move(inner), limits);
}

}  // namespace lrogate::store
