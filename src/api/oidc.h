// OidcVerifier: accepts bearer tokens from one OpenID Connect issuer (Entra
// ID first), keeping the issuer's signing keys current.
//
// Keys: discovery (`{issuer}/.well-known/openid-configuration` → jwks_uri)
// and the JWKS are fetched through http::Client at start, again every
// `refresh`, and when a token names an unknown kid — at most once per
// `min_refetch`, so forged kids cannot make the gateway hammer the issuer.
// A fetch never blocks a request: verify() judges a token by the keys held
// at that moment (a token whose kid is not among them is refused now and
// accepted once the refetch brings its key). While the issuer cannot be
// reached, the keys already held keep working.
//
// Verified tokens are remembered by their SHA-256 (bounded, until their exp)
// so a poll pays for a hash, not a signature check. The token itself is
// never logged and never kept as text. Thread-safe; its timers and fetches
// run on the client's thread, which must stop (Client::shutdown) before the
// verifier is destroyed.
#pragma once

#include <atomic>
#include <chrono>
#include <memory>
#include <string>
#include <unordered_map>
#include <vector>

#include "api/api_config.h"
#include "api/jwt.h"
#include "base/clock.h"
#include "base/thread_annotations.h"
#include "http/client.h"

namespace lrogate::api {

// The claims, or why the token is refused (verify_jwt's codes).
using VerifiedToken = Result<std::shared_ptr<const JwtClaims>>;

class OidcVerifier {
 public:
  OidcVerifier(OidcSettings settings, http::Client& client, const Clock& clock);

  // Fetches the keys now and schedules the refreshes.
  void start();
  // The token's claims, or why it is refused. Never waits for a fetch.
  VerifiedToken verify(std::string_view token);

  const OidcSettings& settings() const { return settings_; }
  // Keys held now (0 until the first fetch succeeded).
  std::size_t keys_held() const;

 private:
  void schedule();
  void fetch();  // discovery, then JWKS; one at a time
  void fetched(Result<KeySet> keys);
  void get(std::string url, std::function<void(Result<std::string>)> done);

  const OidcSettings settings_;
  JwtRules rules_;  // constant after construction
  http::Client& client_;
  const Clock& clock_;

  mutable SharedMutex keys_mu_;
  std::shared_ptr<const KeySet> keys_ GUARDED_BY(keys_mu_);
  std::string last_error_ GUARDED_BY(keys_mu_);  // why the last fetch failed

  std::atomic<bool> fetching_{false};
  std::atomic<Millis> last_fetch_{0};

  Mutex cache_mu_;
  // sha256(token) → claims.
  std::unordered_map<std::string, std::shared_ptr<const JwtClaims>> cache_ GUARDED_BY(cache_mu_);
};

}  // namespace lrogate::api
