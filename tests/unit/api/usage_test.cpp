#include "api/usage.h"

#include <gtest/gtest.h>

namespace lrogate::api {
namespace {

TEST(UsageDays, ParseAndFormatAreUtcDaysSinceTheEpoch) {
  EXPECT_EQ(parse_day("1970-01-01"), 0);
  EXPECT_EQ(parse_day("1970-01-02"), 1);
  EXPECT_EQ(parse_day("2024-02-29"), 19782);
  EXPECT_EQ(format_day(19782), "2024-02-29");
  EXPECT_EQ(format_day(0), "1970-01-01");
  for (std::int64_t d : {0, 59, 60, 365, 10957, 20425, 2932896}) {
    EXPECT_EQ(parse_day(format_day(d)), d) << d;
  }
  for (const char* bad : {"2023-02-29", "2024-13-01", "2024-00-10", "2024-01-32", "2024-1-01",
                          "20240101", "1969-12-31", "2024-01-01T00:00", "", "abcd-ef-gh"}) {
    EXPECT_FALSE(parse_day(bad).has_value()) << bad;
  }
}

}  // namespace
}  // namespace lrogate::api
