#include "store/postgres/postgres_store.h"

#include <libpq-fe.h>

#include <chrono>
#include <string>
#include <unordered_set>
#include <vector>

#include "base/metrics.h"
#include "base/thread_annotations.h"
#include "store/columns.h"
#include "store/delivery_columns.h"
#include "store/postgres/change_feed.h"
#include "store/postgres/connection.h"
#include "store/postgres/migrations.h"
#include "store/postgres/params.h"
#include "store/postgres/rows.h"
#include "store/postgres/statements.h"

// The PostgreSQL store's calls on its connection pool (docs/design.md,
// "PostgreSQL"): each call is one prepared statement (statements.cpp) on a
// connection checked out of the pool, reopened and tried once more when
// found broken. The row mapping is in rows.cpp, the schema in
// migrations.cpp, the replicas' change feed in change_feed.cpp.
namespace lrogate::store::postgres {
namespace {

constexpr int kPoolSize = 4;
constexpr std::chrono::seconds kCheckoutWait{10};

class PostgresStore final : public OperationStore {
 public:
  explicit PostgresStore(std::string url) : url_(url), feed_(std::move(url)) {
    for (auto& c : conns_) free_.push_back(&c);
  }

  ~PostgresStore() override {
    feed_.stop();
    for (auto& c : conns_) c.close();
  }

  Result<void> open() {
    if (auto r = migrate_schema(); !r) return r;
    feed_.start();
    return {};
  }

  Result<void> insert(const Operation& op) override {
    metrics::StoreTimer timer("insert");
    if (op.resource.empty()) return columns::no_resource(op);
    Params p;
    bind_row(p, op);
    auto r = run(kInsert, p, "insert");
    if (!r) {
      if (r.error().code == ErrorCode::kConflict) {
        return make_error(ErrorCode::kConflict, "operation already exists", op.id);
      }
      return r.error();
    }
    return {};
  }

  Result<std::optional<Operation>> get(std::string_view id) override {
    metrics::StoreTimer timer("get");
    auto r = run(kGet, Params().text(id), "get");
    if (!r) return r.error();
    if (PQntuples(r->get()) == 0) return std::optional<Operation>();
    return std::optional<Operation>(read_row(r->get(), 0));
  }

  Result<std::vector<Operation>> claim_due(
      std::string_view owner, Millis now, Millis lease_until, int limit,
      const std::vector<std::string>& skip_resources) override {
    metrics::StoreTimer timer("claim_due");
    Params p;
    p.text(owner).num(lease_until).num(now).num(std::int64_t{limit});
    if (!skip_resources.empty()) p.text_array(skip_resources);
    auto r = run(skip_resources.empty() ? kClaim : kClaimSkipping, p, "claim_due");
    if (!r) return r.error();
    return read_rows(r->get());
  }

  Result<std::vector<std::string>> renew_leases(std::string_view owner,
                                                const std::vector<std::string>& ids,
                                                Millis lease_until) override {
    metrics::StoreTimer timer("renew_leases");
    Params p;
    p.text(owner).num(lease_until).text_array(ids);
    auto r = run(kRenew, p, "renew_leases");
    if (!r) return r.error();
    std::vector<std::string> renewed;
    renewed.reserve(static_cast<std::size_t>(PQntuples(r->get())));
    for (int row = 0; row < PQntuples(r->get()); ++row)
      renewed.push_back(get_text(r->get(), row, 0));
    return renewed;
  }

  Result<bool> record_progress(std::string_view id, std::string_view owner,
                               const Progress& pr) override {
    metrics::StoreTimer timer("record_progress");
    Params p;
    p.text(id).text(owner).text(status_name(pr.status)).num(pr.next_poll_at);
    p.num(std::int64_t{pr.attempts}).num(pr.now).num(pr.fence).num(std::int64_t{pr.polls});
    auto r = run(kProgress, p, "record_progress");
    if (!r) return r.error();
    return PQntuples(r->get()) > 0;
  }

