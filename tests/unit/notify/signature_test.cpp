#include "notify/signature.h"

#include <gtest/gtest.h>

#include "notify/secrets.h"

namespace lrogate::notify {
namespace {

// The Standard Webhooks specification's example: its secret, id, timestamp
// and body, and the signature Python's hmac module computes for them.
TEST(Signature, MatchesTheSpecificationsExample) {
  auto key = parse_secret("whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw");
  ASSERT_TRUE(key);
  EXPECT_EQ(key->size(), 24u);
  EXPECT_EQ(signature_header({*key}, "msg_p5jXN8AQM9LWM0D4loKWxJek", "1614265330",
                             "{\"test\": 2432232314}"),
            "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE=");
}

TEST(Signature, TwoSecretsSignTwiceInOrder) {
  auto a = *parse_secret("whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw");
  std::string b(32, 'k');
  std::string both = signature_header({a, b}, "id", "1", "body");
  std::string first = signature_header({a}, "id", "1", "body");
  std::string second = signature_header({b}, "id", "1", "body");
  EXPECT_EQ(both, first + " " + second);
  EXPECT_NE(first, second);
}

TEST(Signature, SecretsNeedThePrefixAndEnoughBytes) {
  EXPECT_FALSE(parse_secret("MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"));
  EXPECT_FALSE(parse_secret("whsec_"));
  EXPECT_FALSE(parse_secret("whsec_c2hvcnQ="));  // "short": 5 bytes
  EXPECT_FALSE(parse_secret("whsec_not base64!!!!"));
  EXPECT_FALSE(parse_secret("whsec_" + base64(std::string(65, 'x'))));
  EXPECT_TRUE(parse_secret("whsec_" + base64(std::string(64, 'x'))));
}

TEST(Base64, RoundTripsEveryLength) {
  std::string bytes;
  for (int n = 0; n < 40; ++n) {
    EXPECT_EQ(unbase64(base64(bytes)), bytes) << n;
    bytes.push_back(static_cast<char>(n * 37));
  }
  EXPECT_FALSE(unbase64("abc"));
}

TEST(WebhookSecrets, ReadsTenantsAndAtMostTwoSecretsEach) {
  std::string s = "whsec_" + base64(std::string(32, 'a'));
  std::string t = "whsec_" + base64(std::string(32, 'b'));
  auto ok = WebhookSecrets::parse("# rotation under way\na:" + s + "\na:" + t + "\n\nb:" + s + "\r\n");
  ASSERT_TRUE(ok) << ok.error().message;
  EXPECT_EQ(ok->keys("a").size(), 2u);
  EXPECT_EQ(ok->keys("b").size(), 1u);
  EXPECT_FALSE(ok->has("c"));
  auto three = WebhookSecrets::parse("a:" + s + "\na:" + t + "\na:" + s + "\n");
  ASSERT_FALSE(three);
  EXPECT_NE(three.error().message.find("line 3"), std::string::npos);
  auto bad = WebhookSecrets::parse("a:whsec_shhh-this-is-secret\n");
  ASSERT_FALSE(bad);
  EXPECT_EQ(bad.error().message.find("shhh"), std::string::npos);  // never the secret
  EXPECT_FALSE(WebhookSecrets::parse(s + "\n"));                   // no tenant
  // An OIDC owner is a tenant with colons in it.
  auto oidc = WebhookSecrets::parse("oidc:contoso:g:finance:" + s + "\n");
  ASSERT_TRUE(oidc) << oidc.error().message;
  EXPECT_TRUE(oidc->has("oidc:contoso:g:finance"));
}

}  // namespace
}  // namespace lrogate::notify
