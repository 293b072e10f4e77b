// The store's costs against its size (issue 14, item 2): each backend is
// filled with 10k, 100k and 1M operations (98% finished, 1% Running, 1%
// NotStarted, four tenants, three upstream resources, a few days of
// creations) and the calls the gateway makes all the time are timed at
// each size: claims, progress batches, the expiry sweep (a full 1000-row
// one and the usual empty one), status reads, list pages (first, deep, by
// status), counts (by status, active, open by resource), inserts. A cost
// that grows with the size is a missing index or a scan.
//
// The fill is one INSERT ... SELECT over a generated series on a separate
// connection (seconds, not the minutes a million inserts through the store
// would take); the store is the raw backend, without the read cache, so a
// get() reaches the database. Run by bench/store_scale.sh:
//   LROGATE_BENCH_BACKEND=sqlite|postgresql
//   LROGATE_BENCH_POSTGRES_URL=postgresql://...   (for postgresql)
//   LROGATE_BENCH_SIZES=10000,100000,1000000      (optional)
#include <benchmark/benchmark.h>
#include <libpq-fe.h>
#include <sqlite3.h>
#include <unistd.h>

#include <cstdlib>
#include <filesystem>
#include <iostream>
#include <memory>
#include <random>
#include <sstream>
#include <string>
#include <vector>

#include "store/operation_store.h"
#include "store/postgres/postgres_store.h"
#include "store/sqlite/sqlite_store.h"

namespace {

using namespace lrogate;
using store::OperationStore;

constexpr int kTenants = 4;
constexpr int kResources = 3;  // the pool's upstream resources
constexpr Millis kStep = 1000;      // created_at of row i is i * kStep
constexpr Millis kFar = 1LL << 50;  // an expiry that never comes
constexpr int kSweep = 1000;        // the sweep's batch (poller default)
constexpr int kBatch = 64;          // claims and progress batches

bool postgres() {
  const char* b = std::getenv("LROGATE_BENCH_BACKEND");
  return b && std::string(b) == "postgresql";
}

[[noreturn]] void die(const std::string& what) {
  std::cerr << "store_scale: " << what << "\n";
  std::exit(2);
}

void replace_all(std::string* s, std::string_view what, std::string_view with) {
  for (std::size_t p; (p = s->find(what)) != std::string::npos;) s->replace(p, what.size(), with);
}

// The same rows on both backends (a result body of about 200 bytes each);
// printf_id and body_expr stand for the dialect's own expressions; the rest is SQL
// either dialect reads (the series is `n(i)`).
std::string fill_select(const std::string& series) {
  std::ostringstream s;
  s << "SELECT printf_id, 't' || (i % " << kTenants << "), 'a' || (i % 7),"
    << " 'http://127.0.0.1:1/r/' || printf_id,"
    << " CASE WHEN i % 100 = 0 THEN 'Running' WHEN i % 100 = 1 THEN 'NotStarted'"
    << " WHEN i % 100 < 10 THEN 'Failed' ELSE 'Succeeded' END,"
    << " i * " << kStep << ", i * " << kStep << ","
    << " CASE WHEN i % 100 < 2 THEN i % 1000 ELSE NULL END, 3, 0,"
    << " CASE WHEN i % 100 < 2 THEN NULL ELSE body_expr END,"
    << " CASE WHEN i % 100 < 2 THEN NULL ELSE 'application/json' END,"
    << " CASE WHEN i % 100 < 2 THEN NULL ELSE " << kFar << " END, 'analysis',"
    << " 'r' || (i % " << kResources << ")"
    << " FROM " << series;
  return s.str();
}

constexpr const char* kFillColumns =
    "id, tenant, analyzer_id, upstream_url, status, created_at, updated_at, next_poll_at, "
    "poll_count, attempts, result, result_type, expires_at, kind, resource";

std::string id_of(long i) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "op-%08ld", i);
  return buf;
}

// One backend's database, filled to a size; extra rows (sweeps, inserts)
// go in by raw SQL or through the store.
class Fixture {
 public:
  virtual ~Fixture() = default;
  virtual void fill(long n) = 0;              // a fresh store with n rows
  virtual void add_expired(long from, int count) = 0;  // finished, expired rows
  virtual OperationStore& store() = 0;
};