  Result<std::vector<bool>> record_progress_many(std::string_view owner,
                                                 const std::vector<ProgressItem>& items) override {
    if (items.empty()) return std::vector<bool>{};
    std::unordered_set<std::string_view> ids;
    for (const auto& it : items) ids.insert(it.id);
    // One row joined twice would be updated once: keep the one-by-one order.
    if (ids.size() != items.size()) return OperationStore::record_progress_many(owner, items);
    metrics::StoreTimer timer("record_progress_many");
    std::vector<std::string> id_list, statuses;
    std::vector<std::int64_t> next, attempts, now, fence, polls;
    for (const auto& it : items) {
      id_list.push_back(it.id);
      statuses.emplace_back(status_name(it.progress.status));
      next.push_back(it.progress.next_poll_at);
      attempts.push_back(it.progress.attempts);
      now.push_back(it.progress.now);
      fence.push_back(it.progress.fence);
      polls.push_back(it.progress.polls);
    }
    Params p;
    p.text(owner).text_array(id_list).text_array(statuses).num_array(next);
    p.num_array(attempts).num_array(now).num_array(fence).num_array(polls);
    auto r = run(kProgressMany, p, "record_progress_many");
    if (!r) return r.error();
    std::unordered_set<std::string> written;
    for (int row = 0; row < PQntuples(r->get()); ++row) written.insert(get_text(r->get(), row, 0));
    std::vector<bool> out;
    out.reserve(items.size());
    for (const auto& it : items) out.push_back(written.count(it.id) > 0);
    return out;
  }

  // Without events, the one statement it always was; with them, the same
  // statement writes them too (kCompleteDelivering).
  Result<bool> complete(std::string_view id, std::string_view owner, const Completion& c) override {
    metrics::StoreTimer timer("complete");
    Params p;
    p.text(id).text(owner).text(status_name(c.status)).bytes(c.result).text(c.result_type);
    p.text(c.error_code).text(c.error_message).num(c.now).num(c.expires_at).num(c.fence);
    p.num(std::int64_t{c.polls});
    if (!c.deliveries.empty() || c.usage) {
      std::vector<std::string> ids, urls;
      std::vector<std::string_view> bodies;
      for (const NewDelivery& d : c.deliveries) {
        ids.push_back(d.id);
        urls.push_back(d.url);
        bodies.push_back(d.body);
      }
      p.text_array(ids).text_array(urls).bytes_array(bodies);
    }
    if (c.usage) {
      p.num(utc_day(c.now)).num(c.usage->pages).num(c.usage->tokens).num(c.usage->bytes_in);
      p.num(c.usage->bytes_out);
    }
    Sql which = c.usage                ? kCompleteCounting
                : c.deliveries.empty() ? kComplete
                                       : kCompleteDelivering;
    auto r = run(which, p, "complete");
    if (!r) return r.error();
    const bool done = PQntuples(r->get()) > 0;
    if (done && !c.deliveries.empty())
      metrics::count_store_writes("delivery", get_num(r->get(), 0, 1));
    return done;
  }

  Result<std::vector<UsageRow>> usage_between(std::int64_t from_day, std::int64_t to_day,
                                              std::string_view tenant, UsageGroup group) override {
    metrics::StoreTimer timer("usage_between");
    auto r = run(group == UsageGroup::kTenant ? kUsageByTenant : kUsageByAnalyzer,
                 Params().num(from_day).num(to_day).text(tenant), "usage_between");
    if (!r) return r.error();
    std::vector<UsageRow> out;
    const PGresult* res = r->get();
    for (int i = 0; i < PQntuples(res); ++i) {
      out.push_back({get_text(res, i, 0), get_num(res, i, 1), get_num(res, i, 2),
                     get_num(res, i, 3), get_num(res, i, 4), get_num(res, i, 5)});
    }
    return out;
  }

  Result<UsageToday> usage_on(std::string_view tenant, std::int64_t day) override {
    metrics::StoreTimer timer("usage_on");
    auto r = run(kUsageOn, Params().text_or_empty(tenant).num(day), "usage_on");
    if (!r) return r.error();
    const PGresult* res = r->get();
    if (PQntuples(res) != 1) return make_error(ErrorCode::kInternal, "usage_on: no row");
    return UsageToday{get_num(res, 0, 0), get_num(res, 0, 1), get_num(res, 0, 2)};
  }

