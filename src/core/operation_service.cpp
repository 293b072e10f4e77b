#include "core/operation_service.h"

#include <algorithm>
#include <cstdlib>

#include "base/ids.h"
#include "base/log.h"
#include "base/metrics.h"
#include "base/sha256.h"
#include "base/strings.h"

namespace lrogate::core {

OperationService::OperationService(store::OperationStore& store, const Clock& clock,
                                   ServiceConfig config)
    : store_(store), clock_(clock), config_(config) {
  // Completions written by other replicas wake this one's long-polls; when
  // the feed resumes after a gap, every waiter reads again (some may have
  // gone by unheard).
  store_.set_change_listener([this](const store::OperationStore::Change& c) {
    using Kind = store::OperationStore::Change::Kind;
    if (c.kind == Kind::kFinished) notifier_.notify(c.id);
    if (c.kind == Kind::kListening) notifier_.notify_all();
  });
}

OperationService::OperationService(store::OperationStore& store, ClusterClock& clock,
                                   ServiceConfig config)
    : OperationService(store, static_cast<const Clock&>(clock), config) {
  cluster_ = &clock;
}

OperationService::~OperationService() { store_.set_change_listener(nullptr); }

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
  op.idempotency_key = n.idempotency_key;
  op.kind = n.kind;
  op.resource = n.resource;
  op.size_band = n.size_band;
  op.callback_url = n.callback_url;
  op.request_bytes = n.request_bytes;
  op.reuse_key = n.reuse_key;
  op.next_poll_at = now + config_.first_poll_delay.count();
  if (config_.learned_schedule) {
    if (auto learned = learned_for(op)) {
      if (auto at = learned_poll_age(*learned, 0, config_.shape)) op.next_poll_at = now + *at;
    }
  }
  if (auto r = store_.insert(op); !r) return r.error();
  metrics::count_store_writes("insert", 1);
  return op;
}

Result<std::optional<Operation>> OperationService::reuse(const NewOperation& n) {
  if (n.reuse_key.empty()) return std::optional<Operation>();
  Millis now = clock_.now_ms();
  auto found = store_.find_reusable(n.tenant, n.reuse_key, now);
  if (!found || !found.value()) return found;
  const Operation& from = *found.value();
  Operation op;
  op.id = random_uuid();
  op.tenant = n.tenant;
  op.analyzer_id = n.analyzer_id;
  op.upstream_url = from.upstream_url;
  op.status = Status::kSucceeded;
  op.created_at = now;
  op.updated_at = now;
  op.result = from.result;
  op.result_type = from.result_type;
  op.expires_at = now + config_.result_ttl.count();
  op.kind = n.kind;
  op.resource = from.resource;
  op.size_band = n.size_band;
  // Neither the key column (the reservation the caller binds is what
  // replays read, and an older record may still hold the key) nor the reuse
  // key: only a result an upstream made is reused, within its own TTL, so
  // reusing copies cannot keep a result alive past it.
  if (auto r = store_.insert(op); !r) return r.error();
  metrics::count_store_writes("insert", 1);
  return std::optional<Operation>(std::move(op));
}

Result<std::optional<Operation>> OperationService::find(std::string_view id) {
  auto r = store_.get(id);
  if (!r) return r.error();
  auto& op = r.value();
  if (op && op->expires_at && *op->expires_at <= clock_.now_ms()) return std::optional<Operation>();
  return std::move(r).value();
}

Result<std::optional<Operation>> OperationService::latest_creation(std::string_view analyzer_id) {
  return store_.latest_of_kind(Kind::kAnalyzerCreation, analyzer_id, clock_.now_ms());
}

std::optional<std::shared_ptr<const Operation>> OperationService::cached_latest_creation(
    std::string_view analyzer_id) {
  return store_.cached_latest_of_kind(Kind::kAnalyzerCreation, analyzer_id, clock_.now_ms());
}

