// Document Intelligence and the generic adapter: URLs, inputs, status shapes.
#include <gtest/gtest.h>

#include <algorithm>

#include "upstream/generic/generic.h"
#include "upstream/upstream.h"

namespace lrogate::upstream {
namespace {

std::shared_ptr<const std::string> body(std::string text) {
  return std::make_shared<const std::string>(std::move(text));
}

http::ClientResult answer(int status, std::string body) {
  http::ClientResult r;
  r.response.emplace();
  r.response->status = status;
  r.response->body = std::move(body);
  return r;
}

TEST(AzureDi, UrlsVersionAndInput) {
  Settings s;
  s.kind = "azure-di";
  s.endpoint = "https://res.cognitiveservices.azure.com/";
  auto up = make_upstream(s).value();
  EXPECT_EQ(up->settings().api_version, "2024-11-30");
  EXPECT_EQ(up->build_submit("prebuilt-layout", body("{}"), "application/json", {}).url,
            "https://res.cognitiveservices.azure.com/documentintelligence/documentModels/"
            "prebuilt-layout:analyze?api-version=2024-11-30");
  auto pdf = up->build_submit("prebuilt-read", body("%PDF"), "application/pdf", {});
  EXPECT_EQ(http::find_header(pdf.headers, "content-type"), "application/pdf");
  EXPECT_EQ(up->build_lookup("prebuilt-read", "r-1")->url,
            "https://res.cognitiveservices.azure.com/documentintelligence/documentModels/"
            "prebuilt-read/analyzeResults/r-1?api-version=2024-11-30");
  EXPECT_EQ(up->document_url_body("https://x/a.pdf"), R"({"urlSource":"https://x/a.pdf"})");
}

TEST(AzureDi, AClientsVersionAndQueryAreSent) {
  Settings s;
  s.kind = "azure-di";
  s.endpoint = "https://res.cognitiveservices.azure.com";
  auto up = make_upstream(s).value();
  SubmitOptions o{"2024-07-31-preview", "pages=1-3&features=ocrHighResolution"};
  EXPECT_EQ(up->build_submit("prebuilt-read", body("{}"), "application/json", o).url,
            "https://res.cognitiveservices.azure.com/documentintelligence/documentModels/"
            "prebuilt-read:analyze?api-version=2024-07-31-preview&pages=1-3&features="
            "ocrHighResolution");
  auto versions = up->api_versions();
  EXPECT_EQ(versions.back(), "2024-11-30");
  EXPECT_NE(std::find(versions.begin(), versions.end(), "2024-07-31-preview"), versions.end());
}

TEST(AzureDi, LowercaseStatusesAreRead) {
  Settings s;
  s.kind = "azure-di";
  s.endpoint = "https://res.cognitiveservices.azure.com";
  auto up = make_upstream(s).value();
  auto run = up->read_poll(answer(200, R"({"status":"running"})"), 0);
  EXPECT_EQ(run.phase, Phase::kRunning);
  auto ok = up->read_poll(answer(200, R"({"status":"succeeded","analyzeResult":{}})"), 0);
  EXPECT_EQ(ok.phase, Phase::kSucceeded);
  EXPECT_FALSE(ok.body.empty());
  // Pages: the length of analyzeResult.pages.
  auto paged =
      up->read_poll(answer(200, R"({"status":"succeeded","analyzeResult":{"pages":[{},{}]}})"), 0);
  EXPECT_EQ(paged.pages, 2);
  EXPECT_EQ(up->read_poll(answer(200, R"({"status":"notStarted"})"), 0).phase, Phase::kNotStarted);
  EXPECT_EQ(up->read_poll(answer(200, R"({"status":"completed","analyzeResult":{}})"), 0).phase,
            Phase::kSucceeded);
  EXPECT_EQ(up->read_poll(answer(200, R"({"status":"canceled"})"), 0).phase, Phase::kCanceled);
  auto bad = up->read_poll(
      answer(200, R"({"status":"failed","error":{"code":"InvalidContent","message":"m"}})"), 0);
  EXPECT_EQ(bad.phase, Phase::kFailed);
  EXPECT_EQ(bad.error_code, "InvalidContent");
}

Settings generic_settings() {
  Settings s;
  s.kind = "generic";
  s.endpoint = "http://127.0.0.1:9";
  s.api_version = "v2";
  s.generic.submit_path = "/api/{apiVersion}/jobs/{analyzerId}";
  s.generic.status_path = "/api/{apiVersion}/jobs/{analyzerId}/{operationId}";
  s.generic.url_field = "source";
  s.generic.shape.status_field = "job.state";
  s.generic.shape.succeeded = {"done"};
  s.generic.shape.failed = {"error", "rejected"};
  s.generic.shape.canceled = {"stopped"};
  s.generic.shape.result_field = "output";
  s.generic.shape.error_field = "problem";
  return s;
}

TEST(Generic, TemplatesAndInput) {
  auto up = make_upstream(generic_settings()).value();
  EXPECT_EQ(up->build_submit("ocr", body("{}"), "", {}).url, "http://127.0.0.1:9/api/v2/jobs/ocr");
  EXPECT_EQ(up->build_lookup("ocr", "j-1")->url, "http://127.0.0.1:9/api/v2/jobs/ocr/j-1");
  EXPECT_EQ(up->document_url_body("u"), R"({"source":"u"})");
  Settings none = generic_settings();
  none.generic.status_path.clear();
  EXPECT_FALSE(make_upstream(none).value()->build_lookup("ocr", "j-1").has_value());
  EXPECT_EQ(generic::expand("/{x}/{analyzerId}", "a", "", ""), "/{x}/a");
}

TEST(Generic, StatusShapeDecidesThePhase) {
  auto up = make_upstream(generic_settings()).value();
  EXPECT_EQ(up->read_poll(answer(200, R"({"job":{"state":"queued"}})"), 0).phase, Phase::kRunning);
  auto done = up->read_poll(answer(200, R"({"job":{"state":"DONE"},"output":{"a":1}})"), 0);
  EXPECT_EQ(done.kind, PollAnswer::Kind::kStatus);
  EXPECT_EQ(done.phase, Phase::kSucceeded);
  auto missing = up->read_poll(answer(200, R"({"job":{"state":"done"}})"), 0);
  EXPECT_EQ(missing.kind, PollAnswer::Kind::kTransient);
  EXPECT_EQ(missing.error_code, "ResultMissing");
  auto failed =
      up->read_poll(answer(200, R"({"job":{"state":"rejected"},"problem":"bad page"})"), 0);
  EXPECT_EQ(failed.phase, Phase::kFailed);
  EXPECT_EQ(failed.error_message, "bad page");
  EXPECT_EQ(up->read_poll(answer(200, R"({"job":{"state":"stopped"}})"), 0).phase,
            Phase::kCanceled);
  EXPECT_EQ(up->read_poll(answer(200, R"({"job":{}})"), 0).kind, PollAnswer::Kind::kTransient);
}

TEST(Generic, BadSettingsAreRefused) {
  Settings s = generic_settings();
  s.generic.submit_path = "/jobs";  // no {analyzerId}
  EXPECT_FALSE(make_upstream(s).ok());
  s = generic_settings();
  s.generic.submit_path = "http://evil/{analyzerId}";
  EXPECT_FALSE(make_upstream(s).ok());
  s = generic_settings();
  s.generic.shape.succeeded.clear();
  EXPECT_FALSE(make_upstream(s).ok());
  s = generic_settings();
  s.kind = "nope";
  auto r = make_upstream(s);
  ASSERT_FALSE(r.ok());
  EXPECT_NE(r.error().message.find("azure-di"), std::string::npos);
}

}  // namespace
}  // namespace lrogate::upstream
