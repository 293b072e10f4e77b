#include "sim/tokens.h"

#include <gtest/gtest.h>

#include <boost/json/parse.hpp>

namespace lrogate::sim {
namespace {

// Answers at once, as the simulator does without --latency.
struct Replies {
  RouteContext ctx;
  Replies() {
    ctx.reply = [](http::Responder& done, http::Response res) { done(std::move(res)); };
    ctx.reply_after = [](http::Responder& done, http::Response res, std::chrono::milliseconds) {
      done(std::move(res));
    };
  }
};

http::Request form(std::string body) {
  http::Request r;
  r.method = "POST";
  r.body = std::move(body);
  return r;
}

TEST(TokenIssuer, IssuesToTheRightSecretAndAcceptsTheTokenUntilItExpires) {
  ManualClock clock;
  TokenOptions opt;
  opt.client_secret = "s3cret";
  opt.lifetime = std::chrono::milliseconds(60'000);
  TokenIssuer issuer(opt, clock);
  Replies replies;
  http::Response got;
  issuer.issue(
      form("grant_type=client_credentials&client_id=c&client_secret=wrong&scope="
           "https%3A%2F%2Fcognitiveservices.azure.com%2F.default"),
      TokenIssuer::Form::kClientCredentials, [&](http::Response r) { got = r; }, replies.ctx);
  EXPECT_EQ(got.status, 401);
  EXPECT_EQ(got.body.find("s3cret"), std::string::npos);
  issuer.issue(
      form("grant_type=client_credentials&client_id=c&client_secret=s3cret&scope="
           "https%3A%2F%2Fcognitiveservices.azure.com%2F.default"),
      TokenIssuer::Form::kClientCredentials, [&](http::Response r) { got = r; }, replies.ctx);
  ASSERT_EQ(got.status, 200) << got.body;
  auto v = boost::json::parse(got.body).as_object();
  std::string token(v.at("access_token").as_string());
  EXPECT_EQ(v.at("expires_in").as_int64(), 60);
  EXPECT_TRUE(issuer.accepts("Bearer " + token));
  EXPECT_FALSE(issuer.accepts("Bearer other"));
  EXPECT_FALSE(issuer.accepts(token));  // not a bearer header
  clock.advance(60'000);
  EXPECT_FALSE(issuer.accepts("Bearer " + token));
  boost::json::object stats;
  issuer.add_stats(stats);
  EXPECT_EQ(stats.at("token_requests").as_int64(), 2);
  EXPECT_EQ(stats.at("tokens_issued").as_int64(), 1);
  EXPECT_EQ(stats.at("bearer_accepted").as_int64(), 1);
  EXPECT_EQ(stats.at("bearer_rejected").as_int64(), 2);
}

TEST(TokenIssuer, FaultsAnswerTheFirstRequestsAndRevocationEndsEveryToken) {
  ManualClock clock;
  TokenOptions opt;
  opt.identity_header = "h";
  opt.faults.push_back(Fault{Fault::Kind::kStatus, 503});
  TokenIssuer issuer(opt, clock);
  Replies replies;
  http::Request r;
  r.method = "GET";
  r.query = "api-version=2019-08-01&resource=https%3A%2F%2Fcognitiveservices.azure.com";
  r.headers.push_back({"x-identity-header", "h"});
  http::Response got;
  issuer.issue(
      r, TokenIssuer::Form::kIdentityEndpoint, [&](http::Response x) { got = x; }, replies.ctx);
  EXPECT_EQ(got.status, 503);
  issuer.issue(
      r, TokenIssuer::Form::kIdentityEndpoint, [&](http::Response x) { got = x; }, replies.ctx);
  ASSERT_EQ(got.status, 200) << got.body;
  std::string token(boost::json::parse(got.body).at("access_token").as_string());
  EXPECT_TRUE(issuer.accepts("Bearer " + token));
  issuer.revoke_all();
  EXPECT_FALSE(issuer.accepts("Bearer " + token));
}

}  // namespace
}  // namespace lrogate::sim
