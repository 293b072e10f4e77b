// JWT bearer tokens from an OpenID Connect issuer (Entra ID first): the
// issuer's signing keys (a JWKS) and the verification of one compact token
// against them. cjose (Debian's libcjose) does the JOSE work — JWK import,
// JWS parsing and signature checks; this file decides what is acceptable.
//
// Promises: only RS256 and ES256 (P-256) are accepted, and only with a key
// of the matching type (never `none`, never HS*, never an RSA key for an EC
// algorithm or a symmetric key from a JWKS: the algorithm-confusion attacks);
// a token names its key by `kid`; iss must be one of the accepted issuers
// exactly; aud one of the audiences; exp is required, nbf and iat checked
// when present, each with the clock skew. Error messages are safe for a
// client's WWW-Authenticate and never contain the token. Pure functions and
// an immutable KeySet: safe from any thread.
#pragma once

#include <cstdint>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "base/result.h"

namespace lrogate::api {

// The public signing keys of an issuer, by kid. Immutable once parsed.
class KeySet {
 public:
  struct Key;
  KeySet();
  ~KeySet();
  KeySet(KeySet&&) noexcept;
  KeySet& operator=(KeySet&&) noexcept;

  std::size_t size() const { return keys_.size(); }
  bool contains(std::string_view kid) const { return keys_.find(kid) != keys_.end(); }
  const Key* find(std::string_view kid) const;

 private:
  friend Result<KeySet> parse_jwks(std::string_view json);
  std::map<std::string, std::shared_ptr<Key>, std::less<>> keys_;
};

// A JWKS document ({"keys":[…]}): its RSA and P-256 signing keys with a kid
// (others — symmetric, encryption-only, other curves — are left out). An
// error when it is not a JWKS or holds no usable key.
Result<KeySet> parse_jwks(std::string_view json);

// The jwks_uri of an OpenID discovery document whose issuer is `issuer`
// (OIDC Discovery §4.3: the document must name the issuer it was asked for).
Result<std::string> parse_discovery(std::string_view json, std::string_view issuer);

struct JwtRules {
  std::vector<std::string> issuers;    // iss must be one of these, exactly
  std::vector<std::string> audiences;  // aud (a string or a list) must name one
  std::int64_t clock_skew_s = 60;
  std::string required_scope;  // "": none; else one of the space-separated scp
  std::string required_role;   // "": none; else one of roles
  std::size_t max_token_size = 8192;
};

struct JwtClaims {
  std::string issuer, subject, object_id;
  std::map<std::string, std::string, std::less<>> strings;  // every string claim, by name
  std::vector<std::string> groups;                          // the group claim's strings
  std::int64_t expires_at = 0;                              // exp, seconds since the epoch
};

// Verifies `token` (compact serialization) and returns its claims. The
// group claim's name is `group_claim` (Entra ID: "groups"). A refusal's code
// says why:
//   kInvalidArgument  not a compact JWS, or its parts do not decode
//   kNotFound         its kid is not in the key set (the issuer may have rotated)
//   kUnauthenticated  algorithm, signature or a claim refused
// and its message is safe for a client (error_description).
Result<JwtClaims> verify_jwt(std::string_view token, const KeySet& keys, const JwtRules& rules,
                             std::int64_t now_s, std::string_view group_claim = "groups");

}  // namespace lrogate::api