std::shared_ptr<const Operation> OperationService::cached(std::string_view id) {
  auto op = store_.cached(id);
  if (op && op->expires_at && *op->expires_at <= clock_.now_ms()) return nullptr;
  return op;
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

Result<std::vector<Operation>> OperationService::claim_due(
    std::string_view owner, std::chrono::milliseconds lease, int limit,
    const std::vector<std::string>& skip_resources) {
  Millis now = clock_.now_ms();
  auto r = store_.claim_due(owner, now, now + lease.count(), limit, skip_resources);
  if (r) metrics::count_store_writes("claim", static_cast<std::int64_t>(r.value().size()));
  return r;
}

namespace {

store::Progress progress_of(const Operation& op, Status status, Millis next_poll_at, int attempts,
                            Millis now) {
  if (!can_transition(op.status, status) || is_terminal(status)) {
    status = op.status;  // a Running operation never goes back to NotStarted
  }
  return store::Progress{status, next_poll_at, attempts, now, op.fence, /*polls=*/1};
}

void count_progress(const Operation& op, const store::Progress& p, bool written) {
  if (written) metrics::count_store_writes(p.status == op.status ? "progress" : "transition", 1);
}

}  // namespace

Result<bool> OperationService::record_progress(const Operation& op, std::string_view owner,
                                               Status status, Millis next_poll_at, int attempts) {
  auto p = progress_of(op, status, next_poll_at, attempts, clock_.now_ms());
  auto r = store_.record_progress(op.id, owner, p);
  if (r) count_progress(op, p, r.value());
  return r;
}

Result<std::vector<bool>> OperationService::record_progress_many(
    std::string_view owner, const std::vector<ProgressWrite>& writes) {
  Millis now = clock_.now_ms();
  std::vector<store::OperationStore::ProgressItem> items;
  items.reserve(writes.size());
  for (const auto& w : writes) {
    items.push_back({w.op->id, progress_of(*w.op, w.status, w.next_poll_at, w.attempts, now)});
    items.back().progress.polls = w.polls;
  }
  auto r = store_.record_progress_many(owner, items);
  if (r) {
    for (std::size_t i = 0; i < items.size() && i < r.value().size(); ++i) {
      count_progress(*writes[i].op, items[i].progress, r.value()[i]);
    }
  }
  return r;
}

Result<bool> OperationService::finish(const Operation& op, std::string_view owner, Status status,
                                      std::string result, std::string result_type,
                                      std::string error_code, std::string error_message, int polls,
                                      std::int64_t pages, std::int64_t tokens) {
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
                      now + config_.result_ttl.count(),
                      op.fence,
                      /*polls=*/owner.empty() ? 0 : polls};
  c.deliveries = events_for(op, c);
  // Usage is an analysis's that succeeded (docs/design.md, "Usage and
  // quotas"), written by the completion itself: counted once or not at all.
  if (status == Status::kSucceeded && op.kind == Kind::kAnalysis) {
    c.usage =
        store::Usage{pages, tokens, op.request_bytes, static_cast<std::int64_t>(c.result.size())};
  }
  auto done = store_.complete(op.id, owner, c);
  if (done && done.value()) {
    metrics::count_store_writes("finish", 1);
    if (c.usage) {
      metrics::count_usage(op.tenant, c.usage->pages, c.usage->tokens, c.usage->bytes_in,
                           c.usage->bytes_out);
    }
    notifier_.notify(op.id);
    if (!c.deliveries.empty() && events_.written) events_.written();
    if (status == Status::kSucceeded && !owner.empty()) learn(op, now);
  }
  return done;
}

std::vector<store::NewDelivery> OperationService::events_for(const Operation& op,
                                                             const store::Completion& c) const {
  if (!events_.body) return {};
  std::vector<std::string> urls;
  if (!op.callback_url.empty()) urls.push_back(op.callback_url);
  if (events_.endpoints) {
    for (std::string& u : events_.endpoints(op.tenant)) {
      if (std::find(urls.begin(), urls.end(), u) == urls.end()) urls.push_back(std::move(u));
    }
  }
  if (urls.empty()) return {};
  Operation final_op = op;
  final_op.status = c.status;
  final_op.result = c.result;
  final_op.result_type = c.result_type;
  final_op.error_code = c.error_code;
  final_op.error_message = c.error_message;
  final_op.updated_at = c.now;
  final_op.expires_at = c.expires_at;
  final_op.next_poll_at.reset();
  final_op.poll_count += c.polls;
  std::vector<store::NewDelivery> out;
  out.reserve(urls.size());
  for (std::string& url : urls) {
    std::string id = "msg_" + op.id;
    // "~" is in no operation id (base/ids.h): no other operation's id.
    if (url != op.callback_url) id += "~" + sha256_hex({url}).substr(0, 12);
    std::string body = events_.body(final_op, id);
    out.push_back(store::NewDelivery{std::move(id), std::move(url), std::move(body)});
  }
  return out;
}

std::shared_ptr<const DurationSketch> OperationService::learned_for(const Operation& op) const {
  if (!history_ || op.kind != Kind::kAnalysis) return nullptr;
  return history_->find({op.resource, op.analyzer_id, op.size_band});
}

