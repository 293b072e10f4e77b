#include "sim/oidc_issuer.h"

#include <cjose/cjose.h>

#include <boost/json/array.hpp>
#include <boost/json/serialize.hpp>

#include "base/ids.h"
#include "base/json_util.h"
#include "base/log.h"

namespace lrogate::sim {
namespace {

constexpr std::string_view kPrefix = "/_sim/oidc";
constexpr std::string_view kCorsAllowHeaders = "Content-Type, Authorization";
constexpr int kPreflightMaxAgeSeconds = 600;  // how long a browser may reuse a preflight

struct JwkRelease {
  void operator()(cjose_jwk_t* k) const { cjose_jwk_release(k); }
};
using JwkPtr = std::unique_ptr<cjose_jwk_t, JwkRelease>;

struct HeaderRelease {
  void operator()(cjose_header_t* h) const { cjose_header_release(h); }
};
struct JwsRelease {
  void operator()(cjose_jws_t* j) const { cjose_jws_release(j); }
};

Error cjose_failed(std::string_view what, const cjose_err& err) {
  return make_error(ErrorCode::kInternal, "the simulator could not " + std::string(what),
                    std::string("cjose: ") + (err.message ? err.message : "unknown error"));
}

std::string issuer_of(const http::Request& r) { return request_base(r) + std::string(kPrefix); }

http::Response oauth_error(int status, std::string_view error, std::string_view description) {
  boost::json::object o{{"error", error}, {"error_description", description}};
  return http::json_response(status, boost::json::serialize(o));
}

// A 500 for an error cjose reported; its detail goes to the log only.
http::Response internal(const Error& e) {
  log::error("oidc issuer", {{"error", e.message}, {"detail", e.detail}});
  return http::json_response(500, json::error_body("InternalError", e.message));
}

http::Response unavailable() {
  return http::json_response(
      503, json::error_body("ServiceUnavailable", "The simulated key endpoint is down."));
}

// As Entra ID's endpoints for single-page apps: any origin may read the
// answer (no credentials are involved, so "*" is enough).
http::Response readable_anywhere(http::Response res) {
  res.set("Access-Control-Allow-Origin", "*");
  return res;
}

// The answer to a preflight (or any OPTIONS) of a route serving `methods`.
http::Response preflight(std::string_view methods) {
  http::Response res;
  res.status = 204;
  res.content_type.clear();
  res.set("Access-Control-Allow-Methods", std::string(methods) + ", OPTIONS");
  res.set("Access-Control-Allow-Headers", std::string(kCorsAllowHeaders));
  res.set("Access-Control-Max-Age", std::to_string(kPreflightMaxAgeSeconds));
  return readable_anywhere(std::move(res));
}

}  // namespace

struct OidcIssuer::Key {
  std::string alg, kid;
  JwkPtr jwk;
  boost::json::object public_jwk;  // constant after construction
};

Result<std::shared_ptr<const OidcIssuer::Key>> OidcIssuer::make_key(std::string alg) {
  cjose_err err{};
  JwkPtr jwk;
  if (alg == "RS256") {
    static const std::uint8_t kE[] = {0x01, 0x00, 0x01};
    jwk.reset(cjose_jwk_create_RSA_random(2048, kE, sizeof kE, &err));
  } else {
    jwk.reset(cjose_jwk_create_EC_random(CJOSE_JWK_EC_P_256, &err));
  }
  if (!jwk) return cjose_failed("make a signing key", err);
  std::string kid = random_uuid();
  if (!cjose_jwk_set_kid(jwk.get(), kid.data(), kid.size(), &err)) {
    return cjose_failed("set a key id", err);
  }
  // Public members only: priv=false.
  char* text = cjose_jwk_to_json(jwk.get(), false, &err);
  if (!text) return cjose_failed("export a public key", err);
  auto parsed = json::parse(text);
  cjose_get_dealloc()(text);
  if (!parsed || !parsed->is_object()) {
    return make_error(ErrorCode::kInternal, "the simulator could not export a public key");
  }
  boost::json::object pub{
      {"kty", parsed->as_object()["kty"]}, {"use", "sig"}, {"kid", kid}, {"alg", alg}};
  for (const auto& [k, v] : parsed->as_object()) {
    if (k != "kty" && k != "kid") pub[k] = v;
  }
  auto key = std::make_shared<Key>();
  key->alg = std::move(alg);
  key->kid = std::move(kid);
  key->jwk = std::move(jwk);
  key->public_jwk = std::move(pub);
  return std::shared_ptr<const Key>(std::move(key));
}

Result<std::unique_ptr<OidcIssuer>> OidcIssuer::create() {
  auto rs = make_key("RS256");
  if (!rs) return rs.error();
  auto es = make_key("ES256");
  if (!es) return es.error();
  std::unique_ptr<OidcIssuer> issuer(new OidcIssuer());
  {
    MutexLock lock(issuer->mu_);  // not shared yet; the lock is for the analysis
    issuer->rs256_ = rs.value();
    issuer->es256_ = es.value();
    issuer->keys_ = {rs.value(), es.value()};
  }
  return issuer;
}

OidcIssuer::~OidcIssuer() = default;

boost::json::object OidcIssuer::discovery(std::string_view issuer) {
  std::string base(issuer);
  return boost::json::object{
      {"issuer", base},
      {"jwks_uri", base + "/discovery/keys"},
      {"token_endpoint", base + "/token"},
      {"response_types_supported", boost::json::array{"code", "id_token", "token id_token"}},
      {"subject_types_supported", boost::json::array{"pairwise"}},
      {"id_token_signing_alg_values_supported", boost::json::array{"RS256", "ES256"}},
      {"claims_supported", boost::json::array{"sub", "iss", "aud", "exp", "iat", "nbf", "oid",
                                              "tid", "ver", "scp", "roles", "groups"}}};
}

boost::json::object OidcIssuer::jwks() const {
  boost::json::array keys;
  MutexLock lock(mu_);
  for (const auto& k : keys_) keys.push_back(k->public_jwk);
  return boost::json::object{{"keys", std::move(keys)}};
}

std::vector<std::string> OidcIssuer::kids() const {
  std::vector<std::string> out;
  MutexLock lock(mu_);
  for (const auto& k : keys_) out.push_back(k->kid);
  return out;
}

Result<std::string> OidcIssuer::mint(const MintRequest& request, std::string_view issuer,
                                     std::int64_t now_s) const {
  std::string payload = boost::json::serialize(build_claims(request, issuer, now_s));
  cjose_err err{};
  std::unique_ptr<cjose_header_t, HeaderRelease> header(cjose_header_new(&err));
  if (!header) return cjose_failed("make a token header", err);
  // cjose is not documented as safe for concurrent use of one key: sign under
  // the lock (an RSA 2048 signature takes about a millisecond).
  MutexLock lock(mu_);
  const Key& key = request.alg == "ES256" ? *es256_ : *rs256_;
  std::string kid = request.kid.value_or(key.kid);
  if (!cjose_header_set(header.get(), CJOSE_HDR_ALG, key.alg.c_str(), &err) ||
      !cjose_header_set(header.get(), CJOSE_HDR_KID, kid.c_str(), &err) ||
      !cjose_header_set(header.get(), "typ", "JWT", &err)) {
    return cjose_failed("make a token header", err);
  }
  std::unique_ptr<cjose_jws_t, JwsRelease> jws(
      cjose_jws_sign(key.jwk.get(), header.get(), reinterpret_cast<const uint8_t*>(payload.data()),
                     payload.size(), &err));
  if (!jws) return cjose_failed("sign a token", err);
  const char* compact = nullptr;
  if (!cjose_jws_export(jws.get(), &compact, &err) || !compact) {
    return cjose_failed("serialize a token", err);
  }
  return std::string(compact);
}

Result<std::string> OidcIssuer::rotate(bool drop_old) {
  // Key generation takes a while: outside the lock.
  auto fresh = make_key("RS256");
  if (!fresh) return fresh.error();
  MutexLock lock(mu_);
  if (drop_old) {
    std::erase_if(keys_, [](const auto& k) { return k->alg == "RS256"; });
  }
  keys_.insert(keys_.begin(), fresh.value());
  rs256_ = fresh.value();
  return rs256_->kid;
}

namespace {

// {"field": bool} from an optional JSON object body that has no other field.
Result<std::optional<bool>> bool_field(std::string_view body, std::string_view field) {
  auto bad = make_error(ErrorCode::kInvalidArgument,
                        "expected a JSON object with only \"" + std::string(field) + "\": bool");
  if (body.empty()) return std::optional<bool>();
  auto v = json::parse(body);
  if (!v || !v->is_object()) return bad;
  std::optional<bool> out;
  for (const auto& [k, val] : v->as_object()) {
    if (k != field || !val.is_bool()) return bad;
    out = val.get_bool();
  }
  return out;
}

}  // namespace

void add_oidc_routes(http::Router& router, OidcIssuer& issuer, const RouteContext& ctx) {
  const std::string p(kPrefix);
  // The routes a browser page reads (discovery, keys, token) answer CORS;
  // their OPTIONS routes answer preflights without reaching them.
  auto reply = [&ctx](http::Responder& done, http::Response res) {
    ctx.reply(done, readable_anywhere(std::move(res)));
  };
  auto add_preflight = [&router, &ctx](const std::string& path, std::string_view methods) {
    router.add("OPTIONS", path, "oidc preflight",
               [&ctx, methods](http::Request&&, const http::Params&, http::Responder done) {
                 ctx.reply(done, preflight(methods));
               });
  };
  router.add("GET", p + "/.well-known/openid-configuration", "oidc discovery",
             [&issuer, reply](http::Request&& r, const http::Params&, http::Responder done) {
               ++issuer.discovery_requests;
               if (issuer.down()) return reply(done, unavailable());
               reply(done, http::json_response(
                               200, boost::json::serialize(OidcIssuer::discovery(issuer_of(r)))));
             });
  add_preflight(p + "/.well-known/openid-configuration", "GET");
  router.add("GET", p + "/discovery/keys", "oidc keys",
             [&issuer, reply](http::Request&&, const http::Params&, http::Responder done) {
               ++issuer.jwks_requests;
               if (issuer.down()) return reply(done, unavailable());
               reply(done, http::json_response(200, boost::json::serialize(issuer.jwks())));
             });
  add_preflight(p + "/discovery/keys", "GET");
  router.add("POST", p + "/token", "oidc token",
             [&issuer, &ctx, reply](http::Request&& r, const http::Params&, http::Responder done) {
               auto req = parse_mint_request(r.body);
               if (!req) {
                 return reply(done, oauth_error(400, "invalid_request", req.error().message));
               }
               auto token = issuer.mint(*req, issuer_of(r), ctx.clock->now_ms() / 1000);
               if (!token) {
                 return reply(done, internal(token.error()));
               }
               boost::json::object o{{"access_token", std::move(token.value())},
                                     {"token_type", "Bearer"},
                                     {"expires_in", req->lifetime_s}};
               reply(done, http::json_response(200, boost::json::serialize(o)));
             });
  add_preflight(p + "/token", "POST");
  router.add("POST", p + "/rotate", "oidc rotate",
             [&issuer, &ctx](http::Request&& r, const http::Params&, http::Responder done) {
               auto drop = bool_field(r.body, "drop_old");
               if (!drop) {
                 return ctx.reply(
                     done, http::json_response(
                               400, json::error_body("InvalidRequest", drop.error().message)));
               }
               auto kid = issuer.rotate(drop->value_or(false));
               if (!kid) {
                 return ctx.reply(done, internal(kid.error()));
               }
               boost::json::array kids;
               for (auto& k : issuer.kids()) kids.emplace_back(k);
               boost::json::object o{{"kid", kid.value()}, {"kids", std::move(kids)}};
               ctx.reply(done, http::json_response(200, boost::json::serialize(o)));
             });
  router.add("POST", p + "/jwks-down", "oidc jwks down",
             [&issuer, &ctx](http::Request&& r, const http::Params&, http::Responder done) {
               auto down = bool_field(r.body, "down");
               if (!down || !down->has_value()) {
                 return ctx.reply(
                     done, http::json_response(400, json::error_body("InvalidRequest",
                                                                     "expected {\"down\": bool}")));
               }
               issuer.set_down(**down);
               ctx.reply(done, http::json_response(200, boost::json::serialize(boost::json::object{
                                                            {"down", issuer.down()}})));
             });
}

}  // namespace lrogate::sim
