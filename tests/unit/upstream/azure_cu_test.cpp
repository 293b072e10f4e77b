#include "upstream/azure_cu/azure_cu.h"

#include <gtest/gtest.h>

#include "upstream/caller.h"

namespace lrogate::upstream {
namespace {

std::shared_ptr<const std::string> body(std::string text) {
  return std::make_shared<const std::string>(std::move(text));
}

Settings settings(std::string version = "2025-05-01-preview") {
  Settings s;
  s.endpoint = "https://res.services.ai.azure.com/";
  s.api_version = std::move(version);
  return s;
}

http::ClientResult answer(int status, std::string body, http::Headers h = {}) {
  http::ClientResult r;
  r.response.emplace();
  r.response->status = status;
  r.response->body = std::move(body);
  r.response->headers = std::move(h);
  return r;
}

TEST(AzureCu, SubmitUrlsAndAuth) {
  auto up = make_upstream(settings()).value();
  auto r = up->build_submit("pro-demo", body(R"({"url":"u"})"), "application/json", {});
  EXPECT_EQ(r.url,
            "https://res.services.ai.azure.com/contentunderstanding/analyzers/pro-demo:analyze"
            "?api-version=2025-05-01-preview");
  // Adapters never carry credentials: the Caller adds them.
  EXPECT_EQ(http::find_header(r.headers, "ocp-apim-subscription-key"), "");
  EXPECT_EQ(up->document_url_body("https://x/a.pdf"), R"({"url":"https://x/a.pdf"})");
  auto ga = make_upstream(settings("2025-11-01")).value();
  EXPECT_NE(ga->build_submit("a", body("%PDF"), "application/pdf", {}).url.find(":analyzeBinary?"),
            std::string::npos);
  EXPECT_NE(ga->build_submit("a", body("{}"), "application/json", {}).url.find(":analyze?"),
            std::string::npos);
  EXPECT_EQ(ga->document_url_body("u"), R"({"inputs":[{"url":"u"}]})");
  // A client of the Azure-compatible routes chooses its version: a binary
  // body on 2025-11-01 goes to :analyzeBinary whatever the gateway's is.
  SubmitOptions o{"2025-11-01", "processingLocation=global"};
  EXPECT_EQ(up->build_submit("a", body("%PDF"), "application/pdf", o).url,
            "https://res.services.ai.azure.com/contentunderstanding/analyzers/a:analyzeBinary"
            "?api-version=2025-11-01&processingLocation=global");
  EXPECT_EQ(up->api_versions().back(), "2025-11-01");
}

TEST(AzureCu, SubmitAnswersAreClassified) {
  auto up = make_upstream(settings()).value();
  std::string loc =
      "https://res.services.ai.azure.com/contentunderstanding/analyzerResults/abc-1?api-version=x";
  auto ok = up->read_submit(answer(202, "{}", {{"operation-location", loc}}), 0);
  EXPECT_EQ(ok.kind, SubmitAnswer::Kind::kAccepted);
  EXPECT_EQ(ok.operation_id, "abc-1");
  auto foreign = up->read_submit(
      answer(202, "{}", {{"operation-location", "http://169.254.169.254/x/abc"}}), 0);
  EXPECT_EQ(foreign.kind, SubmitAnswer::Kind::kFailed);
  EXPECT_EQ(foreign.error_code, "ForeignOperationLocation");
  auto missing = up->read_submit(answer(202, "{}"), 0);
  EXPECT_EQ(missing.kind, SubmitAnswer::Kind::kFailed);
  auto nf = up->read_submit(answer(404, R"({"error":{"code":"ModelNotFound","message":"m"}})"), 0);
  EXPECT_EQ(nf.kind, SubmitAnswer::Kind::kRejected);
  EXPECT_EQ(nf.error_code, "ModelNotFound");
  EXPECT_EQ(up->read_submit(answer(401, "{}"), 0).kind, SubmitAnswer::Kind::kAuthRefused);
  EXPECT_EQ(up->read_submit(answer(403, "{}"), 0).kind, SubmitAnswer::Kind::kAuthRefused);
  auto thr = up->read_submit(answer(429, "{}", {{"retry-after", "3"}}), 0);
  EXPECT_EQ(thr.kind, SubmitAnswer::Kind::kThrottled);
  EXPECT_EQ(thr.retry_after, std::chrono::milliseconds(3000));
  EXPECT_EQ(up->read_submit(answer(503, ""), 0).kind, SubmitAnswer::Kind::kTransient);
  http::ClientResult refused;
  refused.failure = http::FailureKind::kConnect;
  EXPECT_EQ(up->read_submit(refused, 0).kind, SubmitAnswer::Kind::kTransient);
  http::ClientResult tls;
  tls.failure = http::FailureKind::kTls;
  EXPECT_EQ(up->read_submit(tls, 0).kind, SubmitAnswer::Kind::kFailed);
}

TEST(AzureCu, PollAnswersAreClassified) {
  auto up = make_upstream(settings()).value();
  auto done = up->read_poll(answer(200, R"({"status":"succeeded","result":{}})"), 0);
  EXPECT_EQ(done.kind, PollAnswer::Kind::kStatus);
  EXPECT_EQ(done.phase, Phase::kSucceeded);
  EXPECT_EQ(done.body, R"({"status":"succeeded","result":{}})");
  EXPECT_EQ(up->read_poll(answer(200, "nope"), 0).kind, PollAnswer::Kind::kTransient);
  EXPECT_EQ(up->read_poll(answer(200, R"({"status":"Pondering"})"), 0).kind,
            PollAnswer::Kind::kTransient);
  EXPECT_EQ(up->read_poll(answer(404, ""), 0).kind, PollAnswer::Kind::kVanished);
  EXPECT_EQ(up->read_poll(answer(502, ""), 0).kind, PollAnswer::Kind::kTransient);
  EXPECT_EQ(up->read_poll(answer(400, "{}"), 0).kind, PollAnswer::Kind::kPermanent);
  http::ClientResult big;
  big.failure = http::FailureKind::kTooLarge;
  EXPECT_EQ(up->read_poll(big, 0).error_code, "ResultTooLarge");
}

TEST(AzureCu, LookupIsBuiltFromTheEndpointOnly) {
  auto up = make_upstream(settings()).value();
  auto r = *up->build_lookup("pro-demo", "abc");
  EXPECT_EQ(r.url,
            "https://res.services.ai.azure.com/contentunderstanding/analyzerResults/abc"
            "?api-version=2025-05-01-preview");
  EXPECT_TRUE(up->same_origin(r.url));
  EXPECT_FALSE(up->same_origin("https://res.services.ai.azure.com:444/x"));
  EXPECT_FALSE(up->same_origin("http://res.services.ai.azure.com/x"));
  EXPECT_FALSE(up->same_origin("https://evil.example/x"));
}

TEST(Backoff, GrowsWithJitterAndCaps) {
  using std::chrono::milliseconds;
  EXPECT_EQ(backoff_delay(0, milliseconds(1000), milliseconds(60'000), 0.0), milliseconds(500));
  EXPECT_EQ(backoff_delay(0, milliseconds(1000), milliseconds(60'000), 0.999), milliseconds(999));
  EXPECT_EQ(backoff_delay(3, milliseconds(1000), milliseconds(60'000), 0.0), milliseconds(4000));
  EXPECT_EQ(backoff_delay(30, milliseconds(1000), milliseconds(60'000), 0.0), milliseconds(30'000));
  EXPECT_LE(backoff_delay(30, milliseconds(1000), milliseconds(60'000), 0.99),
            milliseconds(60'000));
}

}  // namespace
}  // namespace lrogate::upstream
