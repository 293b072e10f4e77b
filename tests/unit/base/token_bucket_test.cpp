#include "base/token_bucket.h"

#include <gtest/gtest.h>

namespace lrogate {
namespace {

TEST(TokenBucket, AllowsBurstThenPaces) {
  TokenBucket b(1.0, 3.0, 0);
  EXPECT_EQ(b.take(0), 0);
  EXPECT_EQ(b.take(0), 0);
  EXPECT_EQ(b.take(0), 0);
  EXPECT_EQ(b.take(0), 1000);  // the 4th must wait a full second
  EXPECT_EQ(b.take(500), 500);
  EXPECT_EQ(b.take(1000), 0);
}

TEST(TokenBucket, ZeroRateIsUnlimited) {
  TokenBucket b(0, 1, 0);
  for (int i = 0; i < 1000; ++i) EXPECT_EQ(b.take(0), 0);
}

TEST(TokenBucket, NeverHoldsMoreThanBurst) {
  TokenBucket b(10.0, 2.0, 0);
  EXPECT_EQ(b.take(100'000), 0);
  EXPECT_EQ(b.take(100'000), 0);
  EXPECT_GT(b.take(100'000), 0);
}

}  // namespace
}  // namespace lrogate
