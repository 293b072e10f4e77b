#include "upstream/status_parser.h"

#include <gtest/gtest.h>

namespace lrogate::upstream {
namespace {

TEST(StatusParser, CaseInsensitiveStatuses) {
  EXPECT_EQ(parse_status_body(R"({"status":"succeeded"})").phase, Phase::kSucceeded);
  EXPECT_EQ(parse_status_body(R"({"status":"RUNNING"})").phase, Phase::kRunning);
  EXPECT_EQ(parse_status_body(R"({"status":"notStarted"})").phase, Phase::kNotStarted);
  EXPECT_EQ(parse_status_body(R"({"status":"Cancelled"})").phase, Phase::kCanceled);
}

TEST(StatusParser, FailedCarriesTheUpstreamError) {
  auto s = parse_status_body(
      R"({"status":"Failed","error":{"code":"InvalidContent","message":"bad pdf"}})");
  EXPECT_EQ(s.phase, Phase::kFailed);
  EXPECT_EQ(s.error_code, "InvalidContent");
  EXPECT_EQ(s.error_message, "bad pdf");
}

TEST(StatusParser, UnknownAndMalformed) {
  auto u = parse_status_body(R"({"status":"Pondering"})");
  EXPECT_TRUE(u.json);
  EXPECT_EQ(u.phase, Phase::kUnknown);
  EXPECT_EQ(u.status, "Pondering");
  EXPECT_FALSE(parse_status_body("{\"status\": Runn").json);
  EXPECT_FALSE(parse_status_body("[1,2]").json);
  EXPECT_EQ(parse_status_body(R"({"status":7})").phase, Phase::kUnknown);
}

TEST(StatusParser, ErrorBodyFallsBackToAnExcerpt) {
  std::string code, message;
  parse_error_body(R"({"error":{"code":"ModelNotFound","message":"no such analyzer"}})", &code,
                   &message);
  EXPECT_EQ(code, "ModelNotFound");
  EXPECT_EQ(message, "no such analyzer");
  std::string c2, m2;
  parse_error_body("<html>bad gateway</html>", &c2, &m2);
  EXPECT_EQ(m2, "<html>bad gateway</html>");
}

}  // namespace
}  // namespace lrogate::upstream
