// The API's settings (api/routes.h) and those of OIDC bearer tokens
// (api/oidc.h), filled by config/.
#pragma once

#include <chrono>
#include <cstddef>
#include <string>
#include <vector>

namespace lrogate::api {

struct ApiConfig {
  std::chrono::milliseconds submit_timeout{20'000};
  std::chrono::milliseconds poll_interval{10'000};  // Retry-After hint for clients
  bool fallback_lookup = true;
  double client_poll_rate = 1;
  int max_polls = 1000;
  std::chrono::milliseconds max_wait_header{60'000};  // cap of Prefer: wait=N
  std::string public_base_url;           // "": Operation-Location and nextLink are relative
  std::size_t max_body = 64u << 20;      // bodies only forwarded (:analyze)
  std::size_t max_json_body = 1u << 20;  // every other request's body
};

// Client bearer tokens from an OpenID Connect issuer (api/oidc.h).
struct OidcSettings {
  std::string issuer;  // "": OIDC off
  std::vector<std::string>
      extra_issuers;                   // also accepted as iss (Entra v1: sts.windows.net/{tid}/)
  std::vector<std::string> audiences;  // the API's client id and/or app id URI
  std::chrono::seconds clock_skew{60};
  std::string required_scope;
  std::string required_role;
  std::string tenant_claim = "tid";
  std::string group_claim = "groups";
  std::chrono::milliseconds refresh{3'600'000};
  std::chrono::milliseconds min_refetch{30'000};
  std::chrono::milliseconds timeout{10'000};  // of one discovery or JWKS request
};

}  // namespace lrogate::api
