#include "sim/oidc_claims.h"

#include <gtest/gtest.h>

#include <boost/json/array.hpp>

namespace lrogate::sim {
namespace {

constexpr std::int64_t kNow = 1'700'000'000;

TEST(OidcClaims, DefaultsFromAnEmptyBody) {
  auto req = parse_mint_request("");
  ASSERT_TRUE(req.ok());
  EXPECT_EQ(req->alg, "RS256");
  auto c = build_claims(*req, "http://127.0.0.1:1/_sim/oidc", kNow);
  EXPECT_EQ(c.at("iss"), "http://127.0.0.1:1/_sim/oidc");
  EXPECT_EQ(c.at("aud").as_string(), kDefaultAudience);
  EXPECT_EQ(c.at("tid").as_string(), kDefaultTenant);
  EXPECT_EQ(c.at("ver"), "2.0");
  EXPECT_EQ(c.at("iat").as_int64(), kNow);
  EXPECT_EQ(c.at("nbf").as_int64(), kNow);
  EXPECT_EQ(c.at("exp").as_int64(), kNow + 3600);
  EXPECT_FALSE(c.contains("sub"));
  EXPECT_FALSE(c.contains("groups"));
}

TEST(OidcClaims, EveryFieldLandsWhereAsked) {
  auto req = parse_mint_request(R"({"sub":"s","oid":"o","tid":"t","groups":["g1","g2"],
      "aud":["a1","a2"],"scp":"read write","roles":["Admin"],"iss":"https://sts.windows.net/t/",
      "lifetime_s":-60,"nbf_offset_s":120,"iat_offset_s":-5,"alg":"ES256","kid":"unknown",
      "ver":"1.0","extra":{"appid":"x","ver":"9"}})");
  ASSERT_TRUE(req.ok()) << req.error().message;
  EXPECT_EQ(req->alg, "ES256");
  EXPECT_EQ(req->kid.value(), "unknown");
  EXPECT_EQ(req->lifetime_s, -60);
  auto c = build_claims(*req, "http://ignored", kNow);
  EXPECT_EQ(c.at("sub"), "s");
  EXPECT_EQ(c.at("oid"), "o");
  EXPECT_EQ(c.at("tid"), "t");
  EXPECT_EQ(c.at("groups").as_array().size(), 2u);
  EXPECT_EQ(c.at("aud").as_array()[1], "a2");
  EXPECT_EQ(c.at("scp"), "read write");
  EXPECT_EQ(c.at("roles").as_array()[0], "Admin");
  EXPECT_EQ(c.at("iss"), "https://sts.windows.net/t/");
  EXPECT_EQ(c.at("exp").as_int64(), kNow - 60);
  EXPECT_EQ(c.at("nbf").as_int64(), kNow + 120);
  EXPECT_EQ(c.at("iat").as_int64(), kNow - 5);
  EXPECT_EQ(c.at("appid"), "x");
  EXPECT_EQ(c.at("ver"), "9");  // extra wins
}

TEST(OidcClaims, BadBodiesAreRefusedNamingTheField) {
  for (const char* body :
       {R"({"unknown":1})", R"({"sub":1})", R"({"groups":"g"})", R"({"groups":[1]})",
        R"({"aud":3})", R"({"alg":"HS256"})", R"({"ver":"3.0"})", R"({"lifetime_s":"1"})",
        R"({"lifetime_s":1.5})", R"({"lifetime_s":999999999999})", R"({"extra":[]})",
        R"({"kid":""})", "[]", "not json"}) {
    auto req = parse_mint_request(body);
    EXPECT_FALSE(req.ok()) << body;
    if (!req.ok()) {
      EXPECT_EQ(req.error().code, ErrorCode::kInvalidArgument);
    }
  }
  EXPECT_NE(parse_mint_request(R"({"scope":"x"})").error().message.find("scope"),
            std::string::npos);
}

}  // namespace
}  // namespace lrogate::sim
