// OidcIssuer: an OpenID Connect issuer in the simulator, so that development
// and tests of the gateway's client authentication need no Entra ID. It
// holds signing keys made at start (one RS256 key, RSA 2048, and one ES256
// key, P-256, each with a random kid; never stored anywhere), publishes their
// public halves as a JWKS and signs the JWTs a test asks for (claims per
// sim/oidc_claims.h). Keys and signatures are cjose's.
//
// Routes (add_oidc_routes), the issuer being http(s)://HOST/_sim/oidc with
// HOST from the request:
//   GET  /_sim/oidc/.well-known/openid-configuration  discovery document
//   GET  /_sim/oidc/discovery/keys                    {"keys":[public JWKs]}
//   POST /_sim/oidc/token      claims as JSON → {"access_token","token_type","expires_in"}
//   POST /_sim/oidc/rotate     {"drop_old"?: bool} → {"kid": new RS256 kid, "kids": [...]}
//   POST /_sim/oidc/jwks-down  {"down": bool}: while down, discovery and keys answer 503
// Discovery, keys and token are readable from a browser page on any origin,
// as Entra ID's endpoints for single-page apps are: every answer carries
// Access-Control-Allow-Origin: *, and OPTIONS (a CORS preflight) answers 204
// with Access-Control-Allow-Methods (the route's and OPTIONS),
// -Allow-Headers: Content-Type, Authorization and -Max-Age. The two control
// routes, and the simulated Azure routes, send no CORS header.
// Minted tokens are bearer credentials: nothing here logs one.
//
// Thread-safe: any method from any thread.
#pragma once

#include <atomic>
#include <boost/json/object.hpp>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "base/result.h"
#include "base/thread_annotations.h"
#include "http/router.h"
#include "sim/oidc_claims.h"
#include "sim/route_context.h"

namespace lrogate::sim {

class OidcIssuer {
 public:
  // Makes the two keys; an error only if cjose cannot (kInternal, detail says why).
  static Result<std::unique_ptr<OidcIssuer>> create();
  ~OidcIssuer();
  OidcIssuer(const OidcIssuer&) = delete;
  OidcIssuer& operator=(const OidcIssuer&) = delete;

  // The discovery document of the issuer at `issuer` (no trailing slash).
  static boost::json::object discovery(std::string_view issuer);
  // {"keys":[...]}: every published key's public members (kty, use, kid,
  // alg, and n/e or crv/x/y), never a private one.
  boost::json::object jwks() const;
  // The kids published, in JWKS order.
  std::vector<std::string> kids() const;

  // A compact JWS (header {alg, kid, typ:"JWT"}) over build_claims(), signed
  // by the current key for request.alg.
  Result<std::string> mint(const MintRequest& request, std::string_view issuer,
                           std::int64_t now_s) const;

  // Makes a new RS256 key with a new kid and signs RS256 with it from now on;
  // the older RS256 keys stay published unless `drop_old`. Returns the new kid.
  Result<std::string> rotate(bool drop_old);

  void set_down(bool down) { down_ = down; }
  bool down() const { return down_; }

  // Requests seen by the discovery and keys routes (for /_sim/stats).
  std::atomic<long long> discovery_requests{0};
  std::atomic<long long> jwks_requests{0};

 private:
  struct Key;
  OidcIssuer() = default;
  // A new key for `alg` (RS256 or ES256) with a random kid.
  static Result<std::shared_ptr<const Key>> make_key(std::string alg);

  mutable Mutex mu_;
  std::vector<std::shared_ptr<const Key>> keys_ GUARDED_BY(mu_);  // JWKS order
  std::shared_ptr<const Key> rs256_ GUARDED_BY(mu_);              // signs RS256
  std::shared_ptr<const Key> es256_ GUARDED_BY(mu_);              // signs ES256
  std::atomic<bool> down_{false};
};

// Adds the routes above to `router`; `issuer` and `ctx` must outlive it.
void add_oidc_routes(http::Router& router, OidcIssuer& issuer, const RouteContext& ctx);

}  // namespace lrogate::sim
