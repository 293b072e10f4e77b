#include "core/operation_service.h"

#include <gtest/gtest.h>
#include <unistd.h>

#include <algorithm>
#include <filesystem>

#include "base/sha256.h"

namespace lrogate::core {
namespace {

using std::chrono::milliseconds;

class ServiceTest : public ::testing::Test {
 protected:
  void SetUp() override {
    static int n = 0;
    auto path = std::filesystem::temp_directory_path() /
                ("lrogate-core-" + std::to_string(::getpid()) + "-" + std::to_string(n++) + ".db");
    std::filesystem::remove(path);
    store_ = std::move(store::open_store("sqlite:" + path.string()).value());
  }
  OperationService make(milliseconds grace) {
    ServiceConfig c;
    c.retrieval_grace = grace;
    c.result_ttl = milliseconds(3'600'000);
    c.first_poll_delay = milliseconds(1000);
    return OperationService(*store_, clock_, c);
  }
  Operation finished(OperationService& s, const std::string& id) {
    EXPECT_TRUE(s.record_submitted({id, "default", "pro-demo", "http://u/" + id, ""}).ok());
    clock_.advance(1000);
    auto claimed = s.claim_due("me", milliseconds(60'000), 10);
    EXPECT_EQ(claimed.value().size(), 1u);
    EXPECT_TRUE(
        s.finish(claimed.value()[0], "me", Status::kSucceeded, "{}", "application/json", "", "")
            .value());
    return *s.find(id).value();
  }
  ManualClock clock_;
  std::unique_ptr<store::OperationStore> store_;
};

TEST(StateMachine, TerminalStatesAreFinal) {
  EXPECT_TRUE(can_transition(Status::kNotStarted, Status::kRunning));
  EXPECT_TRUE(can_transition(Status::kRunning, Status::kSucceeded));
  EXPECT_TRUE(can_transition(Status::kNotStarted, Status::kFailed));
  EXPECT_TRUE(can_transition(Status::kRunning, Status::kRunning));
  EXPECT_FALSE(can_transition(Status::kRunning, Status::kNotStarted));
  for (Status t : {Status::kSucceeded, Status::kFailed, Status::kCanceled}) {
    for (Status to : {Status::kNotStarted, Status::kRunning, Status::kSucceeded, Status::kFailed,
                      Status::kCanceled}) {
      EXPECT_FALSE(can_transition(t, to));
    }
  }
}

TEST_F(ServiceTest, SubmittedOperationIsDueAfterTheFirstPollDelay) {
  auto s = make(milliseconds(300'000));
  auto op = s.record_submitted({"x1", "default", "pro-demo", "http://u/x1", ""});
  ASSERT_TRUE(op.ok());
  EXPECT_EQ(op->status, Status::kNotStarted);
  EXPECT_TRUE(s.claim_due("me", milliseconds(60'000), 10).value().empty());
  clock_.advance(1000);
  EXPECT_EQ(s.claim_due("me", milliseconds(60'000), 10).value().size(), 1u);
}

TEST_F(ServiceTest, RetrievalGraceKeepsTheResultThenItReadsAsGone) {
  auto s = make(milliseconds(5000));
  Operation op = finished(s, "g1");
  ASSERT_TRUE(s.note_retrieved(op).ok());
  clock_.advance(4999);
  EXPECT_TRUE(s.find("g1").value().has_value());  // a lost response can be asked again
  // A second retrieval does not extend the grace.
  ASSERT_TRUE(s.note_retrieved(*s.find("g1").value()).ok());
  clock_.advance(1);
  EXPECT_FALSE(s.find("g1").value().has_value());
  EXPECT_EQ(s.sweep(100).value(), 1);
}

TEST_F(ServiceTest, ZeroGraceDeletesOnFirstRetrieval) {
  auto s = make(milliseconds(0));
  Operation op = finished(s, "d1");
  ASSERT_TRUE(s.note_retrieved(op).ok());
  EXPECT_FALSE(s.find("d1").value().has_value());
}

TEST_F(ServiceTest, UnretrievedResultsExpireAtTheTtl) {
  auto s = make(milliseconds(300'000));
  finished(s, "t1");
  clock_.advance(3'600'000 - 1);
  EXPECT_TRUE(s.find("t1").value().has_value());
  clock_.advance(1);
  EXPECT_FALSE(s.find("t1").value().has_value());
}

// The record keeps the resource that accepted the submit, and hands it to
// the poller's claim; a submit that names none is refused and not stored.
TEST_F(ServiceTest, SubmittedOperationIsBoundToItsResource) {
  auto s = make(milliseconds(300'000));
  NewOperation n{"p1", "default", "pro-demo", "http://u/p1", ""};
  n.resource = "swedencentral";
  auto op = s.record_submitted(n);
  ASSERT_TRUE(op.ok());
  EXPECT_EQ(op->resource, "swedencentral");
  EXPECT_EQ(s.find("p1").value()->resource, "swedencentral");
  clock_.advance(1000);
  auto claimed = s.claim_due("me", milliseconds(60'000), 10).value();
  ASSERT_EQ(claimed.size(), 1u);
  EXPECT_EQ(claimed[0].resource, "swedencentral");
  NewOperation nameless{"p2", "default", "pro-demo", "http://u/p2", ""};
  nameless.resource.clear();
  auto refused = s.record_submitted(nameless);
  ASSERT_FALSE(refused.ok());
  EXPECT_EQ(refused.error().code, ErrorCode::kInvalidArgument);
  EXPECT_FALSE(s.find("p2").value().has_value());
}

TEST_F(ServiceTest, RunningNeverGoesBackToNotStarted) {
  auto s = make(milliseconds(300'000));
  ASSERT_TRUE(s.record_submitted({"r1", "default", "pro-demo", "http://u/r1", ""}).ok());
  clock_.advance(1000);
  auto op = s.claim_due("me", milliseconds(60'000), 10).value()[0];
  ASSERT_TRUE(s.record_progress(op, "me", Status::kRunning, clock_.now_ms(), 0).value());
  op = s.claim_due("me", milliseconds(60'000), 10).value()[0];
  ASSERT_TRUE(s.record_progress(op, "me", Status::kNotStarted, clock_.now_ms(), 0).value());
  EXPECT_EQ(s.find("r1").value()->status, Status::kRunning);
}


// A shard holding an operation between polls hears a cancel through the
// notifier's listeners (not counted as long-poll waiters), with the id; a
// gap in the store's feed (notify_all) reaches them with an empty id.
TEST_F(ServiceTest, ListenersHearEveryCancelAndFinishButAreNoWaiters) {
  auto s = make(milliseconds(300'000));
  std::vector<std::string> heard;
  auto token = s.notifier().listen([&](const std::string& id) { heard.push_back(id); });
  EXPECT_EQ(s.notifier().waiters(), 0u);
  ASSERT_TRUE(s.record_submitted({"c1", "default", "pro-demo", "http://u/c1", ""}).ok());
  ASSERT_EQ(s.cancel("c1").value(), CancelOutcome::kCanceled);
  finished(s, "f1");
  s.notifier().notify_all();
  EXPECT_EQ(heard, (std::vector<std::string>{"c1", "f1", ""}));
  s.notifier().unlisten(token);
  s.notifier().notify("c1");
  EXPECT_EQ(heard.size(), 3u);
}

// Polls held in memory are added to poll_count when the record is written
// at last: by a progress write or by the finish.
TEST_F(ServiceTest, HeldPollsAreCountedByTheWriteThatCarriesThem) {
  auto s = make(milliseconds(300'000));
  ASSERT_TRUE(s.record_submitted({"h1", "default", "pro-demo", "http://u/h1", ""}).ok());
  clock_.advance(1000);
  auto op = s.claim_due("me", milliseconds(60'000), 10).value()[0];
  OperationService::ProgressWrite w{&op, Status::kNotStarted, clock_.now_ms(), 0, 5};
  ASSERT_TRUE(s.record_progress_many("me", {w}).value()[0]);
  EXPECT_EQ(s.find("h1").value()->poll_count, 5);
  op = s.claim_due("me", milliseconds(60'000), 10).value()[0];
  ASSERT_TRUE(
      s.finish(op, "me", Status::kSucceeded, "{}", "application/json", "", "", 3).value());
  EXPECT_EQ(s.find("h1").value()->poll_count, 8);
}

TEST_F(ServiceTest, AFinalTransitionWritesItsEventOnlyWithACallback) {
  auto s = make(milliseconds(300'000));
  std::vector<std::string> rendered;
  int woken = 0;
  s.set_events({[&](const Operation& op, std::string_view id) {
                  rendered.push_back(std::string(id) + " " + status_name(op.status) + " " +
                                     std::to_string(op.poll_count) + " " + op.result);
                  return "event of " + op.id;
                },
                [&] { ++woken; }});
  NewOperation with{"w1", "t", "pro-demo", "http://u/w1", ""};
  with.callback_url = "https://hooks.example/in";
  ASSERT_TRUE(s.record_submitted(with).ok());
  ASSERT_TRUE(s.record_submitted({"w2", "t", "pro-demo", "http://u/w2", ""}).ok());
  EXPECT_EQ(s.find("w1").value()->callback_url, "https://hooks.example/in");
  clock_.advance(1000);
  auto claimed = s.claim_due("me", milliseconds(60'000), 10).value();
  ASSERT_EQ(claimed.size(), 2u);
  for (const auto& op : claimed) {
    ASSERT_TRUE(s.finish(op, "me", Status::kSucceeded, "{\"r\":1}", "application/json", "", "", 3)
                    .value());
  }
  // The event sees the operation as it is once final (its polls counted).
  EXPECT_EQ(rendered, (std::vector<std::string>{"msg_w1 Succeeded 3 {\"r\":1}"}));
  EXPECT_EQ(woken, 1);
  auto d = s.find_delivery("msg_w1").value();
  ASSERT_TRUE(d);
  EXPECT_EQ(d->body, "event of w1");
  EXPECT_EQ(d->url, "https://hooks.example/in");
  EXPECT_EQ(d->tenant, "t");
  EXPECT_EQ(d->status, store::DeliveryStatus::kPending);
  EXPECT_FALSE(s.find_delivery("msg_w2").value());
  // A finish that does not take effect (already final) writes none again.
  EXPECT_FALSE(s.finish(claimed[0], "me", Status::kFailed, "", "", "E", "m").value());
  EXPECT_EQ(rendered.size(), 2u);  // rendered, but not written
  EXPECT_EQ(s.list_deliveries("t", std::nullopt, 10, "").value().items.size(), 1u);
  EXPECT_EQ(woken, 1);
}

// A tenant's endpoints get every final transition of its operations, each
// a delivery of its own; a callback that is also an endpoint gets one.
TEST_F(ServiceTest, ATenantsEndpointsGetEveryFinalTransitionOfItsOperations) {
  auto s = make(milliseconds(300'000));
  s.set_events({[](const Operation& op, std::string_view id) {
                  return std::string(id) + " " + status_name(op.status);
                },
                [] {},
                [](std::string_view tenant) {
                  return tenant == "t" ? std::vector<std::string>{"https://a.example:443/in",
                                                                  "https://b.example:443/in"}
                                       : std::vector<std::string>{};
                }});
  ASSERT_TRUE(s.record_submitted({"e1", "t", "pro-demo", "http://u/e1", ""}).ok());
  NewOperation both{"e2", "t", "pro-demo", "http://u/e2", ""};
  both.callback_url = "https://a.example:443/in";
  ASSERT_TRUE(s.record_submitted(both).ok());
  ASSERT_TRUE(s.record_submitted({"e3", "other", "pro-demo", "http://u/e3", ""}).ok());
  for (const char* id : {"e1", "e2", "e3"}) ASSERT_EQ(s.cancel(id).value(), CancelOutcome::kCanceled);
  auto ids = [&](const std::string& tenant) {
    std::vector<std::string> out;
    auto page = s.list_deliveries(tenant, std::nullopt, 10, "");
    EXPECT_TRUE(page.ok());
    if (!page.ok()) return out;
    for (const auto& d : page.value().items) out.push_back(d.id + " " + d.url);
    std::sort(out.begin(), out.end());
    return out;
  };
  std::string a = "~" + sha256_hex({"https://a.example:443/in"}).substr(0, 12);
  std::string b = "~" + sha256_hex({"https://b.example:443/in"}).substr(0, 12);
  std::vector<std::string> want{
      "msg_e1" + a + " https://a.example:443/in", "msg_e1" + b + " https://b.example:443/in",
      "msg_e2 https://a.example:443/in", "msg_e2" + b + " https://b.example:443/in"};
  std::sort(want.begin(), want.end());
  EXPECT_EQ(ids("t"), want);
  EXPECT_TRUE(ids("other").empty());
  EXPECT_EQ(s.find_delivery("msg_e1" + b).value()->body, "msg_e1" + b + " Canceled");
}

TEST_F(ServiceTest, ACancelWritesItsEventToo) {
  auto s = make(milliseconds(300'000));
  s.set_events({[](const Operation& op, std::string_view) { return std::string(status_name(op.status)); },
                [] {}});
  NewOperation with{"c1", "t", "pro-demo", "http://u/c1", ""};
  with.callback_url = "https://hooks.example/in";
  ASSERT_TRUE(s.record_submitted(with).ok());
  ASSERT_EQ(s.cancel("c1").value(), CancelOutcome::kCanceled);
  auto d = s.find_delivery("msg_c1").value();
  ASSERT_TRUE(d);
  EXPECT_EQ(d->body, "Canceled");
}

}  // namespace
}  // namespace lrogate::core