class SqliteFixture final : public Fixture {
 public:
  SqliteFixture() {
    dir_ = std::filesystem::temp_directory_path() / ("lrogate-scale-" + std::to_string(getpid()));
    std::filesystem::create_directories(dir_);
  }
  ~SqliteFixture() override {
    close();
    std::filesystem::remove_all(dir_);
  }
  void fill(long n) override {
    close();
    std::filesystem::remove_all(dir_);
    std::filesystem::create_directories(dir_);
    path_ = (dir_ / ("s" + std::to_string(n) + ".db")).string();
    auto s = store::sqlite::open(path_);
    if (!s) die("cannot open the store: " + s.error().message + " " + s.error().detail);
    store_ = std::move(s).value();
    if (sqlite3_open(path_.c_str(), &raw_) != SQLITE_OK) die("cannot open " + path_);
    sqlite3_busy_timeout(raw_, 10000);
    std::string sql = std::string("WITH RECURSIVE n(i) AS (SELECT 0 UNION ALL SELECT i + 1 FROM n"
                                  " WHERE i < ") +
                      std::to_string(n - 1) + ") INSERT INTO operations (" + kFillColumns + ") " +
                      fill_select("n");
    replace_all(&sql, "printf_id", "printf('op-%08d', i)");
    replace_all(&sql, "body_expr", "randomblob(200)");
    exec("BEGIN; " + sql + "; COMMIT; ANALYZE");
  }
  void add_expired(long from, int count) override {
    std::string sql = "WITH RECURSIVE n(i) AS (SELECT " + std::to_string(from) +
                      " UNION ALL SELECT i + 1 FROM n WHERE i < " +
                      std::to_string(from + count - 1) +
                      ") INSERT INTO operations (id, tenant, analyzer_id, upstream_url, status,"
                      " created_at, updated_at, expires_at) SELECT printf('op-%08d', i), 't0',"
                      " 'a', 'u', 'Succeeded', i, i, 1 FROM n";
    exec("BEGIN; " + sql + "; COMMIT");
  }
  OperationStore& store() override { return *store_; }

 private:
  void exec(const std::string& sql) {
    char* err = nullptr;
    if (sqlite3_exec(raw_, sql.c_str(), nullptr, nullptr, &err) != SQLITE_OK) {
      die(std::string("fill: ") + (err ? err : "?"));
    }
  }
  void close() {
    store_.reset();
    if (raw_) sqlite3_close(raw_);
    raw_ = nullptr;
  }
  std::filesystem::path dir_;
  std::string path_;
  sqlite3* raw_ = nullptr;
  std::unique_ptr<OperationStore> store_;
};

class PostgresFixture final : public Fixture {
 public:
  PostgresFixture() {
    const char* url = std::getenv("LROGATE_BENCH_POSTGRES_URL");
    if (!url) die("set LROGATE_BENCH_POSTGRES_URL (bench/store_scale.sh does)");
    base_ = url;
  }
  ~PostgresFixture() override { close(); }
  void fill(long n) override {
    close();
    std::string db = "lrogate_scale_" + std::to_string(getpid()) + "_" + std::to_string(n);
    PGconn* admin = PQconnectdb(base_.c_str());
    exec(admin, "SET client_min_messages = warning");
    exec(admin, "DROP DATABASE IF EXISTS " + db);
    exec(admin, "CREATE DATABASE " + db);
    PQfinish(admin);
    dropped_ = db;
    std::string url = base_.substr(0, base_.rfind('/') + 1) + db;
    auto s = store::postgres::open(url);
    if (!s) die("cannot open the store: " + s.error().message + " " + s.error().detail);
    store_ = std::move(s).value();
    raw_ = PQconnectdb(url.c_str());
    if (PQstatus(raw_) != CONNECTION_OK) die(PQerrorMessage(raw_));
    std::string sql = std::string("INSERT INTO operations (") + kFillColumns + ") " +
                      fill_select("generate_series(0, " + std::to_string(n - 1) + ") AS n(i)");
    replace_all(&sql, "printf_id", "'op-' || lpad(i::text, 8, '0')");
    replace_all(&sql, "body_expr", "convert_to(repeat(md5(i::text), 6), 'UTF8')");
    exec(raw_, sql);
    exec(raw_, "VACUUM ANALYZE");
  }
  void add_expired(long from, int count) override {
    exec(raw_,
         "INSERT INTO operations (id, tenant, analyzer_id, upstream_url, status, created_at,"
         " updated_at, expires_at) SELECT 'op-' || lpad(i::text, 8, '0'), 't0', 'a', 'u',"
         " 'Succeeded', i, i, 1 FROM generate_series(" +
             std::to_string(from) + ", " + std::to_string(from + count - 1) + ") AS n(i)");
  }
  OperationStore& store() override { return *store_; }

