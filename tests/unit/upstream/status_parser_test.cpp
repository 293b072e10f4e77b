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

TEST(StatusParser, ReadsOnlyTheShapesFields) {
  // Nested fields by their dotted path; nothing matches inside an array, or
  // under a key that holds a dot.
  StatusShape shape;
  shape.status_field = "job.state";
  shape.succeeded = {"done"};
  shape.result_field = "job.output";
  shape.error_field = "job.problem";
  auto s = parse_status_body(
      R"({"other":[{"job":{"state":"failed"}}],"job":{"x":{"state":"no"},"state":"done",)"
      R"("output":[1,{"a":2}],"problem":{"code":"C","message":"m\u00e9"}}})",
      shape);
  EXPECT_TRUE(s.json);
  EXPECT_EQ(s.phase, Phase::kSucceeded);
  EXPECT_EQ(s.status, "done");
  EXPECT_TRUE(s.result_present);
  EXPECT_EQ(s.error_code, "C");
  EXPECT_EQ(s.error_message, "m\xc3\xa9");
  auto dotted = parse_status_body(R"({"job.state":"done","job.output":1})", shape);
  EXPECT_TRUE(dotted.json);
  EXPECT_EQ(dotted.phase, Phase::kUnknown);
  EXPECT_FALSE(dotted.result_present);
  StatusShape with_result;
  with_result.result_field = "result";
  EXPECT_FALSE(parse_status_body(R"({"status":"Succeeded","r":{"result":1}})", with_result)
                   .result_present);
  EXPECT_TRUE(parse_status_body(R"({"status":"Succeeded","result":null})", with_result)
                  .result_present);
  EXPECT_TRUE(parse_status_body(R"({"status":"Succeeded","result":{}})", with_result)
                  .result_present);
}

TEST(StatusParser, ErrorAsAStringAndLongValues) {
  auto s = parse_status_body(R"({"status":"failed","error":"plain words"})");
  EXPECT_EQ(s.phase, Phase::kFailed);
  EXPECT_EQ(s.error_message, "plain words");
  std::string long_status(100, 'x');
  auto l = parse_status_body("{\"status\":\"" + long_status + "\"}");
  EXPECT_EQ(l.status, long_status.substr(0, 64));
  EXPECT_EQ(l.phase, Phase::kUnknown);
  std::string long_message(5000, 'm');
  auto m = parse_status_body(R"({"status":"Failed","error":{"message":")" + long_message +
                             R"("}})");
  EXPECT_EQ(m.error_message.size(), 2048u);
}

TEST(StatusParser, WholeDocumentsOnly) {
  EXPECT_TRUE(parse_status_body(" {\"status\":\"Running\"} \n").json);
  EXPECT_FALSE(parse_status_body(R"({"status":"Running"} x)").json);
  EXPECT_FALSE(parse_status_body(R"({"status":"Running"}{})").json);
  EXPECT_FALSE(parse_status_body("").json);
  EXPECT_FALSE(parse_status_body(R"("Running")").json);
  EXPECT_FALSE(parse_status_body(R"([{"status":"Running"}])").json);
  std::string deep = std::string(70, '[') + std::string(70, ']');
  EXPECT_FALSE(parse_status_body(R"({"status":"Running","d":)" + deep + "}").json);
  auto r = parse_status_body(R"({"status":"Running","d":[[[{"status":"Failed"}]]]})");
  EXPECT_EQ(r.phase, Phase::kRunning);
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
