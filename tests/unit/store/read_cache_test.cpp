// The read cache in front of a shared store: it answers only while the
// store's change feed runs, every Change drops its record before anyone else
// hears it, and a read that raced a change never puts the older record back.
// First against a feed the test drives by hand (a SQLite store posing as a
// shared one), then against two PostgreSQL "replicas" on one database.
#include "store/read_cache.h"

#include <gtest/gtest.h>
#include <libpq-fe.h>
#include <unistd.h>

#include <atomic>
#include <condition_variable>
#include <cstdlib>
#include <deque>
#include <filesystem>
#include <mutex>
#include <thread>

#include "store/operation_store.h"
#include "store/sqlite/sqlite_store.h"

namespace lrogate::store {
namespace {

using Change = OperationStore::Change;
using Kind = Change::Kind;

std::string temp_path() {
  static int n = 0;
  auto dir =
      std::filesystem::temp_directory_path() / ("lrogate-cache-test-" + std::to_string(::getpid()));
  std::filesystem::create_directories(dir);
  auto path = dir / ("c" + std::to_string(n++) + ".db");
  std::filesystem::remove(path);
  return path.string();
}

Operation op(const std::string& id) {
  Operation o;
  o.id = id;
  o.analyzer_id = "pro-demo";
  o.upstream_url = "http://127.0.0.1:1/r/" + id;
  o.next_poll_at = 0;
  return o;
}

// A SQLite store that says it is shared, counts its reads, can hold a read
// in flight, and lets the test speak for "the other replicas".
class HandFeed final : public OperationStore {
 public:
  explicit HandFeed(std::unique_ptr<OperationStore> inner, bool exclusive = false)
      : inner_(std::move(inner)), exclusive_(exclusive) {}

  void emit(const Change& c) {
    std::lock_guard lock(mu_);
    if (listener_) listener_(c);
  }
  // The next get() reads, then waits until release() before it returns.
  void hold_next_get() {
    std::lock_guard lock(gate_mu_);
    hold_ = true;
    read_done_ = released_ = false;
  }
  void wait_until_read() {
    std::unique_lock lock(gate_mu_);
    gate_cv_.wait(lock, [&] { return read_done_; });
  }
  void release() {
    std::lock_guard lock(gate_mu_);
    released_ = true;
    gate_cv_.notify_all();
  }
  int gets() const { return gets_; }
  int latest_lookups() const { return latest_lookups_; }
  OperationStore& inner() { return *inner_; }

  Result<std::optional<Operation>> get(std::string_view id) override {
    ++gets_;
    auto r = inner_->get(id);
    std::unique_lock lock(gate_mu_);
    if (hold_) {
      hold_ = false;
      read_done_ = true;
      gate_cv_.notify_all();
      gate_cv_.wait(lock, [&] { return released_; });
    }
    return r;
  }
  bool exclusive() const override { return exclusive_; }
  void set_change_listener(ChangeListener fn) override {
    std::lock_guard lock(mu_);
    listener_ = std::move(fn);
  }