 private:
  static void exec(PGconn* c, const std::string& sql) {
    PGresult* r = PQexec(c, sql.c_str());
    auto st = PQresultStatus(r);
    if (st != PGRES_COMMAND_OK && st != PGRES_TUPLES_OK) die("fill: " + std::string(PQerrorMessage(c)));
    PQclear(r);
  }
  void close() {
    store_.reset();
    if (raw_) PQfinish(raw_);
    raw_ = nullptr;
    if (!dropped_.empty()) {
      PGconn* admin = PQconnectdb(base_.c_str());
      PQclear(PQexec(admin, ("DROP DATABASE IF EXISTS " + dropped_).c_str()));
      PQfinish(admin);
      dropped_.clear();
    }
  }
  std::string base_, dropped_;
  PGconn* raw_ = nullptr;
  std::unique_ptr<OperationStore> store_;
};

Fixture& fixture() {
  static std::unique_ptr<Fixture> f =
      postgres() ? std::unique_ptr<Fixture>(new PostgresFixture) : std::make_unique<SqliteFixture>();
  return *f;
}

long filled = -1;
long next_row = 0;  // ids above the filled ones, for added rows
Millis clock_ms = 0;

// The store filled to `n` rows (refilled when the size changes).
OperationStore& at(long n) {
  if (filled != n) {
    auto t0 = std::chrono::steady_clock::now();
    fixture().fill(n);
    auto s = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
    std::cerr << "filled " << n << " rows in " << s << " s\n";
    filled = n;
    next_row = 90'000'000;  // 8 digits, as id_of and the fills write them
    clock_ms = 1000;  // every active row is due
  }
  return fixture().store();
}

