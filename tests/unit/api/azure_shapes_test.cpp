// The Azure-compatible routes' answers: the shapes the SDKs' pollers need
// (api/azure/shapes.h), each trap of theirs a case.
#include "api/azure/shapes.h"

#include <gtest/gtest.h>

#include <boost/json/parse.hpp>

namespace lrogate::api::azure {
namespace {

const std::vector<std::string> kDiVersions = {"2024-07-31-preview", "2024-11-30"};

boost::json::object body_of(const http::Response& r) {
  return boost::json::parse(r.body).as_object();
}

std::string_view header(const http::Response& r, std::string_view name) {
  return http::find_header(r.headers, name);
}

TEST(AzureQuery, ApiVersionIsRequiredAndChecked) {
  auto missing = read_query("pages=1", kDiVersions);
  ASSERT_TRUE(std::holds_alternative<http::Response>(missing));
  auto& m = std::get<http::Response>(missing);
  EXPECT_EQ(m.status, 400);
  EXPECT_EQ(header(m, "x-ms-error-code"), "MissingApiVersionParameter");
  EXPECT_NE(m.body.find("2024-11-30"), std::string::npos);  // says what is served

  auto other = read_query("api-version=2022-08-31", kDiVersions);
  ASSERT_TRUE(std::holds_alternative<http::Response>(other));
  EXPECT_EQ(body_of(std::get<http::Response>(other))["error"].as_object()["code"],
            "UnsupportedApiVersion");
  // A version that is not URL-safe text is not echoed as sent.
  auto odd = read_query("api-version=%3Cscript%3E", kDiVersions);
  ASSERT_TRUE(std::holds_alternative<http::Response>(odd));
  EXPECT_EQ(std::get<http::Response>(odd).body.find("<script>"), std::string::npos);

  auto twice = read_query("api-version=2024-11-30&api-version=2024-11-30", kDiVersions);
  EXPECT_TRUE(std::holds_alternative<http::Response>(twice));
  EXPECT_TRUE(std::holds_alternative<http::Response>(read_query("api-version=", kDiVersions)));
}

TEST(AzureQuery, OtherParametersPassAsSent) {
  auto q = read_query("pages=1-3&api-version=2024-11-30&features=ocrHighResolution%2Cbarcodes&&",
                      kDiVersions);
  ASSERT_TRUE(std::holds_alternative<Query>(q));
  EXPECT_EQ(std::get<Query>(q).api_version, "2024-11-30");
  EXPECT_EQ(std::get<Query>(q).passthrough, "pages=1-3&features=ocrHighResolution%2Cbarcodes");
}

TEST(AzureQuery, MalformedOrTooManyParametersAreRefused) {
  for (const std::string& bad : std::vector<std::string>{"api-version=2024-11-30&a b=1", "api-version=2024-11-30&x=%zz",
                          "api-version=2024-11-30&x=<", "api-version=2024-11-30&=1",
                          "api-version=2024-11-30&x=" + std::string(1025, 'a'),
                          "api-version=2024-11-30&" + std::string(65, 'n') + "=1",
                          std::string(4097, 'a')}) {
    auto r = read_query(bad, kDiVersions);
    ASSERT_TRUE(std::holds_alternative<http::Response>(r)) << bad;
    EXPECT_EQ(std::get<http::Response>(r).status, 400) << bad;
  }
  std::string many = "api-version=2024-11-30";
  for (std::size_t i = 0; i <= kMaxPassthrough; ++i) many += "&p" + std::to_string(i) + "=1";
  EXPECT_TRUE(std::holds_alternative<http::Response>(read_query(many, kDiVersions)));
}

TEST(AzureBaseUrl, PublicUrlElseAWellFormedHost) {
  EXPECT_EQ(base_url("https://gw.example", "evil.example", false), "https://gw.example");
  EXPECT_EQ(base_url("", "127.0.0.1:8080", false), "http://127.0.0.1:8080");
  EXPECT_EQ(base_url("", "GW.Example", true), "https://gw.example");
  EXPECT_EQ(base_url("", "[::1]:9", false), "http://[::1]:9");
  for (std::string_view bad : {"", "a/b", "a b", "host:", "host:99999", "[::1", "x@y", "-a",
                               "h:1:2x"}) {
    EXPECT_FALSE(base_url("", bad, false)) << bad;
  }
}

TEST(AzureStatus, RunningAnswersCarryTheServicesWordsAndRetryAfter) {
  core::Operation op;
  op.id = "r-1";
  op.status = core::Status::kRunning;
  auto cu = status_answer(Service::kContentUnderstanding, op, 0);
  EXPECT_EQ(cu.status, 200);
  EXPECT_EQ(body_of(cu)["status"], "Running");
  EXPECT_EQ(body_of(cu)["id"], "r-1");
  EXPECT_EQ(header(cu, "Retry-After"), "1");  // never 0: a poller would spin
  op.status = core::Status::kNotStarted;
  auto di = status_answer(Service::kDocumentIntelligence, op, 10);
  EXPECT_EQ(body_of(di)["status"], "notStarted");
  EXPECT_TRUE(body_of(di).contains("createdDateTime"));
  EXPECT_EQ(header(di, "Retry-After"), "10");
}

TEST(AzureStatus, FinalBodiesAreTheUpstreamsWithAKnownStatusWord) {
  core::Operation op;
  op.id = "r-2";
  op.status = core::Status::kSucceeded;
  // Some DI versions say "completed": the JS and Python pollers never stop on it.
  op.result = R"({"status":"completed","analyzeResult":{"content":"hi"}})";
  auto di = status_answer(Service::kDocumentIntelligence, op, 1);
  auto b = body_of(di);
  EXPECT_EQ(b["status"], "succeeded");
  EXPECT_EQ(b["analyzeResult"].as_object()["content"], "hi");
  EXPECT_EQ(header(di, "Retry-After"), "");
  op.result = R"({"status":"Succeeded","result":{"contents":[]}})";
  auto cu = body_of(status_answer(Service::kContentUnderstanding, op, 1));
  EXPECT_EQ(cu["id"], "r-2");  // frontends read id at the top
  // Never an empty success.
  op.result.clear();
  EXPECT_TRUE(body_of(status_answer(Service::kDocumentIntelligence, op, 1)).contains("analyzeResult"));
  op.status = core::Status::kCanceled;
  op.result = R"({"status":"Cancelled"})";
  EXPECT_EQ(body_of(status_answer(Service::kContentUnderstanding, op, 1))["status"], "Canceled");
}

TEST(AzureStatus, FailuresCarryCodeAndMessage) {
  core::Operation op;
  op.id = "r-3";
  op.status = core::Status::kFailed;
  op.result = R"({"status":"failed","error":{"code":"InvalidContent","message":"bad pdf"}})";
  op.error_code = "InvalidContent";
  auto up = body_of(status_answer(Service::kDocumentIntelligence, op, 1));
  EXPECT_EQ(up["error"].as_object()["message"], "bad pdf");
  // The gateway ended it (--max-wait): its own reason, in the same place.
  op.result.clear();
  op.error_code = "Timeout";
  op.error_message = "the upstream did not finish within --max-wait (30m)";
  auto gw = body_of(status_answer(Service::kContentUnderstanding, op, 1));
  EXPECT_EQ(gw["status"], "Failed");
  EXPECT_EQ(gw["error"].as_object()["code"], "Timeout");
  // An upstream body whose error lacks a message gets the record's.
  op.result = R"({"status":"Failed","error":{"code":""}})";
  EXPECT_EQ(body_of(status_answer(Service::kContentUnderstanding, op, 1))["error"]
                .as_object()["code"],
            "Timeout");
}

TEST(AzureAccepted, AbsoluteOperationLocationAndNoLocation) {
  auto cu = accepted(Service::kContentUnderstanding, "r-4",
                     "http://gw:1" + result_path(Service::kContentUnderstanding, "a", "r-4", "v1"),
                     0);
  EXPECT_EQ(cu.status, 202);
  EXPECT_EQ(header(cu, "Operation-Location"),
            "http://gw:1/contentunderstanding/analyzerResults/r-4?api-version=v1");
  EXPECT_EQ(header(cu, "Location"), "");
  EXPECT_EQ(header(cu, "Retry-After"), "1");
  EXPECT_EQ(body_of(cu)["status"], "NotStarted");
  auto di = accepted(Service::kDocumentIntelligence, "r-5",
                     result_path(Service::kDocumentIntelligence, "prebuilt-read", "r-5", "v2"), 3);
  EXPECT_EQ(header(di, "Operation-Location"),
            "/documentintelligence/documentModels/prebuilt-read/analyzeResults/r-5?api-version=v2");
  EXPECT_TRUE(di.body.empty());
  EXPECT_EQ(creation_path("a", "c-1", "v"), "/contentunderstanding/analyzers/a/operations/c-1?api-version=v");
}

TEST(AzureErrors, NotFoundHasAzuresInnerError) {
  auto r = not_found();
  EXPECT_EQ(r.status, 404);
  EXPECT_EQ(header(r, "x-ms-error-code"), "NotFound");
  EXPECT_EQ(body_of(r)["error"].as_object()["innererror"].as_object()["code"], "OperationNotFound");
  auto o = other_service(Service::kDocumentIntelligence, Service::kContentUnderstanding);
  EXPECT_NE(o.body.find("fronts Azure AI Content Understanding"), std::string::npos);
}

}  // namespace
}  // namespace lrogate::api::azure
