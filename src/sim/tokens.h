// Tokens: the Entra ID token endpoints the gateway asks for upstream tokens,
// as the simulator serves them (docs/design.md, "The simulator"):
//   POST   /_sim/aad/{tenant}/oauth2/v2.0/token   client credentials (form body)
//   GET    /_sim/msi/token                        IDENTITY_ENDPOINT form (X-IDENTITY-HEADER)
//   GET    /metadata/identity/oauth2/token        IMDS form (Metadata: true)
//   DELETE /_sim/tokens                           revokes every token issued so far
// Each request is checked as Entra ID or the managed identity endpoints would
// check it, and refused with their error bodies (AADSTS codes). A token it
// issued is accepted as "Authorization: Bearer" until it expires.
//
// TokenIssuer is the state; thread-safe.
#pragma once

#include <boost/json/object.hpp>
#include <chrono>
#include <map>
#include <string>
#include <string_view>
#include <vector>

#include "base/clock.h"
#include "base/thread_annotations.h"
#include "http/router.h"
#include "sim/directives.h"
#include "sim/route_context.h"

namespace lrogate::sim {

struct TokenOptions {
  std::string client_secret;    // the one client secret the AAD endpoint accepts ("": none)
  std::string identity_header;  // the X-IDENTITY-HEADER the MSI endpoint wants ("": none)
  std::chrono::milliseconds lifetime{3'600'000};
  std::chrono::milliseconds delay{0};  // added to token answers
  std::vector<Fault> faults;           // answers of the first token requests
};

class TokenIssuer {
 public:
  enum class Form { kClientCredentials, kIdentityEndpoint, kImds };

  TokenIssuer(TokenOptions options, const Clock& clock);

  // True if `authorization` is "Bearer T" with a token T this issuer issued
  // and that has not expired; counts accepted and rejected bearer tokens.
  bool accepts(std::string_view authorization) EXCLUDES(mu_);
  // Answers a token request of `form` (through ctx.reply_after, after the
  // configured delay).
  void issue(const http::Request& r, Form form, http::Responder done, const RouteContext& ctx)
      EXCLUDES(mu_);
  void revoke_all() EXCLUDES(mu_);
  // Adds its counters to the simulator's /_sim/stats answer.
  void add_stats(boost::json::object& o) const EXCLUDES(mu_);

 private:
  const TokenOptions opt_;
  const Clock& clock_;
  mutable Mutex mu_;
  std::map<std::string, Millis, std::less<>> tokens_ GUARDED_BY(mu_);  // value → expiry
  long long requests_ GUARDED_BY(mu_) = 0;
  long long issued_ GUARDED_BY(mu_) = 0;
  long long bearer_accepted_ GUARDED_BY(mu_) = 0;
  long long bearer_rejected_ GUARDED_BY(mu_) = 0;
  // Requests being answered and the most at once (the gateway refreshes one
  // at a time).
  int inflight_ GUARDED_BY(mu_) = 0;
  int max_inflight_ GUARDED_BY(mu_) = 0;
};

void add_token_routes(http::Router& router, TokenIssuer& issuer, const RouteContext& ctx);

}  // namespace lrogate::sim