  Result<bool> mark_retrieved(std::string_view id, Millis now, Millis expires_at) override {
    metrics::StoreTimer timer("mark_retrieved");
    auto r = run(kRetrieved, Params().text(id).num(now).num(expires_at), "mark_retrieved");
    if (!r) return r.error();
    return PQntuples(r->get()) > 0;
  }

  Result<bool> remove(std::string_view id) override {
    metrics::StoreTimer timer("remove");
    auto r = run(kRemove, Params().text(id), "remove");
    if (!r) return r.error();
    return PQntuples(r->get()) > 0;
  }

  Result<int> delete_expired(Millis now, int limit) override {
    metrics::StoreTimer timer("delete_expired");
    auto r = run(kDeleteExpired, Params().num(now).num(std::int64_t{limit}), "delete_expired");
    if (!r) return r.error();
    auto keys = run(kDeleteExpiredKeys, Params().num(now), "delete_expired");
    if (!keys) return keys.error();
    return PQntuples(r->get());
  }

  Result<std::optional<Millis>> next_due(Millis) override {
    auto r = run(kNextDue, Params(), "next_due");
    if (!r) return r.error();
    return get_opt(r->get(), 0, 0);
  }

  Result<int> release_leases(std::string_view owner) override {
    auto r = run(kRelease, Params().text(owner), "release_leases");
    if (!r) return r.error();
    return affected(r->get());
  }

  Result<int> count_active() override {
    auto r = run(kCountActive, Params(), "count_active");
    if (!r) return r.error();
    return static_cast<int>(get_num(r->get(), 0, 0));
  }

  Result<std::vector<std::pair<std::string, int>>> count_by_status() override {
    auto r = run(kCountByStatus, Params(), "count_by_status");
    if (!r) return r.error();
    std::vector<std::pair<std::string, int>> out;
    for (int i = 0; i < PQntuples(r->get()); ++i) {
      out.emplace_back(get_text(r->get(), i, 0), static_cast<int>(get_num(r->get(), i, 1)));
    }
    return out;
  }

  Result<std::vector<std::pair<std::string, std::int64_t>>> count_open_by_resource() override {
    auto r = run(kCountOpenByResource, Params(), "count_open_by_resource");
    if (!r) return r.error();
    std::vector<std::pair<std::string, std::int64_t>> out;
    for (int i = 0; i < PQntuples(r->get()); ++i) {
      out.emplace_back(get_text(r->get(), i, 0), get_num(r->get(), i, 1));
    }
    return out;
  }

  Result<std::optional<Operation>> latest_of_kind(Kind kind, std::string_view analyzer_id,
                                                  Millis now) override {
    metrics::StoreTimer timer("latest_of_kind");
    auto r = run(kLatestOfKind, Params().text(analyzer_id).text(kind_name(kind)).num(now),
                 "latest_of_kind");
    if (!r) return r.error();
    if (PQntuples(r->get()) == 0) return std::optional<Operation>();
    return std::optional<Operation>(read_row(r->get(), 0));
  }

  Result<std::optional<Operation>> find_reusable(std::string_view tenant,
                                                 std::string_view reuse_key, Millis now) override {
    metrics::StoreTimer timer("find_reusable");
    auto r = run(kFindReusable, Params().text(tenant).text(reuse_key).num(now), "find_reusable");
    if (!r) return r.error();
    if (PQntuples(r->get()) == 0) return std::optional<Operation>();
    return std::optional<Operation>(read_row(r->get(), 0));
  }

  Result<std::vector<Operation>> list(const ListQuery& q) override {
    metrics::StoreTimer timer("list");
    Params p;
    p.text(q.tenant).num(q.now).num(std::int64_t{q.limit});
    if (q.status) p.text(status_name(*q.status));
    // An empty id sorts before every other: (created, "") pages like "older
    // than created" did.
    if (q.after_created) p.num(*q.after_created).text_or_empty(q.after_id);
    Sql which = q.status ? (q.after_created ? kListStatusAfter : kListStatus)
                         : (q.after_created ? kListAfter : kList);
    auto r = run(which, p, "list");
    if (!r) return r.error();
    return read_rows(r->get());
  }

