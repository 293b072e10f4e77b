#include "poller/schedule.h"

#include <gtest/gtest.h>

namespace lrogate::poller {
namespace {

using std::chrono::milliseconds;
using K = upstream::PollAnswer::Kind;

ScheduleConfig cfg() {
  ScheduleConfig c;
  c.poll_interval = milliseconds(10'000);
  c.max_wait = milliseconds(1'800'000);
  c.backoff_base = milliseconds(1000);
  c.backoff_cap = milliseconds(60'000);
  return c;
}

core::Operation op(Millis created = 0, int attempts = 0) {
  core::Operation o;
  o.id = "x";
  o.status = core::Status::kRunning;
  o.created_at = created;
  o.attempts = attempts;
  return o;
}

upstream::PollAnswer status(upstream::Phase p) {
  upstream::PollAnswer a;
  a.kind = K::kStatus;
  a.phase = p;
  return a;
}

TEST(Schedule, RunningPollsAgainAfterTheInterval) {
  auto d = decide(op(), status(upstream::Phase::kRunning), cfg(), 5000, 0.5);
  EXPECT_FALSE(d.finish);
  EXPECT_EQ(d.next_poll_at, 15'000);
  EXPECT_EQ(d.attempts, 0);
}

TEST(Schedule, AnAnalyzerCreationIsPolledSoonerThenBacksOffToTheInterval) {
  core::Operation c = op();
  c.kind = core::Kind::kAnalyzerCreation;
  const Millis want[] = {1000, 2000, 4000, 8000, 10'000, 10'000};
  for (int n = 0; n < 6; ++n) {
    c.poll_count = n;
    auto d = decide(c, status(upstream::Phase::kRunning), cfg(), 5000, 0.5);
    EXPECT_FALSE(d.finish);
    EXPECT_EQ(d.next_poll_at, 5000 + want[n]) << "after poll " << n + 1;
  }
  c.poll_count = 0;
  auto a = status(upstream::Phase::kRunning);
  a.retry_after = milliseconds(3000);
  EXPECT_EQ(decide(c, a, cfg(), 5000, 0.5).next_poll_at, 8000);
}

TEST(Schedule, RetryAfterLongerThanTheIntervalIsHonoured) {
  auto a = status(upstream::Phase::kRunning);
  a.retry_after = milliseconds(25'000);
  EXPECT_EQ(decide(op(), a, cfg(), 0, 0.5).next_poll_at, 25'000);
  a.retry_after = milliseconds(2'000);  // shorter: the interval wins
  EXPECT_EQ(decide(op(), a, cfg(), 0, 0.5).next_poll_at, 10'000);
}

TEST(Schedule, TransientFailuresBackOffAndNeverFail) {
  upstream::PollAnswer a;
  a.kind = K::kTransient;
  auto d0 = decide(op(0, 0), a, cfg(), 1000, 0.0);
  EXPECT_FALSE(d0.finish);
  EXPECT_EQ(d0.attempts, 1);
  EXPECT_EQ(d0.next_poll_at, 1000 + 500);
  auto d5 = decide(op(0, 5), a, cfg(), 1000, 0.0);
  EXPECT_EQ(d5.next_poll_at, 1000 + 16'000);
  auto d20 = decide(op(0, 20), a, cfg(), 1000, 0.999);
  EXPECT_LE(d20.next_poll_at, 1000 + 60'000);
  a.retry_after = milliseconds(120'000);  // 429 with a long Retry-After
  EXPECT_EQ(decide(op(0, 0), a, cfg(), 1000, 0.0).next_poll_at, 121'000);
}

TEST(Schedule, FinalStatuses) {
  auto s = decide(op(), status(upstream::Phase::kSucceeded), cfg(), 1, 0);
  EXPECT_TRUE(s.finish);
  EXPECT_EQ(s.status, core::Status::kSucceeded);
  auto f = status(upstream::Phase::kFailed);
  f.error_code = "InvalidContent";
  f.error_message = "bad";
  auto fd = decide(op(), f, cfg(), 1, 0);
  EXPECT_EQ(fd.status, core::Status::kFailed);
  EXPECT_EQ(fd.error_code, "InvalidContent");
  EXPECT_EQ(fd.error_message, "bad");
  EXPECT_EQ(decide(op(), status(upstream::Phase::kCanceled), cfg(), 1, 0).status,
            core::Status::kCanceled);
}

TEST(Schedule, VanishedIsExpiredAndPermanentFails) {
  upstream::PollAnswer v;
  v.kind = K::kVanished;
  auto d = decide(op(), v, cfg(), 1, 0);
  EXPECT_TRUE(d.finish);
  EXPECT_EQ(d.error_code, "Expired");
  upstream::PollAnswer p;
  p.kind = K::kPermanent;
  p.error_code = "ResultTooLarge";
  p.error_message = "big";
  EXPECT_EQ(decide(op(), p, cfg(), 1, 0).error_code, "ResultTooLarge");
}

TEST(Schedule, MaxWaitEndsInTimeoutAndNoPollIsScheduledPastIt) {
  auto c = cfg();
  auto d = decide(op(0), status(upstream::Phase::kRunning), c, 1'800'000, 0);
  EXPECT_TRUE(d.finish);
  EXPECT_EQ(d.status, core::Status::kFailed);
  EXPECT_EQ(d.error_code, "Timeout");
  EXPECT_NE(d.error_message.find("30m"), std::string::npos);
  auto near = decide(op(0), status(upstream::Phase::kRunning), c, 1'795'000, 0);
  EXPECT_FALSE(near.finish);
  EXPECT_EQ(near.next_poll_at, 1'800'000);
  // A final status that arrives at the deadline still wins over Timeout.
  EXPECT_EQ(decide(op(0), status(upstream::Phase::kSucceeded), c, 1'900'000, 0).status,
            core::Status::kSucceeded);
}

// Analyses that took 120 s: the learned schedule's next point after a poll
// at 61 s is the fixed grid's next point where completions are (not 71 s).
core::DurationSketch learned_120s() {
  core::DurationSketch h;
  for (int i = 0; i < 40; ++i) h.add(core::duration_bucket(120'000));
  return h;
}

TEST(Schedule, ALearnedHistoryMovesTheNextPollToWhereCompletionsAre) {
  auto h = learned_120s();
  auto d = decide(op(0), status(upstream::Phase::kRunning), cfg(), 61'000, 0, &h);
  EXPECT_FALSE(d.finish);
  EXPECT_GT(d.next_poll_at, 71'000);
  EXPECT_LE(d.next_poll_at, 121'000);
  EXPECT_EQ((d.next_poll_at - 1'000) % 10'000, 0);  // on the fixed schedule's grid
  // Where completions are, it is the grid's next point.
  auto in_range = decide(op(0), status(upstream::Phase::kRunning), cfg(), 111'000, 0, &h);
  EXPECT_EQ(in_range.next_poll_at, 121'000);
}

TEST(Schedule, RetryAfterAndMaxWaitStillBoundTheLearnedSchedule) {
  auto h = learned_120s();
  auto ra = status(upstream::Phase::kRunning);
  ra.retry_after = std::chrono::seconds(30);
  EXPECT_EQ(decide(op(0), ra, cfg(), 111'000, 0, &h).next_poll_at, 141'000);
  auto c = cfg();
  c.max_wait = std::chrono::milliseconds(90'000);
  EXPECT_EQ(decide(op(0), status(upstream::Phase::kRunning), c, 61'000, 0, &h).next_poll_at,
            90'000);
}

TEST(Schedule, FixedOrAnAnalyzerCreationIgnoresTheHistory) {
  auto h = learned_120s();
  auto c = cfg();
  c.learned = false;
  EXPECT_EQ(decide(op(0), status(upstream::Phase::kRunning), c, 61'000, 0, &h).next_poll_at,
            71'000);
  auto creation = op(0);
  creation.kind = core::Kind::kAnalyzerCreation;
  EXPECT_EQ(decide(creation, status(upstream::Phase::kRunning), cfg(), 61'000, 0, &h).next_poll_at,
            62'000);
}

}  // namespace
}  // namespace lrogate::poller
