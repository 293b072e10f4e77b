#include "poller/claim_plan.h"

#include <gtest/gtest.h>

namespace lrogate::poller {
namespace {

using std::chrono::milliseconds;
using Names = std::vector<std::string>;

constexpr milliseconds kLease{60'000};  // half a lease: 30 s of polls

std::vector<std::string_view> queued(std::initializer_list<std::pair<const char*, int>> counts) {
  std::vector<std::string_view> out;
  for (const auto& [name, n] : counts) out.insert(out.end(), n, name);
  return out;
}

// The bug this plan is for: a slow resource's operations, claimed first (the
// earliest due), filled the queue to its cap and no claim took the others'.
TEST(ClaimPlan, ASlowResourcesBacklogDoesNotKeepTheOthersOut) {
  std::vector<ResourceRate> pool{{"slow", 0.1}, {"fast", 10}};  // shares 3 and 256 (the batch)
  ClaimPlan empty = plan_claim(pool, {}, 1.0, kLease, 256);
  EXPECT_EQ(empty.room, 256);  // min(3 + 256, 256)
  EXPECT_TRUE(empty.skip.empty());

  // One claim returned 200 of slow's: slow is left out, and its excess does
  // not count against the room the others have.
  ClaimPlan held = plan_claim(pool, queued({{"slow", 200}}), 1.0, kLease, 256);
  EXPECT_EQ(held.skip, Names{"slow"});
  EXPECT_EQ(held.room, 253);

  ClaimPlan below = plan_claim(pool, queued({{"slow", 2}, {"fast", 10}}), 1.0, kLease, 256);
  EXPECT_TRUE(below.skip.empty());
  EXPECT_EQ(below.room, 256 - 12);
}

TEST(ClaimPlan, EachResourceHoldsWhatItsPollsStartWithinHalfALease) {
  std::vector<ResourceRate> pool{{"a", 1}, {"b", 2}};  // 30 and 60; the queue's cap 90
  ClaimPlan p = plan_claim(pool, queued({{"a", 30}, {"b", 59}}), 1.0, kLease, 256);
  EXPECT_EQ(p.skip, Names{"a"});
  EXPECT_EQ(p.room, 1);
  p = plan_claim(pool, queued({{"a", 30}, {"b", 60}}), 1.0, kLease, 256);
  EXPECT_EQ(p.skip, (Names{"a", "b"}));
  EXPECT_EQ(p.room, 0);
}

// The caps are of this shard's part of each rate (the Poller gives 1 / shards).
TEST(ClaimPlan, AShardHasItsPartOfEachRate) {
  std::vector<ResourceRate> pool{{"a", 1}};
  EXPECT_EQ(plan_claim(pool, {}, 0.5, kLease, 256).room, 15);
  ClaimPlan p = plan_claim(pool, queued({{"a", 15}}), 0.5, kLease, 256);
  EXPECT_EQ(p.skip, Names{"a"});
  EXPECT_EQ(p.room, 0);
}

// The caps are computed from the rates given, each time: a pool reloaded
// with other limits claims by them at once.
TEST(ClaimPlan, FollowsTheRatesItIsGiven) {
  auto q = queued({{"a", 20}});
  EXPECT_EQ(plan_claim({{"a", 1}}, q, 1.0, kLease, 256).room, 10);
  EXPECT_EQ(plan_claim({{"a", 4}}, q, 1.0, kLease, 256).room, 100);
  EXPECT_EQ(plan_claim({{"a", 0.5}}, q, 1.0, kLease, 256).skip, Names{"a"});
  EXPECT_EQ(plan_claim({{"a", 1}, {"new", 1}}, q, 1.0, kLease, 256).room, 40);
}

TEST(ClaimPlan, AResourceWithoutALimitHasTheBatch) {
  std::vector<ResourceRate> pool{{"free", 0}, {"slow", 1}};  // the queue's cap: the batch
  ClaimPlan p = plan_claim(pool, queued({{"free", 100}, {"slow", 30}}), 1.0, kLease, 128);
  EXPECT_EQ(p.skip, Names{"slow"});
  EXPECT_EQ(p.room, 0);  // 100 + 30 within their shares: past the cap of 128
  p = plan_claim(pool, queued({{"free", 128}}), 1.0, kLease, 128);
  EXPECT_EQ(p.skip, Names{"free"});
  EXPECT_EQ(p.room, 0);
  EXPECT_EQ(plan_claim({}, {}, 1.0, kLease, 64).room, 64);  // no pool yet: the batch
}

// The cap is the sum of the shares: with many shards and low rates each
// share rounds up to 1, and one resource's place must not be all the cap.
TEST(ClaimPlan, TheCapIsTheSumOfTheShares) {
  std::vector<ResourceRate> pool{{"a", 0.5}, {"b", 4}};  // a quarter of each: 1 and 1 in 1.5 s
  EXPECT_EQ(plan_claim(pool, {}, 0.25, milliseconds(3000), 256).room, 2);
  ClaimPlan p = plan_claim(pool, queued({{"a", 2}}), 0.25, milliseconds(3000), 256);
  EXPECT_EQ(p.skip, Names{"a"});
  EXPECT_EQ(p.room, 1);
  EXPECT_EQ(plan_claim({{"a", 100}, {"b", 100}}, {}, 1.0, kLease, 256).room, 256);  // the batch
}

// Every share is at least one operation, however low the rate or short the lease.
TEST(ClaimPlan, EveryShareIsAtLeastOne) {
  std::vector<ResourceRate> pool{{"trickle", 0.01}};
  EXPECT_EQ(plan_claim(pool, {}, 0.25, milliseconds(2000), 256).room, 1);
  ClaimPlan p = plan_claim(pool, queued({{"trickle", 1}}), 0.25, milliseconds(2000), 256);
  EXPECT_EQ(p.skip, Names{"trickle"});
  EXPECT_EQ(p.room, 0);
}

// Operations of a resource no longer in the pool have no share of their own:
// they count against the cap and are never skipped (they are polled, or
// failed, at once).
TEST(ClaimPlan, AResourceGoneCountsAgainstTheCap) {
  ClaimPlan p = plan_claim({{"a", 1}}, queued({{"gone", 5}}), 1.0, kLease, 256);
  EXPECT_TRUE(p.skip.empty());
  EXPECT_EQ(p.room, 25);
}

// Excess over the shares does not reduce the room until the queue would hold
// more than twice the cap: the queue stays bounded.
TEST(ClaimPlan, TheQueueNeverPassesTwiceTheCap) {
  std::vector<ResourceRate> pool{{"a", 1}, {"b", 1}};  // 30 each; the cap 60
  ClaimPlan p = plan_claim(pool, queued({{"a", 59}}), 1.0, kLease, 256);
  EXPECT_EQ(p.room, 30);  // 60 − 30 within a's share; 120 − 59 leaves more
  p = plan_claim(pool, queued({{"a", 110}}), 1.0, kLease, 256);
  EXPECT_EQ(p.room, 10);  // 120 − 110
  p = plan_claim(pool, queued({{"a", 100}, {"b", 40}}), 1.0, kLease, 256);
  EXPECT_EQ(p.room, 0);
  EXPECT_EQ(p.skip, (Names{"a", "b"}));
}

}  // namespace
}  // namespace lrogate::poller