  Result<Reservation> reserve_key(std::string_view tenant, std::string_view key,
                                  std::string_view request_hash, Millis now,
                                  Millis expires_at) override {
    metrics::StoreTimer timer("reserve_key");
    // The UNIQUE key decides between racing requests; the first one may
    // release its key between our insert and our read, hence the retries.
    for (int attempt = 0; attempt < 3; ++attempt) {
      auto del = run(kKeyExpire, Params().text(tenant).text(key).num(now), "reserve_key");
      if (!del) return del.error();
      Params ins;
      ins.text(tenant).text(key).text(request_hash).num(now).num(expires_at);
      auto made = run(kKeyInsert, ins, "reserve_key");
      if (!made) return made.error();
      auto sel = run(kKeySelect, Params().text(tenant).text(key), "reserve_key");
      if (!sel) return sel.error();
      if (PQntuples(sel->get()) == 0) continue;
      Reservation res;
      res.created = affected(made->get()) > 0;
      res.request_hash = get_text(sel->get(), 0, 0);
      res.operation_id = get_text(sel->get(), 0, 1);
      return res;
    }
    return make_error(ErrorCode::kUnavailable, "the idempotency key is contended; retry");
  }

  Result<void> bind_key(std::string_view tenant, std::string_view key,
                        std::string_view operation_id) override {
    auto r = run(kKeyBind, Params().text(tenant).text(key).text(operation_id), "bind_key");
    if (!r) return r.error();
    return {};
  }

  Result<void> release_key(std::string_view tenant, std::string_view key) override {
    auto r = run(kKeyRelease, Params().text(tenant).text(key), "release_key");
    if (!r) return r.error();
    return {};
  }

  Result<void> ping() override {
    auto r = run(kPing, Params(), "ping");
    if (!r) return r.error();
    return {};
  }

  Result<std::optional<Millis>> database_time() override {
    auto r = run(kClock, Params(), "database_time");
    if (!r) return r.error();
    return std::optional<Millis>(get_num(r->get(), 0, 0));
  }

  Result<BudgetGrant> take_budget(const BudgetAsk& ask) override {
    if (ask.want <= 0 || ask.cap <= 0) return BudgetGrant{};
    auto r = run(kBudgetTake,
                 Params()
                     .text_or_empty(ask.resource)
                     .text_or_empty(ask.budget)
                     .num(ask.slot)
                     .num(std::int64_t{ask.want})
                     .num(std::int64_t{ask.cap})
                     .num(ask.ends_at),
                 "take_budget");
    if (!r) return r.error();
    int granted = static_cast<int>(get_num(r->get(), 0, 0));
    int taken = static_cast<int>(get_num(r->get(), 0, 1));
    return BudgetGrant{granted, taken - granted};
  }

  Result<int> forget_budget(Millis before) override {
    auto r = run(kBudgetForget, Params().num(before), "forget_budget");
    if (!r) return r.error();
    return affected(r->get());
  }

  Result<void> add_duration(const DurationKey& key, int bucket, std::int64_t halve_at) override {
    if (bucket < 0 || bucket >= kDurationBuckets || halve_at < 2) {
      return make_error(ErrorCode::kInvalidArgument, "a duration bucket out of range",
                        std::to_string(bucket) + " (halve at " + std::to_string(halve_at) + ")");
    }
    metrics::StoreTimer timer("add_duration");
    auto r = run(kDurationAdd,
                 Params()
                     .text_or_empty(key.resource)
                     .text_or_empty(key.analyzer)
                     .num(std::int64_t{key.band})
                     .num(std::int64_t{bucket})
                     .num(halve_at),
                 "add_duration");
    if (!r) return r.error();
    return {};
  }

