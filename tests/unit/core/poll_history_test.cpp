#include "core/poll_history.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <random>
#include <thread>
#include <vector>

namespace lrogate::core {
namespace {

// The polls a schedule makes for an operation of duration d, and the age at
// which the poll that finds it done goes out. `next(age)` is the schedule.
template <class Next>
std::pair<int, Millis> run(Millis d, Next next) {
  Millis age = 0;
  for (int polls = 1;; ++polls) {
    age = next(age);
    if (age >= d) return {polls, age};
  }
}

std::pair<int, Millis> run_fixed(Millis d, const ScheduleShape& s) {
  return run(d, [&](Millis age) { return age == 0 ? s.first_poll_delay : age + s.poll_interval; });
}

std::pair<int, Millis> run_learned(Millis d, const DurationSketch& h, const ScheduleShape& s) {
  return run(d, [&](Millis age) { return learned_poll_age(h, age, s).value(); });
}

std::vector<Millis> lognormal(std::mt19937_64& rng, int n, double median_s, double sigma) {
  std::normal_distribution<double> z(0.0, 1.0);
  std::vector<Millis> out;
  for (int i = 0; i < n; ++i) {
    out.push_back(static_cast<Millis>(median_s * 1000.0 * std::exp(sigma * z(rng))));
  }
  return out;
}

DurationSketch sketch_of(const std::vector<Millis>& ds) {
  DurationSketch h;
  for (Millis d : ds) h.add(duration_bucket(d));
  return h;
}

template <class V>
double median(V v) {
  std::sort(v.begin(), v.end());
  return static_cast<double>(v[v.size() / 2]);
}

TEST(DurationSketch, BucketsAreOrderedAndCoverEveryDuration) {
  EXPECT_EQ(duration_bucket(0), 0);
  EXPECT_EQ(duration_bucket(999), 0);
  EXPECT_EQ(duration_bucket(1000), 1);
  EXPECT_EQ(duration_bucket(24LL * 3600 * 1000), kDurationBuckets - 1);
  for (Millis d : {1'500LL, 9'999LL, 120'000LL, 3'600'000LL}) {
    int b = duration_bucket(d);
    EXPECT_LE(bucket_low(b), d) << d;
    EXPECT_GT(bucket_high(b), d) << d;
  }
  for (int b = 1; b < kDurationBuckets; ++b) EXPECT_EQ(bucket_low(b), bucket_high(b - 1));
}

TEST(DurationSketch, QuantilesFollowTheCounts) {
  std::mt19937_64 rng(7);
  auto h = sketch_of(lognormal(rng, 5000, 120, 0.3));
  // Within a bucket's width (≈ 18 %) of the true median and 90th percentile.
  EXPECT_NEAR(static_cast<double>(*h.quantile(0.5)), 120'000.0, 120'000.0 * 0.18);
  EXPECT_NEAR(static_cast<double>(*h.quantile(0.9)), 120'000.0 * std::exp(0.3 * 1.2816),
              120'000.0 * 0.18);
  EXPECT_FALSE(DurationSketch{}.quantile(0.5).has_value());
}

TEST(SizeBand, OneBandPerFactorOfFour) {
  EXPECT_EQ(size_band(std::nullopt), -1);
  EXPECT_EQ(size_band(10), 0);
  EXPECT_EQ(size_band(64 * 1024 - 1), 0);
  EXPECT_EQ(size_band(64 * 1024), 1);
  EXPECT_EQ(size_band(256 * 1024), 2);
  EXPECT_EQ(size_band(1LL << 30), 8);
  EXPECT_EQ(size_band(1LL << 50), 15);
}

TEST(LearnedSchedule, WithoutEnoughHistoryThereIsNone) {
  ScheduleShape s;
  DurationSketch h;
  for (int i = 0; i < 19; ++i) h.add(duration_bucket(60'000));
  EXPECT_FALSE(learned_poll_age(h, 0, s).has_value());
  h.add(duration_bucket(60'000));
  EXPECT_TRUE(learned_poll_age(h, 0, s).has_value());
}

TEST(LearnedSchedule, KeepsTheFixedGridAndSkipsWhereNothingFinishes) {
  ScheduleShape s;  // first poll at 1 s, then every 10 s
  DurationSketch h;
  for (int i = 0; i < 50; ++i) h.add(duration_bucket(120'000));
  Millis first = *learned_poll_age(h, 0, s);
  EXPECT_EQ((first - s.first_poll_delay) % s.poll_interval, 0);
  EXPECT_GT(first, 60'000);   // nothing finishes in the first minute
  EXPECT_LE(first, 120'000);  // but it polls before the known duration
  Millis next = *learned_poll_age(h, first, s);
  EXPECT_EQ(next, first + s.poll_interval);  // then the grid, where completions are
  // Never sooner than half an interval after the last poll (a late poll).
  EXPECT_GE(*learned_poll_age(h, first + 6'000, s), first + 6'000 + s.poll_interval / 2);
}

TEST(LearnedSchedule, PastTheHistoryTheGapGrowsUpToTheCap) {
  ScheduleShape s;
  DurationSketch h;
  for (int i = 0; i < 50; ++i) h.add(duration_bucket(30'000));
  Millis age = *learned_poll_age(h, 0, s);
  Millis last_gap = 0;
  for (int i = 0; i < 30; ++i) {
    Millis next = *learned_poll_age(h, age, s);
    Millis gap = next - age;
    EXPECT_GE(gap, last_gap);  // never shrinks past the range
    EXPECT_LE(gap, s.tail_cap);
    last_gap = gap;
    age = next;
  }
  EXPECT_EQ(last_gap, s.tail_cap);
}

// The benchmark shapes, drawn here without sleeping: the learned
// schedule makes fewer calls and sees no operation later than the fixed
// schedule would (by more than 1 s) unless it lies outside the history.
TEST(LearnedSchedule, LogNormalCostsFewerPollsAndIsNeverLater) {
  std::mt19937_64 rng(11);
  ScheduleShape s;
  auto h = sketch_of(lognormal(rng, 200, 120, 0.3));
  auto ops = lognormal(rng, 1000, 120, 0.3);
  std::vector<int> fixed_polls, learned_polls;
  int later = 0;
  for (Millis d : ops) {
    auto [fp, fat] = run_fixed(d, s);
    auto [lp, lat] = run_learned(d, h, s);
    fixed_polls.push_back(fp);
    learned_polls.push_back(lp);
    if (lat > fat + 1000) ++later;
  }
  EXPECT_LE(median(learned_polls), 0.7 * median(fixed_polls));
  EXPECT_LE(later, 2);  // outside the 200 samples' range, if any
}

TEST(LearnedSchedule, BimodalSkipsTheGapBetweenTheModes) {
  std::mt19937_64 rng(13);
  ScheduleShape s;
  auto draw = [&](int n) {
    auto a = lognormal(rng, n / 2, 30, 0.1);
    auto b = lognormal(rng, n - n / 2, 300, 0.1);
    a.insert(a.end(), b.begin(), b.end());
    std::shuffle(a.begin(), a.end(), rng);
    return a;
  };
  auto h = sketch_of(draw(200));
  auto ops = draw(1000);
  std::vector<int> fixed_polls, learned_polls;
  int later = 0;
  for (Millis d : ops) {
    auto [fp, fat] = run_fixed(d, s);
    auto [lp, lat] = run_learned(d, h, s);
    fixed_polls.push_back(fp);
    learned_polls.push_back(lp);
    if (lat > fat + 1000) ++later;
  }
  EXPECT_LE(median(learned_polls), 0.5 * median(fixed_polls));
  EXPECT_LE(later, 2);
}

TEST(PollHistory, FallsBackFromTheBandToTheAnalyzerThenToNone) {
  PollHistory ph(20);
  DurationKey small{"r1", "a", 0}, large{"r1", "a", 3}, other{"r2", "a", 0};
  for (int i = 0; i < 20; ++i) ph.add(small, duration_bucket(10'000));
  for (int i = 0; i < 5; ++i) ph.add(large, duration_bucket(100'000));
  ASSERT_NE(ph.find(small), nullptr);
  EXPECT_EQ(ph.find(small)->total, 20);
  ASSERT_NE(ph.find(large), nullptr);  // too few of its own: the analyzer's 25
  EXPECT_EQ(ph.find(large)->total, 25);
  EXPECT_EQ(ph.find(other), nullptr);  // another resource learns on its own
  auto learned = ph.summary();
  ASSERT_EQ(learned.size(), 1u);
  EXPECT_EQ(learned[0].samples, 25);
}

TEST(PollHistory, ReplaceTakesTheStoresCountsAndConcurrentReadsStayWhole) {
  PollHistory ph(1);
  DurationKey k{"r", "a", -1};
  DurationSketch from_store;
  from_store.add(duration_bucket(50'000), 40);
  std::thread reader([&] {
    for (int i = 0; i < 2000; ++i) {
      if (auto s = ph.find(k)) {
        std::int64_t sum = 0;
        for (auto c : s->counts) sum += c;
        ASSERT_EQ(sum, s->total);
      }
    }
  });
  for (int i = 0; i < 200; ++i) ph.add(k, duration_bucket(20'000));
  ph.replace({{k, from_store}});
  reader.join();
  EXPECT_EQ(ph.find(k)->total, 40);
}

}  // namespace
}  // namespace lrogate::core
