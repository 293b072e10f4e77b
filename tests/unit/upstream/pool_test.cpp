// The upstream pool: the breaker's states, the resources' limits, reloads,
// and submits placed and failed over between two real loopback servers
// (http::Server) that answer as the test tells them.
#include "upstream/pool.h"

#include <gtest/gtest.h>

#include <atomic>
#include <future>
#include <map>
#include <mutex>
#include <thread>

#include "http/server.h"

namespace lrogate::upstream {
namespace {

using std::chrono::milliseconds;

TEST(Breaker, OpensOnAFaultAndClosesAfterAProbe) {
  Breaker b;
  EXPECT_TRUE(b.admit(0));
  b.failed(0, std::nullopt);
  EXPECT_EQ(b.state(0), Breaker::State::kOpen);
  EXPECT_FALSE(b.admit(100));
  EXPECT_EQ(b.ready_at(100), Breaker::kFirstCoolDownMs);
  // Half-open: one probe, then nobody until its answer.
  EXPECT_EQ(b.state(Breaker::kFirstCoolDownMs), Breaker::State::kHalfOpen);
  EXPECT_TRUE(b.admit(Breaker::kFirstCoolDownMs));
  EXPECT_FALSE(b.admit(Breaker::kFirstCoolDownMs + 1));
  EXPECT_EQ(b.ready_at(Breaker::kFirstCoolDownMs + 1), std::nullopt);
  b.succeeded(Breaker::kFirstCoolDownMs + 1);
  EXPECT_EQ(b.state(Breaker::kFirstCoolDownMs + 1), Breaker::State::kClosed);
  EXPECT_TRUE(b.admit(Breaker::kFirstCoolDownMs + 1));
}

TEST(Breaker, AFailedProbeDoublesTheCoolDownAndRetryAfterOverridesIt) {
  Breaker b;
  b.failed(0, std::nullopt);
  ASSERT_TRUE(b.admit(250));
  b.failed(250, std::nullopt);  // the probe failed
  EXPECT_EQ(b.openings(), 2);
  EXPECT_EQ(b.ready_at(300), 250 + 500);
  // Late failures of calls sent before the opening do not count as openings.
  b.failed(300, std::nullopt);
  EXPECT_EQ(b.openings(), 2);
  Breaker t;
  t.failed(1000, milliseconds(7000));
  EXPECT_EQ(t.ready_at(1000), 8000);
  EXPECT_EQ(t.state(7999), Breaker::State::kOpen);
  EXPECT_EQ(t.state(8000), Breaker::State::kHalfOpen);
}

TEST(Breaker, ALateSuccessDoesNotCutShortARetryAfter) {
  Breaker b;
  ASSERT_TRUE(b.admit(0));  // sent while closed; answers late
  b.failed(10, std::chrono::milliseconds(1000));  // another call's 429, Retry-After 1 s
  b.succeeded(20);                                // the first call's 202 arrives
  EXPECT_EQ(b.state(20), Breaker::State::kOpen);
  EXPECT_FALSE(b.admit(500));
  EXPECT_TRUE(b.admit(1010));  // the probe, once the Retry-After is over
  b.succeeded(1020);
  EXPECT_EQ(b.state(1020), Breaker::State::kClosed);
}

TEST(Breaker, CoolDownStopsGrowingAtItsCap) {
  Breaker b;
  Millis now = 0;
  for (int i = 0; i < 20; ++i) {
    now = *b.ready_at(now);
    ASSERT_TRUE(b.admit(now));
    b.failed(now, std::nullopt);
  }
  EXPECT_EQ(*b.ready_at(now) - now, Breaker::kMaxCoolDownMs);
}

TEST(Breaker, AnAbandonedProbeFreesTheWayForAnother) {
  Breaker b;
  b.failed(0, std::nullopt);
  ASSERT_TRUE(b.admit(300));
  b.abandoned();
  EXPECT_TRUE(b.admit(301));
}

TEST(WindowLimit, RatesBecomeWindows) {
  EXPECT_EQ(window_limit(0).limit, 0);
  EXPECT_EQ(window_limit(-1).limit, 0);
  EXPECT_EQ(window_limit(15).limit, 15);
  EXPECT_EQ(window_limit(15).window_ms, 1000);
  EXPECT_EQ(window_limit(0.5).limit, 1);
  EXPECT_EQ(window_limit(0.5).window_ms, 2000);
  EXPECT_EQ(window_limit(2.5).limit, 2);
  EXPECT_EQ(window_limit(2.5).window_ms, 800);
}

// A loopback server answering submits as `answer` says for each call (by
// its 1-based number), counting them.
class FakeResource {
 public:
  // status, Retry-After ("" none)
  using Answer = std::function<std::pair<int, std::string>(int call)>;
  explicit FakeResource(Answer answer) : answer_(std::move(answer)) {
    http::ServerOptions o;
    o.threads = 1;
    auto s = http::Server::create(o, [this](http::Request&& req, http::Responder r) {
      int n = ++calls_;
      if (req.method == "GET" && req.path.find("analyzerResults") != std::string::npos) {
        ++gets_;
        return r(http::json_response(200, R"({"status":"Running"})"));
      }
      auto [status, retry_after] = answer_(n);
      http::Response res = http::json_response(status, status == 202 ? "{}" : R"({"error":{"code":"X","message":"x"}})");
      if (status == 202) {
        res.set("Operation-Location", endpoint() + "/contentunderstanding/analyzerResults/op-" +
                                          std::to_string(port_) + "-" + std::to_string(n) +
                                          "?api-version=2025-05-01-preview");
      }
      if (!retry_after.empty()) res.set("Retry-After", retry_after);
      r(std::move(res));
    });
    EXPECT_TRUE(s.ok());
    server_ = std::move(s).value();
    port_ = server_->port();
    thread_ = std::thread([this] { server_->run(); });
  }
  ~FakeResource() {
    server_->stop(milliseconds(0));
    thread_.join();
  }
  std::string endpoint() const { return "http://127.0.0.1:" + std::to_string(port_); }
  int calls() const { return calls_.load(); }
  int gets() const { return gets_.load(); }