  Result<std::vector<DurationCount>> load_durations() override {
    metrics::StoreTimer timer("load_durations");
    auto r = run(kDurationLoad, Params(), "load_durations");
    if (!r) return r.error();
    const PGresult* res = r->get();
    std::vector<DurationCount> out;
    out.reserve(static_cast<std::size_t>(PQntuples(res)));
    for (int i = 0; i < PQntuples(res); ++i) {
      out.push_back(
          {{get_text(res, i, 0), get_text(res, i, 1), static_cast<int>(get_num(res, i, 2))},
           static_cast<int>(get_num(res, i, 3)),
           get_num(res, i, 4)});
    }
    return out;
  }

  Result<std::vector<Delivery>> claim_deliveries(
      std::string_view owner, Millis now, Millis lease_until, int limit,
      const std::vector<std::string>& skip_prefixes) override {
    metrics::StoreTimer timer("claim_deliveries");
    Params p;
    p.text(owner).num(lease_until).num(now).num(std::int64_t{limit});
    if (!skip_prefixes.empty()) p.text_array(skip_prefixes);
    auto r = run(skip_prefixes.empty() ? kClaimDeliveries : kClaimDeliveriesSkipping, p,
                 "claim_deliveries");
    if (!r) return r.error();
    auto out = read_deliveries(r->get());
    deliveries::sort_by_due(out);
    metrics::count_store_writes("delivery", static_cast<std::int64_t>(out.size()));
    return out;
  }

  Result<bool> record_delivery(std::string_view id, std::string_view owner,
                               const DeliveryAttempt& a) override {
    metrics::StoreTimer timer("record_delivery");
    Params p;
    p.text(id).text(owner).text(delivery_status_name(a.status)).num(a.next_attempt_at);
    p.num(std::int64_t{a.last_status}).text(a.last_error).num(a.now).num(a.fence);
    auto r = run(a.disable_url ? kRecordDeliveryDisabling : kRecordDelivery, p, "record_delivery");
    if (!r) return r.error();
    if (PQntuples(r->get()) == 0) return false;
    metrics::count_store_writes("delivery", 1 + get_num(r->get(), 0, 1));
    return true;
  }

  Result<std::optional<Millis>> next_delivery_due(Millis) override {
    metrics::StoreTimer timer("next_delivery_due");
    auto r = run(kNextDeliveryDue, Params(), "next_delivery_due");
    if (!r) return r.error();
    return get_opt(r->get(), 0, 0);
  }

  Result<std::vector<Delivery>> list_deliveries(const DeliveryQuery& q) override {
    metrics::StoreTimer timer("list_deliveries");
    Params p;
    p.text(q.tenant);  // empty: NULL, every tenant's
    if (q.status)
      p.text(delivery_status_name(*q.status));
    else
      p.null();
    p.num(std::int64_t{q.limit});
    if (q.after_created) p.num(*q.after_created).text_or_empty(q.after_id);
    Sql which = q.tenant.empty()
                    ? (q.after_created ? kListDeliveriesAfter : kListDeliveries)
                    : (q.after_created ? kListTenantDeliveriesAfter : kListTenantDeliveries);
    auto r = run(which, p, "list_deliveries");
    if (!r) return r.error();
    return read_deliveries(r->get());
  }

  Result<std::optional<Delivery>> get_delivery(std::string_view id) override {
    metrics::StoreTimer timer("get_delivery");
    auto r = run(kGetDelivery, Params().text(id), "get_delivery");
    if (!r) return r.error();
    if (PQntuples(r->get()) == 0) return std::optional<Delivery>();
    return std::optional<Delivery>(read_delivery(r->get(), 0));
  }

  Result<bool> redeliver(std::string_view id, Millis now) override {
    metrics::StoreTimer timer("redeliver");
    auto r = run(kRedeliver, Params().text(id).num(now), "redeliver");
    if (!r) return r.error();
    const bool again = PQntuples(r->get()) > 0;
    metrics::count_store_writes("delivery", again ? 1 : 0);
    return again;
  }

  Result<int> delete_deliveries(Millis before, int limit) override {
    metrics::StoreTimer timer("delete_deliveries");
    auto r =
        run(kDeleteDeliveries, Params().num(before).num(std::int64_t{limit}), "delete_deliveries");
    if (!r) return r.error();
    return affected(r->get());
  }