namespace {

// A key's counts are halved when they reach this: the schedule follows the
// last few hundred completions (docs/design.md, "Learned poll schedules").
constexpr std::int64_t kHalveDurationsAt = 512;

}  // namespace

void OperationService::learn(const Operation& op, Millis now) {
  if (!history_ || op.kind != Kind::kAnalysis) return;
  // It finished after the last poll that found it running (updated_at, the
  // last progress write; created_at before any) and before now. Taken as
  // the middle of the last interval of that span: after a long skip the
  // estimate moves earlier by half an interval, so a schedule that starts
  // too late learns to start sooner.
  Millis last = std::max(op.updated_at, op.created_at);
  Millis lower = std::max(last, now - config_.shape.poll_interval);
  Millis duration = std::max<Millis>((lower + now) / 2 - op.created_at, 0);
  int bucket = duration_bucket(duration);
  DurationKey key{op.resource, op.analyzer_id, op.size_band};
  history_->add(key, bucket);
  if (auto r = store_.add_duration(key, bucket, kHalveDurationsAt); !r) {
    // One sample lost; this process's copy has it, the others learn on.
    log::warn("cannot store a learned duration",
              {{"error", r.error().message}, {"detail", r.error().detail}});
  }
}

Result<void> OperationService::refresh_history() {
  if (!history_) return {};
  auto rows = store_.load_durations();
  if (!rows) return rows.error();
  std::vector<std::pair<DurationKey, DurationSketch>> all;
  for (const auto& r : rows.value()) {
    const DurationKey& key = r.key;
    if (all.empty() || all.back().first < key || key < all.back().first) {
      all.push_back({key, DurationSketch{}});
    }
    all.back().second.add(r.bucket, r.count);
  }
  history_->replace(all);
  return {};
}

Result<CancelOutcome> OperationService::cancel(std::string_view id) {
  auto found = find(id);
  if (!found) return found.error();
  if (!found.value()) return CancelOutcome::kNotFound;
  const Operation& op = *found.value();
  if (is_terminal(op.status)) {
    if (auto r = store_.remove(op.id); !r) return r.error();
    return CancelOutcome::kPurged;
  }
  Millis now = clock_.now_ms();
  store::Completion c{Status::kCanceled,
                      "",
                      "",
                      "Canceled",
                      "canceled by the client",
                      now,
                      now + config_.result_ttl.count(),
                      0,
                      /*polls=*/0};
  c.deliveries = events_for(op, c);
  // Regardless of the poller's lease: its later write finds a final record.
  auto done = store_.complete(op.id, "", c);
  if (!done) return done.error();
  if (!done.value()) return cancel(id);  // it finished meanwhile: purge that
  metrics::count_store_writes("cancel", 1);
  notifier_.notify(op.id);
  if (!c.deliveries.empty() && events_.written) events_.written();
  return CancelOutcome::kCanceled;
}

namespace {

// skipToken: "<created_at>.<id>" — both already URL-safe.
std::string make_token(const Operation& op) { return std::to_string(op.created_at) + "." + op.id; }

struct Cursor {
  Millis created_at;
  std::string id;
};

// make_token's inverse; nullopt when t is not of its form.
std::optional<Cursor> read_token(std::string_view t) {
  auto dot = t.find('.');
  if (dot == std::string_view::npos || dot == 0 || dot > 19 || dot + 1 >= t.size()) {
    return std::nullopt;
  }
  auto v = parse_digits(t.substr(0, dot), 18);
  if (!v) return std::nullopt;
  return Cursor{*v, std::string(t.substr(dot + 1))};
}

}  // namespace

Result<Page> OperationService::list(const std::string& tenant, std::optional<Status> status,
                                    int top, std::string_view skip_token) {
  store::ListQuery q;
  q.tenant = tenant;
  q.status = status;
  q.limit = top + 1;  // one more tells whether a next page exists
  q.now = clock_.now_ms();
  if (!skip_token.empty()) {
    auto cursor = read_token(skip_token);
    if (!cursor) return make_error(ErrorCode::kInvalidArgument, "invalid skipToken");
    q.after_created = cursor->created_at;
    q.after_id = std::move(cursor->id);
  }
  auto rows = store_.list(q);
  if (!rows) return rows.error();
  Page page;
  page.items = std::move(rows).value();
  if (static_cast<int>(page.items.size()) > top) {
    page.items.resize(static_cast<std::size_t>(top));
    page.next_token = make_token(page.items.back());
  }
  return page;
}