 private:
  Answer answer_;
  std::atomic<int> calls_{0};
  std::atomic<int> gets_{0};
  std::unique_ptr<http::Server> server_;
  std::uint16_t port_ = 0;
  std::thread thread_;
};

ResourceSettings resource(std::string name, const FakeResource& at, int priority = 0,
                          int weight = 1) {
  ResourceSettings r;
  r.name = std::move(name);
  r.upstream.endpoint = at.endpoint();
  r.upstream.timeout = milliseconds(2000);
  r.auth.key = "pool-test-key";
  r.priority = priority;
  r.weight = weight;
  return r;
}

class PoolTest : public ::testing::Test {
 protected:
  void SetUp() override {
    auto c = http::Client::create({});
    ASSERT_TRUE(c.ok());
    client_ = std::move(c).value();
    pool_.emplace(*client_, std::vector<http::Client*>{}, clock_);
  }
  void TearDown() override {
    client_->shutdown();
    pool_.reset();
  }

  struct Placed {
    SubmitAnswer answer;
    std::string resource;
  };
  Placed submit(milliseconds budget = milliseconds(5000), std::string pin = "",
                std::string tenant = "t") {
    std::promise<Placed> p;
    pool_->submit(
        std::move(tenant), "prebuilt-layout", R"({"url":"https://example.invalid/doc.pdf"})", "application/json",
        std::move(pin), budget,
        [&p](SubmitAnswer a, std::string resource) {
          p.set_value({std::move(a), std::move(resource)});
        });
    return p.get_future().get();
  }

  // The same, without waiting for the answer.
  std::future<Placed> submit_async(milliseconds budget, std::string tenant = "t") {
    auto p = std::make_shared<std::promise<Placed>>();
    pool_->submit(std::move(tenant), "prebuilt-layout", R"({"url":"https://example.invalid/doc.pdf"})",
                  "application/json", "", budget, [p](SubmitAnswer a, std::string resource) {
                    p->set_value({std::move(a), std::move(resource)});
                  });
    return p->get_future();
  }