  bool exclusive() const override { return false; }

  void set_change_listener(ChangeListener fn) override { feed_.set_listener(std::move(fn)); }

 private:
  // Takes a pooled connection, waiting for one if all are busy.
  Conn* checkout() {
    MutexLock lock(pool_mu_);
    if (!pool_cv_.wait_for(pool_mu_, kCheckoutWait,
                           [this]() REQUIRES(pool_mu_) { return !free_.empty(); })) {
      return nullptr;
    }
    Conn* c = free_.back();
    free_.pop_back();
    return c;
  }
  void checkin(Conn* c) {
    {
      MutexLock lock(pool_mu_);
      free_.push_back(c);
    }
    pool_cv_.notify_one();
  }

  // Runs one prepared statement. A connection found broken is reopened and
  // the statement tried once more (after a server restart every pooled
  // connection is stale once); other failures are mapped to error codes.
  Result<PgResult> run(Sql which, const Params& params, std::string_view what) {
    Conn* c = checkout();
    if (!c) return unavailable(std::string(what) + ": every store connection is busy");
    struct Return {
      PostgresStore* self;
      Conn* c;
      ~Return() { self->checkin(c); }
    } give_back{this, c};

    std::vector<const char*> values;
    std::vector<int> lengths;
    params.view(&values, &lengths);
    const std::string name = "lrogate_" + std::to_string(static_cast<int>(which));
    std::string last;
    for (int attempt = 0; attempt < 2; ++attempt) {
      if (!c->pg || PQstatus(c->pg) != CONNECTION_OK) {
        c->close();
        c->pg = connect(url_);
        if (PQstatus(c->pg) != CONNECTION_OK) {
          last = pg_message(c->pg);
          c->close();
          return unavailable(std::string(what) + ": cannot connect to PostgreSQL: " + last);
        }
      }
      if (!c->prepared[which]) {
        PgResult prep(PQprepare(c->pg, name.c_str(), statement_text(which).c_str(), 0, nullptr),
                      &PQclear);
        if (PQresultStatus(prep.get()) != PGRES_COMMAND_OK) {
          if (PQstatus(c->pg) == CONNECTION_BAD) {
            last = pg_message(c->pg);
            c->close();
            continue;
          }
          return fail(prep.get(), c->pg, what);
        }
        c->prepared.set(which);
      }
      PgResult res(PQexecPrepared(c->pg, name.c_str(), params.size(), values.data(), lengths.data(),
                                  params.formats(), 0),
                   &PQclear);
      ExecStatusType st = PQresultStatus(res.get());
      if (st == PGRES_COMMAND_OK || st == PGRES_TUPLES_OK) return res;
      if (PQstatus(c->pg) == CONNECTION_BAD) {
        last = pg_message(c->pg);
        c->close();
        continue;
      }
      return fail(res.get(), c->pg, what);
    }
    return unavailable(std::string(what) + ": the connection to PostgreSQL was lost: " + last);
  }

  // Applies what migrations are missing (migrations.cpp) on a pooled
  // connection, opened for it.
  Result<void> migrate_schema() {
    Conn* c = checkout();
    struct Return {
      PostgresStore* self;
      Conn* c;
      ~Return() { self->checkin(c); }
    } give_back{this, c};
    c->pg = connect(url_);
    if (PQstatus(c->pg) != CONNECTION_OK) {
      std::string m = pg_message(c->pg);
      c->close();
      return unavailable("cannot connect to PostgreSQL: " + m);
    }
    return migrate(c->pg);
  }

  const std::string url_;
  Mutex pool_mu_;
  CondVar pool_cv_;
  Conn conns_[kPoolSize];  // each used by whoever checked it out of free_
  std::vector<Conn*> free_ GUARDED_BY(pool_mu_);
  ChangeFeed feed_;
};

}  // namespace

Result<std::unique_ptr<OperationStore>> open(const std::string& url) {
  auto s = std::make_unique<PostgresStore>(url);
  if (auto r = s->open(); !r) return r.error();
  return std::unique_ptr<OperationStore>(std::move(s));
}

}  // namespace lrogate::store::postgres
