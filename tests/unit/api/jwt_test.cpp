// Token verification against keys and tokens made here with cjose.
#include "api/jwt.h"

#include <cjose/cjose.h>
#include <gtest/gtest.h>

#include <boost/json/object.hpp>
#include <boost/json/serialize.hpp>

namespace lrogate::api {
namespace {

namespace bj = boost::json;

struct Signer {
  cjose_jwk_t* jwk = nullptr;
  std::string kid;
  ~Signer() {
    if (jwk) cjose_jwk_release(jwk);
  }
};

std::unique_ptr<Signer> rsa(const std::string& kid) {
  static const std::uint8_t e[] = {0x01, 0x00, 0x01};
  auto s = std::make_unique<Signer>();
  s->jwk = cjose_jwk_create_RSA_random(2048, e, sizeof e, nullptr);
  s->kid = kid;
  cjose_jwk_set_kid(s->jwk, kid.data(), kid.size(), nullptr);
  return s;
}

std::unique_ptr<Signer> ec(const std::string& kid) {
  auto s = std::make_unique<Signer>();
  s->jwk = cjose_jwk_create_EC_random(CJOSE_JWK_EC_P_256, nullptr);
  s->kid = kid;
  cjose_jwk_set_kid(s->jwk, kid.data(), kid.size(), nullptr);
  return s;
}

std::string jwks(std::initializer_list<const Signer*> signers) {
  std::string out = "{\"keys\":[";
  bool first = true;
  for (const Signer* s : signers) {
    char* pub = cjose_jwk_to_json(s->jwk, false, nullptr);
    out += (first ? "" : ",") + std::string(pub);
    cjose_get_dealloc()(pub);
    first = false;
  }
  return out + "]}";
}

std::string sign(const Signer& s, const bj::object& claims, const char* alg = "RS256",
                 const std::string& kid = "") {
  cjose_header_t* h = cjose_header_new(nullptr);
  cjose_header_set(h, CJOSE_HDR_ALG, alg, nullptr);
  cjose_header_set(h, CJOSE_HDR_KID, (kid.empty() ? s.kid : kid).c_str(), nullptr);
  std::string payload = bj::serialize(claims);
  cjose_err err;
  cjose_jws_t* jws = cjose_jws_sign(s.jwk, h, reinterpret_cast<const std::uint8_t*>(payload.data()),
                                    payload.size(), &err);
  EXPECT_NE(jws, nullptr) << err.message;
  const char* compact = nullptr;
  cjose_jws_export(jws, &compact, nullptr);
  std::string out = compact;
  cjose_jws_release(jws);
  cjose_header_release(h);
  return out;
}

constexpr std::int64_t kNow = 1'800'000'000;

bj::object claims(std::int64_t exp = kNow + 3600) {
  return {{"iss", "https://issuer.example/t/v2.0"},
          {"aud", "api://lrogate"},
          {"exp", exp},
          {"nbf", kNow - 10},
          {"iat", kNow - 10},
          {"tid", "tenant-1"},
          {"oid", "user-1"},
          {"sub", "subject-1"},
          {"scp", "read Analyses.Run"},
          {"roles", bj::array{"Reader"}},
          {"groups", bj::array{"g-1", "g-2"}}};
}

JwtRules rules() {
  JwtRules r;
  r.issuers = {"https://issuer.example/t/v2.0", "https://sts.windows.net/t/"};
  r.audiences = {"api://lrogate", "11111111-2222-3333-4444-555555555555"};
  return r;
}

std::string reason(const Result<JwtClaims>& v) {
  if (!v) return v.error().message;
  return "ok";
}

class JwtTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    key_ = rsa("rsa-1").release();
    other_ = rsa("rsa-2").release();
    ec_ = ec("ec-1").release();
    keys_ = new KeySet(parse_jwks(jwks({key_, ec_})).value());
  }
  static Signer* key_;
  static Signer* other_;
  static Signer* ec_;
  static KeySet* keys_;
};
Signer* JwtTest::key_;
Signer* JwtTest::other_;
Signer* JwtTest::ec_;
KeySet* JwtTest::keys_;

