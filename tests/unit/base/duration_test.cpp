#include "base/duration.h"

#include <gtest/gtest.h>

namespace lrogate {
namespace {

using std::chrono::milliseconds;

TEST(Duration, ParsesUnitsAndCombinations) {
  EXPECT_EQ(parse_duration("250ms").value(), milliseconds(250));
  EXPECT_EQ(parse_duration("10s").value(), milliseconds(10'000));
  EXPECT_EQ(parse_duration("5m").value(), milliseconds(300'000));
  EXPECT_EQ(parse_duration("1h30m").value(), milliseconds(5'400'000));
  EXPECT_EQ(parse_duration("0s").value(), milliseconds(0));
  EXPECT_EQ(parse_duration("2d").value(), milliseconds(172'800'000));
}

TEST(Duration, BareNumberIsSeconds) {
  EXPECT_EQ(parse_duration("15").value(), milliseconds(15'000));
}

TEST(Duration, RejectsGarbageWithAMessage) {
  for (const char* bad : {"", "s", "10x", "-5s", "1.5s", "ms10", "10s ", "99999999999999999999s",
                          "99999999999999999999", "9223372036854775807ms"}) {
    auto r = parse_duration(bad);
    ASSERT_FALSE(r.ok()) << bad;
    EXPECT_NE(r.error().message.find("invalid duration"), std::string::npos);
  }
}

TEST(Duration, FormatsShortestExactSpelling) {
  EXPECT_EQ(format_duration(milliseconds(0)), "0s");
  EXPECT_EQ(format_duration(milliseconds(90'000)), "1m30s");
  EXPECT_EQ(format_duration(milliseconds(250)), "250ms");
  EXPECT_EQ(format_duration(milliseconds(1'800'000)), "30m");
  EXPECT_EQ(parse_duration(format_duration(milliseconds(3'723'004))).value(),
            milliseconds(3'723'004));
}

}  // namespace
}  // namespace lrogate
