// The store contract: every OperationStore backend must pass this suite
// unchanged. Backends are listed in kBackends.
#include <gtest/gtest.h>
#include <libpq-fe.h>
#include <sqlite3.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cstdlib>
#include <filesystem>
#include <map>
#include <thread>
#include <tuple>

#include "base/clock.h"
#include "store/columns.h"
#include "store/operation_store.h"

namespace lrogate::store {
namespace {

struct Backend {
  const char* name;
  std::function<std::string()> make_url;  // a fresh, empty store each call
};

std::string temp_sqlite() {
  static int n = 0;
  auto dir =
      std::filesystem::temp_directory_path() / ("lrogate-store-test-" + std::to_string(::getpid()));
  std::filesystem::create_directories(dir);
  auto path = dir / ("s" + std::to_string(n++) + ".db");
  std::filesystem::remove(path);
  return "sqlite:" + path.string();
}

// A fresh database on the test server that scripts/test.sh starts
// (LROGATE_TEST_POSTGRES_URL); "" when no server was given.
std::string temp_postgres() {
  const char* base = std::getenv("LROGATE_TEST_POSTGRES_URL");
  if (!base || !*base) return "";
  static int n = 0;
  std::string db = "lrogate_contract_" + std::to_string(::getpid()) + "_" + std::to_string(n++);
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

const Backend kBackends[] = {{"sqlite", temp_sqlite}, {"postgresql", temp_postgres}};

std::vector<std::string> sorted(std::vector<std::string> v) {
  std::sort(v.begin(), v.end());
  return v;
}

class StoreContract : public ::testing::TestWithParam<Backend> {
 protected:
  void SetUp() override {
    url_ = GetParam().make_url();
    const std::string& url = url_;
    if (url.empty()) {
      // scripts/test.sh always provides the server; this is for a bare ctest.
      GTEST_SKIP() << "no PostgreSQL: set LROGATE_TEST_POSTGRES_URL (scripts/pg-test-server.sh)";
    }
    auto s = open_store(url);
    ASSERT_TRUE(s.ok()) << s.error().message << " " << s.error().detail;
    store_ = std::move(s.value());
  }
  Operation op(const std::string& id, Millis created = 1000, Millis due = 2000) {
    Operation o;
    o.id = id;
    o.analyzer_id = "pro-demo";
    o.upstream_url = "http://127.0.0.1:1/contentunderstanding/analyzerResults/" + id;
    o.created_at = o.updated_at = created;
    o.next_poll_at = due;
    return o;
  }
  std::string url_;
  std::unique_ptr<OperationStore> store_;
};

TEST_P(StoreContract, InsertThenGetRoundTrips) {
  ASSERT_TRUE(store_->insert(op("a")).ok());
  auto got = store_->get("a");
  ASSERT_TRUE(got.ok());
  ASSERT_TRUE(got.value().has_value());
  EXPECT_EQ(got.value()->analyzer_id, "pro-demo");
  EXPECT_EQ(got.value()->status, Status::kNotStarted);
  EXPECT_EQ(got.value()->next_poll_at, 2000);
  auto missing = store_->get("nope");
  ASSERT_TRUE(missing.ok());
  EXPECT_FALSE(missing.value().has_value());
}

// Every column, each with a value no default has, comes back as written:
// from get (the primary-key read), claim_due (UPDATE ... RETURNING) and
// list (which leaves the body out). A column missing from a store's
// SELECT, INSERT or row reader fails here.
TEST_P(StoreContract, EveryColumnRoundTrips) {
  Operation o;
  o.id = "every-column";
  o.tenant = "t-7";
  o.analyzer_id = "receipts";
  o.upstream_url = "http://127.0.0.1:1/r/every-column";
  o.status = Status::kRunning;
  o.created_at = 1'700'000'000'123;
  o.updated_at = 1'700'000'000'456;
  o.next_poll_at = 4000;
  o.poll_count = 7;
  o.attempts = 3;
  o.lease_owner = "earlier-owner";
  o.lease_until = 4500;
  o.fence = 41;
  o.result = std::string("{\"a\":1}\0\xff\x01 body", 16);
  o.result_type = "application/json; charset=utf-8";
  o.error_code = "InternalServerError";
  o.error_message = "it broke: \"quoted\"";
  o.retrieved_at = 3000;
  o.expires_at = 9'000'000;
  o.idempotency_key = "key-1";
  o.kind = Kind::kAnalyzerCreation;
  o.resource = "westeurope-2";
  o.size_band = 11;
  o.callback_url = "https://hooks.example.com/lrogate?t=7&x=\"q\"";
  o.request_bytes = 5'000'000'123;
  o.reuse_key = "6f1d0b8e3c2a";
  ASSERT_TRUE(store_->insert(o).ok());

  auto same = [&](const Operation& got, bool body) {
    EXPECT_EQ(got.id, o.id);
    EXPECT_EQ(got.tenant, o.tenant);
    EXPECT_EQ(got.analyzer_id, o.analyzer_id);
    EXPECT_EQ(got.upstream_url, o.upstream_url);
    EXPECT_EQ(got.status, o.status);
    EXPECT_EQ(got.created_at, o.created_at);
    EXPECT_EQ(got.updated_at, o.updated_at);
    EXPECT_EQ(got.next_poll_at, o.next_poll_at);
    EXPECT_EQ(got.poll_count, o.poll_count);
    EXPECT_EQ(got.attempts, o.attempts);
    EXPECT_EQ(got.result, body ? o.result : std::string());
    EXPECT_EQ(got.result_type, o.result_type);
    EXPECT_EQ(got.error_code, o.error_code);
    EXPECT_EQ(got.error_message, o.error_message);
    EXPECT_EQ(got.retrieved_at, o.retrieved_at);
    EXPECT_EQ(got.expires_at, o.expires_at);
    EXPECT_EQ(got.idempotency_key, o.idempotency_key);
    EXPECT_EQ(got.kind, o.kind);
    EXPECT_EQ(got.resource, o.resource);
    EXPECT_EQ(got.size_band, o.size_band);
    EXPECT_EQ(got.callback_url, o.callback_url);
    EXPECT_EQ(got.reuse_key, o.reuse_key);
  };
  auto got = store_->get(o.id);
  ASSERT_TRUE(got.ok() && got.value().has_value());
  same(*got.value(), true);
  EXPECT_EQ(got.value()->lease_owner, o.lease_owner);
  EXPECT_EQ(got.value()->lease_until, o.lease_until);
  EXPECT_EQ(got.value()->fence, o.fence);

  ListQuery q;
  q.tenant = o.tenant;
  auto listed = store_->list(q);
  ASSERT_TRUE(listed.ok());
  ASSERT_EQ(listed.value().size(), 1u);
  same(listed.value()[0], false);
  EXPECT_EQ(listed.value()[0].fence, o.fence);

  auto claimed = store_->claim_due("new-owner", 5000, 65'000, 10, {});
  ASSERT_TRUE(claimed.ok());
  ASSERT_EQ(claimed.value().size(), 1u);
  same(claimed.value()[0], true);
  EXPECT_EQ(claimed.value()[0].lease_owner, "new-owner");
  EXPECT_EQ(claimed.value()[0].lease_until, 65'000);
  EXPECT_EQ(claimed.value()[0].fence, o.fence + 1);

  // An empty text column is kept as NULL and reads back empty; an unset
  // time stays unset.
  Operation bare = op("bare");
  bare.next_poll_at.reset();
  ASSERT_TRUE(store_->insert(bare).ok());
  auto b = store_->get("bare").value().value();
  EXPECT_EQ(b.tenant, "default");
  EXPECT_TRUE(b.lease_owner.empty());
  EXPECT_TRUE(b.result.empty());
  EXPECT_FALSE(b.next_poll_at.has_value());
  EXPECT_FALSE(b.lease_until.has_value());
  EXPECT_FALSE(b.retrieved_at.has_value());
  EXPECT_FALSE(b.expires_at.has_value());
  EXPECT_EQ(b.kind, Kind::kAnalysis);
  EXPECT_EQ(b.status, Status::kNotStarted);
  EXPECT_EQ(b.size_band, -1);
  EXPECT_TRUE(b.callback_url.empty());
}

// Every record is bound to a resource: an insert without one is refused as
// a bad argument (not a conflict, which a NOT NULL would read as), and
// nothing is stored.
TEST_P(StoreContract, InsertWithoutAResourceIsRefused) {
  Operation o = op("nameless");
  o.resource.clear();
  auto r = store_->insert(o);
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.error().code, ErrorCode::kInvalidArgument);
  EXPECT_NE(r.error().message.find("resource"), std::string::npos);
  EXPECT_FALSE(store_->get("nameless").value().has_value());
  EXPECT_TRUE(store_->count_open_by_resource().value().empty());
}

TEST_P(StoreContract, DuplicateIdIsConflict) {
  ASSERT_TRUE(store_->insert(op("a")).ok());
  auto again = store_->insert(op("a"));
  ASSERT_FALSE(again.ok());
  EXPECT_EQ(again.error().code, ErrorCode::kConflict);
}

TEST_P(StoreContract, ClaimTakesOnlyDueUnleasedWork) {
  ASSERT_TRUE(store_->insert(op("due", 0, 100)).ok());
  ASSERT_TRUE(store_->insert(op("later", 0, 900)).ok());
  auto first = store_->claim_due("n1", 500, 10'500, 10, {});
  ASSERT_TRUE(first.ok());
  ASSERT_EQ(first.value().size(), 1u);
  EXPECT_EQ(first.value()[0].id, "due");
  EXPECT_EQ(first.value()[0].lease_owner, "n1");
  // Leased: another owner cannot take it until the lease expires.
  EXPECT_TRUE(store_->claim_due("n2", 600, 10'600, 10, {}).value().empty());
  auto after_expiry = store_->claim_due("n2", 10'500, 20'000, 10, {});
  ASSERT_EQ(after_expiry.value().size(), 2u);
}

TEST_P(StoreContract, ProgressNeedsTheLeaseAndReleasesIt) {
  ASSERT_TRUE(store_->insert(op("a", 0, 0)).ok());
  auto claimed = store_->claim_due("n1", 0, 60'000, 10, {}).value();
  ASSERT_EQ(claimed.size(), 1u);
  Progress p{Status::kRunning, 5000, 0, 10, claimed[0].fence};
  EXPECT_FALSE(store_->record_progress("a", "n2", p).value());
  EXPECT_TRUE(store_->record_progress("a", "n1", p).value());
  auto got = store_->get("a").value().value();
  EXPECT_EQ(got.status, Status::kRunning);
  EXPECT_EQ(got.next_poll_at, 5000);
  EXPECT_EQ(got.poll_count, 1);
  EXPECT_TRUE(got.lease_owner.empty());
  EXPECT_FALSE(store_->record_progress("a", "n1", p).value());  // lease gone
}

TEST_P(StoreContract, CompleteIsFinalAndKeepsTheBodyByteForByte) {
  ASSERT_TRUE(store_->insert(op("a", 0, 0)).ok());
  auto claimed = store_->claim_due("n1", 0, 60'000, 10, {}).value();
  ASSERT_EQ(claimed.size(), 1u);
  std::string body = std::string("{\"x\":\"\0binary\xff\"}", 17);
  Completion c{Status::kSucceeded, body, "application/json", "", "", 50, 3600, claimed[0].fence};
  EXPECT_FALSE(store_->complete("a", "n2", c).value());  // not the lease holder
  EXPECT_TRUE(store_->complete("a", "n1", c).value());
  Completion other{Status::kFailed, "", "", "Timeout", "late", 60, 3600, 0};
  EXPECT_FALSE(store_->complete("a", "", other).value());  // never overwritten
  auto got = store_->get("a").value().value();
  EXPECT_EQ(got.status, Status::kSucceeded);
  EXPECT_EQ(got.result, body);
  EXPECT_EQ(got.expires_at, 3600);
  EXPECT_FALSE(got.next_poll_at.has_value());
  EXPECT_TRUE(store_->claim_due("n1", 100'000, 200'000, 10, {}).value().empty());
}

TEST_P(StoreContract, EveryClaimFencesOffTheClaimsBeforeIt) {
  ASSERT_TRUE(store_->insert(op("a", 0, 0)).ok());
  auto first = store_->claim_due("n1", 0, 1000, 10, {}).value();
  ASSERT_EQ(first.size(), 1u);
  // n1's lease lapses; n2 claims, polls and lets go; n1 claims again.
  auto second = store_->claim_due("n2", 1000, 2000, 10, {}).value();
  ASSERT_EQ(second.size(), 1u);
  EXPECT_GT(second[0].fence, first[0].fence);
  ASSERT_TRUE(store_->record_progress("a", "n2", {Status::kRunning, 1500, 0, 1100, second[0].fence})
                  .value());
  auto third = store_->claim_due("n1", 1500, 3000, 10, {}).value();
  ASSERT_EQ(third.size(), 1u);
  // The answer of n1's first, superseded claim is refused: same owner, old fence.
  Completion stale{Status::kSucceeded, "old", "application/json", "", "", 1600, 9000,
                   first[0].fence};
  EXPECT_FALSE(store_->complete("a", "n1", stale).value());
  EXPECT_FALSE(store_->record_progress("a", "n1", {Status::kRunning, 9000, 0, 1600, first[0].fence})
                   .value());
  Completion fresh{Status::kSucceeded, "new", "application/json", "", "", 1700, 9000,
                   third[0].fence};
  EXPECT_TRUE(store_->complete("a", "n1", fresh).value());
  EXPECT_EQ(store_->get("a").value()->result, "new");
}

TEST_P(StoreContract, ProgressInABatchIsFencedItemByItem) {
  for (const char* id : {"a", "b", "c", "d"}) ASSERT_TRUE(store_->insert(op(id, 0, 0)).ok());
  auto mine = store_->claim_due("n1", 0, 1000, 3, {}).value();
  ASSERT_EQ(mine.size(), 3u);
  std::map<std::string, std::int64_t> fence;
  for (const auto& o : mine) fence[o.id] = o.fence;
  std::string unclaimed;
  for (const char* id : {"a", "b", "c", "d"}) {
    if (!fence.count(id)) unclaimed = id;
  }
  std::vector<OperationStore::ProgressItem> batch;
  auto it = mine.begin();
  batch.push_back({it->id, {Status::kRunning, 2000, 1, 500, it->fence}});  // good
  ++it;
  batch.push_back({it->id, {Status::kRunning, 2100, 0, 500, it->fence - 1}});  // stale fence
  ++it;
  batch.push_back({it->id, {Status::kNotStarted, 2050, 2, 500, it->fence}});  // good
  batch.push_back({unclaimed, {Status::kRunning, 2200, 0, 500, 0}});          // not this owner's
  batch.push_back({"missing", {Status::kRunning, 2300, 0, 500, 1}});          // no such record
  auto r = store_->record_progress_many("n1", batch).value();
  EXPECT_EQ(r, (std::vector<bool>{true, false, true, false, false}));
  auto a = store_->get(batch[0].id).value();
  EXPECT_EQ(a->next_poll_at, 2000);
  EXPECT_EQ(a->attempts, 1);
  EXPECT_EQ(a->poll_count, 1);
  EXPECT_TRUE(a->lease_owner.empty());
  auto b = store_->get(batch[1].id).value();
  EXPECT_EQ(b->lease_owner, "n1");  // the refused write changed nothing
  EXPECT_EQ(b->poll_count, 0);
  auto c = store_->get(batch[2].id).value();
  EXPECT_EQ(c->next_poll_at, 2050);
  EXPECT_EQ(c->status, Status::kNotStarted);
  EXPECT_EQ(c->attempts, 2);
  EXPECT_EQ(store_->record_progress_many("n1", {}).value(), std::vector<bool>{});
}

TEST_P(StoreContract, HeartbeatRenewsOnlyTheOwnersLiveLeases) {
  ASSERT_TRUE(store_->insert(op("a", 0, 0)).ok());
  ASSERT_TRUE(store_->insert(op("b", 0, 0)).ok());
  ASSERT_TRUE(store_->insert(op("c", 0, 0)).ok());
  ASSERT_EQ(store_->claim_due("n1", 0, 1000, 2, {}).value().size(), 2u);
  ASSERT_EQ(store_->claim_due("n2", 0, 1000, 2, {}).value().size(), 1u);
  std::vector<std::string> mine;
  for (const char* id : {"a", "b", "c"}) {
    if (store_->get(id).value()->lease_owner == "n1") mine.push_back(id);
  }
  ASSERT_EQ(mine.size(), 2u);
  std::vector<std::string> all = {"a", "b", "c", "quote\"d"};
  auto renewed = store_->renew_leases("n1", all, 5000);
  ASSERT_TRUE(renewed.ok()) << renewed.error().detail;
  EXPECT_EQ(sorted(renewed.value()), mine);  // the ids it extended, each once
  // n1's leases now outlive 1000; n2's does not.
  auto later = store_->claim_due("n3", 2000, 9000, 10, {}).value();
  ASSERT_EQ(later.size(), 1u);
  EXPECT_EQ(store_->get(later[0].id).value()->lease_owner, "n3");
  EXPECT_TRUE(store_->renew_leases("n1", {}, 6000).value().empty());
  // An id named twice is answered once.
  EXPECT_EQ(sorted(store_->renew_leases("n1", {mine[0], mine[0]}, 6000).value()),
            (std::vector<std::string>{mine[0]}));
}

// What a heartbeat answers tells the poller which operations it lost: one
// taken over by another owner after its lease lapsed, one finished (by a
// cancel), one released, or one removed are not among the ids returned.
TEST_P(StoreContract, HeartbeatLeavesOutTheLeasesTheOwnerLost) {
  for (const char* id : {"kept", "taken", "finished", "released", "removed"}) {
    ASSERT_TRUE(store_->insert(op(id, 0, 0)).ok());
  }
  ASSERT_EQ(store_->claim_due("n1", 0, 1000, 10, {}).value().size(), 5u);
  std::vector<std::string> all = {"kept", "taken", "finished", "released", "removed"};
  ASSERT_EQ(
      store_->renew_leases("n1", {"kept", "finished", "released", "removed"}, 5000).value().size(),
      4u);  // "taken" alone lapses at 1000
  auto other = store_->claim_due("n2", 1000, 9000, 10, {}).value();
  ASSERT_EQ(other.size(), 1u);
  EXPECT_EQ(other[0].id, "taken");
  Completion cancel{Status::kCanceled, "", "", "Canceled", "", 1100, 90'000, 0};
  ASSERT_TRUE(store_->complete("finished", "", cancel).value());
  ASSERT_TRUE(store_->remove("removed").value());
  ASSERT_TRUE(store_
                  ->record_progress(
                      "released", "n1",
                      {Status::kRunning, 99'000, 0, 1200, store_->get("released").value()->fence})
                  .value());  // a progress write lets the lease go
  auto renewed = store_->renew_leases("n1", all, 10'000);
  ASSERT_TRUE(renewed.ok()) << renewed.error().detail;
  EXPECT_EQ(renewed.value(), (std::vector<std::string>{"kept"}));
  EXPECT_EQ(store_->get("taken").value()->lease_until, 9000);  // n2's lease is untouched
  EXPECT_EQ(store_->release_leases("n1").value(), 1);
  EXPECT_TRUE(store_->renew_leases("n1", all, 11'000).value().empty());
}

// poll_count grows by the polls each write carries: a progress write
// counts one unless told more (a poller that kept the operation in memory
// across polls), a completion none unless told.
TEST_P(StoreContract, EveryWriteAddsThePollsItCarries) {
  ASSERT_TRUE(store_->insert(op("a", 0, 0)).ok());
  auto claim_a = [&](Millis now) {
    auto c = store_->claim_due("n1", now, now + 1000, 10, {}).value();
    EXPECT_EQ(c.size(), 1u);
    return c.empty() ? std::int64_t{-1} : c[0].fence;
  };
  Progress one{Status::kRunning, 100, 0, 10, claim_a(0)};
  EXPECT_EQ(one.polls, 1);  // unless told
  ASSERT_TRUE(store_->record_progress("a", "n1", one).value());
  EXPECT_EQ(store_->get("a").value()->poll_count, 1);
  Progress four{Status::kRunning, 200, 0, 20, claim_a(100), 4};
  ASSERT_TRUE(store_->record_progress("a", "n1", four).value());
  EXPECT_EQ(store_->get("a").value()->poll_count, 5);
  // A batch: each item its own count (a status change takes it too); a
  // refused item counts nothing.
  for (const char* id : {"b", "c", "d"}) ASSERT_TRUE(store_->insert(op(id, 0, 0)).ok());
  std::map<std::string, std::int64_t> f;
  auto all = store_->claim_due("n1", 200, 9000, 10, {}).value();
  for (const auto& o : all) f[o.id] = o.fence;
  ASSERT_EQ(f.size(), 4u);
  auto batch =
      store_->record_progress_many("n1", {{"b", {Status::kRunning, 300, 0, 30, f["b"], 3}},
                                          {"c", {Status::kNotStarted, 300, 0, 30, f["c"], 0}},
                                          {"d", {Status::kRunning, 300, 0, 30, f["d"] - 1, 9}}});
  EXPECT_EQ(batch.value(), (std::vector<bool>{true, true, false}));
  EXPECT_EQ(store_->get("b").value()->poll_count, 3);
  EXPECT_EQ(store_->get("c").value()->poll_count, 0);
  EXPECT_EQ(store_->get("d").value()->poll_count, 0);
  // Completions: the poller's with what it counted, none unless told, a
  // cancel's none.
  Completion done{Status::kSucceeded, "{}", "application/json", "", "", 40, 9000, f["a"], 2};
  ASSERT_TRUE(store_->complete("a", "n1", done).value());
  EXPECT_EQ(store_->get("a").value()->poll_count, 7);
  Completion quiet{Status::kFailed, "", "", "Timeout", "", 40, 9000, f["d"]};
  EXPECT_EQ(quiet.polls, 0);
  ASSERT_TRUE(store_->complete("d", "n1", quiet).value());
  EXPECT_EQ(store_->get("d").value()->poll_count, 0);
  Completion cancel{Status::kCanceled, "", "", "Canceled", "", 40, 9000, 0};
  ASSERT_TRUE(store_->complete("b", "", cancel).value());
  EXPECT_EQ(store_->get("b").value()->poll_count, 3);
}

// A read before every write, then one after: whatever a backend keeps in
// memory (SQLite's read cache) must never answer with the older record.
TEST_P(StoreContract, EveryReadAfterAWriteSeesThatWrite) {
  ASSERT_TRUE(store_->insert(op("a", 0, 0)).ok());
  EXPECT_EQ(store_->get("a").value()->status, Status::kNotStarted);
  auto claimed = store_->claim_due("n1", 0, 60'000, 10, {}).value();
  ASSERT_EQ(claimed.size(), 1u);
  EXPECT_EQ(store_->get("a").value()->lease_owner, "n1");
  ASSERT_TRUE(
      store_->record_progress("a", "n1", {Status::kRunning, 500, 0, 10, claimed[0].fence}).value());
  auto after_progress = store_->get("a").value().value();
  EXPECT_EQ(after_progress.status, Status::kRunning);
  EXPECT_TRUE(after_progress.lease_owner.empty());
  auto again = store_->claim_due("n1", 500, 60'000, 10, {}).value();
  ASSERT_EQ(again.size(), 1u);
  EXPECT_EQ(store_->get("a").value()->fence, again[0].fence);
  ASSERT_TRUE(store_->renew_leases("n1", {"a"}, 90'000).ok());
  EXPECT_EQ(store_->get("a").value()->lease_until, 90'000);
  Completion c{Status::kSucceeded, "{}", "application/json", "", "", 600, 5000, again[0].fence};
  ASSERT_TRUE(store_->complete("a", "n1", c).value());
  EXPECT_EQ(store_->get("a").value()->status, Status::kSucceeded);
  ASSERT_TRUE(store_->mark_retrieved("a", 700, 800).value());
  EXPECT_EQ(store_->get("a").value()->retrieved_at, 700);
  EXPECT_EQ(store_->delete_expired(900, 10).value(), 1);
  EXPECT_FALSE(store_->get("a").value().has_value());
  ASSERT_TRUE(store_->insert(op("b", 0, 0)).ok());
  ASSERT_TRUE(store_->get("b").value().has_value());
  ASSERT_TRUE(store_->remove("b").value());
  EXPECT_FALSE(store_->get("b").value().has_value());
  ASSERT_TRUE(store_->insert(op("c", 0, 0)).ok());
  ASSERT_EQ(store_->claim_due("n2", 0, 60'000, 10, {}).value().size(), 1u);
  EXPECT_EQ(store_->get("c").value()->lease_owner, "n2");
  ASSERT_EQ(store_->release_leases("n2").value(), 1);
  EXPECT_TRUE(store_->get("c").value()->lease_owner.empty());
}

TEST_P(StoreContract, RetrievalIsMarkedOnce) {
  ASSERT_TRUE(store_->insert(op("a")).ok());
  EXPECT_TRUE(store_->mark_retrieved("a", 100, 400).value());
  EXPECT_FALSE(store_->mark_retrieved("a", 200, 900).value());
  auto got = store_->get("a").value().value();
  EXPECT_EQ(got.retrieved_at, 100);
  EXPECT_EQ(got.expires_at, 400);
}

TEST_P(StoreContract, DeleteExpiredAndRemove) {
  ASSERT_TRUE(store_->insert(op("a")).ok());
  ASSERT_TRUE(store_->insert(op("b")).ok());
  ASSERT_TRUE(store_->insert(op("c")).ok());
  ASSERT_TRUE(store_->mark_retrieved("a", 0, 100).value());
  ASSERT_TRUE(store_->mark_retrieved("b", 0, 900).value());
  EXPECT_EQ(store_->delete_expired(500, 10).value(), 1);
  EXPECT_FALSE(store_->get("a").value().has_value());
  EXPECT_TRUE(store_->get("b").value().has_value());
  EXPECT_TRUE(store_->remove("c").value());
  EXPECT_FALSE(store_->remove("c").value());
}

// A poller may hold a record between polls (its lease live, its next_poll_at
// in the past): no claim takes it, and it is claimable when its lease ends.
TEST_P(StoreContract, AHeldRecordIsClaimableOnlyWhenItsLeaseEnds) {
  ASSERT_TRUE(store_->insert(op("a", 0, 100)).ok());
  ASSERT_TRUE(store_->insert(op("b", 0, 200)).ok());
  ASSERT_EQ(store_->claim_due("n1", 300, 1'000, 10, {}).value().size(), 2u);
  EXPECT_EQ(store_->next_due(500).value(), 1'000);
  EXPECT_TRUE(store_->claim_due("n2", 500, 2'000, 10, {}).value().empty());
  ASSERT_TRUE(store_->insert(op("c", 0, 400)).ok());
  auto later = store_->claim_due("n2", 999, 2'000, 10, {}).value();
  ASSERT_EQ(later.size(), 1u);
  EXPECT_EQ(later[0].id, "c");
  auto expired = store_->claim_due("n2", 1'000, 2'000, 10, {}).value();
  ASSERT_EQ(expired.size(), 2u);  // n1's leases are over
  EXPECT_EQ(expired[0].next_poll_at, 100);  // their own due times, as stored
}

TEST_P(StoreContract, NextDueAndLeaseRelease) {
  EXPECT_FALSE(store_->next_due(0).value().has_value());
  ASSERT_TRUE(store_->insert(op("a", 0, 700)).ok());
  ASSERT_TRUE(store_->insert(op("b", 0, 300)).ok());
  EXPECT_EQ(store_->next_due(0).value(), 300);
  ASSERT_EQ(store_->claim_due("n1", 300, 99'999, 10, {}).value().size(), 1u);
  EXPECT_EQ(store_->next_due(300).value(), 700);  // b is leased
  EXPECT_EQ(store_->release_leases("n1").value(), 1);
  EXPECT_EQ(store_->next_due(300).value(), 300);
  EXPECT_EQ(store_->count_active().value(), 2);
  EXPECT_TRUE(store_->ping().ok());
}

TEST_P(StoreContract, ListIsNewestFirstAndPagesStably) {
  for (int i = 0; i < 5; ++i)
    ASSERT_TRUE(store_->insert(op("o" + std::to_string(i), 100 + i)).ok());
  ASSERT_TRUE(store_->insert(op("same-b", 200)).ok());
  ASSERT_TRUE(store_->insert(op("same-a", 200)).ok());
  ListQuery q;
  q.limit = 3;
  q.now = 1;
  auto p1 = store_->list(q).value();
  ASSERT_EQ(p1.size(), 3u);
  EXPECT_EQ(p1[0].id, "same-b");  // equal times: id breaks the tie
  EXPECT_EQ(p1[1].id, "same-a");
  EXPECT_EQ(p1[2].id, "o4");
  q.after_created = p1.back().created_at;
  q.after_id = p1.back().id;
  auto p2 = store_->list(q).value();
  ASSERT_EQ(p2.size(), 3u);
  EXPECT_EQ(p2[0].id, "o3");
  q.after_created = p2.back().created_at;
  q.after_id = p2.back().id;
  EXPECT_EQ(store_->list(q).value().size(), 1u);
  ListQuery running;
  running.status = Status::kRunning;
  EXPECT_TRUE(store_->list(running).value().empty());
  ListQuery other;
  other.tenant = "someone-else";
  EXPECT_TRUE(store_->list(other).value().empty());
}

// Reuse of results: the newest Succeeded record of the tenant with the key
// that has not expired; never a failed or running one, another tenant's, or
// one without a key.
TEST_P(StoreContract, FindsTheNewestReusableResultOfTheTenantOnly) {
  auto add = [&](const std::string& id, const std::string& tenant, Millis created,
                 const std::string& key, std::optional<Status> final_status, Millis expires) {
    Operation o = op(id, created);
    o.tenant = tenant;
    o.reuse_key = key;
    ASSERT_TRUE(store_->insert(o).ok());
    if (!final_status) return;
    Completion c;
    c.status = *final_status;
    c.result = "{\"from\":\"" + id + "\"}";
    c.result_type = "application/json";
    c.now = created + 1;
    c.expires_at = expires;
    ASSERT_TRUE(store_->complete(id, "", c).value());
  };
  add("old", "t", 100, "k1", Status::kSucceeded, 10'000);
  add("new", "t", 200, "k1", Status::kSucceeded, 5'000);
  add("failed", "t", 300, "k1", Status::kFailed, 10'000);
  add("running", "t", 400, "k1", std::nullopt, 0);
  add("other-tenant", "u", 500, "k1", Status::kSucceeded, 10'000);
  add("no-key", "t", 600, "", Status::kSucceeded, 10'000);
  auto found = store_->find_reusable("t", "k1", 1'000).value();
  ASSERT_TRUE(found);
  EXPECT_EQ(found->id, "new");
  EXPECT_EQ(found->result, "{\"from\":\"new\"}");
  EXPECT_EQ(found->reuse_key, "k1");
  // Once the newest has expired, the one before it.
  EXPECT_EQ(store_->find_reusable("t", "k1", 5'000).value()->id, "old");
  EXPECT_FALSE(store_->find_reusable("t", "k1", 10'000).value());
  EXPECT_FALSE(store_->find_reusable("t", "k2", 1'000).value());
  EXPECT_EQ(store_->find_reusable("u", "k1", 1'000).value()->id, "other-tenant");
  EXPECT_FALSE(store_->find_reusable("v", "k1", 1'000).value());
}

TEST_P(StoreContract, KindRoundTripsAndTheLatestCreationOfAnAnalyzerIsFound) {
  Operation analysis = op("a1", 300);
  analysis.analyzer_id = "receipts";
  ASSERT_TRUE(store_->insert(analysis).ok());
  for (auto [id, analyzer, created] :
       {std::tuple{"c1", "receipts", 100}, std::tuple{"c2", "receipts", 200},
        std::tuple{"c3", "invoices", 400}}) {
    Operation c = op(id, created);
    c.analyzer_id = analyzer;
    c.kind = Kind::kAnalyzerCreation;
    ASSERT_TRUE(store_->insert(c).ok());
  }
  EXPECT_EQ(store_->get("a1").value()->kind, Kind::kAnalysis);
  EXPECT_EQ(store_->get("c1").value()->kind, Kind::kAnalyzerCreation);
  auto latest = store_->latest_of_kind(Kind::kAnalyzerCreation, "receipts", 1).value();
  ASSERT_TRUE(latest);
  EXPECT_EQ(latest->id, "c2");  // the newest; the analysis a1 is never one
  EXPECT_FALSE(store_->latest_of_kind(Kind::kAnalyzerCreation, "none", 1).value());
  // Once the newest has expired, the one before it is the latest.
  Completion done;
  done.status = Status::kFailed;
  done.now = 250;
  done.expires_at = 500;
  ASSERT_TRUE(store_->complete("c2", "", done).value());
  EXPECT_EQ(store_->latest_of_kind(Kind::kAnalyzerCreation, "receipts", 499).value()->id, "c2");
  EXPECT_EQ(store_->latest_of_kind(Kind::kAnalyzerCreation, "receipts", 500).value()->id, "c1");
  ListQuery q;
  q.now = 1;
  std::map<std::string, Kind> kinds;
  auto listed = store_->list(q);
  ASSERT_TRUE(listed.ok());
  for (const auto& o : listed.value()) kinds[o.id] = o.kind;
  EXPECT_EQ(kinds["a1"], Kind::kAnalysis);
  EXPECT_EQ(kinds["c3"], Kind::kAnalyzerCreation);
  // Claims carry the kind: the poller's schedule reads it.
  auto claimed = store_->claim_due("p", 5000, 10'000, 10, {});
  ASSERT_TRUE(claimed.ok());
  for (const auto& o : claimed.value()) {
    EXPECT_EQ(o.kind, o.id[0] == 'c' ? Kind::kAnalyzerCreation : Kind::kAnalysis) << o.id;
  }
}

TEST_P(StoreContract, IdempotencyKeysAreReservedOnce) {
  auto first = store_->reserve_key("t", "k1", "h1", 0, 1000).value();
  EXPECT_TRUE(first.created);
  auto again = store_->reserve_key("t", "k1", "h2", 10, 1000).value();
  EXPECT_FALSE(again.created);
  EXPECT_EQ(again.request_hash, "h1");
  EXPECT_TRUE(again.operation_id.empty());
  ASSERT_TRUE(store_->bind_key("t", "k1", "op-1").ok());
  EXPECT_EQ(store_->reserve_key("t", "k1", "h1", 20, 1000).value().operation_id, "op-1");
  EXPECT_TRUE(store_->reserve_key("other-tenant", "k1", "h1", 20, 1000).value().created);
  // A bound key is not released; an unbound one is.
  ASSERT_TRUE(store_->release_key("t", "k1").ok());
  EXPECT_FALSE(store_->reserve_key("t", "k1", "h1", 30, 1000).value().created);
  ASSERT_TRUE(store_->reserve_key("t", "k2", "h", 0, 1000).value().created);
  ASSERT_TRUE(store_->release_key("t", "k2").ok());
  EXPECT_TRUE(store_->reserve_key("t", "k2", "h", 0, 1000).value().created);
  // After expiry the key is free again.
  EXPECT_TRUE(store_->reserve_key("t", "k1", "h9", 1000, 2000).value().created);
}

TEST_P(StoreContract, CountsByStatus) {
  ASSERT_TRUE(store_->insert(op("a", 0, 0)).ok());
  ASSERT_TRUE(store_->insert(op("b", 0, 0)).ok());
  auto counts = store_->count_by_status().value();
  ASSERT_EQ(counts.size(), 1u);
  EXPECT_EQ(counts[0].first, "NotStarted");
  EXPECT_EQ(counts[0].second, 2);
}

// The kept counts (count_by_status, count_active) follow inserts, status
// changes, progress that keeps the status, completions, removals and sweeps.
TEST_P(StoreContract, CountsFollowEveryWrite) {
  using Counts = std::vector<std::pair<std::string, int>>;
  for (const char* id : {"a", "b", "c", "d"}) ASSERT_TRUE(store_->insert(op(id, 0, 0)).ok());
  EXPECT_EQ(store_->count_by_status().value(), (Counts{{"NotStarted", 4}}));
  auto claimed = store_->claim_due("n1", 0, 60'000, 4, {}).value();
  ASSERT_EQ(claimed.size(), 4u);
  std::map<std::string, std::int64_t> fence;
  for (const auto& o : claimed) fence[o.id] = o.fence;
  auto r = store_->record_progress_many(
      "n1", {{"a", {Status::kRunning, 10, 0, 5, fence["a"]}},
             {"b", {Status::kNotStarted, 10, 0, 5, fence["b"]}},
             {"c", {Status::kRunning, 10, 0, 5, fence["c"] - 1}}});  // refused: no change
  EXPECT_EQ(r.value(), (std::vector<bool>{true, true, false}));
  EXPECT_EQ(store_->count_by_status().value(), (Counts{{"NotStarted", 3}, {"Running", 1}}));
  Completion done{Status::kFailed, "", "", "Boom", "no", 20, 100, fence["c"]};
  EXPECT_TRUE(store_->complete("c", "n1", done).value());
  Completion cancel{Status::kCanceled, "", "", "", "", 20, 100, 0};
  EXPECT_TRUE(store_->complete("d", "", cancel).value());
  EXPECT_FALSE(store_->complete("d", "", cancel).value());  // final: counted once
  EXPECT_EQ(store_->count_by_status().value(),
            (Counts{{"Canceled", 1}, {"Failed", 1}, {"NotStarted", 1}, {"Running", 1}}));
  EXPECT_EQ(store_->count_active().value(), 2);
  // Running stays Running: counted as it was.
  auto again = store_->claim_due("n1", 10, 60'000, 4, {}).value();
  ASSERT_EQ(again.size(), 2u);
  for (const auto& o : again) {
    ASSERT_TRUE(store_->record_progress(o.id, "n1", {o.status, 20, 0, 15, o.fence}).value());
  }
  EXPECT_EQ(store_->count_active().value(), 2);
  EXPECT_EQ(store_->delete_expired(100, 10).value(), 2);  // c and d
  EXPECT_TRUE(store_->remove("b").value());
  EXPECT_EQ(store_->count_by_status().value(), (Counts{{"Running", 1}}));
  EXPECT_EQ(store_->count_active().value(), 1);
  EXPECT_EQ(store_->count_by_status().value(), (Counts{{"Running", 1}}));  // rolled up: same
}

// The open operations per resource follow inserts, progress (either
// status), completions by the poller and by cancel, and removals; finished
// records are never counted, and a resource with none open is absent.
// Names are ordered bytewise on both backends.
TEST_P(StoreContract, CountsOpenOperationsByResource) {
  using Counts = std::vector<std::pair<std::string, std::int64_t>>;
  EXPECT_EQ(store_->count_open_by_resource().value(), Counts{});
  const std::map<std::string, std::string> resource_of = {
      {"e1", "east"}, {"e2", "east"}, {"w1", "West"},
      {"w2", "West"}, {"w3", "West"}, {"d1", "default"}};
  for (const auto& [id, resource] : resource_of) {
    Operation o = op(id, 0, 0);
    o.resource = resource;
    ASSERT_TRUE(store_->insert(o).ok());
  }
  EXPECT_EQ(store_->count_open_by_resource().value(),
            (Counts{{"West", 3}, {"default", 1}, {"east", 2}}));
  auto claimed = store_->claim_due("n1", 0, 60'000, 10, {}).value();
  ASSERT_EQ(claimed.size(), 6u);
  std::map<std::string, std::int64_t> fence;
  for (const auto& o : claimed) {
    fence[o.id] = o.fence;
    EXPECT_EQ(o.resource, resource_of.at(o.id));  // claims carry it: the poller polls there
  }
  ASSERT_TRUE(store_->record_progress("e1", "n1", {Status::kRunning, 10, 0, 5, fence["e1"]}).value());
  ASSERT_TRUE(
      store_->record_progress("w1", "n1", {Status::kNotStarted, 10, 0, 5, fence["w1"]}).value());
  Completion ok{Status::kSucceeded, "{}", "application/json", "", "", 20, 100, fence["w2"]};
  ASSERT_TRUE(store_->complete("w2", "n1", ok).value());
  Completion cancel{Status::kCanceled, "", "", "Canceled", "", 20, 100, 0};
  ASSERT_TRUE(store_->complete("w3", "", cancel).value());
  Completion failed{Status::kFailed, "", "", "Timeout", "", 20, 100, fence["d1"]};
  ASSERT_TRUE(store_->complete("d1", "n1", failed).value());
  EXPECT_EQ(store_->count_open_by_resource().value(), (Counts{{"West", 1}, {"east", 2}}));
  EXPECT_EQ(store_->get("e1").value()->resource, "east");  // progress keeps it
  EXPECT_EQ(store_->get("w2").value()->resource, "West");  // and so does the end
  ASSERT_TRUE(store_->remove("e2").value());
  ASSERT_TRUE(store_->complete("w1", "", cancel).value());
  EXPECT_EQ(store_->count_open_by_resource().value(), (Counts{{"east", 1}}));
  EXPECT_EQ(store_->delete_expired(100, 10).value(), 4);  // the finished ones
  EXPECT_EQ(store_->count_open_by_resource().value(), (Counts{{"east", 1}}));
  ASSERT_TRUE(store_->complete("e1", "", cancel).value());
  EXPECT_EQ(store_->count_open_by_resource().value(), Counts{});
}

// A claim can leave some resources' due records out (the poller's
// resources whose share of its queue is full): the others' are claimed in
// due order even when the skipped ones are due earlier, and the skipped
// ones stay free for a later claim. Names are matched exactly, quotes and
// backslashes included (each backend passes them as data).
TEST_P(StoreContract, ClaimLeavesOutTheSkippedResources) {
  auto add = [&](const std::string& id, const std::string& resource, Millis due) {
    Operation o = op(id, 0, due);
    o.resource = resource;
    ASSERT_TRUE(store_->insert(o).ok());
  };
  for (int i = 0; i < 5; ++i) add("s" + std::to_string(i), "slow", i);
  add("f1", "fast", 10);
  add("f2", "fast", 11);
  add("f3", "fast", 12);
  add("q1", "we\"ird\\", 13);
  add("p1", "slo", 14);  // a prefix of a skipped name is not skipped
  auto ids = [](const std::vector<Operation>& ops) {
    std::vector<std::string> out;
    for (const auto& o : ops) out.push_back(o.id);
    return out;
  };
  using Ids = std::vector<std::string>;
  auto first = store_->claim_due("n1", 100, 60'000, 2, {"slow"});
  ASSERT_TRUE(first.ok()) << first.error().detail;
  EXPECT_EQ(ids(first.value()), (Ids{"f1", "f2"}));
  EXPECT_TRUE(store_->get("s0").value()->lease_owner.empty());
  auto second = store_->claim_due("n1", 100, 60'000, 10, {"fast", "we\"ird\\", "slow"}).value();
  EXPECT_EQ(ids(second), (Ids{"p1"}));
  auto third = store_->claim_due("n2", 100, 60'000, 10, {"slow"}).value();
  EXPECT_EQ(ids(third), (Ids{"f3", "q1"}));
  auto rest = store_->claim_due("n2", 100, 60'000, 10, {}).value();
  EXPECT_EQ(ids(rest), (Ids{"s0", "s1", "s2", "s3", "s4"}));
  EXPECT_TRUE(store_->claim_due("n3", 100, 60'000, 10, {"other"}).value().empty());
}

// Pages by status, and pages behind a cursor, whatever the shape of the
// query (each has its own statement).
TEST_P(StoreContract, ListByStatusPagesBehindTheCursor) {
  for (int i = 0; i < 12; ++i) {
    Operation o = op("r" + std::to_string(10 + i), 100 + i, 0);
    if (i % 3 == 0) o.status = Status::kRunning;
    ASSERT_TRUE(store_->insert(o).ok());
  }
  ASSERT_TRUE(store_->insert(op("r99", 111, 0)).ok());  // same time as r21, higher id
  ListQuery q;
  q.status = Status::kRunning;
  q.limit = 3;
  auto p1 = store_->list(q).value();
  ASSERT_EQ(p1.size(), 3u);
  EXPECT_EQ(p1[0].id, "r19");
  EXPECT_EQ(p1[2].id, "r13");
  q.after_created = p1.back().created_at;
  q.after_id = p1.back().id;
  auto p2 = store_->list(q).value();
  ASSERT_EQ(p2.size(), 1u);
  EXPECT_EQ(p2[0].id, "r10");
  EXPECT_TRUE(p2[0].result.empty());
  // Without a status: the cursor's tie on created_at is broken by id.
  ListQuery all;
  all.limit = 2;
  auto first = store_->list(all).value();
  ASSERT_EQ(first.size(), 2u);
  EXPECT_EQ(first[0].id, "r99");
  EXPECT_EQ(first[1].id, "r21");
  all.after_created = 111;
  all.after_id = "r99";
  EXPECT_EQ(store_->list(all).value()[0].id, "r21");
  // An empty id after a time: everything older than that time.
  all.after_id = "";
  EXPECT_EQ(store_->list(all).value()[0].id, "r20");
  // Expired records are not listed, by status or not.
  ASSERT_TRUE(store_->mark_retrieved("r19", 0, 50).value());
  ListQuery later;
  later.status = Status::kRunning;
  later.now = 60;
  EXPECT_EQ(store_->list(later).value()[0].id, "r16");
}

// The shared clock: PostgreSQL's (the test server runs on this host, so it
// reads within a few seconds of this process's clock); SQLite has none.
TEST_P(StoreContract, TellsTheClockEveryProcessSharingItIsJudgedBy) {
  auto t = store_->database_time();
  ASSERT_TRUE(t.ok()) << t.error().message;
  if (store_->exclusive()) {
    EXPECT_FALSE(t.value().has_value());
    return;
  }
  ASSERT_TRUE(t.value().has_value());
  Millis here = SystemClock().now_ms();
  EXPECT_LT(std::llabs(*t.value() - here), 5'000) << *t.value() << " vs " << here;
}

// The budget the replicas share (docs/design.md, "The budget shared by
// replicas"): each slot gives at most its cap, whoever asks and however
// many ask at once; SQLite, used by one process, has none.
TEST_P(StoreContract, ASharedBudgetSlotGivesAtMostItsCapToAllAskers) {
  using Ask = OperationStore::BudgetAsk;
  if (store_->exclusive()) {
    EXPECT_FALSE(store_->take_budget(Ask{"r", "submits", 7, 2000, 1, 3}).ok());
    return;
  }
  auto take = [&](std::string_view resource, std::string_view budget, std::int64_t slot,
                  int want, int cap) {
    auto r = store_->take_budget(Ask{resource, budget, slot, (slot + 1) * 200, want, cap});
    EXPECT_TRUE(r.ok()) << r.error().message;
    return r.ok() ? r.value().granted : -1;
  };
  EXPECT_EQ(take("r", "submits", 7, 2, 3), 2);
  auto rest = store_->take_budget(Ask{"r", "submits", 7, 1600, 2, 3});
  ASSERT_TRUE(rest.ok()) << rest.error().message;
  EXPECT_EQ(rest.value().granted, 1);  // what is left: the slot's third place
  EXPECT_EQ(rest.value().first, 2);
  EXPECT_EQ(take("r", "submits", 7, 1, 3), 0);
  EXPECT_EQ(take("r", "submits", 8, 2, 3), 2);  // another slot
  EXPECT_EQ(take("r", "polls", 7, 2, 3), 2);    // another budget
  EXPECT_EQ(take("s", "submits", 7, 3, 3), 3);  // another resource
  EXPECT_EQ(take("r", "submits", 9, 0, 3), 0);  // nothing asked, nothing taken
  // Eight askers at once, one place each, 25 times: exactly the cap is given.
  std::atomic<int> given{0};
  std::vector<std::thread> askers;
  for (int t = 0; t < 8; ++t) {
    askers.emplace_back([&] {
      for (int i = 0; i < 25; ++i) {
        auto r = store_->take_budget(Ask{"r", "polls", 100, 20'200, 1, 50});
        if (r.ok()) given += r.value().granted;
      }
    });
  }
  for (auto& a : askers) a.join();
  EXPECT_EQ(given.load(), 50);
  // Slots that ended are forgotten; the others stay.
  auto forgot = store_->forget_budget(1'801);  // slots 7 and 8 ended at 1600 and 1800
  ASSERT_TRUE(forgot.ok()) << forgot.error().message;
  EXPECT_EQ(forgot.value(), 4);
  EXPECT_EQ(take("r", "polls", 100, 1, 50), 0);
}

// The learned durations (docs/design.md, "Learned durations"): counts per
// key and bucket, read back ordered by key then bucket.
using Counts = std::vector<DurationCount>;
std::string show(const Counts& counts) {
  std::string out;
  for (const auto& c : counts) {
    out += c.key.resource + "/" + c.key.analyzer + "/" + std::to_string(c.key.band) + "[" +
           std::to_string(c.bucket) + "]=" + std::to_string(c.count) + " ";
  }
  return out;
}
bool same(const Counts& a, const Counts& b) {
  auto tie = [](const DurationCount& c) {
    return std::tie(c.key.resource, c.key.analyzer, c.key.band, c.bucket, c.count);
  };
  return std::equal(a.begin(), a.end(), b.begin(), b.end(),
                    [&](const auto& x, const auto& y) { return tie(x) == tie(y); });
}

TEST_P(StoreContract, DurationsAddUpAndLoadOrderedByKeyThenBucket) {
  EXPECT_TRUE(store_->load_durations().value().empty());
  const DurationKey west{"west", "prebuilt-invoice", 3};
  const DurationKey east{"east", "prebuilt-invoice", -1};
  const DurationKey upper{"West", "receipts", 0};  // sorts first: names compare bytewise
  for (int bucket : {12, 5, 12, 12, 63, 0})
    ASSERT_TRUE(store_->add_duration(west, bucket, 1000).ok());
  ASSERT_TRUE(store_->add_duration(east, 7, 1000).ok());
  ASSERT_TRUE(store_->add_duration(upper, 1, 1000).ok());
  ASSERT_TRUE(store_->add_duration({"west", "prebuilt-invoice", 2}, 9, 1000).ok());
  ASSERT_TRUE(store_->add_duration({"", "", -1}, 4, 1000).ok());  // empty names are names too
  auto loaded = store_->load_durations();
  ASSERT_TRUE(loaded.ok()) << loaded.error().detail;
  Counts want{
      {{"", "", -1}, 4, 1}, {upper, 1, 1}, {east, 7, 1},  {{"west", "prebuilt-invoice", 2}, 9, 1},
      {west, 0, 1},         {west, 5, 1},  {west, 12, 3}, {west, 63, 1}};
  EXPECT_TRUE(same(loaded.value(), want)) << show(loaded.value());
  // Out of range: refused, nothing written.
  for (int bucket : {-1, kDurationBuckets}) {
    auto bad = store_->add_duration(west, bucket, 1000);
    ASSERT_FALSE(bad.ok());
    EXPECT_EQ(bad.error().code, ErrorCode::kInvalidArgument);
  }
  EXPECT_EQ(store_->add_duration(west, 1, 1).error().code, ErrorCode::kInvalidArgument);
  EXPECT_TRUE(same(store_->load_durations().value(), want));
}

// halve_at 10: nine adds count up; the tenth brings the total to 10 and
// halves every bucket of the key (integer division; a bucket at 1 is
// gone), and the next crossing is counted from what is left. Other keys
// keep their counts.
TEST_P(StoreContract, DurationsHalveWhenTheKeysTotalReachesTheThreshold) {
  const DurationKey k{"r", "a", 1};
  const DurationKey other{"r", "a", 2};
  ASSERT_TRUE(store_->add_duration(other, 3, 10).ok());
  // Buckets 0: 5, 1: 3, 2: 1 after nine adds.
  for (int bucket : {0, 0, 0, 0, 0, 1, 1, 1, 2})
    ASSERT_TRUE(store_->add_duration(k, bucket, 10).ok());
  EXPECT_TRUE(same(store_->load_durations().value(),
                   Counts{{k, 0, 5}, {k, 1, 3}, {k, 2, 1}, {other, 3, 1}}));
  ASSERT_TRUE(store_->add_duration(k, 1, 10).ok());  // total 10: 5, 4, 1 halved
  auto halved = store_->load_durations().value();
  EXPECT_TRUE(same(halved, Counts{{k, 0, 2}, {k, 1, 2}, {other, 3, 1}})) << show(halved);
  // The total is now 4: six more adds to reach 10 again.
  for (int i = 0; i < 5; ++i) ASSERT_TRUE(store_->add_duration(k, 5, 10).ok());
  auto before = store_->load_durations().value();
  EXPECT_TRUE(same(before, Counts{{k, 0, 2}, {k, 1, 2}, {k, 5, 5}, {other, 3, 1}})) << show(before);
  ASSERT_TRUE(store_->add_duration(k, 5, 10).ok());
  auto again = store_->load_durations().value();
  EXPECT_TRUE(same(again, Counts{{k, 0, 1}, {k, 1, 1}, {k, 5, 3}, {other, 3, 1}})) << show(again);
}

// Eight threads adding at once (on PostgreSQL through two stores, as two
// replicas: eight connections, each add its own transaction): no count is
// lost, and a key crossing its threshold is halved once per crossing, so
// the result is that of the adds one after the other.
TEST_P(StoreContract, ConcurrentDurationAddsLoseNothingAndHalveOncePerCrossing) {
  constexpr int kThreads = 8, kAdds = 50;
  std::vector<OperationStore*> stores{store_.get()};
  std::unique_ptr<OperationStore> replica;
  if (!store_->exclusive()) {
    auto r = open_store(url_);
    ASSERT_TRUE(r.ok()) << r.error().detail;
    replica = std::move(r.value());
    stores.push_back(replica.get());
  }
  auto hammer = [&](auto key_of, std::int64_t halve_at) {
    std::atomic<int> failed{0};
    std::vector<std::thread> threads;
    for (int t = 0; t < kThreads; ++t) {
      threads.emplace_back([&, t] {
        OperationStore& s = *stores[t % stores.size()];
        for (int i = 0; i < kAdds; ++i) {
          auto [key, bucket] = key_of(t);
          if (!s.add_duration(key, bucket, halve_at).ok()) ++failed;
        }
      });
    }
    for (auto& th : threads) th.join();
    EXPECT_EQ(failed.load(), 0);
  };
  // No halving: every thread its own bucket of one key, all 50 there.
  const DurationKey spread{"r", "spread", -1};
  hammer([&](int t) { return std::pair{spread, t}; }, 1'000'000);
  Counts want;
  for (int t = 0; t < kThreads; ++t) want.push_back({spread, t, kAdds});
  auto loaded = store_->load_durations().value();
  EXPECT_TRUE(same(loaded, want)) << show(loaded);
  // Halving at 64, one bucket: 400 adds one after the other leave what
  // this loop computes (a lost count or a second halving would not).
  const DurationKey hot{"r", "hot", 4};
  hammer([&](int) { return std::pair{hot, 9}; }, 64);
  std::int64_t n = 0;
  for (int i = 0; i < kThreads * kAdds; ++i) {
    if (++n >= 64) n /= 2;
  }
  want.insert(want.begin(), {hot, 9, n});
  loaded = store_->load_durations().value();
  EXPECT_TRUE(same(loaded, want)) << show(loaded);
  // Halving at 50 over four buckets (which buckets lose a half-count to
  // integer division depends on the order): the key's sum is below 50, and
  // at least what a halving of 50 leaves, (50 - 4) / 2, plus nothing lost.
  const DurationKey mixed{"r", "mixed", 4};
  hammer([&](int t) { return std::pair{mixed, t % 4}; }, 50);
  std::int64_t sum = 0;
  loaded = store_->load_durations().value();
  for (const auto& c : loaded) {
    if (c.key.analyzer == "mixed") sum += c.count;
  }
  EXPECT_LT(sum, 50);
  EXPECT_GE(sum, 23);
}

// The webhook outbox (docs/design.md, "Completion webhooks").

// An event for `url`, its body bytes that are not all text.
NewDelivery event(const std::string& id, const std::string& url) {
  std::string body = "{\"id\":\"" + id + "\"}";
  body += std::string("\0\xff\n", 3);
  return {id, url, body};
}

// Inserts operation `id` of `tenant` and finishes it at `now` (a cancel:
// no owner) with `events`.
void finish_with(OperationStore& s, const std::string& id, std::vector<NewDelivery> events,
                 Millis now, const std::string& tenant = "default") {
  Operation o;
  o.id = id;
  o.tenant = tenant;
  o.analyzer_id = "pro-demo";
  o.upstream_url = "http://127.0.0.1:1/r/" + id;
  o.created_at = o.updated_at = now - 10;
  o.next_poll_at = now;
  o.callback_url = events.empty() ? "" : events[0].url;
  ASSERT_TRUE(s.insert(o).ok());
  Completion c;
  c.status = Status::kSucceeded;
  c.now = now;
  c.expires_at = now + 1'000'000;
  c.deliveries = std::move(events);
  auto r = s.complete(id, "", c);
  ASSERT_TRUE(r.ok()) << r.error().detail;
  ASSERT_TRUE(r.value());
}

std::vector<std::string> ids_of(const std::vector<Delivery>& ds) {
  std::vector<std::string> out;
  for (const auto& d : ds) out.push_back(d.id);
  return out;
}

DeliveryAttempt attempt(DeliveryStatus status, Millis now, std::int64_t fence) {
  DeliveryAttempt a;
  a.status = status;
  a.now = now;
  a.next_attempt_at = now;
  a.fence = fence;
  a.last_status = status == DeliveryStatus::kDelivered ? 204 : 500;
  a.last_error = status == DeliveryStatus::kDelivered ? "" : "the receiver answered 500";
  return a;
}

// A completion that takes effect writes its events with it, pending and due
// at once, with the operation's tenant and the body byte for byte; one
// that does not (the record is final already, or its claim was fenced off)
// writes none.
TEST_P(StoreContract, ACompletionWritesItsDeliveriesOnlyWhenItTakesEffect) {
  ASSERT_NO_FATAL_FAILURE(finish_with(
      *store_, "op1",
      {event("msg_op1", "https://a.example/hook"), event("msg_op1_2", "https://b.example/hook")},
      5000, "t-1"));
  auto got = store_->get_delivery("msg_op1");
  ASSERT_TRUE(got.ok() && got.value().has_value());
  const Delivery& d = *got.value();
  EXPECT_EQ(d.id, "msg_op1");
  EXPECT_EQ(d.operation_id, "op1");
  EXPECT_EQ(d.tenant, "t-1");
  EXPECT_EQ(d.url, "https://a.example/hook");
  EXPECT_EQ(d.body, event("msg_op1", "").body);
  EXPECT_EQ(d.status, DeliveryStatus::kPending);
  EXPECT_EQ(d.attempts, 0);
  EXPECT_EQ(d.created_at, 5000);
  EXPECT_EQ(d.updated_at, 5000);
  EXPECT_EQ(d.next_attempt_at, 5000);
  EXPECT_TRUE(d.lease_owner.empty());
  EXPECT_FALSE(d.lease_until.has_value());
  EXPECT_EQ(d.fence, 0);
  EXPECT_EQ(d.last_status, 0);
  EXPECT_TRUE(d.last_error.empty());
  ASSERT_TRUE(store_->get_delivery("msg_op1_2").value().has_value());
  EXPECT_EQ(store_->get("op1").value()->status, Status::kSucceeded);

  // Final already: no second event.
  Completion again;
  again.status = Status::kFailed;
  again.now = 6000;
  again.deliveries = {event("msg_op1_again", "https://a.example/hook")};
  EXPECT_FALSE(store_->complete("op1", "", again).value());
  EXPECT_FALSE(store_->get_delivery("msg_op1_again").value().has_value());

  // A claim fenced off by a later one: neither its completion nor its events.
  ASSERT_TRUE(store_->insert(op("op2", 1000, 2000)).ok());
  ASSERT_EQ(store_->claim_due("old", 3000, 4000, 10, {}).value().size(), 1u);
  ASSERT_EQ(store_->claim_due("new", 4000, 9000, 10, {}).value().size(), 1u);
  Completion stale;
  stale.now = 4500;
  stale.fence = 1;
  stale.deliveries = {event("msg_op2", "https://a.example/hook")};
  EXPECT_FALSE(store_->complete("op2", "old", stale).value());
  EXPECT_FALSE(store_->get_delivery("msg_op2").value().has_value());
  stale.fence = 2;
  EXPECT_TRUE(store_->complete("op2", "new", stale).value());
  EXPECT_TRUE(store_->get_delivery("msg_op2").value().has_value());

  // An id that exists already keeps its row (and the completion is done).
  ASSERT_NO_FATAL_FAILURE(
      finish_with(*store_, "op3", {{"msg_op1", "https://c.example/hook", "other"}}, 7000));
  EXPECT_EQ(store_->get_delivery("msg_op1").value()->operation_id, "op1");
  EXPECT_FALSE(store_->get_delivery("nope").value().has_value());
}

// One claim at a time: a leased delivery is not claimed again until its
// lease ends, each claim increments the fence, and an attempt recorded
// with an older fence (or by another owner) writes nothing.
TEST_P(StoreContract, ADeliveryIsClaimedOnceAndFenced) {
  ASSERT_NO_FATAL_FAILURE(finish_with(*store_, "op1", {event("d1", "https://a.example/")}, 5000));
  auto first = store_->claim_deliveries("a", 5000, 6000, 10, {});
  ASSERT_TRUE(first.ok()) << first.error().detail;
  ASSERT_EQ(first.value().size(), 1u);
  EXPECT_EQ(first.value()[0].id, "d1");
  EXPECT_EQ(first.value()[0].body, event("d1", "").body);
  EXPECT_EQ(first.value()[0].lease_owner, "a");
  EXPECT_EQ(first.value()[0].lease_until, 6000);
  EXPECT_EQ(first.value()[0].fence, 1);

  EXPECT_TRUE(store_->claim_deliveries("b", 5500, 7000, 10, {}).value().empty());
  EXPECT_EQ(store_->next_delivery_due(5500).value(), 6000);
  auto second = store_->claim_deliveries("b", 6000, 9000, 10, {}).value();  // a's lease ended
  ASSERT_EQ(second.size(), 1u);
  EXPECT_EQ(second[0].fence, 2);

  EXPECT_FALSE(
      store_->record_delivery("d1", "a", attempt(DeliveryStatus::kDelivered, 6100, 1)).value());
  EXPECT_FALSE(
      store_->record_delivery("d1", "b", attempt(DeliveryStatus::kDelivered, 6100, 1)).value());
  EXPECT_FALSE(
      store_->record_delivery("d1", "a", attempt(DeliveryStatus::kDelivered, 6100, 2)).value());
  EXPECT_TRUE(
      store_->record_delivery("d1", "b", attempt(DeliveryStatus::kDelivered, 6100, 2)).value());
  auto d = store_->get_delivery("d1").value().value();
  EXPECT_EQ(d.status, DeliveryStatus::kDelivered);
  EXPECT_EQ(d.attempts, 1);
  EXPECT_EQ(d.last_status, 204);
  EXPECT_EQ(d.updated_at, 6100);
  EXPECT_TRUE(d.lease_owner.empty());
  EXPECT_FALSE(d.lease_until.has_value());
  // Delivered: never claimed again, nothing due, and recorded once only.
  EXPECT_TRUE(store_->claim_deliveries("c", 99'000, 99'500, 10, {}).value().empty());
  EXPECT_FALSE(store_->next_delivery_due(99'000).value().has_value());
  EXPECT_FALSE(
      store_->record_delivery("d1", "b", attempt(DeliveryStatus::kDelivered, 6200, 2)).value());
}

// A failed attempt to retry later is not claimable until then; claims take
// the earliest due first, up to their limit.
TEST_P(StoreContract, ARetriedDeliveryWaitsForItsNextAttempt) {
  ASSERT_NO_FATAL_FAILURE(finish_with(*store_, "op1", {event("d1", "https://a.example/")}, 5000));
  ASSERT_NO_FATAL_FAILURE(finish_with(*store_, "op2", {event("d2", "https://a.example/")}, 5100));
  ASSERT_NO_FATAL_FAILURE(finish_with(*store_, "op3", {event("d3", "https://b.example/")}, 5200));
  auto first = store_->claim_deliveries("a", 6000, 16'000, 2, {}).value();
  EXPECT_EQ(ids_of(first), (std::vector<std::string>{"d1", "d2"}));
  DeliveryAttempt retry = attempt(DeliveryStatus::kPending, 6000, first[0].fence);
  retry.next_attempt_at = 11'000;
  ASSERT_TRUE(store_->record_delivery("d1", "a", retry).value());
  auto d = store_->get_delivery("d1").value().value();
  EXPECT_EQ(d.status, DeliveryStatus::kPending);
  EXPECT_EQ(d.attempts, 1);
  EXPECT_EQ(d.next_attempt_at, 11'000);
  EXPECT_EQ(d.last_status, 500);
  EXPECT_EQ(d.last_error, "the receiver answered 500");

  EXPECT_EQ(ids_of(store_->claim_deliveries("b", 6000, 7000, 10, {}).value()),
            (std::vector<std::string>{"d3"}));
  EXPECT_EQ(store_->next_delivery_due(7000).value(), 7000);  // d3's lease
  ASSERT_TRUE(
      store_->record_delivery("d3", "b", attempt(DeliveryStatus::kDelivered, 6500, 1)).value());
  EXPECT_EQ(store_->next_delivery_due(7000).value(), 11'000);  // d1 (d2 leased to 16,000)
  EXPECT_TRUE(store_->claim_deliveries("b", 10'999, 20'000, 10, {}).value().empty());
  auto later = store_->claim_deliveries("b", 11'000, 20'000, 10, {}).value();
  ASSERT_EQ(ids_of(later), (std::vector<std::string>{"d1"}));
  EXPECT_EQ(later[0].attempts, 1);
  EXPECT_EQ(later[0].fence, 2);
}

// The urls a claim skips (receivers with as many attempts in flight as
// they may have) keep their deliveries for a later claim.
TEST_P(StoreContract, AClaimLeavesOutTheSkippedUrls) {
  const std::string odd = "https://a.example/h?q=\"x\"&b=\\";
  ASSERT_NO_FATAL_FAILURE(finish_with(*store_, "op1", {event("d1", odd)}, 5000));
  ASSERT_NO_FATAL_FAILURE(finish_with(*store_, "op2", {event("d2", "https://b.example/")}, 5001));
  ASSERT_NO_FATAL_FAILURE(finish_with(*store_, "op3", {event("d3", odd)}, 5002));
  auto some = store_->claim_deliveries("a", 6000, 7000, 10, {odd, "https://c.example/"});
  ASSERT_TRUE(some.ok()) << some.error().detail;
  EXPECT_EQ(ids_of(some.value()), (std::vector<std::string>{"d2"}));
  EXPECT_EQ(ids_of(store_->claim_deliveries("a", 6000, 7000, 10, {"https://b.example/"}).value()),
            (std::vector<std::string>{"d1", "d3"}));
}

// A skipped prefix is a receiver's origin: every url under it is left out,
// and no other (a longer port or host is not under it).
TEST_P(StoreContract, AClaimLeavesOutEveryUrlOfASkippedOrigin) {
  ASSERT_NO_FATAL_FAILURE(finish_with(*store_, "op1", {event("d1", "http://h.example:80/a?t=1")}, 5000));
  ASSERT_NO_FATAL_FAILURE(finish_with(*store_, "op2", {event("d2", "http://h.example:80/b")}, 5001));
  ASSERT_NO_FATAL_FAILURE(finish_with(*store_, "op3", {event("d3", "http://h.example:8080/a")}, 5002));
  ASSERT_NO_FATAL_FAILURE(finish_with(*store_, "op4", {event("d4", "http://h.example.net:80/a")}, 5003));
  auto some = store_->claim_deliveries("a", 6000, 7000, 10, {"http://h.example:80/"});
  ASSERT_TRUE(some.ok()) << some.error().detail;
  EXPECT_EQ(ids_of(some.value()), (std::vector<std::string>{"d3", "d4"}));
}

// A 410 disables its url: every other pending delivery to it fails, and so
// do the events later completions write for it, until an operator
// redelivers one; then that one is pending again, due now, and the url's
// new events are pending too.
TEST_P(StoreContract, AGoneReceiverLeavesTheDeliveriesOthersHoldToThem) {
  const std::string gone = "https://gone.example/hook";
  ASSERT_NO_FATAL_FAILURE(finish_with(*store_, "op1", {event("d1", gone)}, 5000));
  ASSERT_NO_FATAL_FAILURE(finish_with(*store_, "op2", {event("d2", gone)}, 5001));
  ASSERT_EQ(store_->claim_deliveries("a", 6000, 9000, 1, {}).value().size(), 1u);  // d1
  ASSERT_EQ(store_->claim_deliveries("b", 6000, 9000, 1, {}).value().size(), 1u);  // d2
  DeliveryAttempt g = attempt(DeliveryStatus::kFailed, 6100, 1);
  g.last_status = 410;
  g.disable_url = true;
  ASSERT_TRUE(store_->record_delivery("d1", "a", g).value());
  // d2's attempt is under way at b: b records its answer.
  auto d2 = store_->get_delivery("d2").value().value();
  EXPECT_EQ(d2.status, DeliveryStatus::kPending);
  EXPECT_EQ(d2.lease_owner, "b");
  DeliveryAttempt ok = attempt(DeliveryStatus::kDelivered, 6200, 1);
  ok.last_status = 200;
  ASSERT_TRUE(store_->record_delivery("d2", "b", ok).value());
  EXPECT_EQ(store_->get_delivery("d2").value()->status, DeliveryStatus::kDelivered);
}

TEST_P(StoreContract, AGoneReceiverIsDisabledUntilRedelivered) {
  const std::string gone = "https://gone.example/hook";
  ASSERT_NO_FATAL_FAILURE(finish_with(*store_, "op1", {event("d1", gone)}, 5000, "t-1"));
  ASSERT_NO_FATAL_FAILURE(finish_with(*store_, "op2", {event("d2", gone)}, 5001, "t-2"));
  ASSERT_NO_FATAL_FAILURE(
      finish_with(*store_, "op3", {event("d3", gone), event("d4", "https://ok.example/")}, 5002));
  auto claimed = store_->claim_deliveries("a", 6000, 9000, 1, {});
  ASSERT_EQ(ids_of(claimed.value()), (std::vector<std::string>{"d1"}));

  // A stale attempt disables nothing.
  DeliveryAttempt g = attempt(DeliveryStatus::kFailed, 6100, 7);
  g.last_status = 410;
  g.last_error = "the receiver answered 410 Gone";
  g.disable_url = true;
  EXPECT_FALSE(store_->record_delivery("d1", "a", g).value());
  EXPECT_EQ(store_->get_delivery("d2").value()->status, DeliveryStatus::kPending);

  g.fence = 1;
  ASSERT_TRUE(store_->record_delivery("d1", "a", g).value());
  auto d1 = store_->get_delivery("d1").value().value();
  EXPECT_EQ(d1.status, DeliveryStatus::kFailed);
  EXPECT_EQ(d1.last_status, 410);
  EXPECT_EQ(d1.attempts, 1);
  const std::string disabled = "endpoint disabled: the receiver answered 410 Gone";
  for (const char* id : {"d2", "d3"}) {
    auto d = store_->get_delivery(id).value().value();
    EXPECT_EQ(d.status, DeliveryStatus::kFailed) << id;
    EXPECT_EQ(d.last_error, disabled) << id;
    EXPECT_EQ(d.attempts, 0) << id;
    EXPECT_EQ(d.updated_at, 6100) << id;
  }
  EXPECT_EQ(store_->get_delivery("d4").value()->status, DeliveryStatus::kPending);
  EXPECT_EQ(ids_of(store_->claim_deliveries("b", 6200, 9000, 10, {}).value()),
            (std::vector<std::string>{"d4"}));

  ASSERT_NO_FATAL_FAILURE(finish_with(*store_, "op5", {event("d5", gone)}, 7000));
  auto d5 = store_->get_delivery("d5").value().value();
  EXPECT_EQ(d5.status, DeliveryStatus::kFailed);
  EXPECT_EQ(d5.last_error, disabled);
  EXPECT_EQ(d5.created_at, 7000);
  EXPECT_TRUE(store_->claim_deliveries("b", 7000, 9000, 10, {}).value().empty());

  // Redelivery: only a failed one, and it enables the url again.
  EXPECT_FALSE(store_->redeliver("d4", 8000).value());  // pending
  EXPECT_FALSE(store_->redeliver("nope", 8000).value());
  ASSERT_TRUE(store_->redeliver("d2", 8000).value());
  auto d2 = store_->get_delivery("d2").value().value();
  EXPECT_EQ(d2.status, DeliveryStatus::kPending);
  EXPECT_EQ(d2.next_attempt_at, 8000);
  EXPECT_EQ(d2.attempts, 0);
  EXPECT_EQ(d2.last_error, disabled);  // kept: why it had failed
  EXPECT_FALSE(store_->redeliver("d2", 8000).value());
  EXPECT_EQ(store_->get_delivery("d3").value()->status, DeliveryStatus::kFailed);
  ASSERT_NO_FATAL_FAILURE(finish_with(*store_, "op6", {event("d6", gone)}, 8100));
  auto d6 = store_->get_delivery("d6").value().value();
  EXPECT_EQ(d6.status, DeliveryStatus::kPending);
  EXPECT_TRUE(d6.last_error.empty());
  EXPECT_EQ(ids_of(store_->claim_deliveries("c", 8100, 9500, 10, {}).value()),
            (std::vector<std::string>{"d2", "d6"}));
}

// The outbox's list: newest first (created_at, then id), without bodies,
// by tenant and status when asked, paged strictly after the cursor.
TEST_P(StoreContract, DeliveriesListNewestFirstByTenantAndStatus) {
  ASSERT_NO_FATAL_FAILURE(
      finish_with(*store_, "op1", {event("d1", "https://a.example/")}, 5000, "t-1"));
  ASSERT_NO_FATAL_FAILURE(finish_with(
      *store_, "op2", {event("d2a", "https://a.example/"), event("d2b", "https://b.example/")},
      5001, "t-2"));
  ASSERT_NO_FATAL_FAILURE(
      finish_with(*store_, "op3", {event("d3", "https://a.example/")}, 5002, "t-1"));
  auto claimed = store_->claim_deliveries("a", 6000, 9000, 10, {}).value();
  ASSERT_EQ(claimed.size(), 4u);
  for (const auto& d : claimed) {
    if (d.id == "d1" || d.id == "d2b") {
      ASSERT_TRUE(
          store_->record_delivery(d.id, "a", attempt(DeliveryStatus::kFailed, 6000, d.fence))
              .value());
    }
  }

  auto all = store_->list_deliveries({});
  ASSERT_TRUE(all.ok()) << all.error().detail;
  EXPECT_EQ(ids_of(all.value()), (std::vector<std::string>{"d3", "d2b", "d2a", "d1"}));
  for (const auto& d : all.value()) EXPECT_TRUE(d.body.empty()) << d.id;
  EXPECT_EQ(all.value()[1].status, DeliveryStatus::kFailed);
  EXPECT_EQ(all.value()[1].tenant, "t-2");
  EXPECT_EQ(all.value()[1].last_error, "the receiver answered 500");

  DeliveryQuery q;
  q.tenant = "t-1";
  EXPECT_EQ(ids_of(store_->list_deliveries(q).value()), (std::vector<std::string>{"d3", "d1"}));
  q.status = DeliveryStatus::kFailed;
  EXPECT_EQ(ids_of(store_->list_deliveries(q).value()), (std::vector<std::string>{"d1"}));
  q.tenant.clear();
  EXPECT_EQ(ids_of(store_->list_deliveries(q).value()), (std::vector<std::string>{"d2b", "d1"}));
  q.status = DeliveryStatus::kDelivered;
  EXPECT_TRUE(store_->list_deliveries(q).value().empty());

  DeliveryQuery page;
  page.limit = 2;
  auto p1 = store_->list_deliveries(page).value();
  ASSERT_EQ(ids_of(p1), (std::vector<std::string>{"d3", "d2b"}));
  page.after_created = p1.back().created_at;
  page.after_id = p1.back().id;
  EXPECT_EQ(ids_of(store_->list_deliveries(page).value()), (std::vector<std::string>{"d2a", "d1"}));
  page.status = DeliveryStatus::kPending;
  EXPECT_EQ(ids_of(store_->list_deliveries(page).value()), (std::vector<std::string>{"d2a"}));
}

// The sweep deletes final deliveries last written before its time, at most
// `limit`, and never a pending one.
TEST_P(StoreContract, DeleteDeliveriesTakesOnlyOldFinalOnes) {
  ASSERT_NO_FATAL_FAILURE(
      finish_with(*store_, "op1",
                  {event("d1", "https://a.example/"), event("d2", "https://a.example/"),
                   event("d3", "https://a.example/"), event("d4", "https://a.example/")},
                  5000));
  auto claimed = store_->claim_deliveries("a", 5000, 9000, 10, {}).value();
  ASSERT_EQ(claimed.size(), 4u);
  Millis at = 6000;
  for (const auto& d : claimed) {
    if (d.id == "d4") continue;  // stays pending
    auto status = d.id == "d2" ? DeliveryStatus::kFailed : DeliveryStatus::kDelivered;
    ASSERT_TRUE(store_->record_delivery(d.id, "a", attempt(status, at, d.fence)).value());
    at += 1000;  // d1 at 6000, d2 at 7000, d3 at 8000
  }
  EXPECT_EQ(store_->delete_deliveries(6000, 10).value(), 0);  // strictly before
  EXPECT_EQ(store_->delete_deliveries(8000, 1).value(), 1);
  EXPECT_EQ(store_->delete_deliveries(8000, 10).value(), 1);
  EXPECT_FALSE(store_->get_delivery("d1").value().has_value());
  EXPECT_FALSE(store_->get_delivery("d2").value().has_value());
  EXPECT_TRUE(store_->get_delivery("d3").value().has_value());
  EXPECT_EQ(store_->delete_deliveries(1'000'000, 10).value(), 1);
  EXPECT_TRUE(store_->get_delivery("d4").value().has_value());
  EXPECT_EQ(store_->get_delivery("d4").value()->status, DeliveryStatus::kPending);
}

// Usage (docs/design.md, "Usage and quotas"): a Succeeded completion that
// takes effect adds its usage to its tenant's and analyzer's day, once; a
// completion that does not take effect (final already, a stale fence) adds
// nothing, nor do failures and cancels (which carry none).
TEST_P(StoreContract, ASucceededCompletionCountsItsUsageOnce) {
  constexpr Millis kDay = 86'400'000;
  const Millis t = 20'000 * kDay + 5000;  // day 20000
  auto make = [&](const std::string& id, const std::string& tenant, const std::string& analyzer) {
    Operation o = op(id);
    o.tenant = tenant;
    o.analyzer_id = analyzer;
    ASSERT_TRUE(store_->insert(o).ok());
  };
  auto succeed = [&](const std::string& id, std::int64_t pages, Millis now,
                     std::string_view owner = "", std::int64_t fence = 0) {
    Completion c;
    c.status = Status::kSucceeded;
    c.result = "{}";
    c.now = now;
    c.expires_at = now + 1000;
    c.fence = fence;
    c.usage = Usage{pages, 10 * pages, 100, 2};
    return store_->complete(id, owner, c).value();
  };
  ASSERT_NO_FATAL_FAILURE(make("u1", "acme", "prebuilt-read"));
  ASSERT_NO_FATAL_FAILURE(make("u2", "acme", "prebuilt-layout"));
  ASSERT_NO_FATAL_FAILURE(make("u3", "zeta", "prebuilt-read"));
  ASSERT_NO_FATAL_FAILURE(make("u4", "acme", "prebuilt-read"));
  ASSERT_NO_FATAL_FAILURE(make("u5", "acme", "prebuilt-read"));
  EXPECT_TRUE(succeed("u1", 3, t));
  EXPECT_TRUE(succeed("u2", 5, t));
  EXPECT_TRUE(succeed("u3", 7, t));
  EXPECT_TRUE(succeed("u4", 1, t + kDay));  // the next day
  // Final already: counts nothing.
  EXPECT_FALSE(succeed("u1", 3, t));
  // A stale fence: neither the completion nor its usage; the live one counts.
  ASSERT_EQ(store_->claim_due("old", 3000, 4000, 10, {}).value().size(), 1u);  // u5
  ASSERT_EQ(store_->claim_due("new", 4000, 9000, 10, {}).value().size(), 1u);
  EXPECT_FALSE(succeed("u5", 50, t, "old", 1));
  // Failed and canceled: no usage.
  ASSERT_NO_FATAL_FAILURE(make("f1", "acme", "prebuilt-read"));
  Completion failed;
  failed.status = Status::kFailed;
  failed.now = t;
  EXPECT_TRUE(store_->complete("f1", "", failed).value());

  using Rows = std::vector<UsageRow>;
  auto rows = [&](std::int64_t from, std::int64_t to, std::string_view tenant, UsageGroup g) {
    auto r = store_->usage_between(from, to, tenant, g);
    EXPECT_TRUE(r.ok()) << r.error().detail;
    return r.ok() ? r.value() : Rows{};
  };
  EXPECT_EQ(utc_day(t), 20000);
  auto by_tenant = rows(20000, 20001, "", UsageGroup::kTenant);
  ASSERT_EQ(by_tenant.size(), 2u);
  EXPECT_EQ(by_tenant[0].key, "acme");
  EXPECT_EQ(by_tenant[0].operations, 2);
  EXPECT_EQ(by_tenant[0].pages, 8);
  EXPECT_EQ(by_tenant[0].tokens, 80);
  EXPECT_EQ(by_tenant[0].bytes_in, 200);
  EXPECT_EQ(by_tenant[0].bytes_out, 4);
  EXPECT_EQ(by_tenant[1].key, "zeta");
  EXPECT_EQ(by_tenant[1].operations, 1);
  EXPECT_EQ(by_tenant[1].pages, 7);
  auto two_days = rows(20000, 20002, "acme", UsageGroup::kAnalyzer);
  ASSERT_EQ(two_days.size(), 2u);
  EXPECT_EQ(two_days[0].key, "prebuilt-layout");
  EXPECT_EQ(two_days[0].operations, 1);
  EXPECT_EQ(two_days[0].pages, 5);
  EXPECT_EQ(two_days[1].key, "prebuilt-read");
  EXPECT_EQ(two_days[1].operations, 2);  // u1 on day 20000, u4 on day 20001
  EXPECT_EQ(two_days[1].pages, 4);
  auto every = rows(20000, 20002, "", UsageGroup::kAnalyzer);
  ASSERT_EQ(every.size(), 2u);
  EXPECT_EQ(every[1].operations, 3);
  EXPECT_TRUE(rows(19000, 20000, "", UsageGroup::kTenant).empty());
  EXPECT_TRUE(rows(20000, 20001, "nobody", UsageGroup::kTenant).empty());

  // The live claim's completion counts, once.
  EXPECT_TRUE(succeed("u5", 50, t, "new", 2));
  auto today = store_->usage_on("acme", 20000);
  ASSERT_TRUE(today.ok()) << today.error().detail;
  EXPECT_EQ(today->operations, 3);
  EXPECT_EQ(today->pages, 58);
  EXPECT_EQ(today->in_flight, 0);
  ASSERT_NO_FATAL_FAILURE(make("open1", "acme", "prebuilt-read"));
  ASSERT_NO_FATAL_FAILURE(make("open2", "zeta", "prebuilt-read"));
  today = store_->usage_on("acme", 20000);
  EXPECT_EQ(today->in_flight, 1);
  auto none = store_->usage_on("nobody", 20000);
  ASSERT_TRUE(none.ok());
  EXPECT_EQ(none->operations, 0);
  EXPECT_EQ(none->pages, 0);
  EXPECT_EQ(none->in_flight, 0);
}

// Usage and events together, in the one transaction (or statement).
TEST_P(StoreContract, ACompletionWithUsageAndEventsWritesBothOrNeither) {
  ASSERT_TRUE(store_->insert(op("both")).ok());
  Completion c;
  c.status = Status::kSucceeded;
  c.result = "{}";
  c.now = 86'400'000;
  c.deliveries = {event("msg_both", "https://a.example/hook")};
  c.usage = Usage{2, 0, 1, 1};
  EXPECT_TRUE(store_->complete("both", "", c).value());
  EXPECT_TRUE(store_->get_delivery("msg_both").value().has_value());
  EXPECT_EQ(store_->usage_on("default", 1).value().operations, 1);
  c.deliveries = {event("msg_both_2", "https://a.example/hook")};
  EXPECT_FALSE(store_->complete("both", "", c).value());
  EXPECT_FALSE(store_->get_delivery("msg_both_2").value().has_value());
  EXPECT_EQ(store_->usage_on("default", 1).value().operations, 1);
  EXPECT_EQ(store_->usage_on("default", 1).value().pages, 2);
}

TEST(StoreUsage, DaysAreUtcDaysSinceTheEpoch) {
  EXPECT_EQ(utc_day(0), 0);
  EXPECT_EQ(utc_day(86'399'999), 0);
  EXPECT_EQ(utc_day(86'400'000), 1);
  EXPECT_EQ(utc_day(-1), -1);
}

TEST(StoreStatus, DeliveryNamesRoundTrip) {
  for (DeliveryStatus s :
       {DeliveryStatus::kPending, DeliveryStatus::kDelivered, DeliveryStatus::kFailed}) {
    EXPECT_EQ(parse_delivery_status(delivery_status_name(s)), s);
  }
  EXPECT_EQ(parse_delivery_status("FAILED"), DeliveryStatus::kFailed);
  EXPECT_FALSE(parse_delivery_status("lost").has_value());
}

INSTANTIATE_TEST_SUITE_P(Backends, StoreContract, ::testing::ValuesIn(kBackends),
                         [](const auto& info) { return std::string(info.param.name); });

// The WAL's pages reach the database file (the background checkpointer: the
// writer's automatic one is off), and the WAL does not grow without bound.
TEST(SqliteStore, WalIsCheckpointedInTheBackground) {
  std::string url = temp_sqlite();
  auto s = open_store(url);
  ASSERT_TRUE(s.ok());
  Operation o;
  o.analyzer_id = "pro-demo";
  o.upstream_url = "http://127.0.0.1:1/x";
  o.result = std::string(2000, 'r');
  for (int i = 0; i < 2000; ++i) {
    o.id = "w" + std::to_string(i);
    ASSERT_TRUE(s.value()->insert(o).ok());
  }
  std::string path = url.substr(7);
  std::uintmax_t size = 0;
  for (int i = 0; i < 50 && size < 1'000'000; ++i) {
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
    size = std::filesystem::file_size(path);
  }
  EXPECT_GE(size, 1'000'000u) << "the database file did not grow: nothing was checkpointed";
  for (int i = 2000; i < 8000; ++i) {
    o.id = "w" + std::to_string(i);
    ASSERT_TRUE(s.value()->insert(o).ok());
  }
  // 8,000 rows of 2 KB wrote over 100 MB of WAL frames; past 32 MB the
  // checkpointer makes the WAL start over, so later writes reuse its start
  // instead of growing it: 8,000 more rows, written slower than the
  // checkpointer's rounds, leave it no larger than it was.
  std::this_thread::sleep_for(std::chrono::milliseconds(500));
  std::uintmax_t wal = std::filesystem::file_size(path + "-wal");
  for (int i = 8000; i < 16000; ++i) {
    o.id = "w" + std::to_string(i);
    ASSERT_TRUE(s.value()->insert(o).ok());
    if (i % 500 == 0) std::this_thread::sleep_for(std::chrono::milliseconds(250));
  }
  EXPECT_LE(std::filesystem::file_size(path + "-wal"), wal);
}

TEST(SqliteStore, SecondProcessOnOneFileIsRefusedClearly) {
  std::string url = temp_sqlite();
  auto a = open_store(url);
  ASSERT_TRUE(a.ok());
  // flock is per open file description: a second open in this process
  // stands in for a second process.
  auto b = open_store(url);
  ASSERT_FALSE(b.ok());
  EXPECT_NE(b.error().message.find("in use"), std::string::npos);
}

// The upgrade tests' records: two Running, three Succeeded, at the current
// schema (on a resource and a size band of their own, which the older
// schema has no column for); the test then takes the newer schema's
// objects away and adds one Failed record "old" as the older build would
// have.
void fill_for_upgrade(const std::string& url) {
  auto s = open_store(url);
  ASSERT_TRUE(s.ok());
  Operation o;
  o.analyzer_id = "pro-demo";
  o.upstream_url = "http://127.0.0.1:1/x";
  for (int i = 0; i < 5; ++i) {
    o.id = "u" + std::to_string(i);
    o.created_at = i;
    o.status = i < 2 ? Status::kRunning : Status::kSucceeded;
    o.resource = "pool-" + std::to_string(i);
    o.size_band = i;
    ASSERT_TRUE(s.value()->insert(o).ok());
  }
  ASSERT_TRUE(s.value()->add_duration({"pool-0", "pro-demo", 1}, 3, 100).ok());
}

// After the migration that adds them, the records stored before read as of
// no known size band, and durations are kept from scratch.
void expect_bands_and_durations(OperationStore& s, const std::vector<std::string>& ids) {
  for (const auto& id : ids) {
    auto got = s.get(id);
    ASSERT_TRUE(got.ok() && got.value().has_value()) << id;
    EXPECT_EQ(got.value()->size_band, -1) << id;
    EXPECT_TRUE(got.value()->callback_url.empty()) << id;
    EXPECT_TRUE(got.value()->reuse_key.empty()) << id;
  }
  auto outbox = s.list_deliveries({});
  ASSERT_TRUE(outbox.ok()) << outbox.error().detail;
  EXPECT_TRUE(outbox.value().empty());
  auto before = s.load_durations();
  ASSERT_TRUE(before.ok()) << before.error().detail;
  EXPECT_TRUE(before.value().empty());
  ASSERT_TRUE(s.add_duration({"default", "a", -1}, 2, 100).ok());
  auto after = s.load_durations().value();
  ASSERT_EQ(after.size(), 1u);
  EXPECT_EQ(after[0].key.resource, "default");
  EXPECT_EQ(after[0].bucket, 2);
  EXPECT_EQ(after[0].count, 1);
}

// Reopened (migrated again), the older store's records are counted, listed
// by status, read as bound to the resource "default" (the one resource
// before pools), and a delete is taken off the counts.
void expect_upgraded(const std::string& url) {
  auto s = open_store(url);
  ASSERT_TRUE(s.ok()) << s.error().detail;
  for (const char* id : {"old", "u0", "u4"}) {
    auto got = s.value()->get(id);
    ASSERT_TRUE(got.ok() && got.value().has_value()) << id;
    EXPECT_EQ(got.value()->resource, "default") << id;
  }
  EXPECT_EQ(s.value()->count_open_by_resource().value(),
            (std::vector<std::pair<std::string, std::int64_t>>{{"default", 2}}));
  using Counts = std::vector<std::pair<std::string, int>>;
  EXPECT_EQ(s.value()->count_by_status().value(),
            (Counts{{"Failed", 1}, {"Running", 2}, {"Succeeded", 3}}));
  ListQuery q;
  q.status = Status::kRunning;
  auto running = s.value()->list(q).value();
  ASSERT_EQ(running.size(), 2u);
  EXPECT_EQ(running[0].id, "u1");
  ASSERT_NO_FATAL_FAILURE(expect_bands_and_durations(*s.value(), {"old", "u0", "u4"}));
  ASSERT_TRUE(s.value()->remove("old").value());
  EXPECT_EQ(s.value()->count_active().value(), 2);
  EXPECT_EQ(s.value()->count_by_status().value(), (Counts{{"Running", 2}, {"Succeeded", 3}}));
}

// The newest schema's objects on SQLite (v7: size bands, durations; v8: the
// claim index; v9: callback urls and the webhook outbox; v10: request sizes
// and usage; v11: reuse keys), taken back to v6's.
constexpr const char* kSqliteDropV7 =
    "DROP INDEX operations_reuse; ALTER TABLE operations DROP COLUMN reuse_key;"
    " DROP TABLE usage_daily; ALTER TABLE operations DROP COLUMN request_bytes;"
    " DROP TABLE deliveries; DROP TABLE disabled_urls;"
    " ALTER TABLE operations DROP COLUMN callback_url;"
    " DROP INDEX operations_claimable;"
    " CREATE INDEX operations_due ON operations(next_poll_at)"
    " WHERE status IN ('NotStarted', 'Running');"
    " DROP TABLE duration_totals; DROP TABLE duration_buckets;"
    " ALTER TABLE operations DROP COLUMN size_band;";

// A store written by the build before the kept counts (SQLite schema v4)
// upgrades in place: its records are counted and listed by status, and get
// their resource and size band. The older schema is made by taking v5's,
// v6's and v7's objects away again.
TEST(SqliteStore, StoreOfSchemaFourUpgradesInPlace) {
  std::string url = temp_sqlite();
  ASSERT_NO_FATAL_FAILURE(fill_for_upgrade(url));
  sqlite3* db = nullptr;
  ASSERT_EQ(sqlite3_open(url.substr(7).c_str(), &db), SQLITE_OK);
  ASSERT_EQ(sqlite3_exec(db, kSqliteDropV7, nullptr, nullptr, nullptr), SQLITE_OK)
      << sqlite3_errmsg(db);
  ASSERT_EQ(sqlite3_exec(db,
                         "DROP TRIGGER operations_counted_insert;"
                         " DROP TRIGGER operations_counted_status;"
                         " DROP TABLE operation_counts; DROP INDEX operations_listing_status;"
                         " DROP INDEX operations_open_resource;"
                         " ALTER TABLE operations DROP COLUMN resource;"
                         " PRAGMA user_version = 4;"
                         " INSERT INTO operations (id, tenant, analyzer_id, upstream_url, status,"
                         " created_at, updated_at) VALUES ('old', 'default', 'a', 'u', 'Failed',"
                         " 9, 9)",
                         nullptr, nullptr, nullptr),
            SQLITE_OK)
      << sqlite3_errmsg(db);
  sqlite3_close(db);
  ASSERT_NO_FATAL_FAILURE(expect_upgraded(url));
}

// The newest schema's objects on PostgreSQL (v6: size bands, durations; v7:
// the claim index; v8: callback urls and the webhook outbox; v9: request
// sizes and usage; v10: reuse keys), taken back to v5's.
constexpr const char* kPostgresDropV6 =
    "SET client_min_messages = warning;"
    " DROP INDEX operations_reuse; ALTER TABLE operations DROP COLUMN reuse_key;"
    " DROP TABLE usage_daily; ALTER TABLE operations DROP COLUMN request_bytes;"
    " DROP TABLE deliveries; DROP TABLE disabled_urls;"
    " ALTER TABLE operations DROP COLUMN callback_url;"
    " DROP INDEX operations_claimable_at;"
    " CREATE INDEX operations_due_at ON operations ((CASE WHEN status IN ('NotStarted',"
    " 'Running') THEN next_poll_at END)) WHERE status IN ('NotStarted', 'Running');"
    " DROP FUNCTION lrogate_add_duration(text, text, integer, integer, bigint);"
    " DROP TABLE duration_totals; DROP TABLE duration_buckets;"
    " ALTER TABLE operations DROP COLUMN size_band;";

// Runs `sql` on the database at `url`; false (and the error, as a test
// failure) when it fails.
bool run_sql(const std::string& url, const char* sql) {
  PGconn* c = PQconnectdb(url.c_str());
  PGresult* r = PQexec(c, sql);
  bool ok = PQresultStatus(r) == PGRES_COMMAND_OK;
  EXPECT_TRUE(ok) << PQerrorMessage(c);
  PQclear(r);
  PQfinish(c);
  return ok;
}

// The same on PostgreSQL (schema v2, before the kept counts, the resource,
// the shared budget and the durations).
TEST(PostgresStore, StoreOfSchemaTwoUpgradesInPlace) {
  std::string url = temp_postgres();
  if (url.empty()) GTEST_SKIP() << "no PostgreSQL: set LROGATE_TEST_POSTGRES_URL";
  ASSERT_NO_FATAL_FAILURE(fill_for_upgrade(url));
  ASSERT_TRUE(run_sql(url, kPostgresDropV6));
  PGconn* c = PQconnectdb(url.c_str());
  PGresult* r = PQexec(c,
                       "SET client_min_messages = warning;"
                       " DROP TRIGGER operations_counted_insert ON operations;"
                       " DROP TRIGGER operations_counted_delete ON operations;"
                       " DROP TRIGGER operations_counted_status ON operations;"
                       " DROP FUNCTION lrogate_count_inserted(); DROP FUNCTION lrogate_count_deleted();"
                       " DROP FUNCTION lrogate_count_status();"
                       " DROP TABLE operation_counts; DROP TABLE operation_count_changes;"
                       " DROP INDEX operations_listing_status; DROP INDEX operations_due_at;"
                       " CREATE INDEX operations_due ON operations(next_poll_at)"
                       " WHERE status IN ('NotStarted', 'Running');"
                       " ALTER TABLE operations DROP COLUMN resource; DROP TABLE budget_slots;"
                       " UPDATE lrogate_schema SET version = 2;"
                       " INSERT INTO operations (id, tenant, analyzer_id, upstream_url, status,"
                       " created_at, updated_at) VALUES ('old', 'default', 'a', 'u', 'Failed', 9, 9)");
  ASSERT_EQ(PQresultStatus(r), PGRES_COMMAND_OK) << PQerrorMessage(c);
  PQclear(r);
  PQfinish(c);
  ASSERT_NO_FATAL_FAILURE(expect_upgraded(url));
}

// From the schema just before the durations (SQLite v6, PostgreSQL v5):
// the records, their resources and the kept counts stay; the records read
// as of no size band, and durations start empty and are kept.
void fill_before_durations(const std::string& url) {
  ASSERT_NO_FATAL_FAILURE(fill_for_upgrade(url));
}
void expect_upgraded_from_before_durations(const std::string& url) {
  auto s = open_store(url);
  ASSERT_TRUE(s.ok()) << s.error().detail;
  EXPECT_EQ(s.value()->get("u3").value()->resource, "pool-3");
  EXPECT_EQ(s.value()->count_open_by_resource().value(),
            (std::vector<std::pair<std::string, std::int64_t>>{{"pool-0", 1}, {"pool-1", 1}}));
  ASSERT_NO_FATAL_FAILURE(expect_bands_and_durations(*s.value(), {"u0", "u1", "u4"}));
}

TEST(SqliteStore, StoreOfSchemaSixUpgradesInPlace) {
  std::string url = temp_sqlite();
  ASSERT_NO_FATAL_FAILURE(fill_before_durations(url));
  sqlite3* db = nullptr;
  ASSERT_EQ(sqlite3_open(url.substr(7).c_str(), &db), SQLITE_OK);
  ASSERT_EQ(sqlite3_exec(db, (std::string(kSqliteDropV7) + " PRAGMA user_version = 6;").c_str(),
                         nullptr, nullptr, nullptr),
            SQLITE_OK)
      << sqlite3_errmsg(db);
  sqlite3_close(db);
  ASSERT_NO_FATAL_FAILURE(expect_upgraded_from_before_durations(url));
}

TEST(PostgresStore, StoreOfSchemaFiveUpgradesInPlace) {
  std::string url = temp_postgres();
  if (url.empty()) GTEST_SKIP() << "no PostgreSQL: set LROGATE_TEST_POSTGRES_URL";
  ASSERT_NO_FATAL_FAILURE(fill_before_durations(url));
  ASSERT_TRUE(run_sql(
      url, (std::string(kPostgresDropV6) + " UPDATE lrogate_schema SET version = 5;").c_str()));
  ASSERT_NO_FATAL_FAILURE(expect_upgraded_from_before_durations(url));
}

// The shared column list (store/columns.h) names exactly the columns each
// backend's migrations make: a column added to one but not the other, or
// to the schema but not the list, fails here.
std::vector<std::string> listed_columns() {
  std::vector<std::string> out;
  columns::for_each([&](int, const auto& c) { out.emplace_back(c.name); });
  std::sort(out.begin(), out.end());
  return out;
}

TEST(Columns, SqliteSchemaHasExactlyTheListedColumns) {
  std::string url = temp_sqlite();
  ASSERT_TRUE(open_store(url).ok());
  sqlite3* db = nullptr;
  ASSERT_EQ(sqlite3_open(url.substr(7).c_str(), &db), SQLITE_OK);
  sqlite3_stmt* s = nullptr;
  ASSERT_EQ(
      sqlite3_prepare_v2(db, "SELECT name FROM pragma_table_info('operations')", -1, &s, nullptr),
      SQLITE_OK);
  std::vector<std::string> schema;
  while (sqlite3_step(s) == SQLITE_ROW)
    schema.emplace_back(reinterpret_cast<const char*>(sqlite3_column_text(s, 0)));
  sqlite3_finalize(s);
  sqlite3_close(db);
  std::sort(schema.begin(), schema.end());
  EXPECT_EQ(schema, listed_columns());
}

TEST(Columns, PostgresSchemaHasExactlyTheListedColumns) {
  std::string url = temp_postgres();
  if (url.empty()) GTEST_SKIP() << "no PostgreSQL: set LROGATE_TEST_POSTGRES_URL";
  ASSERT_TRUE(open_store(url).ok());
  PGconn* c = PQconnectdb(url.c_str());
  PGresult* r = PQexec(c,
                       "SELECT column_name FROM information_schema.columns"
                       " WHERE table_schema = current_schema() AND table_name = 'operations'");
  ASSERT_EQ(PQresultStatus(r), PGRES_TUPLES_OK) << PQerrorMessage(c);
  std::vector<std::string> schema;
  for (int i = 0; i < PQntuples(r); ++i) schema.emplace_back(PQgetvalue(r, i, 0));
  PQclear(r);
  PQfinish(c);
  std::sort(schema.begin(), schema.end());
  EXPECT_EQ(schema, listed_columns());
}

TEST(StoreFactory, UnknownUrlIsAClearError) {
  auto s = open_store("mysql://x");
  ASSERT_FALSE(s.ok());
  EXPECT_NE(s.error().message.find("sqlite:PATH"), std::string::npos);
}

TEST(StoreStatus, NamesRoundTripCaseInsensitively) {
  EXPECT_EQ(parse_status("succeeded"), Status::kSucceeded);
  EXPECT_EQ(parse_status("RUNNING"), Status::kRunning);
  EXPECT_EQ(parse_status("Cancelled"), Status::kCanceled);
  EXPECT_FALSE(parse_status("Pondering").has_value());
}

}  // namespace
}  // namespace lrogate::store
