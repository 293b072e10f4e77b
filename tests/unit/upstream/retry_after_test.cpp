#include "upstream/retry_after.h"

#include <gtest/gtest.h>

namespace lrogate::upstream {
namespace {

using std::chrono::milliseconds;
constexpr Millis kNow = 784'111'777'000;  // Sun, 06 Nov 1994 08:49:37 GMT

TEST(RetryAfter, Seconds) {
  EXPECT_EQ(parse_retry_after({{"retry-after", "7"}}, kNow), milliseconds(7000));
}

TEST(RetryAfter, HttpDate) {
  EXPECT_EQ(parse_retry_after_value("Sun, 06 Nov 1994 08:49:47 GMT", kNow), milliseconds(10'000));
  // A date in the past means "now".
  EXPECT_EQ(parse_retry_after_value("Sun, 06 Nov 1994 08:49:30 GMT", kNow), milliseconds(0));
}

TEST(RetryAfter, MillisecondHeadersWin) {
  http::Headers h{{"retry-after", "9"}, {"retry-after-ms", "1500"}};
  EXPECT_EQ(parse_retry_after(h, kNow), milliseconds(1500));
  EXPECT_EQ(parse_retry_after({{"x-ms-retry-after-ms", "250"}}, kNow), milliseconds(250));
}

TEST(RetryAfter, ClampedAndGarbageIgnored) {
  EXPECT_EQ(parse_retry_after({{"retry-after", "999999"}}, kNow), milliseconds(3'600'000));
  EXPECT_FALSE(parse_retry_after({{"retry-after", "soon"}}, kNow).has_value());
  EXPECT_FALSE(parse_retry_after({{"retry-after", "-3"}}, kNow).has_value());
  EXPECT_FALSE(parse_retry_after({}, kNow).has_value());
}

}  // namespace
}  // namespace lrogate::upstream