  SystemClock clock_;
  std::unique_ptr<http::Client> client_;
  std::optional<Pool> pool_;
};

FakeResource::Answer always(int status, std::string retry_after = "") {
  return [status, retry_after](int) { return std::pair{status, retry_after}; };
}

TEST_F(PoolTest, ASubmitGoesByPriorityFirst) {
  FakeResource primary(always(202)), fallback(always(202));
  ASSERT_TRUE(pool_->apply({{resource("fallback", fallback, 1), resource("primary", primary, 0)}}).ok());
  for (int i = 0; i < 5; ++i) {
    auto p = submit();
    EXPECT_EQ(p.answer.kind, SubmitAnswer::Kind::kAccepted);
    EXPECT_EQ(p.resource, "primary");
  }
  EXPECT_EQ(primary.calls(), 5);
  EXPECT_EQ(fallback.calls(), 0);
}

TEST_F(PoolTest, WeightsShareTheSubmitsOfOnePriority) {
  FakeResource a(always(202)), b(always(202));
  ASSERT_TRUE(pool_->apply({{resource("a", a, 0, 3), resource("b", b, 0, 1)}}).ok());
  std::map<std::string, int> by;
  std::string order;
  for (int i = 0; i < 400; ++i) {
    auto r = submit().resource;
    ++by[r];
    if (i < 8) order += r;
  }
  // Smooth weighted round-robin: exact shares, and spread (not aaab).
  EXPECT_EQ(by["a"], 300);
  EXPECT_EQ(by["b"], 100);
  EXPECT_EQ(order, "aabaaaba");
}

TEST_F(PoolTest, AThrottledResourceOpensItsBreakerAndTheSubmitMovesOn) {
  FakeResource busy(always(429, "30")), spare(always(202));
  ASSERT_TRUE(pool_->apply({{resource("busy", busy, 0), resource("spare", spare, 1)}}).ok());
  auto first = submit();
  EXPECT_EQ(first.answer.kind, SubmitAnswer::Kind::kAccepted);
  EXPECT_EQ(first.resource, "spare");
  EXPECT_EQ(busy.calls(), 1);
  EXPECT_EQ(pool_->find("busy")->breaker_state(clock_.now_ms()), Breaker::State::kOpen);
  // Open for its Retry-After: the next submits skip it without a call.
  for (int i = 0; i < 3; ++i) EXPECT_EQ(submit().resource, "spare");
  EXPECT_EQ(busy.calls(), 1);
  EXPECT_FALSE(pool_->degraded(clock_.now_ms()));
}

TEST_F(PoolTest, AHalfOpenProbeClosesTheBreaker) {
  // 503 on the first call, then accepts.
  FakeResource flaky([](int n) { return std::pair{n == 1 ? 503 : 202, std::string()}; });
  ASSERT_TRUE(pool_->apply({{resource("flaky", flaky)}}).ok());
  auto p = submit();
  // One resource: the submit waits out the cool-down, probes, and gets in.
  EXPECT_EQ(p.answer.kind, SubmitAnswer::Kind::kAccepted);
  EXPECT_EQ(flaky.calls(), 2);
  EXPECT_EQ(pool_->find("flaky")->breaker_state(clock_.now_ms()), Breaker::State::kClosed);
}

TEST_F(PoolTest, ThrottledEverywhereAnswersThrottledWithinTheBudget) {
  FakeResource a(always(429, "60")), b(always(429, "60"));
  ASSERT_TRUE(pool_->apply({{resource("a", a), resource("b", b)}}).ok());
  auto p = submit(milliseconds(1500));
  EXPECT_EQ(p.answer.kind, SubmitAnswer::Kind::kThrottled);
  EXPECT_EQ(a.calls() + b.calls(), 2);  // each once; neither again within the budget
  EXPECT_TRUE(pool_->degraded(clock_.now_ms()));
}

TEST_F(PoolTest, ARefusalOfTheInputIsFinal) {
  FakeResource a(always(400)), b(always(202));
  ASSERT_TRUE(pool_->apply({{resource("a", a, 0), resource("b", b, 1)}}).ok());
  auto p = submit();
  EXPECT_EQ(p.answer.kind, SubmitAnswer::Kind::kRejected);
  EXPECT_EQ(p.resource, "a");
  EXPECT_EQ(b.calls(), 0);
  EXPECT_EQ(pool_->find("a")->breaker_state(clock_.now_ms()), Breaker::State::kClosed);
}

TEST_F(PoolTest, RefusedCredentialsAreNotTriedAgainBySameSubmit) {
  FakeResource a(always(401)), b(always(401));
  ASSERT_TRUE(pool_->apply({{resource("a", a), resource("b", b)}}).ok());
  auto p = submit(milliseconds(3000));
  EXPECT_EQ(p.answer.kind, SubmitAnswer::Kind::kAuthRefused);
  EXPECT_EQ(a.calls(), 1);
  EXPECT_EQ(b.calls(), 1);
  // While their breakers are open, the next submit answers the refusal at
  // once: waiting within one submit would not fix a credential.
  auto again = submit(milliseconds(3000));
  EXPECT_EQ(again.answer.kind, SubmitAnswer::Kind::kAuthRefused);
  EXPECT_EQ(a.calls() + b.calls(), 2);
}

TEST_F(PoolTest, AnAnalyzerReadAsksTheNextResourceOnA404) {
  FakeResource without(always(404)), with(always(202));
  ASSERT_TRUE(pool_->apply({{resource("without", without, 0), resource("with", with, 1)}}).ok());
  std::promise<Placed> p;
  pool_->analyzer("t", AnalyzerCall::kGet, "custom", "", false, "", milliseconds(3000),
                  [&p](SubmitAnswer a, std::string r) { p.set_value({std::move(a), std::move(r)}); });
  auto got = p.get_future().get();
  EXPECT_EQ(got.resource, "with");
  EXPECT_EQ(without.calls(), 1);
  EXPECT_EQ(with.calls(), 1);
}

TEST_F(PoolTest, APinnedSubmitGoesThereOrNowhere) {
  FakeResource a(always(202)), b(always(202));
  ASSERT_TRUE(pool_->apply({{resource("a", a, 0), resource("b", b, 1)}}).ok());
  EXPECT_EQ(submit(milliseconds(5000), "b").resource, "b");
  auto gone = submit(milliseconds(5000), "c");
  EXPECT_EQ(gone.answer.kind, SubmitAnswer::Kind::kFailed);
  EXPECT_EQ(gone.answer.error_code, "NoUpstreamResource");
  EXPECT_NE(gone.answer.error_message.find("'c'"), std::string::npos);
  EXPECT_EQ(a.calls(), 0);
}

TEST_F(PoolTest, DrainedResourcesTakeNoSubmitsAndRemovedOnesDrain) {
  FakeResource a(always(202)), b(always(202));
  auto ra = resource("a", a), rb = resource("b", b);
  ASSERT_TRUE(pool_->apply({{ra, rb}}).ok());
  auto kept = pool_->find("a");
  ra.drain = true;
  ASSERT_TRUE(pool_->apply({{ra, rb}}).ok());
  EXPECT_EQ(pool_->find("a"), kept) << "only drain changed: the same resource object";
  for (int i = 0; i < 5; ++i) EXPECT_EQ(submit().resource, "b");
  // b leaves the file: it drains, and is still found for its operations' polls.
  ra.drain = false;
  ASSERT_TRUE(pool_->apply({{ra}}).ok());
  ASSERT_NE(pool_->find("b"), nullptr);
  EXPECT_TRUE(pool_->find("b")->draining());
  for (int i = 0; i < 5; ++i) EXPECT_EQ(submit().resource, "a");
  EXPECT_EQ(b.calls(), 5);
  // Every resource drained: a submit says so at once.
  ra.drain = true;
  ASSERT_TRUE(pool_->apply({{ra}}).ok());
  auto none = submit();
  EXPECT_EQ(none.answer.error_code, "NoUpstreamResource");
  EXPECT_TRUE(pool_->degraded(clock_.now_ms()));
}

TEST_F(PoolTest, AChangedResourceIsReplacedAndABadReloadChangesNothing) {
  FakeResource a(always(202)), a2(always(202));
  auto ra = resource("a", a);
  ASSERT_TRUE(pool_->apply({{ra}}).ok());
  auto before = pool_->find("a");
  ra.upstream.endpoint = a2.endpoint();
  ASSERT_TRUE(pool_->apply({{ra}}).ok());
  EXPECT_NE(pool_->find("a"), before);
  EXPECT_EQ(submit().resource, "a");
  EXPECT_EQ(a2.calls(), 1);
  auto now = pool_->find("a");
  auto bad = ra;
  bad.upstream.endpoint = "not a url";
  auto r = pool_->apply({{bad}});
  ASSERT_FALSE(r.ok());
  EXPECT_NE(r.error().message.find("'a'"), std::string::npos);
  EXPECT_EQ(pool_->find("a"), now);
  auto other_kind = ra;
  other_kind.upstream.kind = "azure-di";
  EXPECT_FALSE(pool_->apply({{other_kind}}).ok());
  EXPECT_FALSE(pool_->apply({}).ok());
}

TEST_F(PoolTest, SubmitLimitsHoldPerResource) {
  FakeResource a(always(202)), b(always(202));
  auto ra = resource("a", a, 0), rb = resource("b", b, 1);
  ra.limits.submits_per_second = 2;
  ASSERT_TRUE(pool_->apply({{ra, rb}}).ok());
  // a takes 2 within its window, then the fallback takes the rest.
  std::map<std::string, int> by;
  for (int i = 0; i < 6; ++i) ++by[submit().resource];
  EXPECT_LE(by["a"], 3);  // 3 only if the 1 s window rolled over meanwhile
  EXPECT_GE(by["b"], 3);
}

TEST_F(PoolTest, AWaitingTenantIsServedInTurnNotAfterABurst) {
  FakeResource a(always(202));
  auto ra = resource("a", a);
  ra.limits.submits_per_second = 2;
  ASSERT_TRUE(pool_->apply({{ra}}).ok());
  std::mutex mu;
  std::vector<std::string> order;
  std::vector<std::future<void>> done;
  auto fire = [&](std::string tenant) {
    auto p = std::make_shared<std::promise<void>>();
    done.push_back(p->get_future());
    pool_->submit(tenant, "prebuilt-layout", "{}", "application/json", "", milliseconds(8000),
                  [&, tenant, p](SubmitAnswer ans, std::string) {
                    EXPECT_EQ(ans.kind, SubmitAnswer::Kind::kAccepted);
                    std::lock_guard<std::mutex> l(mu);
                    order.push_back(tenant);
                    p->set_value();
                  });
  };
  for (int i = 0; i < 6; ++i) fire("burst");
  fire("single");
  for (auto& f : done) f.get();
  ASSERT_EQ(order.size(), 7u);
  auto at = std::find(order.begin(), order.end(), "single") - order.begin();
  // Two went out at once; of those that waited, the single one is served in
  // the first turn after one of the burst's, not after all four.
  EXPECT_LE(at, 3) << "served at " << at;
  EXPECT_EQ(a.calls(), 7);
}

TEST_F(PoolTest, AWaitThatOutlivesTheBudgetAnswersThrottledWithTheQueuesRetryAfter) {
  FakeResource a(always(202));
  auto ra = resource("a", a);
  ra.limits.submits_per_second = 1;
  ASSERT_TRUE(pool_->apply({{ra}}).ok());
  EXPECT_EQ(submit(milliseconds(400)).answer.kind, SubmitAnswer::Kind::kAccepted);
  auto waited = submit(milliseconds(400));
  EXPECT_EQ(waited.answer.kind, SubmitAnswer::Kind::kThrottled);
  EXPECT_EQ(waited.answer.error_code, "PoolAtCapacity");
  ASSERT_TRUE(waited.answer.retry_after);
  EXPECT_GE(waited.answer.retry_after->count(), 1000);
  EXPECT_EQ(a.calls(), 1);
}

// The waits below are far longer than the checks' bounds: a submit that
// waited for its budget's end would miss them by tens of seconds.
constexpr std::chrono::seconds kAtOnce{10};

TEST_F(PoolTest, AResourceReadyOnlyAfterTheBudgetIsNotWaitedFor) {
  // A 429 asking for 60 s, a budget of 30 s: waiting cannot help, so the
  // submit answers the 429 at once, as the single-endpoint caller did
  // (it retried only when the wait left time within the budget).
  FakeResource busy(always(429, "60"));
  ASSERT_TRUE(pool_->apply({{resource("busy", busy)}}).ok());
  auto first = submit_async(milliseconds(30'000));
  ASSERT_EQ(first.wait_for(kAtOnce), std::future_status::ready) << "waited for the budget's end";
  auto p = first.get();
  EXPECT_EQ(p.answer.kind, SubmitAnswer::Kind::kThrottled);
  EXPECT_EQ(p.answer.status, 429);
  EXPECT_EQ(p.resource, "busy");
  // The next one, while the breaker is open, does not call and does not wait.
  auto next = submit_async(milliseconds(30'000));
  ASSERT_EQ(next.wait_for(kAtOnce), std::future_status::ready) << "waited for the budget's end";
  auto n = next.get();
  EXPECT_EQ(n.answer.kind, SubmitAnswer::Kind::kThrottled);
  EXPECT_EQ(n.answer.error_code, "PoolAtCapacity");
  ASSERT_TRUE(n.answer.retry_after);
  EXPECT_GE(n.answer.retry_after->count(), 50'000) << "the time until the resource is ready";
  EXPECT_EQ(busy.calls(), 1);
}

TEST_F(PoolTest, AQueuedTenantWhoseBudgetEndsBeforeAnyResourceIsReadyIsAnsweredAtOnce) {
  FakeResource a(always(202));
  auto ra = resource("a", a);
  ra.limits.operations_per_minute = 1;
  ASSERT_TRUE(pool_->apply({{ra}}).ok());
  EXPECT_EQ(submit().answer.kind, SubmitAnswer::Kind::kAccepted);
  // Waits for the minute's window (its budget outlasts it)...
  auto waits = submit_async(milliseconds(120'000), "t");
  // ... so the next submit queues behind it; another tenant's, whose budget
  // ends before the window does, is answered when it is first looked at.
  auto hopeless = submit_async(milliseconds(30'000), "u");
  ASSERT_EQ(hopeless.wait_for(kAtOnce), std::future_status::ready) << "waited for the budget's end";
  auto h = hopeless.get();
  EXPECT_EQ(h.answer.kind, SubmitAnswer::Kind::kThrottled);
  EXPECT_EQ(h.answer.error_code, "PoolAtCapacity");
  EXPECT_EQ(waits.wait_for(milliseconds(0)), std::future_status::timeout);
  EXPECT_EQ(a.calls(), 1);
}

TEST_F(PoolTest, PastTheQueuesBoundASubmitIsAnsweredAtOnceEvenBehindOthers) {
  FakeResource a(always(202));
  auto ra = resource("a", a);
  ra.limits.operations_per_minute = 1;
  ASSERT_TRUE(pool_->apply({{ra}}).ok());
  EXPECT_EQ(submit().answer.kind, SubmitAnswer::Kind::kAccepted);
  auto answered = std::make_shared<std::atomic<int>>(0);
  for (std::size_t i = 0; i < Pool::kMaxWaiting; ++i) {
    pool_->submit("t", "prebuilt-layout", "{}", "application/json", "", milliseconds(120'000),
                  [answered](SubmitAnswer, std::string) { ++*answered; });
  }
  auto over = submit_async(milliseconds(120'000), "u");
  ASSERT_EQ(over.wait_for(kAtOnce), std::future_status::ready) << "queued past the bound";
  auto o = over.get();
  EXPECT_EQ(o.answer.kind, SubmitAnswer::Kind::kThrottled);
  EXPECT_EQ(o.answer.error_code, "PoolAtCapacity");
  EXPECT_EQ(answered->load(), 0) << "the ones within the bound still wait";
  EXPECT_EQ(a.calls(), 1);
}

TEST(ResourceLimits, PollsHoldToTheirWindowAndToA429sRetryAfter) {
  auto c = http::Client::create({});
  ASSERT_TRUE(c.ok());
  ManualClock clock(10'000);
  ResourceSettings rs;
  rs.name = "r";
  rs.upstream.endpoint = "http://127.0.0.1:1";
  rs.auth.key = "k";
  rs.limits.polls_per_second = 2;
  rs.limits.calls_in_flight = 3;
  auto up = make_upstream(rs.upstream);
  auto cred = make_credential(rs.auth, *c.value(), clock);
  ASSERT_TRUE(up.ok() && cred.ok());
  Resource r(rs, std::move(up).value(), std::move(cred).value(), *c.value(), {}, clock);
  EXPECT_EQ(r.take_poll(10'000), 0);
  EXPECT_EQ(r.take_poll(10'000), 0);
  // The window is full until the first leaves it (and its slack has passed).
  EXPECT_EQ(r.take_poll(10'000), 1000 + kWindowSlackMs);
  EXPECT_EQ(r.take_poll(11'000 + kWindowSlackMs), 0);  // three in flight now
  EXPECT_GT(r.take_poll(12'000), 0);                   // calls in flight at their limit
  PollAnswer throttled;
  throttled.kind = PollAnswer::Kind::kTransient;
  throttled.retry_after = milliseconds(5000);
  r.poll_answered(throttled, 12'000);
  EXPECT_EQ(r.take_poll(12'000), 5000);  // held until the Retry-After
  EXPECT_EQ(r.take_poll(17'000), 0);
  // Submits: operations a minute.
  ResourceSettings rm = rs;
  rm.limits = {};
  rm.limits.operations_per_minute = 2;
  auto up2 = make_upstream(rm.upstream);
  auto cred2 = make_credential(rm.auth, *c.value(), clock);
  Resource m(rm, std::move(up2).value(), std::move(cred2).value(), *c.value(), {}, clock);
  EXPECT_TRUE(m.take_submit(10'000));
  EXPECT_TRUE(m.take_submit(10'001));
  EXPECT_FALSE(m.take_submit(30'000));
  EXPECT_EQ(m.submit_ready_at(30'000), 70'000 + kWindowSlackMs);
  EXPECT_TRUE(m.take_submit(70'000 + kWindowSlackMs));
  c.value()->shutdown();
}

}  // namespace
}  // namespace lrogate::upstream
