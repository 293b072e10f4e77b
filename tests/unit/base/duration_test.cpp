#include "base/duration.h"

#include <gtest/gtest.h>

#include <initializer_list>
#include <string>

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

// kMaxDuration (36500d) is the largest accepted in every unit, and one more the first refused:
// 1e8h used to pass, and overflowed nanoseconds (steady_clock::now() + it) in the client.
TEST(Duration, LimitInEveryUnit) {
  struct Case {
    const char* largest;
    const char* first_refused;
  };
  for (auto [largest, refused] : std::initializer_list<Case>{
           {"3153600000000ms", "3153600000001ms"},
           {"3153600000s", "3153600001s"},
           {"3153600000", "3153600001"},  // a bare number is seconds
           {"52560000m", "52560001m"},
           {"876000h", "876001h"},
           {"36500d", "36501d"},
           {"36499d23h59m59s1000ms", "36499d23h59m60s1ms"},
           {"36500d0ms", "36500d1ms"},
       }) {
    auto ok = parse_duration(largest);
    ASSERT_TRUE(ok.ok()) << largest << ": " << ok.error().message;
    EXPECT_EQ(ok.value(), kMaxDuration) << largest;
    auto r = parse_duration(refused);
    ASSERT_FALSE(r.ok()) << refused;
    EXPECT_EQ(r.error().message,
              "invalid duration '" + std::string(refused) + "': too large (at most 36500d)");
  }
  EXPECT_EQ(kMaxDuration, std::chrono::hours(24 * 36'500));
  // Twice the limit, added to the system clock, still fits in nanoseconds.
  EXPECT_LT(std::chrono::nanoseconds(kMaxDuration).count(),
            (std::chrono::nanoseconds::max().count() -
             std::chrono::system_clock::now().time_since_epoch().count()) /
                2);
}

TEST(Duration, HugeValuesAreRefusedNotWrapped) {
  for (const char* big : {"100000000h", "9223372036854775807ms", "9223372036854775808ms",
                          "106751991167d", "99999999999999999999", "18446744073709551616s",
                          "36500d36500d", "1d36500d", "876000h1ms", "3153600000s1ms"}) {
    auto r = parse_duration(big);
    ASSERT_FALSE(r.ok()) << big;
    EXPECT_NE(r.error().message.find("too large (at most 36500d)"), std::string::npos)
        << big << ": " << r.error().message;
  }
}

TEST(Duration, RejectsEachKindOfGarbage) {
  struct Case {
    const char* text;
    const char* why;
  };
  for (auto [text, why] : std::initializer_list<Case>{
           {"", "empty"},
           {"-5s", "expected a number"},
           {"+5s", "expected a number"},
           {" 5s", "expected a number"},
           {"5s ", "expected a number"},
           {"5 s", "missing unit (ms, s, m, h, d)"},
           {"1.5s", "missing unit (ms, s, m, h, d)"},
           {"s", "expected a number"},
           {"1h30", "missing unit (ms, s, m, h, d)"},
           {"10x", "unknown unit"},
           {"10S", "unknown unit"},
           {"10sec", "unknown unit"},
           {"0x10s", "unknown unit"},
       }) {
    auto r = parse_duration(text);
    ASSERT_FALSE(r.ok()) << text;
    EXPECT_EQ(r.error().message, "invalid duration '" + std::string(text) + "': " + why);
  }
  auto long_text = std::string(65, '1');
  EXPECT_EQ(parse_duration(long_text).error().message,
            "invalid duration '" + long_text.substr(0, 64) + "': too long");
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
