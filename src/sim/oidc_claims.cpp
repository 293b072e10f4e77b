#include "sim/oidc_claims.h"

#include <boost/json/array.hpp>

#include "base/json_util.h"

namespace lrogate::sim {
namespace {

// Offsets and lifetimes beyond ten years are typos, not tests.
constexpr std::int64_t kMaxSeconds = 10LL * 365 * 24 * 3600;

Error bad(std::string_view field, std::string_view why) {
  return make_error(ErrorCode::kInvalidArgument, std::string(field) + ": " + std::string(why));
}

bool string_array(const boost::json::value& v) {
  if (!v.is_array()) return false;
  for (const auto& e : v.as_array()) {
    if (!e.is_string()) return false;
  }
  return true;
}

std::optional<std::int64_t> seconds(const boost::json::value& v) {
  std::int64_t n = 0;
  if (v.is_int64()) {
    n = v.get_int64();
  } else if (v.is_uint64() && v.get_uint64() <= static_cast<std::uint64_t>(kMaxSeconds)) {
    n = static_cast<std::int64_t>(v.get_uint64());
  } else {
    return std::nullopt;
  }
  if (n > kMaxSeconds || n < -kMaxSeconds) return std::nullopt;
  return n;
}

}  // namespace

Result<MintRequest> parse_mint_request(std::string_view body) {
  MintRequest req;
  if (body.empty()) return req;
  auto parsed = json::parse(body);
  if (!parsed || !parsed->is_object()) return bad("body", "expected a JSON object");
  for (const auto& [key, v] : parsed->as_object()) {
    if (key == "sub" || key == "oid" || key == "tid" || key == "scp" || key == "iss") {
      if (!v.is_string()) return bad(key, "expected a string");
      req.claims[key] = v;
    } else if (key == "groups" || key == "roles") {
      if (!string_array(v)) return bad(key, "expected an array of strings");
      req.claims[key] = v;
    } else if (key == "aud") {
      if (!v.is_string() && !string_array(v)) return bad(key, "expected a string or strings");
      req.claims[key] = v;
    } else if (key == "ver") {
      if (!v.is_string() || (v.get_string() != "2.0" && v.get_string() != "1.0")) {
        return bad(key, "expected \"2.0\" or \"1.0\"");
      }
      req.claims[key] = v;
    } else if (key == "alg") {
      if (!v.is_string() || (v.get_string() != "RS256" && v.get_string() != "ES256")) {
        return bad(key, "expected \"RS256\" or \"ES256\"");
      }
      req.alg = std::string(v.get_string());
    } else if (key == "kid") {
      if (!v.is_string() || v.get_string().empty()) return bad(key, "expected a string");
      req.kid = std::string(v.get_string());
    } else if (key == "lifetime_s" || key == "nbf_offset_s" || key == "iat_offset_s") {
      auto n = seconds(v);
      if (!n) return bad(key, "expected whole seconds within ten years");
      (key == "lifetime_s"     ? req.lifetime_s
       : key == "nbf_offset_s" ? req.nbf_offset_s
                               : req.iat_offset_s) = *n;
    } else if (key == "extra") {
      if (!v.is_object()) return bad(key, "expected an object");
      req.extra = v.as_object();
    } else {
      return bad(key, "unknown field");
    }
  }
  return req;
}

boost::json::object build_claims(const MintRequest& request, std::string_view issuer,
                                 std::int64_t now_s) {
  auto given = [&](std::string_view key) { return request.claims.if_contains(key); };
  boost::json::object c;
  c["aud"] = given("aud") ? *given("aud") : boost::json::value(kDefaultAudience);
  c["iss"] = given("iss") ? *given("iss") : boost::json::value(issuer);
  c["iat"] = now_s + request.iat_offset_s;
  c["nbf"] = now_s + request.nbf_offset_s;
  c["exp"] = now_s + request.lifetime_s;
  for (std::string_view key : {"groups", "oid", "roles", "scp", "sub"}) {
    if (const auto* v = given(key)) c[key] = *v;
  }
  c["tid"] = given("tid") ? *given("tid") : boost::json::value(kDefaultTenant);
  c["ver"] = given("ver") ? *given("ver") : boost::json::value("2.0");
  for (const auto& [key, v] : request.extra) c[key] = v;
  return c;
}

}  // namespace lrogate::sim
