// Credential: what authenticates the gateway's calls to the upstream.
//
// Three kinds (--upstream-auth):
//   key                 a fixed header (Ocp-Apim-Subscription-Key by default)
//   client-credentials  an Entra ID token from the OAuth2 client-credentials
//                       grant ({authority}/{tenant}/oauth2/v2.0/token)
//   managed-identity    an Entra ID token from the host's managed identity:
//                       IDENTITY_ENDPOINT + IDENTITY_HEADER (App Service,
//                       Container Apps, Functions) or else IMDS
// Tokens are cached and refreshed before they expire (half their lifetime,
// at most 5 minutes ahead), one refresh at a time however many calls wait;
// a call made while a still-valid token is being refreshed uses the old one.
// A token the upstream answers 401 to is replaced early, at most every 30 s.
// A failed refresh is reported in the log and to the calls that needed it
// (never with a secret, a token or the authority's raw answer), and not
// tried again before a backoff (1 s doubling to 30 s) has passed: the first
// call after that asks again (there is no timer).
//
// Thread-safe. `headers` calls back either at once on the caller's thread or,
// when a token must be fetched first, on the http::Client's I/O thread.
#pragma once

#include <chrono>
#include <functional>
#include <memory>
#include <optional>
#include <string>

#include "base/clock.h"
#include "base/result.h"
#include "http/client.h"
#include "upstream/settings.h"

namespace lrogate::upstream {

class Credential {
 public:
  virtual ~Credential() = default;
  // The headers that authenticate one upstream call, or why there are none:
  // kUnauthenticated when the authority refused the gateway's own
  // credentials (a configuration fault; retrying the same request will not
  // help soon), kUnavailable when it could not be reached or gave no usable
  // token. The Error's message is safe for clients and logs: it never holds
  // the secret, a token or the authority's raw answer.
  virtual void headers(std::function<void(Result<http::Headers>)> done) = 0;
  // The upstream answered 401 to a call made with these credentials. A token
  // is then refreshed early (in the background, at most every 30 s); a key
  // cannot be replaced.
  virtual void rejected() {}
};

// Checks the settings and builds the credential (no network call yet).
Result<std::unique_ptr<Credential>> make_credential(const AuthSettings& settings,
                                                    http::Client& client, const Clock& clock);

// A token endpoint's answer: {"access_token", "expires_in" | "expires_on"},
// numbers or numeric strings. expires_at is epoch ms; false if unusable.
struct Token {
  std::string value;
  Millis expires_at = 0;
};
// The token of an authority's 200 answer (expires_in or expires_on, in the
// future); nullopt when it holds no usable token.
std::optional<Token> parse_token_answer(std::string_view body, Millis now);

// The authority's {"error", "error_description"} reduced to a short,
// printable reason: the error code and the AADSTS number when present.
std::string token_error_reason(int status, std::string_view body);

}  // namespace lrogate::upstream
