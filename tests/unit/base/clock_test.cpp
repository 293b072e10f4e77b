#include "base/clock.h"

#include <gtest/gtest.h>

namespace lrogate {
namespace {

TEST(ClusterClock, IsTheHostsClockUntilASampleIsObserved) {
  ManualClock host(1'000'000);
  ClusterClock clock(host);
  EXPECT_EQ(clock.now_ms(), 1'000'000);
  EXPECT_EQ(clock.offset_ms(), 0);
  host.advance(5);
  EXPECT_EQ(clock.now_ms(), 1'000'005);
}

TEST(ClusterClock, TakesTheStoresTimeAsReadHalfWayThroughTheRoundTrip) {
  ManualClock host(1'000'000);
  ClusterClock clock(host);
  // Sent at 1,000,000, answered at 1,000,010: the store said 880,005, read
  // at 1,000,005 on this host. This host is 120 s ahead.
  EXPECT_TRUE(clock.observe(1'000'000, 880'005, 1'000'010));
  EXPECT_EQ(clock.offset_ms(), -120'000);
  host.set(1'000'010);
  EXPECT_EQ(clock.now_ms(), 880'010);
}

TEST(ClusterClock, StaysPutWithinASamplesUncertaintyAndFollowsAStep) {
  ManualClock host;
  ClusterClock clock(host);
  ASSERT_TRUE(clock.observe(1'000, 61'000, 1'000));  // 60 s behind
  // Within the round trip (or the 10 ms slack): no jitter.
  EXPECT_FALSE(clock.observe(2'000, 62'004, 2'000));
  EXPECT_FALSE(clock.observe(3'000, 63'030, 3'040));
  EXPECT_EQ(clock.offset_ms(), 60'000);
  // The host's clock was stepped by 2 s: followed.
  EXPECT_TRUE(clock.observe(4'000, 66'000, 4'002));
  EXPECT_EQ(clock.offset_ms(), 61'999);
}

TEST(ClusterClock, IgnoresSlowAndBackwardSamplesOnceItKnowsAnOffset) {
  ManualClock host;
  ClusterClock clock(host);
  // A first sample is taken however slow: better than knowing nothing.
  ASSERT_TRUE(clock.observe(0, 100'000, 3'000));
  EXPECT_EQ(clock.offset_ms(), 98'500);
  // After that, a slow one says too little, and one whose answer came
  // "before" its question means the host's clock stepped meanwhile.
  EXPECT_FALSE(clock.observe(10'000, 500'000, 10'000 + ClusterClock::kMaxRttMs + 1));
  EXPECT_FALSE(clock.observe(20'000, 500'000, 19'999));
  EXPECT_EQ(clock.offset_ms(), 98'500);
}

}  // namespace
}  // namespace lrogate