TEST_F(JwtTest, ValidRs256AndEs256TokensGiveTheirClaims) {
  auto v = verify_jwt(sign(*key_, claims()), *keys_, rules(), kNow);
  ASSERT_EQ(reason(v), "ok");
  const auto& c = v.value();
  EXPECT_EQ(c.strings.at("tid"), "tenant-1");
  EXPECT_EQ(c.object_id, "user-1");
  EXPECT_EQ(c.groups, (std::vector<std::string>{"g-1", "g-2"}));
  EXPECT_EQ(reason(verify_jwt(sign(*ec_, claims(), "ES256"), *keys_, rules(), kNow)), "ok");
  // Entra ID v1 shape: another issuer, aud as a list.
  auto v1 = claims();
  v1["iss"] = "https://sts.windows.net/t/";
  v1["aud"] = bj::array{"other", "11111111-2222-3333-4444-555555555555"};
  EXPECT_EQ(reason(verify_jwt(sign(*key_, v1), *keys_, rules(), kNow)), "ok");
}

TEST_F(JwtTest, TimesAreCheckedWithTheSkew) {
  EXPECT_EQ(reason(verify_jwt(sign(*key_, claims(kNow - 30)), *keys_, rules(), kNow)), "ok");
  EXPECT_NE(reason(verify_jwt(sign(*key_, claims(kNow - 61)), *keys_, rules(), kNow)).find("expired"),
            std::string::npos);
  auto early = claims();
  early["nbf"] = kNow + 120;
  EXPECT_NE(reason(verify_jwt(sign(*key_, early), *keys_, rules(), kNow)).find("not valid yet"),
            std::string::npos);
  auto future = claims();
  future["iat"] = kNow + 600;
  EXPECT_NE(reason(verify_jwt(sign(*key_, future), *keys_, rules(), kNow)).find("future"),
            std::string::npos);
  auto no_exp = claims();
  no_exp.erase("exp");
  EXPECT_NE(reason(verify_jwt(sign(*key_, no_exp), *keys_, rules(), kNow)).find("exp"),
            std::string::npos);
  auto text_exp = claims();
  text_exp["exp"] = "tomorrow";
  EXPECT_EQ(verify_jwt(sign(*key_, text_exp), *keys_, rules(), kNow).error().code,
            ErrorCode::kInvalidArgument);
}

TEST_F(JwtTest, IssuerAudienceScopeAndRole) {
  auto wrong = claims();
  wrong["iss"] = "https://evil.example/";
  EXPECT_NE(reason(verify_jwt(sign(*key_, wrong), *keys_, rules(), kNow)).find("issuer"),
            std::string::npos);
  wrong = claims();
  wrong["aud"] = "api://someone-else";
  EXPECT_NE(reason(verify_jwt(sign(*key_, wrong), *keys_, rules(), kNow)).find("audience"),
            std::string::npos);
  JwtRules r = rules();
  r.required_scope = "Analyses.Run";
  r.required_role = "Reader";
  EXPECT_EQ(reason(verify_jwt(sign(*key_, claims()), *keys_, r, kNow)), "ok");
  r.required_scope = "Analyses";  // a prefix is not the scope
  EXPECT_NE(reason(verify_jwt(sign(*key_, claims()), *keys_, r, kNow)).find("scope"),
            std::string::npos);
  r.required_scope.clear();
  r.required_role = "Admin";
  EXPECT_NE(reason(verify_jwt(sign(*key_, claims()), *keys_, r, kNow)).find("role"),
            std::string::npos);
}

