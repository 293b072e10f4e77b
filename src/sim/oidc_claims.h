// OIDC claims: what a request to the simulator's token endpoint
// (POST /_sim/oidc/token) asks for, and the JWT header and payload it gets.
// Pure functions of the request body, the issuer URL and the time, so tests
// can check every claim without keys or sockets.
//
// Body fields, all optional (any other field is an error):
//   sub, oid, scp                    strings, omitted when absent
//   tid                              string (default kDefaultTenant)
//   groups, roles                    arrays of strings
//   aud                              string or array of strings (default "api://lrogate")
//   iss                              string (default the issuer URL)
//   lifetime_s                       exp = now + lifetime_s (default 3600; may be negative)
//   nbf_offset_s, iat_offset_s       nbf/iat = now + offset (default 0)
//   alg                              "RS256" (default) or "ES256": the key that signs
//   kid                              the header's kid instead of the signing key's
//   ver                              "2.0" (default) or "1.0"
//   extra                            object of more claims, merged last (they win)
#pragma once

#include <boost/json/object.hpp>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include "base/result.h"

namespace lrogate::sim {

// A fixed, obviously fake tenant, so tests can predict the tid (and a v1 issuer).
inline constexpr std::string_view kDefaultTenant = "11111111-2222-3333-4444-555555555555";
inline constexpr std::string_view kDefaultAudience = "api://lrogate";

struct MintRequest {
  std::string alg = "RS256";       // RS256 | ES256
  std::optional<std::string> kid;  // header kid override
  std::int64_t lifetime_s = 3600;  // exp - now
  std::int64_t nbf_offset_s = 0;
  std::int64_t iat_offset_s = 0;
  boost::json::object claims;  // the claim fields the body named, as given
  boost::json::object extra;   // merged last
};

// Parses a token request body ("" is {}). Errors (kInvalidArgument) name the
// offending field and are safe to show the caller.
Result<MintRequest> parse_mint_request(std::string_view body);

// The payload: the request's claims with the defaults filled in (iss =
// `issuer` unless asked otherwise; iat, nbf, exp from `now_s`), `extra` last.
boost::json::object build_claims(const MintRequest& request, std::string_view issuer,
                                 std::int64_t now_s);

}  // namespace lrogate::sim
