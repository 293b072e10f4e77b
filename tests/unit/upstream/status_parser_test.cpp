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

// Usage (docs/design.md, "Usage and quotas"), read in the status pass.
StatusShape usage_shape(StatusShape::Usage u) {
  StatusShape s;
  s.usage = u;
  return s;
}

TEST(StatusParserUsage, ContentUnderstandingPagesAndTokens) {
  auto s = parse_status_body(
      R"({"status":"Succeeded","result":{"usage":{"documentPagesStandard":99}},)"
      R"("usage":{"documentPagesMinimal":1,"documentPagesBasic":2,"documentPagesStandard":3,)"
      R"("contextualizationTokens":1000,"tokens":{"gpt-4.1-input":200,"gpt-4.1-output":50.9,)"
      R"("nested":{"x":5},"list":[7]}}})",
      usage_shape(StatusShape::Usage::kContentUnderstanding));
  EXPECT_EQ(s.phase, Phase::kSucceeded);
  EXPECT_EQ(s.pages, 6);      // the result's own "usage" is not the top-level one
  EXPECT_EQ(s.tokens, 1250);  // 1000 + 200 + 50 (whole numbers), nested values not
}

TEST(StatusParserUsage, MissingAndGarbageFieldsCountNothing) {
  const auto cu = usage_shape(StatusShape::Usage::kContentUnderstanding);
  auto none = parse_status_body(R"({"status":"Succeeded","result":{}})", cu);
  EXPECT_EQ(none.phase, Phase::kSucceeded);
  EXPECT_EQ(none.pages, 0);
  EXPECT_EQ(none.tokens, 0);
  auto garbage = parse_status_body(
      R"({"status":"Succeeded","usage":{"documentPagesBasic":"7","documentPagesStandard":-3,)"
      R"("documentPagesMinimal":null,"contextualizationTokens":true,"tokens":[1,2]}})",
      cu);
  EXPECT_EQ(garbage.phase, Phase::kSucceeded);
  EXPECT_EQ(garbage.pages, 0);
  EXPECT_EQ(garbage.tokens, 0);
  auto not_object = parse_status_body(R"({"status":"Succeeded","usage":5})", cu);
  EXPECT_EQ(not_object.phase, Phase::kSucceeded);
  EXPECT_EQ(not_object.pages, 0);
  // Without the usage shape nothing is read.
  auto off = parse_status_body(R"({"status":"Succeeded","usage":{"documentPagesBasic":2}})");
  EXPECT_EQ(off.pages, 0);
}

TEST(StatusParserUsage, DocumentIntelligencePagesAreTheLengthOfAnalyzeResultPages) {
  StatusShape di = usage_shape(StatusShape::Usage::kDocumentIntelligence);
  di.succeeded = {"succeeded"};
  di.failed = {"failed"};
  auto s = parse_status_body(
      R"({"status":"succeeded","analyzeResult":{"pages":[{"pageNumber":1,"words":[1,2,3]},)"
      R"({"pageNumber":2,"lines":[[1],[2]]},{"pageNumber":3}],"tables":[1,2,3,4,5]}})",
      di);
  EXPECT_EQ(s.phase, Phase::kSucceeded);
  EXPECT_EQ(s.pages, 3);
  EXPECT_EQ(s.tokens, 0);
  EXPECT_EQ(parse_status_body(R"({"status":"succeeded","analyzeResult":{"pages":{}}})", di).pages,
            0);
  EXPECT_EQ(parse_status_body(R"({"status":"succeeded","pages":[1,2]})", di).pages, 0);
}

}  // namespace
}  // namespace lrogate::upstream
