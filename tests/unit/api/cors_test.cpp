#include "api/cors.h"

#include <gtest/gtest.h>

namespace lrogate::api {
namespace {

CorsPolicy parsed(std::string_view setting) {
  auto p = parse_cors_origins(setting);
  EXPECT_TRUE(p.ok()) << setting << ": " << (p.ok() ? "" : p.error().message);
  return p.ok() ? p.value() : CorsPolicy();
}

http::Request preflight_request(std::string origin, std::string method = "GET") {
  http::Request r;
  r.method = "OPTIONS";
  r.path = "/operations/x";
  if (!origin.empty()) r.headers.push_back({"origin", std::move(origin)});
  if (!method.empty()) r.headers.push_back({"access-control-request-method", std::move(method)});
  r.headers.push_back({"access-control-request-headers", "authorization,x-group-id"});
  return r;
}

TEST(CorsOrigins, EmptyIsOff) {
  for (std::string_view s : {"", " ", ","}) {
    CorsPolicy p = parsed(s);
    EXPECT_FALSE(p.enabled()) << s;
    EXPECT_FALSE(p.allows("https://app.contoso.com"));
  }
}

TEST(CorsOrigins, ListedOriginsAreNormalizedAsBrowsersSerializeThem) {
  CorsPolicy p = parsed(
      "https://app.contoso.com, http://127.0.0.1:5173,HTTPS://Big.Example:443,"
      "http://a.example:80,http://[::1]:8080,https://x.example:8443,https://app.contoso.com");
  EXPECT_TRUE(p.enabled());
  EXPECT_EQ(p.origins(),
            (std::vector<std::string>{"https://app.contoso.com", "http://127.0.0.1:5173",
                                      "https://big.example", "http://a.example",
                                      "http://[::1]:8080", "https://x.example:8443"}));
  EXPECT_TRUE(p.allows("https://app.contoso.com"));
  EXPECT_TRUE(p.allows("http://127.0.0.1:5173"));
  EXPECT_TRUE(p.allows("https://big.example"));
  // Exact and case-sensitive, on scheme, host and port.
  EXPECT_FALSE(p.allows("https://App.contoso.com"));
  EXPECT_FALSE(p.allows("http://app.contoso.com"));
  EXPECT_FALSE(p.allows("https://app.contoso.com:8443"));
  EXPECT_FALSE(p.allows("http://127.0.0.1:5174"));
  EXPECT_FALSE(p.allows("https://app.contoso.com.evil.example"));
  EXPECT_FALSE(p.allows("null"));
  EXPECT_FALSE(p.allows(""));
}

TEST(CorsOrigins, StarListsEveryOriginAndStandsAlone) {
  CorsPolicy p = parsed("*");
  EXPECT_TRUE(p.enabled());
  EXPECT_TRUE(p.allows("https://anything.example"));
  EXPECT_FALSE(p.allows(""));
  auto mixed = parse_cors_origins("https://a.example,*");
  ASSERT_FALSE(mixed.ok());
  EXPECT_NE(mixed.error().message.find("--cors-origins"), std::string::npos);
  EXPECT_NE(mixed.error().message.find("\"*\""), std::string::npos);
}

TEST(CorsOrigins, BadOriginsAreRefusedByName) {
  for (std::string_view bad :
       {"https://app.contoso.com/", "https://app.contoso.com/spa", "https://a.example?x=1",
        "https://a.example#f", "app.contoso.com", "ftp://a.example", "https://", "https://:8080",
        "https://a.example:", "https://a.example:0", "https://a.example:65536",
        "https://a.example:80a", "https://user@a.example", "https://a..example",
        "https://a_b.example", "https://[::1", "https://[zz]", "null",
        "https://a.example:8080:1"}) {
    auto p = parse_cors_origins(std::string("http://ok.example,") + std::string(bad));
    ASSERT_FALSE(p.ok()) << bad;
    EXPECT_EQ(p.error().code, ErrorCode::kInvalidArgument);
    EXPECT_NE(p.error().message.find("\"" + std::string(bad) + "\""), std::string::npos)
        << p.error().message;
  }
}

TEST(CorsPreflight, ListedOriginGets204WithTheLists) {
  CorsPolicy p = parsed("http://127.0.0.1:5173");
  auto r = p.preflight(preflight_request("http://127.0.0.1:5173"), "GET, DELETE");
  ASSERT_TRUE(r.has_value());
  EXPECT_EQ(r->status, 204);
  EXPECT_TRUE(r->body.empty());
  EXPECT_EQ(http::find_header(r->headers, "Access-Control-Allow-Origin"), "http://127.0.0.1:5173");
  EXPECT_EQ(http::find_header(r->headers, "Access-Control-Allow-Methods"), "GET, DELETE, OPTIONS");
  EXPECT_EQ(http::find_header(r->headers, "Access-Control-Allow-Headers"), kCorsAllowHeaders);
  for (std::string_view h : {"Authorization", "Content-Type", "Idempotency-Key", "X-Group-ID",
                             "Repeatability-Request-ID", "Repeatability-First-Sent", "Prefer",
                             "x-ms-client-request-id", "traceparent", "api-key", "x-api-key"}) {
    EXPECT_NE(kCorsAllowHeaders.find(h), std::string_view::npos) << h;
  }
  EXPECT_EQ(http::find_header(r->headers, "Access-Control-Max-Age"), "600");
  EXPECT_EQ(http::find_header(r->headers, "Vary"),
            "Origin, Access-Control-Request-Method, Access-Control-Request-Headers");
  EXPECT_EQ(http::find_header(r->headers, "Access-Control-Allow-Credentials"), "");
  // A method the path does not serve is still answered: the browser enforces the list.
  auto other = p.preflight(preflight_request("http://127.0.0.1:5173", "PATCH"), "GET");
  ASSERT_TRUE(other.has_value());
  EXPECT_EQ(other->status, 204);
  EXPECT_EQ(http::find_header(other->headers, "Access-Control-Allow-Methods"), "GET, OPTIONS");
}

TEST(CorsPreflight, StarEchoesTheOriginNeverAStar) {
  CorsPolicy p = parsed("*");
  auto r = p.preflight(preflight_request("https://spa.example"), "POST");
  ASSERT_TRUE(r.has_value());
  EXPECT_EQ(r->status, 204);
  EXPECT_EQ(http::find_header(r->headers, "Access-Control-Allow-Origin"), "https://spa.example");
}

TEST(CorsPreflight, UnlistedOriginIs403WithoutCorsHeaders) {
  CorsPolicy p = parsed("https://app.contoso.com");
  auto r = p.preflight(preflight_request("https://evil.example"), "GET");
  ASSERT_TRUE(r.has_value());
  EXPECT_EQ(r->status, 403);
  EXPECT_NE(r->body.find("\"code\":\"CorsOriginNotAllowed\""), std::string::npos);
  for (const auto& h : r->headers) {
    EXPECT_NE(h.name.rfind("Access-Control-", 0), 0u) << h.name;
  }
}

TEST(CorsPreflight, OnlyPreflightsAreAnswered) {
  CorsPolicy p = parsed("https://app.contoso.com");
  EXPECT_FALSE(p.preflight(preflight_request(""), "GET").has_value());
  EXPECT_FALSE(p.preflight(preflight_request("https://app.contoso.com", ""), "GET").has_value());
  http::Request get = preflight_request("https://app.contoso.com");
  get.method = "GET";
  EXPECT_FALSE(p.preflight(get, "GET").has_value());
}

TEST(CorsDecorate, ListedUnlistedAndNone) {
  CorsPolicy p = parsed("https://app.contoso.com");
  http::Response listed = http::json_response(401, "{}");
  p.decorate("https://app.contoso.com", listed);
  EXPECT_EQ(http::find_header(listed.headers, "Access-Control-Allow-Origin"),
            "https://app.contoso.com");
  EXPECT_EQ(http::find_header(listed.headers, "Vary"), "Origin");
  std::string_view expose = http::find_header(listed.headers, "Access-Control-Expose-Headers");
  for (std::string_view h : {"Operation-Location", "Retry-After", "Preference-Applied",
                             "Repeatability-Result", "x-ms-request-id", "WWW-Authenticate"}) {
    EXPECT_NE(expose.find(h), std::string_view::npos) << h;
  }
  EXPECT_EQ(http::find_header(listed.headers, "Access-Control-Allow-Credentials"), "");

  http::Response unlisted = http::json_response(200, "{}");
  p.decorate("https://evil.example", unlisted);
  ASSERT_EQ(unlisted.headers.size(), 1u);  // the answer still varies by Origin
  EXPECT_EQ(unlisted.headers[0].name, "Vary");

  http::Response none = http::json_response(200, "{}");
  p.decorate("", none);
  EXPECT_TRUE(none.headers.empty());
}

TEST(CorsInstall, AnOffPolicyLeavesTheRouterAlone) {
  http::Router router;
  router.add("GET", "/operations/{id}", "",
             [](http::Request&&, const http::Params&, http::Responder res) {
               res(http::json_response(200, "{}"));
             });
  install_cors(router, CorsPolicy());
  http::Response got;
  router.dispatch(preflight_request("https://app.contoso.com"),
                  [&](http::Response r) { got = std::move(r); });
  EXPECT_EQ(got.status, 405);
  EXPECT_TRUE(std::none_of(got.headers.begin(), got.headers.end(),
                           [](const http::Header& h) { return h.name == "Vary"; }));

  install_cors(router, parsed("https://app.contoso.com"));
  router.dispatch(preflight_request("https://app.contoso.com"),
                  [&](http::Response r) { got = std::move(r); });
  EXPECT_EQ(got.status, 204);
  EXPECT_EQ(http::find_header(got.headers, "Access-Control-Allow-Methods"), "GET, OPTIONS");
}

}  // namespace
}  // namespace lrogate::api
