// CorsPolicy: which browser origins may call the gateway (--cors-origins),
// and the CORS headers (Fetch standard) that say so. The router decides what
// a preflight is and which methods a path serves (http/router.h,
// CrossOrigin); this part decides the answer.
//
// A listed origin is echoed in Access-Control-Allow-Origin, never "*", and
// no Access-Control-Allow-Credentials is sent: clients authenticate with a
// header (Authorization, api-key, x-api-key, Ocp-Apim-Subscription-Key),
// which needs no credentials mode. Preflights need no key and never reach
// a handler.
//
// Immutable after parsing; safe to use from any number of threads.
#pragma once

#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "base/result.h"
#include "http/message.h"
#include "http/router.h"

namespace lrogate::api {

// Request headers a preflight may name (Access-Control-Allow-Headers).
inline constexpr std::string_view kCorsAllowHeaders =
    "Authorization, Content-Type, Idempotency-Key, Repeatability-Request-ID, "
    "Repeatability-First-Sent, Prefer, X-Group-ID, x-ms-client-request-id, traceparent, "
    "tracestate, api-key, x-api-key, Ocp-Apim-Subscription-Key";
// Response headers a page may read (Access-Control-Expose-Headers).
inline constexpr std::string_view kCorsExposeHeaders =
    "Operation-Location, Retry-After, Preference-Applied, Repeatability-Result, x-ms-request-id, "
    "x-ms-client-request-id, x-ms-error-code, WWW-Authenticate";
// How long a browser may cache a preflight's answer, in seconds.
inline constexpr int kCorsMaxAgeSeconds = 600;

class CorsPolicy {
 public:
  // No origin is listed: enabled() is false.
  CorsPolicy() = default;

  // Returns true iff some origin is listed (or "*").
  bool enabled() const { return any_ || !origins_.empty(); }
  // Returns true iff a request with this Origin header value may be answered
  // with CORS headers: exact, case-sensitive match of a listed origin, or
  // any non-empty value under "*".
  bool allows(std::string_view origin) const;
  // The listed origins, normalized (lower-case scheme and host, no default
  // port); empty under "*".
  const std::vector<std::string>& origins() const { return origins_; }

  // The answer to a preflight (OPTIONS with Origin and
  // Access-Control-Request-Method; nullopt for any other request). methods:
  // those the path's routes serve. A listed origin gets 204 with the allowed
  // methods (plus OPTIONS) and headers, whatever method or headers it asked
  // for (the browser enforces the lists); any other 403 CorsOriginNotAllowed
  // without CORS headers.
  std::optional<http::Response> preflight(const http::Request& req, std::string_view methods) const;
  // Adds Access-Control-Allow-Origin, Access-Control-Expose-Headers for a
  // listed origin; Vary: Origin for any non-empty origin (the answer depends
  // on it). An empty origin leaves res untouched.
  void decorate(std::string_view origin, http::Response& res) const;

 private:
  friend Result<CorsPolicy> parse_cors_origins(std::string_view setting);

  bool any_ = false;                  // "*"
  std::vector<std::string> origins_;  // few: a linear search beats hashing
};

// Parses --cors-origins: "" (CORS off), "*", or comma-separated origins
// scheme://host[:port] with scheme http or https, no user, path, query,
// fragment or trailing slash (spaces around commas are ignored). An error
// names the first entry that is not one.
Result<CorsPolicy> parse_cors_origins(std::string_view setting);

// The router's CrossOrigin hooks over a copy of policy.
http::CrossOrigin cors_hooks(CorsPolicy policy);

// Installs policy's hooks on router when it is enabled; otherwise leaves the
// router without CORS (no CORS header, OPTIONS answered like any method).
void install_cors(http::Router& router, CorsPolicy policy);

}  // namespace lrogate::api
