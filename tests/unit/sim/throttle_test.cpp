#include "sim/throttle.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <boost/json/array.hpp>
#include <cstdint>
#include <random>
#include <vector>

namespace lrogate::sim {
namespace {

constexpr CallKind kA = CallKind::kAnalyze;
constexpr CallKind kS = CallKind::kStatus;

// The counts of a stats object.
long long stat(const boost::json::object& o, const char* name) {
  return o.at(name).to_number<long long>();
}

boost::json::object stats_of(const Throttle& t, Millis now) {
  boost::json::object o;
  t.add_stats(o, now);
  return o;
}

TEST(Throttle, NoLimitsAdmitsEverythingAndStillCounts) {
  ManualClock clock;
  Throttle t;
  for (int i = 0; i < 40; ++i) {
    EXPECT_TRUE(t.admit(i % 2 ? kS : kA, clock.now_ms()).admitted);
    clock.advance(10);  // 40 calls in 400 ms: all in one window
  }
  auto o = stats_of(t, clock.now_ms());
  EXPECT_EQ(stat(o, "admitted_analyze"), 20);
  EXPECT_EQ(stat(o, "admitted_status"), 20);
  EXPECT_EQ(stat(o, "throttled_analyze"), 0);
  EXPECT_EQ(stat(o, "max_analyze_1s"), 20);
  EXPECT_EQ(stat(o, "max_status_1s"), 20);
  EXPECT_EQ(stat(o, "max_calls_1s"), 40);
  EXPECT_FALSE(o.contains("max_calls_60s"));  // only while ops_per_minute is set
}

// A window is (t - 1 s, t]: a call exactly 1 s after another is in the next one.
TEST(Throttle, AtMostTheLimitInAnyOneSecondWindow) {
  ManualClock clock(1'000'000);
  Throttle t({.analyze_rps = 3});
  Millis t0 = clock.now_ms();
  for (Millis at : {0, 300, 600}) EXPECT_TRUE(t.admit(kA, t0 + at).admitted) << at;
  auto v = t.admit(kA, t0 + 900);
  EXPECT_FALSE(v.admitted);
  EXPECT_EQ(v.wait_ms, 100);  // when the call at 0 leaves the window
  EXPECT_EQ(v.retry_after_s, 1);
  EXPECT_EQ(v.limit, 3);
  EXPECT_FALSE(v.per_minute);
  EXPECT_FALSE(t.admit(kA, t0 + 999).admitted);
  EXPECT_TRUE(t.admit(kA, t0 + 1000).admitted);  // (0, 1000] holds 300, 600
  v = t.admit(kA, t0 + 1100);                    // (100, 1100] holds 300, 600, 1000
  EXPECT_FALSE(v.admitted);
  EXPECT_EQ(v.wait_ms, 200);
  EXPECT_TRUE(t.admit(kA, t0 + 1300).admitted);
  auto o = stats_of(t, t0 + 1300);
  EXPECT_EQ(stat(o, "admitted_analyze"), 5);
  EXPECT_EQ(stat(o, "throttled_analyze"), 3);
  EXPECT_EQ(stat(o, "max_analyze_1s"), 3);
}

TEST(Throttle, RefusedCallsUseNothingAndKindsHaveTheirOwnLimits) {
  ManualClock clock;
  Throttle t({.analyze_rps = 2, .status_rps = 5});
  Millis t0 = clock.now_ms();
  EXPECT_TRUE(t.admit(kA, t0).admitted);
  EXPECT_TRUE(t.admit(kA, t0).admitted);
  // However often it is refused, the next call is admitted when the window frees.
  for (int i = 1; i < 1000; i += 7) EXPECT_FALSE(t.admit(kA, t0 + i).admitted) << i;
  // Status calls are not held back by analyze ones.
  for (int i = 0; i < 5; ++i) EXPECT_TRUE(t.admit(kS, t0 + 500).admitted) << i;
  EXPECT_FALSE(t.admit(kS, t0 + 500).admitted);
  EXPECT_TRUE(t.admit(kA, t0 + 1000).admitted);
  EXPECT_TRUE(t.admit(kA, t0 + 1000).admitted);
  EXPECT_FALSE(t.admit(kA, t0 + 1000).admitted);
  auto o = stats_of(t, t0 + 1000);
  EXPECT_EQ(stat(o, "admitted_analyze"), 4);
  EXPECT_EQ(stat(o, "throttled_analyze"), 143 + 1);
  EXPECT_EQ(stat(o, "admitted_status"), 5);
  EXPECT_EQ(stat(o, "throttled_status"), 1);
  EXPECT_EQ(stat(o, "max_calls_1s"), 7);  // 1000: 5 status calls at 500 and the two analyze
}

// Retry-After is the wait rounded up to whole seconds: the longest a per-minute
// quota gives is 60.
TEST(Throttle, OpsPerMinuteCountsBothKindsAndRoundsRetryAfterUp) {
  ManualClock clock;
  Throttle t({.ops_per_minute = 5});
  Millis t0 = clock.now_ms();
  for (int i = 0; i < 5; ++i) EXPECT_TRUE(t.admit(i % 2 ? kS : kA, t0 + i).admitted) << i;
  auto v = t.admit(kS, t0 + 10);
  EXPECT_FALSE(v.admitted);
  EXPECT_EQ(v.wait_ms, 59'990);
  EXPECT_EQ(v.retry_after_s, 60);
  EXPECT_TRUE(v.per_minute);
  EXPECT_EQ(v.limit, 5);
  v = t.admit(kA, t0 + 58'999);
  EXPECT_EQ(v.wait_ms, 1001);
  EXPECT_EQ(v.retry_after_s, 2);
  v = t.admit(kA, t0 + 59'999);
  EXPECT_EQ(v.wait_ms, 1);
  EXPECT_EQ(v.retry_after_s, 1);
  EXPECT_TRUE(t.admit(kA, t0 + 60'000).admitted);   // the call at 0 has left
  EXPECT_FALSE(t.admit(kA, t0 + 60'000).admitted);  // the one at 1 has not
  auto o = stats_of(t, t0 + 60'000);
  EXPECT_EQ(stat(o, "max_calls_60s"), 5);
  EXPECT_EQ(stat(o, "ops_per_minute"), 5);
}

// With both limits, the call waits for the later of the two.
TEST(Throttle, BothLimitsTheLaterWaitWins) {
  ManualClock clock;
  Throttle t({.analyze_rps = 2, .ops_per_minute = 3});
  Millis t0 = clock.now_ms();
  EXPECT_TRUE(t.admit(kA, t0).admitted);
  EXPECT_TRUE(t.admit(kA, t0 + 100).admitted);
  auto v = t.admit(kA, t0 + 200);  // the second: 800 ms; the minute has room
  EXPECT_FALSE(v.admitted);
  EXPECT_EQ(v.wait_ms, 800);
  EXPECT_FALSE(v.per_minute);
  EXPECT_TRUE(t.admit(kA, t0 + 1000).admitted);  // the third of the minute
  v = t.admit(kA, t0 + 2000);                    // the second has room; the minute does not
  EXPECT_FALSE(v.admitted);
  EXPECT_TRUE(v.per_minute);
  EXPECT_EQ(v.wait_ms, 58'000);
  EXPECT_EQ(v.retry_after_s, 58);
  EXPECT_EQ(v.limit, 3);
}

// Any call pattern: no 1 s window ever holds more than the limit; a call is
// refused only when the window ending with it is full (the limiter refuses
// nothing it could admit); and the wait it is told is exact.
TEST(Throttle, RandomCallsNeverExceedTheLimitInAnyWindow) {
  std::mt19937_64 rng(20261202);
  for (int limit : {1, 3, 15, 50}) {
    ManualClock clock(5'000'000);
    Throttle t({.analyze_rps = limit});
    SlidingWindow shadow(1000);
    std::vector<Millis> admitted;
    std::uniform_int_distribution<int> gap(0, 2000 / limit);
    for (int i = 0; i < 5000; ++i) {
      clock.advance(gap(rng));
      Millis now = clock.now_ms();
      auto in_window = std::count_if(admitted.begin(), admitted.end(),
                                     [now](Millis a) { return a > now - 1000; });
      auto v = t.admit(kA, now);
      ASSERT_EQ(v.admitted, in_window < limit) << "limit " << limit << " call " << i;
      ASSERT_EQ(shadow.admit_at(now, limit) == now, v.admitted);
      if (v.admitted) {
        admitted.push_back(now);
        shadow.record(now);
        continue;
      }
      // Exactly when one more fits: the window ending then holds at most
      // limit - 1 (fewer when calls came in the same millisecond); the one
      // ending 1 ms sooner is still full.
      Millis at = now + v.wait_ms;
      auto left =
          std::count_if(admitted.begin(), admitted.end(), [at](Millis a) { return a > at - 1000; });
      auto before = std::count_if(admitted.begin(), admitted.end(),
                                  [at](Millis a) { return a > at - 1 - 1000; });
      ASSERT_LE(left, limit - 1);
      ASSERT_EQ(before, limit);
      ASSERT_EQ(v.retry_after_s, (v.wait_ms + 999) / 1000);
    }
    std::size_t most = 0;
    for (std::size_t i = 0; i < admitted.size(); ++i) {
      std::size_t j = i;
      while (j < admitted.size() && admitted[j] < admitted[i] + 1000) ++j;
      most = std::max(most, j - i);
    }
    EXPECT_LE(most, static_cast<std::size_t>(limit));
    auto o = stats_of(t, clock.now_ms());
    EXPECT_EQ(stat(o, "max_analyze_1s"), static_cast<long long>(most)) << limit;
    EXPECT_EQ(stat(o, "admitted_analyze"), static_cast<long long>(admitted.size()));
    EXPECT_GT(stat(o, "throttled_analyze"), 0) << limit;
  }
}

TEST(Throttle, AClockThatStepsBackIsTakenAsTheLastTime) {
  ManualClock clock;
  Throttle t({.status_rps = 1});
  Millis t0 = clock.now_ms();
  EXPECT_TRUE(t.admit(kS, t0).admitted);
  auto v = t.admit(kS, t0 - 5000);  // judged at t0
  EXPECT_FALSE(v.admitted);
  EXPECT_EQ(v.wait_ms, 1000);
  EXPECT_TRUE(t.admit(kS, t0 + 1000).admitted);
}

TEST(Throttle, LimitsChangeWhileRunningAndResetKeepsTheHistory) {
  ManualClock clock;
  Throttle t;
  Millis t0 = clock.now_ms();
  for (int i = 0; i < 10; ++i) EXPECT_TRUE(t.admit(kA, t0 + i).admitted);
  // The calls already admitted count against a limit set afterwards.
  t.set_limits({.analyze_rps = 4});
  EXPECT_EQ(t.limits().analyze_rps, 4);
  auto v = t.admit(kA, t0 + 20);
  EXPECT_FALSE(v.admitted);
  EXPECT_EQ(v.wait_ms, 1006 - 20);  // the 7th of 10 (at t0 + 6) must leave
  t.reset_counts();
  auto o = stats_of(t, t0 + 20);
  EXPECT_EQ(stat(o, "admitted_analyze"), 0);
  EXPECT_EQ(stat(o, "throttled_analyze"), 0);
  EXPECT_EQ(stat(o, "max_analyze_1s"), 0);
  EXPECT_TRUE(o.at("per_second").as_array().empty());
  EXPECT_FALSE(t.admit(kA, t0 + 30).admitted);  // the history stayed
  t.set_limits({});
  EXPECT_TRUE(t.admit(kA, t0 + 30).admitted);
}

TEST(Throttle, PerSecondCountsOfTheLastMinute) {
  ManualClock clock(1'700'000'000'000);  // a whole second
  Millis t0 = clock.now_ms();
  Throttle t({.analyze_rps = 2});
  EXPECT_TRUE(stats_of(t, t0).at("per_second").as_array().empty());
  for (int i = 0; i < 3; ++i) t.admit(kA, t0 + 100);  // 2 admitted, 1 refused
  t.admit(kS, t0 + 1500);
  auto o = stats_of(t, t0 + 1900);
  const auto& both = o.at("per_second").as_array();
  ASSERT_EQ(both.size(), 2u);
  const auto& first = both[0].as_object();
  EXPECT_EQ(stat(first, "t"), t0 / 1000);
  EXPECT_EQ(stat(first, "analyze"), 2);
  EXPECT_EQ(stat(first, "throttled_analyze"), 1);
  EXPECT_EQ(stat(first, "status"), 0);
  EXPECT_EQ(stat(first, "throttled_status"), 0);
  EXPECT_EQ(stat(both[1].as_object(), "t"), t0 / 1000 + 1);
  EXPECT_EQ(stat(both[1].as_object(), "status"), 1);
  // A minute on, the first second is gone; seconds without calls are left out.
  t.admit(kS, t0 + 60'000);
  o = stats_of(t, t0 + 60'000);
  const auto& later = o.at("per_second").as_array();
  ASSERT_EQ(later.size(), 2u);
  EXPECT_EQ(stat(later[0].as_object(), "t"), t0 / 1000 + 1);
  EXPECT_EQ(stat(later[1].as_object(), "t"), t0 / 1000 + 60);
  EXPECT_EQ(stat(later[1].as_object(), "status"), 1);
}

}  // namespace
}  // namespace lrogate::sim
