#include "api/cors.h"

#include <algorithm>
#include <memory>
#include <utility>

#include "api/replies.h"
#include "base/strings.h"

namespace lrogate::api {
namespace {

bool is_label_char(char c) { return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-'; }

// A DNS name or IPv4 address (already lower-case): dot-separated non-empty
// labels of letters, digits and hyphens.
bool valid_host_name(std::string_view host) {
  if (host.empty() || host.size() > 253) return false;
  std::size_t label = 0;
  for (char c : host) {
    if (c == '.') {
      if (label == 0) return false;
      label = 0;
    } else if (is_label_char(c) && ++label <= 63) {
      continue;
    } else {
      return false;
    }
  }
  return label > 0;
}

// "[...]" holding an IPv6 address's characters.
bool valid_ipv6_literal(std::string_view host) {
  if (host.size() < 4 || host.front() != '[' || host.back() != ']') return false;
  return std::all_of(host.begin() + 1, host.end() - 1, [](char c) {
    return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f') || c == ':' || c == '.';
  });
}

// The origin as a browser serializes it (RFC 6454 §6.2: lower-case scheme
// and host, the port only when it is not the scheme's default), or nullopt.
std::optional<std::string> normalize_origin(std::string_view entry) {
  std::size_t sep = entry.find("://");
  if (sep == std::string_view::npos) return std::nullopt;
  std::string scheme = to_lower(entry.substr(0, sep));
  if (scheme != "http" && scheme != "https") return std::nullopt;
  std::string authority = to_lower(entry.substr(sep + 3));
  if (authority.find_first_of("/?#@\\ ") != std::string::npos) return std::nullopt;
  std::string_view auth = authority, host, rest;
  if (!auth.empty() && auth.front() == '[') {
    std::size_t close = auth.find(']');
    if (close == std::string_view::npos) return std::nullopt;
    host = auth.substr(0, close + 1);
    rest = auth.substr(close + 1);
    if (!valid_ipv6_literal(host)) return std::nullopt;
  } else {
    std::size_t colon = auth.find(':');
    host = auth.substr(0, colon);
    if (colon != std::string_view::npos) rest = auth.substr(colon);
    if (!valid_host_name(host)) return std::nullopt;
  }
  std::string out = scheme + "://" + std::string(host);
  if (rest.empty()) return out;
  if (rest.front() != ':') return std::nullopt;
  auto port = parse_digits(rest.substr(1), 5);
  if (!port || *port < 1 || *port > 65535) return std::nullopt;
  if (*port != (scheme == "https" ? 443 : 80)) out += ":" + std::to_string(*port);
  return out;
}

}  // namespace

bool CorsPolicy::allows(std::string_view origin) const {
  if (origin.empty()) return false;
  if (any_) return true;
  return std::find(origins_.begin(), origins_.end(), origin) != origins_.end();
}

std::optional<http::Response> CorsPolicy::preflight(const http::Request& req,
                                                    std::string_view methods) const {
  std::string_view origin = req.header("origin");
  if (req.method != "OPTIONS" || origin.empty() ||
      req.header("access-control-request-method").empty()) {
    return std::nullopt;
  }
  // The answer depends on these three request headers: caches must key on them.
  constexpr std::string_view kVary =
      "Origin, Access-Control-Request-Method, Access-Control-Request-Headers";
  if (!allows(origin)) {
    http::Response r = error_reply(403, "CorsOriginNotAllowed",
                                   "this origin is not allowed to call the gateway from a browser "
                                   "(see --cors-origins)");
    r.set("Vary", std::string(kVary));
    return r;
  }
  http::Response r;
  r.status = 204;
  r.set("Access-Control-Allow-Origin", std::string(origin));
  r.set("Access-Control-Allow-Methods",
        methods.empty() ? std::string("OPTIONS") : std::string(methods) + ", OPTIONS");
  r.set("Access-Control-Allow-Headers", std::string(kCorsAllowHeaders));
  r.set("Access-Control-Max-Age", std::to_string(kCorsMaxAgeSeconds));
  r.set("Vary", std::string(kVary));
  return r;
}

void CorsPolicy::decorate(std::string_view origin, http::Response& res) const {
  if (origin.empty()) return;
  res.set("Vary", "Origin");
  if (!allows(origin)) return;
  res.set("Access-Control-Allow-Origin", std::string(origin));
  res.set("Access-Control-Expose-Headers", std::string(kCorsExposeHeaders));
}

Result<CorsPolicy> parse_cors_origins(std::string_view setting) {
  CorsPolicy policy;
  auto entries = split_list(setting);
  for (const auto& entry : entries) {
    if (entry == "*") {
      if (entries.size() > 1) {
        return make_error(ErrorCode::kInvalidArgument,
                          "--cors-origins: \"*\" lists every origin and must stand alone");
      }
      policy.any_ = true;
      continue;
    }
    auto origin = normalize_origin(entry);
    if (!origin) {
      return make_error(ErrorCode::kInvalidArgument,
                        "--cors-origins: \"" + entry.substr(0, 200) +
                            "\" is not an origin: write scheme://host[:port] with scheme http or "
                            "https, and no path, query or trailing slash");
    }
    if (std::find(policy.origins_.begin(), policy.origins_.end(), *origin) ==
        policy.origins_.end()) {
      policy.origins_.push_back(std::move(*origin));
    }
  }
  return policy;
}

http::CrossOrigin cors_hooks(CorsPolicy policy) {
  auto shared = std::make_shared<const CorsPolicy>(std::move(policy));
  http::CrossOrigin hooks;
  hooks.preflight = [shared](const http::Request& req, std::string_view methods) {
    return shared->preflight(req, methods);
  };
  hooks.decorate = [shared](std::string_view origin, http::Response& res) {
    shared->decorate(origin, res);
  };
  return hooks;
}

void install_cors(http::Router& router, CorsPolicy policy) {
  if (policy.enabled()) router.set_cross_origin(cors_hooks(std::move(policy)));
}

}  // namespace lrogate::api
