#include "sim/oidc_issuer.h"

#include <cjose/cjose.h>
#include <gtest/gtest.h>

#include <boost/json/array.hpp>
#include <boost/json/serialize.hpp>

#include "base/clock.h"
#include "base/json_util.h"
#include "http/router.h"

namespace lrogate::sim {
namespace {

constexpr std::int64_t kNow = 1'700'000'000;

std::unique_ptr<OidcIssuer> make_issuer() {
  auto issuer = OidcIssuer::create();
  EXPECT_TRUE(issuer.ok()) << issuer.error().detail;
  return std::move(issuer.value());
}

// The published key with this kid, imported by cjose (null if none).
cjose_jwk_t* published(const OidcIssuer& issuer, std::string_view kid) {
  boost::json::object jwks = issuer.jwks();
  for (const auto& k : jwks.at("keys").as_array()) {
    if (k.as_object().at("kid").as_string() != kid) continue;
    std::string text = boost::json::serialize(k);
    return cjose_jwk_import(text.data(), text.size(), nullptr);
  }
  return nullptr;
}

// The token's header and payload, after checking its signature against the JWKS.
std::pair<boost::json::object, boost::json::object> verify(const OidcIssuer& issuer,
                                                           const std::string& token) {
  cjose_jws_t* jws = cjose_jws_import(token.data(), token.size(), nullptr);
  EXPECT_NE(jws, nullptr);
  if (!jws) return {};
  cjose_header_t* h = cjose_jws_get_protected(jws);
  const char* kid_text = cjose_header_get(h, CJOSE_HDR_KID, nullptr);
  std::string kid = kid_text ? kid_text : "";
  cjose_jwk_t* key = published(issuer, kid);
  EXPECT_NE(key, nullptr) << kid;
  EXPECT_TRUE(key && cjose_jws_verify(jws, key, nullptr));
  std::uint8_t* plain = nullptr;
  std::size_t len = 0;
  EXPECT_TRUE(cjose_jws_get_plaintext(jws, &plain, &len, nullptr));
  auto payload = json::parse(std::string_view(reinterpret_cast<char*>(plain), len));
  boost::json::object header{{"alg", cjose_header_get(h, CJOSE_HDR_ALG, nullptr)},
                             {"kid", kid},
                             {"typ", cjose_header_get(h, "typ", nullptr)}};
  cjose_jwk_release(key);
  cjose_jws_release(jws);
  return {header, payload ? payload->as_object() : boost::json::object{}};
}

TEST(OidcIssuer, PublishesAnRsaAndAnEcKeyWithoutPrivateMembers) {
  auto issuer = make_issuer();
  auto keys = issuer->jwks().at("keys").as_array();
  ASSERT_EQ(keys.size(), 2u);
  EXPECT_EQ(keys[0].as_object().at("kty"), "RSA");
  EXPECT_EQ(keys[0].as_object().at("alg"), "RS256");
  EXPECT_EQ(keys[1].as_object().at("kty"), "EC");
  EXPECT_EQ(keys[1].as_object().at("crv"), "P-256");
  for (const auto& k : keys) {
    EXPECT_EQ(k.as_object().at("use"), "sig");
    for (const char* priv : {"d", "p", "q", "dp", "dq", "qi"}) {
      EXPECT_FALSE(k.as_object().contains(priv)) << priv;
    }
  }
  EXPECT_NE(keys[0].as_object().at("kid"), keys[1].as_object().at("kid"));
}

TEST(OidcIssuer, MintsTokensThatVerifyAgainstTheJwks) {
  auto issuer = make_issuer();
  for (const char* alg : {"RS256", "ES256"}) {
    MintRequest req;
    req.alg = alg;
    req.claims["sub"] = "someone";
    auto token = issuer->mint(req, "http://h/_sim/oidc", kNow);
    ASSERT_TRUE(token.ok()) << token.error().detail;
    auto [header, payload] = verify(*issuer, token.value());
    EXPECT_EQ(header.at("alg"), alg);
    EXPECT_EQ(header.at("typ"), "JWT");
    EXPECT_EQ(payload.at("sub"), "someone");
    EXPECT_EQ(payload.at("iss"), "http://h/_sim/oidc");
  }
}

TEST(OidcIssuer, KidOverrideNamesAnUnpublishedKey) {
  auto issuer = make_issuer();
  MintRequest req;
  req.kid = "no-such-kid";
  auto token = issuer->mint(req, "http://h/_sim/oidc", kNow);
  ASSERT_TRUE(token.ok());
  cjose_jws_t* jws = cjose_jws_import(token->data(), token->size(), nullptr);
  ASSERT_NE(jws, nullptr);
  EXPECT_STREQ(cjose_header_get(cjose_jws_get_protected(jws), CJOSE_HDR_KID, nullptr),
               "no-such-kid");
  cjose_jws_release(jws);
}

TEST(OidcIssuer, RotationSignsWithTheNewKeyAndKeepsOrDropsTheOld) {
  auto issuer = make_issuer();
  auto first = issuer->kids();
  auto kid = issuer->rotate(false);
  ASSERT_TRUE(kid.ok());
  auto kids = issuer->kids();
  ASSERT_EQ(kids.size(), 3u);
  EXPECT_EQ(kids[0], kid.value());
  auto token = issuer->mint(MintRequest{}, "http://h/_sim/oidc", kNow);
  ASSERT_TRUE(token.ok());
  EXPECT_EQ(verify(*issuer, token.value()).first.at("kid").as_string(), kid.value());
  auto again = issuer->rotate(true);
  ASSERT_TRUE(again.ok());
  kids = issuer->kids();
  ASSERT_EQ(kids.size(), 2u);  // the new RS256 key and the ES256 key
  EXPECT_EQ(kids[0], again.value());
  EXPECT_EQ(kids[1], first[1]);
}

TEST(OidcIssuer, DiscoveryNamesItsEndpoints) {
  auto d = OidcIssuer::discovery("http://h:1/_sim/oidc");
  EXPECT_EQ(d.at("issuer"), "http://h:1/_sim/oidc");
  EXPECT_EQ(d.at("jwks_uri"), "http://h:1/_sim/oidc/discovery/keys");
  EXPECT_EQ(d.at("token_endpoint"), "http://h:1/_sim/oidc/token");
}

// The issuer's routes on a router of their own, answering at once.
class IssuerRoutes {
 public:
  IssuerRoutes() : issuer_(make_issuer()) {
    ctx_.reply = [](http::Responder& done, http::Response res) { done(std::move(res)); };
    ctx_.authorized = [](const http::Request&) { return false; };
    ctx_.clock = &clock_;
    add_oidc_routes(router_, *issuer_, ctx_);
  }