// Claims `n` due operations and gives them back with a progress write, each
// due again at once (behind the others): the due set keeps its size.
std::vector<OperationStore::ProgressItem> claim(OperationStore& st, int n) {
  Millis now = ++clock_ms;
  auto got = st.claim_due("bench", now, now + 60'000, n, {}).value();
  std::vector<OperationStore::ProgressItem> items;
  for (const auto& op : got) items.push_back({op.id, {op.status, now, 0, now, op.fence}});
  return items;
}

void ClaimDue(benchmark::State& state) {
  auto& st = at(state.range(0));
  for (auto _ : state) {
    auto items = claim(st, kBatch);
    state.PauseTiming();
    if (static_cast<int>(items.size()) != kBatch) state.SkipWithError("not enough due operations");
    (void)st.record_progress_many("bench", items);
    state.ResumeTiming();
  }
}

void RecordProgressMany(benchmark::State& state) {
  auto& st = at(state.range(0));
  for (auto _ : state) {
    state.PauseTiming();
    auto items = claim(st, kBatch);
    state.ResumeTiming();
    benchmark::DoNotOptimize(st.record_progress_many("bench", items).value());
  }
}

void NextDue(benchmark::State& state) {
  auto& st = at(state.range(0));
  for (auto _ : state) benchmark::DoNotOptimize(st.next_due(clock_ms).value());
}

// A sweep that deletes a full batch of expired records.
void SweepFull(benchmark::State& state) {
  auto& st = at(state.range(0));
  for (auto _ : state) {
    state.PauseTiming();
    fixture().add_expired(next_row, kSweep);
    next_row += kSweep;
    state.ResumeTiming();
    int n = st.delete_expired(clock_ms, kSweep).value();
    if (n != kSweep) state.SkipWithError("the sweep missed expired records");
  }
}

// The sweep as it usually runs: nothing has expired.
void SweepEmpty(benchmark::State& state) {
  auto& st = at(state.range(0));
  for (auto _ : state) benchmark::DoNotOptimize(st.delete_expired(clock_ms, kSweep).value());
}

void Get(benchmark::State& state) {
  const long n = state.range(0);
  auto& st = at(n);
  std::mt19937_64 rng(7);
  for (auto _ : state) {
    auto op = st.get(id_of(static_cast<long>(rng() % static_cast<unsigned long>(n)))).value();
    if (!op) state.SkipWithError("a filled record is missing");
  }
}

store::ListQuery query(int tenant) {
  store::ListQuery q;
  q.tenant = "t" + std::to_string(tenant);
  q.limit = 51;  // the API's default page and one more
  q.now = clock_ms;
  return q;
}

void ListFirstPage(benchmark::State& state) {
  auto& st = at(state.range(0));
  for (auto _ : state) {
    if (st.list(query(1)).value().size() != 51) state.SkipWithError("short page");
  }
}

// A page half way down a tenant's records (a client paging far back).
void ListDeepPage(benchmark::State& state) {
  const long n = state.range(0);
  auto& st = at(n);
  store::ListQuery q = query(1);
  long row = (n / 2) / kTenants * kTenants + 1;  // a t1 row in the middle
  q.after_created = row * kStep;
  q.after_id = id_of(row);
  for (auto _ : state) {
    if (st.list(q).value().size() != 51) state.SkipWithError("short page");
  }
}

// The first page of one tenant's running operations (1% of its records).
void ListByStatus(benchmark::State& state) {
  auto& st = at(state.range(0));
  store::ListQuery q = query(0);
  q.status = store::Status::kRunning;
  for (auto _ : state) {
    if (st.list(q).value().size() != 51) state.SkipWithError("short page");
  }
}

void CountByStatus(benchmark::State& state) {
  const long n = state.range(0);
  auto& st = at(n);
  for (auto _ : state) {
    auto counts = st.count_by_status().value();
    if (counts.size() != 4) state.SkipWithError("expected four statuses");
  }
}

void CountActive(benchmark::State& state) {
  auto& st = at(state.range(0));
  for (auto _ : state) benchmark::DoNotOptimize(st.count_active().value());
}

// The open operations per resource (metrics, and a drained resource's end).
void CountOpenByResource(benchmark::State& state) {
  auto& st = at(state.range(0));
  for (auto _ : state) {
    auto counts = st.count_open_by_resource().value();
    if (counts.size() != kResources) state.SkipWithError("expected every resource");
  }
}

void Insert(benchmark::State& state) {
  auto& st = at(state.range(0));
  store::Operation op;
  op.analyzer_id = "a";
  op.tenant = "t2";
  op.resource = "r1";
  op.status = store::Status::kNotStarted;
  for (auto _ : state) {
    op.id = id_of(next_row++);
    op.upstream_url = "http://127.0.0.1:1/r/" + op.id;
    op.created_at = op.updated_at = clock_ms;
    op.next_poll_at = kFar;  // not due: the claims' due set stays as filled
    if (!st.insert(op)) state.SkipWithError("insert failed");
  }
}

std::vector<long> sizes() {
  std::vector<long> out;
  const char* env = std::getenv("LROGATE_BENCH_SIZES");
  std::stringstream ss(env ? env : "10000,100000,1000000");
  for (std::string item; std::getline(ss, item, ',');) out.push_back(std::stol(item));
  return out;
}

}  // namespace

int main(int argc, char** argv) {
  benchmark::Initialize(&argc, argv);
  // Size-major order: each size is filled once, then every call is timed.
  const std::pair<const char*, void (*)(benchmark::State&)> calls[] = {
      {"ClaimDue", ClaimDue},     {"RecordProgressMany", RecordProgressMany},
      {"NextDue", NextDue},       {"SweepFull", SweepFull},
      {"SweepEmpty", SweepEmpty}, {"Get", Get},
      {"ListFirstPage", ListFirstPage}, {"ListDeepPage", ListDeepPage},
      {"ListByStatus", ListByStatus},   {"CountByStatus", CountByStatus},
      {"CountActive", CountActive},     {"CountOpenByResource", CountOpenByResource},
      {"Insert", Insert},
  };
  const std::string backend = postgres() ? "postgresql" : "sqlite";
  for (long n : sizes()) {
    for (const auto& [name, fn] : calls) {
      auto* b = benchmark::RegisterBenchmark((backend + "/" + name).c_str(), fn);
      b->Arg(n)->Unit(benchmark::kMicrosecond);
      if (std::string(name) == "SweepFull")
        b->Iterations(20);  // each adds 1000 rows to delete (untimed)
      else
        b->MinTime(0.2);
    }
  }
  benchmark::RunSpecifiedBenchmarks();
  benchmark::Shutdown();
  return 0;
}
