// RouteContext: what the simulator's route files (oidc_issuer, analyzers)
// borrow from the simulator itself, so each keeps its routes in its own file
// and answers as every other simulated route does: after the configured
// latency, behind the same key check, at the same clock. The callbacks are
// thread-safe and outlive the router they are registered with.
#pragma once

#include <algorithm>
#include <chrono>
#include <functional>
#include <iterator>
#include <optional>
#include <string>
#include <string_view>

#include "base/clock.h"
#include "http/message.h"
#include "http/router.h"
#include "sim/throttle.h"

namespace lrogate::sim {

// The Content Understanding api-versions the simulator serves.
inline constexpr std::string_view kCuVersions[] = {"2025-05-01-preview", "2024-12-01-preview",
                                                   "2025-11-01"};

inline bool cu_version_served(std::string_view version) {
  return std::find(std::begin(kCuVersions), std::end(kCuVersions), version) !=
         std::end(kCuVersions);
}

struct RouteContext {
  // Answers after the simulator's --latency.
  std::function<void(http::Responder&, http::Response)> reply;
  // Answers after the simulator's --latency plus `extra`.
  std::function<void(http::Responder&, http::Response, std::chrono::milliseconds extra)>
      reply_after;
  // The Content Understanding check: Ocp-Apim-Subscription-Key or a bearer
  // token from the simulator's Entra ID endpoints. Call without locks held.
  std::function<bool(const http::Request&)> authorized;
  // The resource's quotas (sim/throttle.h): counts one Content Understanding
  // call of `kind` and returns its 429 when it is over a limit. Call it after
  // the key check, before any other, as Azure's front door does; without
  // locks held.
  std::function<std::optional<http::Response>(CallKind kind)> throttle;
  const Clock* clock = nullptr;
};

// The value of query parameter `name` (decoded), or "".
inline std::string query_param(const http::Request& r, std::string_view name) {
  for (auto& [k, v] : http::parse_query(r.query)) {
    if (k == name) return v;
  }
  return {};
}

// scheme://host of the request, as the client addressed the simulator.
inline std::string request_base(const http::Request& r) {
  return std::string(r.tls ? "https://" : "http://") + std::string(r.header("host"));
}

}  // namespace lrogate::sim