  http::Response call(std::string method, std::string path, http::Headers headers = {},
                      std::string body = {}) {
    http::Request req;
    req.method = std::move(method);
    req.path = std::move(path);
    req.target = req.path;
    req.headers = std::move(headers);
    req.headers.push_back({"host", "127.0.0.1:9090"});
    req.body = std::move(body);
    http::Response out;
    bool answered = false;
    router_.dispatch(std::move(req), [&](http::Response res) {
      out = std::move(res);
      answered = true;
    });
    EXPECT_TRUE(answered);
    return out;
  }

  OidcIssuer& issuer() { return *issuer_; }

 private:
  ManualClock clock_{kNow * 1000};
  std::unique_ptr<OidcIssuer> issuer_;
  RouteContext ctx_;
  http::Router router_;
};

const http::Headers kPreflight = {{"origin", "http://127.0.0.1:5173"},
                                  {"access-control-request-method", "POST"},
                                  {"access-control-request-headers", "content-type"}};

TEST(OidcIssuerRoutes, PreflightsOfThePublicRoutesAnswer204ForAnyOrigin) {
  IssuerRoutes routes;
  struct Case {
    std::string path, methods;
  } cases[] = {{"/_sim/oidc/token", "POST, OPTIONS"},
               {"/_sim/oidc/.well-known/openid-configuration", "GET, OPTIONS"},
               {"/_sim/oidc/discovery/keys", "GET, OPTIONS"}};
  for (const auto& c : cases) {
    http::Response res = routes.call("OPTIONS", c.path, kPreflight);
    EXPECT_EQ(res.status, 204) << c.path;
    EXPECT_EQ(res.body, "") << c.path;
    EXPECT_EQ(http::find_header(res.headers, "Access-Control-Allow-Origin"), "*") << c.path;
    EXPECT_EQ(http::find_header(res.headers, "Access-Control-Allow-Methods"), c.methods) << c.path;
    EXPECT_EQ(http::find_header(res.headers, "Access-Control-Allow-Headers"),
              "Content-Type, Authorization")
        << c.path;
    EXPECT_NE(http::find_header(res.headers, "Access-Control-Max-Age"), "") << c.path;
  }
  // A preflight mints nothing and counts as no key request.
  EXPECT_EQ(routes.issuer().discovery_requests.load(), 0);
  EXPECT_EQ(routes.issuer().jwks_requests.load(), 0);
}

TEST(OidcIssuerRoutes, TheirAnswersAreReadableFromAnyOriginErrorsToo) {
  IssuerRoutes routes;
  const http::Headers from_page = {{"origin", "http://127.0.0.1:5173"}};
  http::Response token = routes.call("POST", "/_sim/oidc/token", from_page, R"({"oid":"alice"})");
  EXPECT_EQ(token.status, 200);
  EXPECT_EQ(http::find_header(token.headers, "Access-Control-Allow-Origin"), "*");
  auto parsed = json::parse(token.body);
  ASSERT_TRUE(parsed && parsed->is_object());
  EXPECT_TRUE(parsed->as_object().contains("access_token"));
  http::Response refused = routes.call("POST", "/_sim/oidc/token", from_page, R"({"oid":7})");
  EXPECT_EQ(refused.status, 400);
  EXPECT_EQ(http::find_header(refused.headers, "Access-Control-Allow-Origin"), "*");
  for (const char* path :
       {"/_sim/oidc/.well-known/openid-configuration", "/_sim/oidc/discovery/keys"}) {
    http::Response res = routes.call("GET", path, from_page);
    EXPECT_EQ(res.status, 200) << path;
    EXPECT_EQ(http::find_header(res.headers, "Access-Control-Allow-Origin"), "*") << path;
  }
  routes.issuer().set_down(true);
  http::Response down = routes.call("GET", "/_sim/oidc/discovery/keys", from_page);
  EXPECT_EQ(down.status, 503);
  EXPECT_EQ(http::find_header(down.headers, "Access-Control-Allow-Origin"), "*");
}

TEST(OidcIssuerRoutes, TheControlRoutesSendNoCorsHeader) {
  IssuerRoutes routes;
  http::Response res =
      routes.call("POST", "/_sim/oidc/jwks-down", {{"origin", "http://a"}}, R"({"down":false})");
  EXPECT_EQ(res.status, 200);
  EXPECT_EQ(http::find_header(res.headers, "Access-Control-Allow-Origin"), "");
  // Their preflight finds no OPTIONS route: the router's 405.
  EXPECT_EQ(routes.call("OPTIONS", "/_sim/oidc/rotate", kPreflight).status, 405);
}

}  // namespace
}  // namespace lrogate::sim
