#include "api/routes.h"

#include <algorithm>

#include "api/replies.h"
#include "api/ui.h"
#include "base/log.h"
#include "base/strings.h"

namespace lrogate::api {

namespace {

std::string escape_part(std::string_view s) {
  std::string out;
  for (char c : s) {
    if (c == '%') {
      out += "%25";
    } else if (c == ':') {
      out += "%3A";
    } else {
      out += c;
    }
  }
  return out;
}

// Text from a token check made safe inside a quoted header parameter.
std::string header_safe(std::string_view s) {
  std::string out;
  for (char c : s.substr(0, 200)) {
    if (c >= 0x20 && c < 0x7f && c != '"' && c != '\\') out += c;
  }
  return out;
}

http::Response unauthorized(std::string_view message, std::string_view token_error) {
  // Whatever was wrong with the token (malformed, unknown key, refused), RFC
  // 6750 answers 401 invalid_token.
  http::Response r = error_reply(make_error(ErrorCode::kUnauthenticated, std::string(message)));
  if (token_error.empty()) {
    r.set("WWW-Authenticate", "Bearer realm=\"lrogate\"");
  } else {
    r.set("WWW-Authenticate", "Bearer realm=\"lrogate\", error=\"invalid_token\", "
                              "error_description=\"" + header_safe(token_error) + "\"");
  }
  return r;
}

}  // namespace

std::variant<std::string, http::Response> owner_of(const JwtClaims& claims,
                                                   const OidcSettings& settings,
                                                   const http::Request& req) {
  auto tenant = claims.strings.find(settings.tenant_claim);
  if (tenant == claims.strings.end() || tenant->second.empty()) {
    return unauthorized("the token names no tenant",
                        "the token has no '" + settings.tenant_claim + "' claim");
  }
  std::string owner = "oidc:" + escape_part(tenant->second);
  std::string_view group = req.header("x-group-id");
  if (!group.empty()) {
    if (std::find(claims.groups.begin(), claims.groups.end(), group) == claims.groups.end()) {
      return error_reply(403, "GroupNotAllowed",
                         "the token does not name the group of X-Group-ID among its '" +
                             settings.group_claim + "'");
    }
    return owner + ":g:" + escape_part(group);
  }
  const std::string& user = claims.object_id.empty() ? claims.subject : claims.object_id;
  if (user.empty()) return unauthorized("the token names no user", "the token has no oid or sub");
  return owner + ":u:" + escape_part(user);
}

std::optional<http::Response> authenticate(ApiContext& ctx, http::Request& req,
                                           const http::Route* route) {
  req.principal = kDefaultTenant;
  bool keys_on = ctx.keys.enabled();
  if (!keys_on && !ctx.oidc) return std::nullopt;
  // The dashboard's files carry no data; its requests to the API carry the key.
  if (route && (route->path == "/healthz" || route->path == "/readyz" || route->path == "/ui" ||
                route->path == "/ui/{asset}")) {
    return std::nullopt;
  }
  std::size_t credentials = 0;
  std::size_t groups = 0;
  for (const auto& h : req.headers) {
    credentials += h.name == "authorization" || h.name == "api-key" || h.name == "x-api-key" ||
                   h.name == "ocp-apim-subscription-key";
    groups += h.name == "x-group-id";
  }
  if (credentials > 1) {
    // Which one would count is a guess two parts of a deployment may make
    // differently (a proxy checks one, the gateway another): refuse.
    return error_reply(400, "AmbiguousCredentials",
                       "send exactly one credential: one Authorization header, or one api-key, "
                       "x-api-key or Ocp-Apim-Subscription-Key header");
  }
  if (groups > 1) return error_reply(400, "AmbiguousGroup", "send at most one X-Group-ID header");
  std::string key =
      presented_key(req.header("authorization"), req.header("api-key"), req.header("x-api-key"),
                    req.header("ocp-apim-subscription-key"));
  if (keys_on && key.size() <= kMaxKeySize) {
    if (auto tenant = ctx.keys.authenticate(key)) {
      req.principal = *tenant;
      return std::nullopt;
    }
  }
  std::string token_error;
  std::string_view authorization = req.header("authorization");
  bool bearer = authorization.size() > 7 && iequals(authorization.substr(0, 7), "bearer ");
  if (ctx.oidc && bearer && !key.empty()) {
    auto verified = ctx.oidc->verify(key);
    if (verified) {
      auto owner = owner_of(*verified.value(), ctx.oidc->settings(), req);
      if (auto* principal = std::get_if<std::string>(&owner)) {
        req.principal = std::move(*principal);
        return std::nullopt;
      }
      return std::get<http::Response>(std::move(owner));
    }
    token_error = verified.error().message;
  }
  log::warn("unauthenticated request refused",
            {{"route", route ? route->path : std::string("(unmatched)")},
             {"remote", req.remote},
             {"credential_presented", !key.empty()},
             {"reason", token_error.empty() ? std::string("no valid credential") : token_error}});
  std::string how = ctx.oidc && keys_on ? "a valid bearer token or API key is required"
                    : ctx.oidc          ? "a valid bearer token is required"
                                        : "a valid API key is required";
  if (keys_on) {
    how += ": send Authorization: Bearer KEY, api-key: KEY, x-api-key: KEY or "
           "Ocp-Apim-Subscription-Key: KEY";
  }
  return unauthorized(token_error.empty() ? how : how + " (" + token_error + ")", token_error);
}

http::Router build_router(ApiContext& ctx) {
  http::Router router;
  router.set_guard([&ctx](http::Request& req, const http::Route* route) {
    return authenticate(ctx, req, route);
  });
  add_compat_routes(router, ctx);
  add_azure_routes(router, ctx);
  add_analyzer_routes(router, ctx);
  add_operation_routes(router, ctx);
  add_health_routes(router, ctx);
  add_meta_routes(router, ctx);
  add_learned_routes(router, ctx);
  add_webhook_routes(router, ctx);
  add_usage_routes(router, ctx);
  add_ui_routes(router);
  router.set_default_body_limit(ctx.config.max_json_body);
  return router;
}

}  // namespace lrogate::api