  Result<void> insert(const Operation& o) override { return inner_->insert(o); }
  Result<std::vector<Operation>> claim_due(std::string_view owner, Millis now, Millis until,
                                           int limit,
                                           const std::vector<std::string>& skip) override {
    return inner_->claim_due(owner, now, until, limit, skip);
  }
  Result<std::vector<std::string>> renew_leases(std::string_view owner,
                                                const std::vector<std::string>& ids,
                                                Millis until) override {
    return inner_->renew_leases(owner, ids, until);
  }
  Result<bool> record_progress(std::string_view id, std::string_view owner,
                               const Progress& p) override {
    return inner_->record_progress(id, owner, p);
  }
  Result<bool> complete(std::string_view id, std::string_view owner, const Completion& c) override {
    return inner_->complete(id, owner, c);
  }
  Result<bool> mark_retrieved(std::string_view id, Millis now, Millis expires) override {
    return inner_->mark_retrieved(id, now, expires);
  }
  Result<bool> remove(std::string_view id) override { return inner_->remove(id); }
  Result<int> delete_expired(Millis now, int limit) override {
    return inner_->delete_expired(now, limit);
  }
  Result<std::optional<Operation>> find_reusable(std::string_view t, std::string_view k,
                                                 Millis now) override {
    return inner_->find_reusable(t, k, now);
  }
  Result<std::optional<Operation>> latest_of_kind(store::Kind k, std::string_view a,
                                                  Millis now) override {
    ++latest_lookups_;
    return inner_->latest_of_kind(k, a, now);
  }
  Result<std::optional<Millis>> next_due(Millis now) override { return inner_->next_due(now); }
  Result<int> release_leases(std::string_view owner) override {
    return inner_->release_leases(owner);
  }
  Result<int> count_active() override { return inner_->count_active(); }
  Result<std::vector<std::pair<std::string, int>>> count_by_status() override {
    return inner_->count_by_status();
  }
  Result<std::vector<std::pair<std::string, std::int64_t>>> count_open_by_resource() override {
    return inner_->count_open_by_resource();
  }
  Result<std::vector<Operation>> list(const ListQuery& q) override { return inner_->list(q); }
  Result<Reservation> reserve_key(std::string_view t, std::string_view k, std::string_view h,
                                  Millis now, Millis expires) override {
    return inner_->reserve_key(t, k, h, now, expires);
  }
  Result<void> bind_key(std::string_view t, std::string_view k, std::string_view id) override {
    return inner_->bind_key(t, k, id);
  }
  Result<void> release_key(std::string_view t, std::string_view k) override {
    return inner_->release_key(t, k);
  }
  Result<void> ping() override { return inner_->ping(); }
  Result<void> add_duration(const DurationKey& key, int bucket, std::int64_t halve_at) override {
    return inner_->add_duration(key, bucket, halve_at);
  }
  Result<std::vector<DurationCount>> load_durations() override { return inner_->load_durations(); }
  Result<std::vector<Delivery>> claim_deliveries(std::string_view owner, Millis now, Millis until,
                                                 int limit,
                                                 const std::vector<std::string>& skip) override {
    return inner_->claim_deliveries(owner, now, until, limit, skip);
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

 private:
  std::unique_ptr<OperationStore> inner_;
  const bool exclusive_;
  std::atomic<int> latest_lookups_{0};
  std::mutex mu_;
  ChangeListener listener_;
  std::atomic<int> gets_{0};
  std::mutex gate_mu_;
  std::condition_variable gate_cv_;
  bool hold_ = false, read_done_ = false, released_ = false;
};

class SharedCache : public ::testing::Test {
 protected:
  void SetUp() override {
    auto s = sqlite::open(temp_path());
    ASSERT_TRUE(s.ok()) << s.error().message;
    auto feed = std::make_unique<HandFeed>(std::move(s).value());
    feed_ = feed.get();
    cache_ = with_read_cache(std::move(feed));
    ASSERT_TRUE(cache_->insert(op("a")).ok());
  }
  // Writes behind the cache's back, as another replica would.
  void finish_elsewhere(const std::string& id) {
    Completion c{Status::kSucceeded, "{}", "application/json", "", "", 10, 1'000'000, 0};
    ASSERT_TRUE(feed_->inner().complete(id, "", c).value());
  }
  HandFeed* feed_ = nullptr;
  std::unique_ptr<OperationStore> cache_;
};

TEST_F(SharedCache, AnswersNothingFromMemoryUntilTheFeedRuns) {
  ASSERT_TRUE(cache_->get("a").value().has_value());
  ASSERT_TRUE(cache_->get("a").value().has_value());
  EXPECT_EQ(feed_->gets(), 2);
  EXPECT_FALSE((cache_->cached("a") != nullptr));
  feed_->emit({Kind::kListening, ""});
  ASSERT_TRUE(cache_->get("a").value().has_value());
  ASSERT_TRUE(cache_->get("a").value().has_value());
  EXPECT_EQ(feed_->gets(), 3);
  ASSERT_TRUE((cache_->cached("a") != nullptr));
  EXPECT_EQ(cache_->cached("a")->status, Status::kNotStarted);
}

// Another replica may create an analyzer at any time: a shared store's cache
// never answers an analyzer's latest creation from memory.
TEST_F(SharedCache, NeverKnowsAnAnalyzersLatestCreationFromMemory) {
  feed_->emit({Kind::kListening, ""});
  (void)cache_->latest_of_kind(store::Kind::kAnalyzerCreation, "inv", 100).value();
  EXPECT_FALSE(
      cache_->cached_latest_of_kind(store::Kind::kAnalyzerCreation, "inv", 100).has_value());
}

TEST_F(SharedCache, EveryChangeDropsItsRecordBeforeAnyoneElseHearsIt) {
  feed_->emit({Kind::kListening, ""});
  ASSERT_TRUE(cache_->get("a").value().has_value());
  ASSERT_TRUE((cache_->cached("a") != nullptr));
  std::vector<std::string> heard;
  cache_->set_change_listener([&](const Change& c) {
    if (c.kind != Kind::kFinished) return;
    // A long-poll woken here reads the new record, never the one before.
    auto now = cache_->get(c.id);
    heard.push_back(status_name(now.value()->status));
  });
  finish_elsewhere("a");
  EXPECT_EQ(cache_->cached("a")->status, Status::kNotStarted);  // unheard yet
  feed_->emit({Kind::kFinished, "a"});
  ASSERT_EQ(heard.size(), 1u);
  EXPECT_EQ(heard[0], "Succeeded");
  EXPECT_EQ(cache_->cached("a")->status, Status::kSucceeded);
  // A non-final change drops the same way.
  ASSERT_TRUE(feed_->inner().mark_retrieved("a", 20, 30).value());
  feed_->emit({Kind::kChanged, "a"});
  EXPECT_FALSE((cache_->cached("a") != nullptr));
  EXPECT_EQ(cache_->get("a").value()->retrieved_at, 20);
  cache_->set_change_listener(nullptr);
}

TEST_F(SharedCache, ALateListenerHearsFirstThatTheFeedRuns) {
  feed_->emit({Kind::kListening, ""});
  std::vector<Kind> kinds;
  cache_->set_change_listener([&](const Change& c) { kinds.push_back(c.kind); });
  ASSERT_EQ(kinds.size(), 1u);
  EXPECT_EQ(kinds[0], Kind::kListening);
  feed_->emit({Kind::kLost, ""});
  cache_->set_change_listener(nullptr);
  cache_->set_change_listener([&](const Change& c) { kinds.push_back(c.kind); });
  EXPECT_EQ(kinds.size(), 2u);  // the first listener's two: the second hears nothing yet
  cache_->set_change_listener(nullptr);
}

TEST_F(SharedCache, AReadThatRacedAChangeIsNotKept) {
  feed_->emit({Kind::kListening, ""});
  feed_->hold_next_get();
  std::optional<Operation> raced;
  std::thread reader([&] { raced = cache_->get("a").value(); });
  feed_->wait_until_read();  // it holds the record from before the completion
  finish_elsewhere("a");
  feed_->emit({Kind::kFinished, "a"});
  feed_->release();
  reader.join();
  ASSERT_TRUE(raced.has_value());
  EXPECT_EQ(raced->status, Status::kNotStarted);   // what it read, answered once
  EXPECT_FALSE((cache_->cached("a") != nullptr));  // but not kept
  EXPECT_EQ(cache_->get("a").value()->status, Status::kSucceeded);
}

TEST_F(SharedCache, ALostFeedEmptiesTheCacheAndStopsIt) {
  feed_->emit({Kind::kListening, ""});
  ASSERT_TRUE(cache_->get("a").value().has_value());
  ASSERT_TRUE((cache_->cached("a") != nullptr));
  feed_->emit({Kind::kLost, ""});
  EXPECT_FALSE((cache_->cached("a") != nullptr));
  finish_elsewhere("a");  // unheard: the feed is down
  int before = feed_->gets();
  EXPECT_EQ(cache_->get("a").value()->status, Status::kSucceeded);
  EXPECT_EQ(cache_->get("a").value()->status, Status::kSucceeded);
  EXPECT_EQ(feed_->gets(), before + 2);  // every read goes to the store
  EXPECT_FALSE((cache_->cached("a") != nullptr));
  // A read in flight when the feed drops is not kept either.
  feed_->emit({Kind::kListening, ""});
  feed_->hold_next_get();
  std::thread reader([&] { (void)cache_->get("a"); });
  feed_->wait_until_read();
  feed_->emit({Kind::kLost, ""});
  feed_->emit({Kind::kListening, ""});
  feed_->release();
  reader.join();
  EXPECT_FALSE((cache_->cached("a") != nullptr));
}

TEST(ExclusiveCache, ServesAtOnceAndItsOwnWritesDropTheRecord) {
  auto s = open_store("sqlite:" + temp_path());
  ASSERT_TRUE(s.ok());
  auto& store = *s.value();
  ASSERT_TRUE(store.insert(op("a")).ok());
  ASSERT_TRUE(store.get("a").value().has_value());
  ASSERT_TRUE((store.cached("a") != nullptr));
  auto claimed = store.claim_due("n1", 0, 60'000, 10, {}).value();
  ASSERT_EQ(claimed.size(), 1u);
  EXPECT_FALSE((store.cached("a") != nullptr));
  EXPECT_EQ(store.get("a").value()->lease_owner, "n1");
  ASSERT_TRUE(store.remove("a").value());
  EXPECT_FALSE(store.get("a").value().has_value());
  EXPECT_FALSE((store.cached("a") != nullptr));
}

// The learned durations are no record's: the cache passes them through,
// and the heartbeat's answer is the store's.
TEST(ExclusiveCache, ForwardsDurationsAndTheIdsARenewalKept) {
  auto s = sqlite::open(temp_path());
  ASSERT_TRUE(s.ok());
  auto feed = std::make_unique<HandFeed>(std::move(s).value(), /*exclusive=*/true);
  HandFeed* inner = feed.get();
  auto cache = with_read_cache(std::move(feed));
  ASSERT_TRUE(cache->add_duration({"r", "a", 2}, 7, 100).ok());
  auto behind = inner->inner().load_durations().value();
  ASSERT_EQ(behind.size(), 1u);
  EXPECT_EQ(behind[0].bucket, 7);
  auto loaded = cache->load_durations().value();
  ASSERT_EQ(loaded.size(), 1u);
  EXPECT_EQ(loaded[0].key.band, 2);
  EXPECT_EQ(loaded[0].count, 1);
  EXPECT_FALSE(cache->add_duration({"r", "a", 2}, 64, 100).ok());
  ASSERT_TRUE(cache->insert(op("a")).ok());
  ASSERT_TRUE(cache->insert(op("b")).ok());
  ASSERT_EQ(cache->claim_due("n1", 0, 1000, 1, {}).value().size(), 1u);
  for (const char* id : {"a", "b"}) ASSERT_TRUE(cache->get(id).value().has_value());  // cached
  auto kept = cache->renew_leases("n1", {"a", "b"}, 5000).value();
  ASSERT_EQ(kept.size(), 1u);
  EXPECT_EQ(cache->get(kept[0]).value()->lease_until, 5000);  // the renewal dropped it
}

// An analyze asks for its analyzer's latest creation every time: a store
// only this process writes answers from memory until a creation of that
// analyzer is inserted or records are deleted.
TEST(ExclusiveCache, RemembersAnAnalyzersLatestCreationUntilItCanChange) {
  auto s = sqlite::open(temp_path());
  ASSERT_TRUE(s.ok());
  auto feed = std::make_unique<HandFeed>(std::move(s).value(), /*exclusive=*/true);
  HandFeed* inner = feed.get();
  auto cache = with_read_cache(std::move(feed));
  auto latest = [&] {
    return cache->latest_of_kind(store::Kind::kAnalyzerCreation, "inv", 100).value();
  };
  // From memory only (what a submit asks on an event loop): unknown until
  // latest_of_kind has asked the store.
  auto in_memory = [&](Millis now = 100) {
    return cache->cached_latest_of_kind(store::Kind::kAnalyzerCreation, "inv", now);
  };
  EXPECT_FALSE(in_memory().has_value());
  EXPECT_FALSE(latest().has_value());
  EXPECT_FALSE(latest().has_value());
  EXPECT_EQ(inner->latest_lookups(), 1);
  ASSERT_TRUE(in_memory().has_value());
  EXPECT_EQ(*in_memory(), nullptr);  // known: none
  Operation c = op("c1");
  c.kind = store::Kind::kAnalyzerCreation;
  c.analyzer_id = "inv";
  c.created_at = 50;
  ASSERT_TRUE(cache->insert(c).ok());
  EXPECT_FALSE(in_memory().has_value());  // the insert made it unknown
  ASSERT_TRUE(latest().has_value());
  EXPECT_EQ(latest()->id, "c1");
  EXPECT_EQ(inner->latest_lookups(), 2);
  ASSERT_TRUE(in_memory().has_value() && *in_memory());
  EXPECT_EQ((*in_memory())->id, "c1");
  // Its completion shows (the record comes from get(), which its writes keep current).
  ASSERT_TRUE(
      cache->complete("c1", "", {Status::kFailed, "", "", "Bad", "b", 60, 1000, 0}).value());
  EXPECT_EQ(latest()->status, Status::kFailed);
  EXPECT_EQ(inner->latest_lookups(), 2);
  ASSERT_TRUE(in_memory().has_value() && *in_memory());
  EXPECT_EQ((*in_memory())->status, Status::kFailed);
  EXPECT_FALSE(in_memory(2000).has_value());  // expired: only the store can tell
  EXPECT_EQ(inner->latest_lookups(), 2);
  // Another analyzer's creation does not disturb this one's answer.
  Operation other = c;
  other.id = "c2";
  other.analyzer_id = "receipts";
  ASSERT_TRUE(cache->insert(other).ok());
  ASSERT_TRUE(latest().has_value());
  EXPECT_EQ(inner->latest_lookups(), 2);
  // Expired: asked again, and none is found; later reads know it.
  auto at_2000 = [&] {
    return cache->latest_of_kind(store::Kind::kAnalyzerCreation, "inv", 2000).value();
  };
  EXPECT_FALSE(at_2000().has_value());
  EXPECT_FALSE(at_2000().has_value());
  EXPECT_EQ(inner->latest_lookups(), 3);
  // A removal may change any analyzer's answer.
  ASSERT_TRUE(cache->remove("c2").value());
  EXPECT_FALSE(at_2000().has_value());
  EXPECT_EQ(inner->latest_lookups(), 4);
}

// --- two PostgreSQL replicas on one database -------------------------------

std::string temp_postgres() {
  const char* base = std::getenv("LROGATE_TEST_POSTGRES_URL");
  if (!base || !*base) return "";
  static int n = 0;
  std::string db = "lrogate_cache_" + std::to_string(::getpid()) + "_" + std::to_string(n++);
  PGconn* c = PQconnectdb(base);
  PQclear(PQexec(c, "SET client_min_messages = warning"));
  PQclear(PQexec(c, ("DROP DATABASE IF EXISTS " + db).c_str()));
  PGresult* r = PQexec(c, ("CREATE DATABASE " + db).c_str());
  bool ok = PQresultStatus(r) == PGRES_COMMAND_OK;
  PQclear(r);
  PQfinish(c);
  if (!ok) return "";
  std::string url = base;
  return url.substr(0, url.rfind('/') + 1) + db;
}

// What one replica heard, for the test to wait on.
class Heard {
 public:
  void operator()(const Change& c) {
    std::lock_guard lock(mu_);
    changes_.push_back(c);
    cv_.notify_all();
  }
  // Waits (up to 10 s) until a change of `kind` for `id` was heard.
  bool wait_for(Kind kind, const std::string& id) {
    std::unique_lock lock(mu_);
    return cv_.wait_for(lock, std::chrono::seconds(10), [&] {
      for (const auto& c : changes_) {
        if (c.kind == kind && c.id == id) return true;
      }
      return false;
    });
  }
  void clear() {
    std::lock_guard lock(mu_);
    changes_.clear();
  }

 private:
  std::mutex mu_;
  std::condition_variable cv_;
  std::deque<Change> changes_;
};

class Replicas : public ::testing::Test {
 protected:
  void SetUp() override {
    url_ = temp_postgres();
    if (url_.empty()) {
      GTEST_SKIP() << "no PostgreSQL: set LROGATE_TEST_POSTGRES_URL (scripts/pg-test-server.sh)";
    }
    auto a = open_store(url_);
    auto b = open_store(url_);
    ASSERT_TRUE(a.ok() && b.ok());
    a_ = std::move(a).value();
    b_ = std::move(b).value();
    b_->set_change_listener([this](const Change& c) { heard_(c); });
    ASSERT_TRUE(heard_.wait_for(Kind::kListening, ""));
  }
  void TearDown() override {
    if (b_) b_->set_change_listener(nullptr);
  }
  // B reads `id` twice: the second answer must come from its memory.
  void cache_on_b(const std::string& id) {
    ASSERT_TRUE(b_->get(id).value().has_value());
    ASSERT_TRUE((b_->cached(id) != nullptr)) << "B did not keep " << id;
  }
  std::string url_;
  std::unique_ptr<OperationStore> a_, b_;
  Heard heard_;
};

TEST_F(Replicas, WhatAWritesBHearsAndReadsAfresh) {
  ASSERT_TRUE(a_->insert(op("x")).ok());
  cache_on_b("x");
  // Progress: status and lastUpdated change for clients, so B hears it.
  auto claimed = a_->claim_due("A", 0, 60'000, 10, {}).value();
  ASSERT_EQ(claimed.size(), 1u);
  ASSERT_TRUE(a_->record_progress("x", "A", {Status::kRunning, 0, 0, 5, claimed[0].fence}).value());
  ASSERT_TRUE(heard_.wait_for(Kind::kChanged, "x"));
  EXPECT_EQ(b_->get("x").value()->status, Status::kRunning);
  EXPECT_EQ(b_->cached("x")->updated_at, 5);
  // Batched progress the same.
  claimed = a_->claim_due("A", 0, 60'000, 10, {}).value();
  ASSERT_EQ(claimed.size(), 1u);
  heard_.clear();
  OperationStore::ProgressItem item{"x", {Status::kRunning, 0, 0, 6, claimed[0].fence}};
  ASSERT_TRUE(a_->record_progress_many("A", {item}).value()[0]);
  ASSERT_TRUE(heard_.wait_for(Kind::kChanged, "x"));
  EXPECT_EQ(b_->get("x").value()->updated_at, 6);
  // The completion, on the channel that wakes long-polls.
  claimed = a_->claim_due("A", 0, 60'000, 10, {}).value();
  ASSERT_EQ(claimed.size(), 1u);
  Completion c{Status::kSucceeded, "{\"r\":1}",     "application/json", "", "", 7,
               1'000'000,          claimed[0].fence};
  ASSERT_TRUE(a_->complete("x", "A", c).value());
  ASSERT_TRUE(heard_.wait_for(Kind::kFinished, "x"));
  EXPECT_EQ(b_->get("x").value()->result, "{\"r\":1}");
  ASSERT_TRUE((b_->cached("x") != nullptr));
  // Retrieval changes its expiry; removal and the sweep make it gone.
  heard_.clear();
  ASSERT_TRUE(a_->mark_retrieved("x", 8, 900'000).value());
  ASSERT_TRUE(heard_.wait_for(Kind::kChanged, "x"));
  EXPECT_EQ(b_->get("x").value()->expires_at, 900'000);
  heard_.clear();
  ASSERT_TRUE(a_->remove("x").value());
  ASSERT_TRUE(heard_.wait_for(Kind::kChanged, "x"));
  EXPECT_FALSE(b_->get("x").value().has_value());
  ASSERT_TRUE(a_->insert(op("y")).ok());
  ASSERT_TRUE(a_->complete("y", "", {Status::kFailed, "", "", "E", "e", 1, 100, 0}).value());
  ASSERT_TRUE(heard_.wait_for(Kind::kFinished, "y"));  // or it could drop what B reads next
  cache_on_b("y");
  heard_.clear();
  EXPECT_EQ(a_->delete_expired(200, 10).value(), 1);
  ASSERT_TRUE(heard_.wait_for(Kind::kChanged, "y"));
  EXPECT_FALSE((b_->cached("y") != nullptr));
  EXPECT_FALSE(b_->get("y").value().has_value());
}

// B's listening connection is cut (pg_terminate_backend): B stops answering
// from memory at once, reads the database meanwhile, and caches again once
// it listens again.
TEST_F(Replicas, ALostListenerConnectionStopsTheCacheUntilItListensAgain) {
  ASSERT_TRUE(a_->insert(op("z")).ok());
  cache_on_b("z");
  heard_.clear();
  PGconn* admin = PQconnectdb(url_.c_str());
  ASSERT_EQ(PQstatus(admin), CONNECTION_OK);
  PGresult* r =
      PQexec(admin,
             "SELECT pg_terminate_backend(pid) FROM pg_stat_activity"
             " WHERE application_name = 'lrogate-listener' AND datname = current_database()");
  ASSERT_EQ(PQresultStatus(r), PGRES_TUPLES_OK);
  EXPECT_GE(PQntuples(r), 2);  // A's and B's
  PQclear(r);
  PQfinish(admin);
  ASSERT_TRUE(heard_.wait_for(Kind::kLost, ""));
  EXPECT_FALSE((b_->cached("z") != nullptr));
  ASSERT_TRUE(heard_.wait_for(Kind::kListening, ""));
  cache_on_b("z");
  // And it hears again.
  ASSERT_TRUE(
      a_->complete("z", "", {Status::kCanceled, "", "", "C", "c", 1, 1'000'000, 0}).value());
  ASSERT_TRUE(heard_.wait_for(Kind::kFinished, "z"));
  EXPECT_EQ(b_->get("z").value()->status, Status::kCanceled);
}

}  // namespace
}  // namespace lrogate::store
