#include "sim/directives.h"

#include <gtest/gtest.h>

namespace lrogate::sim {
namespace {

TEST(Directives, ReadFromTheDocumentUrl) {
  auto d = parse_directives(
      "https://docs.example/a.pdf?sim_duration=2s&sim_outcome=Failed&sim_poll_faults=429:2,500,hang"
      "&sim_retry_after=4&sim_result_bytes=2048",
      Directives{});
  ASSERT_TRUE(d.ok()) << d.error().message;
  EXPECT_EQ(d->duration, std::chrono::seconds(2));
  EXPECT_EQ(d->outcome, "Failed");
  ASSERT_EQ(d->poll_faults.size(), 3u);
  EXPECT_EQ(d->poll_faults[0].status, 429);
  EXPECT_EQ(d->poll_faults[0].after, Fault::After::kSeconds);
  EXPECT_EQ(d->poll_faults[0].after_value, 2);
  EXPECT_EQ(d->poll_faults[2].kind, Fault::Kind::kHang);
  EXPECT_EQ(d->retry_after_s, 4);
  EXPECT_EQ(d->result_bytes, 2048u);
}

TEST(Directives, FaultForms) {
  EXPECT_EQ(parse_fault("429:date3").value().after, Fault::After::kDate);
  EXPECT_EQ(parse_fault("503:ms1500").value().after_value, 1500);
  EXPECT_EQ(parse_fault("badjson").value().kind, Fault::Kind::kBadJson);
  EXPECT_FALSE(parse_fault("42").ok());
  EXPECT_FALSE(parse_fault("429:x").ok());
  EXPECT_FALSE(parse_fault("explode").ok());
}

TEST(Directives, TyposAreErrorsAndOtherParamsIgnored) {
  EXPECT_FALSE(parse_directives("https://d/a?sim_duraton=2s", Directives{}).ok());
  auto d = parse_directives("https://d/a?page=3", Directives{});
  ASSERT_TRUE(d.ok());
  EXPECT_EQ(d->outcome, "Succeeded");
}

}  // namespace
}  // namespace lrogate::sim