TEST_F(JwtTest, SignaturesKeysAndAlgorithms) {
  // Signed by a key the set does not hold, under a kid it does hold.
  auto forged = verify_jwt(sign(*other_, claims(), "RS256", "rsa-1"), *keys_, rules(), kNow);
  EXPECT_NE(reason(forged).find("signature"), std::string::npos);
  EXPECT_EQ(forged.error().code, ErrorCode::kUnauthenticated);
  // An unknown kid is its own failure (the caller refetches the keys).
  auto unknown = verify_jwt(sign(*other_, claims()), *keys_, rules(), kNow);
  EXPECT_EQ(unknown.error().code, ErrorCode::kNotFound);
  // ES256 under the RSA key's kid: the algorithm does not match the key.
  auto mismatch = verify_jwt(sign(*ec_, claims(), "ES256", "rsa-1"), *keys_, rules(), kNow);
  EXPECT_NE(reason(mismatch).find("does not match"), std::string::npos);
  // A tampered payload.
  std::string t = sign(*key_, claims());
  std::size_t d1 = t.find('.'), d2 = t.find('.', d1 + 1);
  auto admin = claims();
  admin["oid"] = "admin";
  std::string other = sign(*key_, admin);
  std::string spliced = t.substr(0, d1 + 1) +
                        other.substr(other.find('.') + 1, other.rfind('.') - other.find('.') - 1) +
                        t.substr(d2);
  EXPECT_NE(reason(verify_jwt(spliced, *keys_, rules(), kNow)).find("signature"), std::string::npos);
}

std::string b64url(std::string_view s) {
  static const char* k = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
  std::string out;
  unsigned v = 0;
  int bits = 0;
  for (unsigned char c : s) {
    v = (v << 8) | c;
    bits += 8;
    while (bits >= 6) {
      out += k[(v >> (bits - 6)) & 63];
      bits -= 6;
    }
  }
  if (bits > 0) out += k[(v << (6 - bits)) & 63];
  return out;
}

TEST_F(JwtTest, NoneAndHmacAreRefused) {
  std::string payload = b64url(bj::serialize(claims()));
  std::string none = b64url(R"({"alg":"none","kid":"rsa-1"})") + "." + payload + ".";
  EXPECT_NE(reason(verify_jwt(none, *keys_, rules(), kNow)), "ok");
  std::string none_sig = b64url(R"({"alg":"none","kid":"rsa-1"})") + "." + payload + ".AAAA";
  EXPECT_NE(reason(verify_jwt(none_sig, *keys_, rules(), kNow)).find("'none'"), std::string::npos);
  // HS256 with the RSA public key's JSON as the secret (the classic confusion).
  char* pub = cjose_jwk_to_json(key_->jwk, false, nullptr);
  cjose_jwk_t* hmac = cjose_jwk_create_oct_spec(reinterpret_cast<const std::uint8_t*>(pub),
                                                std::strlen(pub), nullptr);
  cjose_get_dealloc()(pub);
  Signer h;
  h.jwk = hmac;
  h.kid = "rsa-1";
  auto v = verify_jwt(sign(h, claims(), "HS256"), *keys_, rules(), kNow);
  EXPECT_NE(reason(v).find("'HS256'"), std::string::npos);
}

TEST_F(JwtTest, GarbageAndSizes) {
  for (const char* bad : {"", "abc", "a.b", "a.b.c.d", "a..c", "!!.??.**", "eyJ.eyJ.x"}) {
    EXPECT_NE(reason(verify_jwt(bad, *keys_, rules(), kNow)), "ok") << bad;
  }
  std::string big(20'000, 'a');
  big[100] = '.';
  big[200] = '.';
  EXPECT_NE(reason(verify_jwt(big, *keys_, rules(), kNow)).find("too large"), std::string::npos);
}

TEST(Jwks, KeepsOnlyAsymmetricSigningKeysWithAKid) {
  EXPECT_FALSE(parse_jwks("not json"));
  EXPECT_FALSE(parse_jwks(R"({"keys":[]})"));
  EXPECT_FALSE(parse_jwks(R"({"keys":[{"kty":"oct","kid":"h","k":"c2VjcmV0"}]})"));
  auto s = rsa("rsa-x");
  std::string one = jwks({s.get()});
  ASSERT_TRUE(parse_jwks(one));
  // No kid, or use "enc": left out.
  std::string no_kid = one;
  no_kid.replace(no_kid.find("\"kid\""), 5, "\"xid\"");
  EXPECT_FALSE(parse_jwks(no_kid));
  EXPECT_EQ(parse_discovery(R"({"issuer":"https://i/","jwks_uri":"https://i/keys"})", "https://i/")
                .value(),
            "https://i/keys");
  EXPECT_FALSE(parse_discovery(R"({"issuer":"https://evil/","jwks_uri":"https://i/keys"})",
                               "https://i/"));
}

}  // namespace
}  // namespace lrogate::api
