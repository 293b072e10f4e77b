#include "base/strings.h"

#include <gtest/gtest.h>

namespace lrogate {
namespace {

TEST(ParseDigits, DigitsOnlyWithinTheirCount) {
  EXPECT_EQ(parse_digits("0"), 0);
  EXPECT_EQ(parse_digits("0042"), 42);
  EXPECT_EQ(parse_digits("65535", 5), 65535);
  EXPECT_FALSE(parse_digits("123456", 5));
  EXPECT_FALSE(parse_digits(""));
  EXPECT_FALSE(parse_digits("-1"));
  EXPECT_FALSE(parse_digits("+1"));
  EXPECT_FALSE(parse_digits(" 1"));
  EXPECT_FALSE(parse_digits("1e3"));
  EXPECT_EQ(parse_digits("999999999999999999"), 999'999'999'999'999'999);
  // 19 digits could overflow: refused whatever max_digits asks.
  EXPECT_FALSE(parse_digits("9999999999999999999", 30));
}

TEST(SplitList, TrimsAndDropsEmptyItems) {
  EXPECT_EQ(split_list(" a, b ,,c "), (std::vector<std::string>{"a", "b", "c"}));
  EXPECT_TRUE(split_list("").empty());
  EXPECT_TRUE(split_list(" , ").empty());
}

}  // namespace
}  // namespace lrogate
