#include "api/jwt.h"

#include <cjose/cjose.h>

#include <algorithm>
#include <boost/json/parse.hpp>
#include <boost/json/serialize.hpp>
#include <cmath>

namespace lrogate::api {

struct KeySet::Key {
  explicit Key(cjose_jwk_t* k) : jwk(k) {}
  ~Key() { cjose_jwk_release(jwk); }
  Key(const Key&) = delete;
  Key& operator=(const Key&) = delete;
  cjose_jwk_t* jwk;
  bool rsa = false;  // else EC P-256
};

KeySet::KeySet() = default;
KeySet::~KeySet() = default;
KeySet::KeySet(KeySet&&) noexcept = default;
KeySet& KeySet::operator=(KeySet&&) noexcept = default;

const KeySet::Key* KeySet::find(std::string_view kid) const {
  auto it = keys_.find(kid);
  return it == keys_.end() ? nullptr : it->second.get();
}

namespace {

namespace bj = boost::json;

Error invalid(std::string message) { return make_error(ErrorCode::kInvalidArgument, message); }

std::optional<std::string> string_member(const bj::object& o, std::string_view name) {
  auto it = o.find(name);
  if (it == o.end() || !it->value().is_string()) return std::nullopt;
  return std::string(it->value().get_string());
}

// A NumericDate (RFC 7519 §2): integral seconds, or a finite number.
std::optional<std::int64_t> date_member(const bj::object& o, std::string_view name) {
  auto it = o.find(name);
  if (it == o.end()) return std::nullopt;
  const bj::value& v = it->value();
  if (v.is_int64()) return v.get_int64();
  if (v.is_uint64() && v.get_uint64() < (1ULL << 62)) return static_cast<std::int64_t>(v.get_uint64());
  if (v.is_double() && std::isfinite(v.get_double()) && std::fabs(v.get_double()) < 1e15) {
    return static_cast<std::int64_t>(v.get_double());
  }
  return std::numeric_limits<std::int64_t>::min();  // present but not a date
}

bool base64url_part(std::string_view s) {
  if (s.empty()) return false;
  for (char c : s) {
    bool ok = (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') ||
              c == '-' || c == '_';
    if (!ok) return false;
  }
  return true;
}

struct JwsReleaser {
  void operator()(cjose_jws_t* j) const { cjose_jws_release(j); }
};

Error refused(std::string m) { return make_error(ErrorCode::kUnauthenticated, std::move(m)); }

}  // namespace

Result<KeySet> parse_jwks(std::string_view json) {
  boost::system::error_code ec;
  bj::value doc = bj::parse(json, ec);
  if (ec || !doc.is_object()) return invalid("the JWKS is not a JSON object");
  auto keys = doc.get_object().find("keys");
  if (keys == doc.get_object().end() || !keys->value().is_array()) {
    return invalid("the JWKS has no keys array");
  }
  KeySet set;
  constexpr std::size_t kMaxKeys = 100;
  for (const auto& k : keys->value().get_array()) {
    if (set.keys_.size() >= kMaxKeys) break;
    if (!k.is_object()) continue;
    const auto& o = k.get_object();
    auto kty = string_member(o, "kty");
    auto kid = string_member(o, "kid");
    auto use = string_member(o, "use");
    if (!kty || !kid || kid->empty() || kid->size() > 256 || (use && *use != "sig")) continue;
    if (*kty != "RSA" && *kty != "EC") continue;  // never a symmetric key from a JWKS
    if (*kty == "EC" && string_member(o, "crv").value_or("") != "P-256") continue;
    // Only the public members go to the importer.
    bj::object pub;
    for (const char* m : {"kty", "kid", "n", "e", "crv", "x", "y"}) {
      if (auto it = o.find(m); it != o.end()) pub[m] = it->value();
    }
    std::string text = bj::serialize(pub);
    cjose_err err;
    cjose_jwk_t* jwk = cjose_jwk_import(text.data(), text.size(), &err);
    if (!jwk) continue;
    auto key = std::make_shared<KeySet::Key>(jwk);
    cjose_jwk_kty_t t = cjose_jwk_get_kty(jwk, &err);
    if (t == CJOSE_JWK_KTY_RSA) {
      key->rsa = true;
      if (cjose_jwk_get_keysize(jwk, &err) < 2048) continue;  // too weak to trust
    } else if (t != CJOSE_JWK_KTY_EC || cjose_jwk_EC_get_curve(jwk, &err) != CJOSE_JWK_EC_P_256) {
      continue;
    }
    set.keys_.emplace(*kid, std::move(key));
  }
  if (set.keys_.empty()) return invalid("the JWKS holds no RSA or P-256 signing key with a kid");
  return set;
}

Result<std::string> parse_discovery(std::string_view json, std::string_view issuer) {
  boost::system::error_code ec;
  bj::value doc = bj::parse(json, ec);
  if (ec || !doc.is_object()) return invalid("the discovery document is not a JSON object");
  auto iss = string_member(doc.get_object(), "issuer");
  if (!iss || *iss != issuer) {
    return invalid("the discovery document names another issuer than the one configured");
  }
  auto uri = string_member(doc.get_object(), "jwks_uri");
  if (!uri || uri->empty()) return invalid("the discovery document has no jwks_uri");
  return *uri;
}

Result<JwtClaims> verify_jwt(std::string_view token, const KeySet& keys, const JwtRules& rules,
                             std::int64_t now_s, std::string_view group_claim) {
  auto malformed = [](std::string m) {
    return make_error(ErrorCode::kInvalidArgument, std::move(m));
  };
  if (token.size() > rules.max_token_size) return malformed("the token is too large");
  std::size_t d1 = token.find('.');
  std::size_t d2 = d1 == std::string_view::npos ? d1 : token.find('.', d1 + 1);
  if (d2 == std::string_view::npos || token.find('.', d2 + 1) != std::string_view::npos ||
      !base64url_part(token.substr(0, d1)) || !base64url_part(token.substr(d1 + 1, d2 - d1 - 1)) ||
      !base64url_part(token.substr(d2 + 1))) {
    return malformed("the token is not a signed JWT (three base64url parts)");
  }
  cjose_err err;
  std::unique_ptr<cjose_jws_t, JwsReleaser> jws(cjose_jws_import(token.data(), token.size(), &err));
  if (!jws) return malformed("the token's parts do not decode");
  cjose_header_t* header = cjose_jws_get_protected(jws.get());
  const char* alg = header ? cjose_header_get(header, CJOSE_HDR_ALG, &err) : nullptr;
  std::string_view a = alg ? alg : "";
  if (a != "RS256" && a != "ES256") {
    return refused("the token's algorithm '" + std::string(a.substr(0, 16)) +
                   "' is not accepted (RS256 or ES256 only)");
  }
  if (char* crit = cjose_header_get_raw(header, "crit", &err)) {
    cjose_get_dealloc()(crit);
    return refused("the token has critical header parameters this gateway does not know");
  }
  const char* kid = cjose_header_get(header, CJOSE_HDR_KID, &err);
  if (!kid || !*kid) return refused("the token names no signing key (kid)");
  const KeySet::Key* key = keys.find(kid);
  if (!key) {
    return make_error(ErrorCode::kNotFound,
                      "the token's signing key is not one of the issuer's known keys");
  }
  if (key->rsa != (a == "RS256")) return refused("the token's algorithm does not match its key");
  if (!cjose_jws_verify(jws.get(), key->jwk, &err)) return refused("the token's signature is invalid");
  std::uint8_t* plain = nullptr;
  std::size_t plain_len = 0;
  if (!cjose_jws_get_plaintext(jws.get(), &plain, &plain_len, &err)) {
    return malformed("the token has no payload");
  }
  boost::system::error_code ec;
  bj::value payload =
      bj::parse(std::string_view(reinterpret_cast<const char*>(plain), plain_len), ec);
  if (ec || !payload.is_object()) return malformed("the token's payload is not a JSON object");
  const bj::object& c = payload.get_object();

  JwtClaims out;
  out.issuer = string_member(c, "iss").value_or("");
  if (std::find(rules.issuers.begin(), rules.issuers.end(), out.issuer) == rules.issuers.end()) {
    return refused("the token's issuer (iss) is not accepted");
  }
  bool audience = false;
  if (auto it = c.find("aud"); it != c.end()) {
    auto named = [&](const bj::value& v) {
      return v.is_string() && std::find(rules.audiences.begin(), rules.audiences.end(),
                                        std::string_view(v.get_string())) != rules.audiences.end();
    };
    if (it->value().is_array()) {
      for (const auto& v : it->value().get_array()) audience = audience || named(v);
    } else {
      audience = named(it->value());
    }
  }
  if (!audience) return refused("the token's audience (aud) is not this API");
  auto exp = date_member(c, "exp");
  if (!exp) return refused("the token has no expiry (exp)");
  auto bad_date = std::numeric_limits<std::int64_t>::min();
  auto nbf = date_member(c, "nbf");
  auto iat = date_member(c, "iat");
  if (*exp == bad_date || (nbf && *nbf == bad_date) || (iat && *iat == bad_date)) {
    return malformed("the token's exp, nbf or iat is not a NumericDate");
  }
  if (now_s > *exp + rules.clock_skew_s) return refused("the token has expired");
  if (nbf && now_s + rules.clock_skew_s < *nbf) return refused("the token is not valid yet (nbf)");
  if (iat && now_s + rules.clock_skew_s < *iat) return refused("the token was issued in the future (iat)");
  out.expires_at = *exp;
  for (const auto& m : c) {
    if (m.value().is_string()) out.strings.emplace(std::string(m.key()), std::string(m.value().get_string()));
  }
  out.subject = string_member(c, "sub").value_or("");
  out.object_id = string_member(c, "oid").value_or("");
  if (auto it = c.find(group_claim); it != c.end() && it->value().is_array()) {
    for (const auto& g : it->value().get_array()) {
      if (g.is_string()) out.groups.emplace_back(g.get_string());
    }
  }
  if (!rules.required_scope.empty()) {
    std::string_view scp = out.strings.count("scp") ? std::string_view(out.strings["scp"]) : "";
    bool found = false;
    while (!scp.empty() && !found) {
      std::string_view one = scp.substr(0, scp.find(' '));
      found = one == rules.required_scope;
      scp.remove_prefix(std::min(scp.size(), one.size() + 1));
    }
    if (!found) return refused("the token lacks the required scope (scp)");
  }
  if (!rules.required_role.empty()) {
    bool found = false;
    if (auto it = c.find("roles"); it != c.end() && it->value().is_array()) {
      for (const auto& r : it->value().get_array()) {
        found = found || (r.is_string() && r.get_string() == rules.required_role);
      }
    }
    if (!found) return refused("the token lacks the required role (roles)");
  }
  return out;
}

}  // namespace lrogate::api