Result<OperationService::DeliveryPage> OperationService::list_deliveries(
    const std::string& tenant, std::optional<store::DeliveryStatus> status, int top,
    std::string_view skip_token) {
  store::DeliveryQuery q;
  q.tenant = tenant;
  q.status = status;
  q.limit = top + 1;
  if (!skip_token.empty()) {
    auto cursor = read_token(skip_token);
    if (!cursor) return make_error(ErrorCode::kInvalidArgument, "invalid skipToken");
    q.after_created = cursor->created_at;
    q.after_id = std::move(cursor->id);
  }
  auto rows = store_.list_deliveries(q);
  if (!rows) return rows.error();
  DeliveryPage page;
  page.items = std::move(rows).value();
  if (static_cast<int>(page.items.size()) > top) {
    page.items.resize(static_cast<std::size_t>(top));
    const auto& last = page.items.back();
    page.next_token = std::to_string(last.created_at) + "." + last.id;
  }
  return page;
}

Result<std::optional<store::Delivery>> OperationService::find_delivery(std::string_view id) {
  return store_.get_delivery(id);
}

Result<bool> OperationService::redeliver(std::string_view id) {
  auto r = store_.redeliver(id, clock_.now_ms());
  if (r && r.value() && events_.written) events_.written();
  return r;
}

Result<KeyCheck> OperationService::check_key(const std::string& tenant, const std::string& key,
                                             const std::string& request_hash) {
  Millis now = clock_.now_ms();
  Millis hold = config_.max_wait.count() + config_.result_ttl.count();
  auto r = store_.reserve_key(tenant, key, request_hash, now, now + hold);
  if (!r) return r.error();
  KeyCheck k;
  if (r->created) return k;
  if (r->request_hash != request_hash) {
    k.kind = KeyCheck::Kind::kMismatch;
  } else if (r->operation_id.empty()) {
    k.kind = KeyCheck::Kind::kInFlight;
  } else {
    k.kind = KeyCheck::Kind::kReplay;
    k.operation_id = r->operation_id;
  }
  return k;
}

Result<void> OperationService::bind_key(const std::string& tenant, const std::string& key,
                                        const std::string& operation_id) {
  return store_.bind_key(tenant, key, operation_id);
}

Result<void> OperationService::release_key(const std::string& tenant, const std::string& key) {
  return store_.release_key(tenant, key);
}

Result<std::optional<Millis>> OperationService::next_due() {
  return store_.next_due(clock_.now_ms());
}

Result<int> OperationService::resume_all() {
  // A shared store's leases may belong to live replicas: those expire (or
  // are renewed) on their own.
  if (!store_.exclusive()) return 0;
  return store_.release_leases("");
}

Result<std::vector<std::string>> OperationService::renew_leases(std::string_view owner,
                                                                const std::vector<std::string>& ids,
                                                                std::chrono::milliseconds lease) {
  if (ids.empty()) return std::vector<std::string>{};
  auto r = store_.renew_leases(owner, ids, clock_.now_ms() + lease.count());
  if (r) metrics::count_store_writes("renew", static_cast<std::int64_t>(r.value().size()));
  return r;
}

Result<int> OperationService::sweep(int limit) {
  Millis now = clock_.now_ms();
  if (auto d = store_.delete_deliveries(now - config_.deliveries_kept.count(), limit); !d) {
    // The outbox waits for the next sweep; the records' expiry does not.
    log::warn("cannot delete old webhook deliveries",
              {{"error", d.error().message}, {"detail", d.error().detail}});
  }
  return store_.delete_expired(now, limit);
}

Result<void> OperationService::sync_clock() {
  if (!cluster_) return {};
  Millis sent = cluster_->local().now_ms();
  auto t = store_.database_time();
  Millis received = cluster_->local().now_ms();
  if (!t) return t.error();
  if (!t.value()) return {};  // no clock shared with other processes
  Millis before = cluster_->offset_ms();
  if (cluster_->observe(sent, *t.value(), received)) {
    Millis offset = cluster_->offset_ms();
    boost::json::object f{
        {"offset_ms", offset}, {"was_ms", before}, {"round_trip_ms", received - sent}};
    // A second or more: this host's clock is off, and the operator should
    // know (every time is judged by the database's clock regardless).
    if (std::llabs(offset) >= 1'000) {
      log::warn("clock offset from the database", std::move(f));
    } else {
      log::info("clock offset from the database", std::move(f));
    }
  }
  return {};
}

}  // namespace lrogate::core
