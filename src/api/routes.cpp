#include "api/routes.h"

#include "api/replies.h"
#include "api/ui.h"
#include "base/log.h"

namespace lrogate::api {

std::optional<http::Response> authenticate(ApiContext& ctx, http::Request& req,
                                           const http::Route* route) {
  req.principal = kDefaultTenant;
  if (!ctx.keys.enabled()) return std::nullopt;
  // The dashboard's files carry no data; its requests to the API carry the key.
  if (route && (route->path == "/healthz" || route->path == "/readyz" || route->path == "/ui" ||
                route->path == "/ui/{asset}")) {
    return std::nullopt;
  }
  std::size_t credentials = 0;
  for (const auto& h : req.headers) {
    credentials += h.name == "authorization" || h.name == "api-key" || h.name == "x-api-key";
  }
  if (credentials > 1) {
    // Which one would count is a guess two parts of a deployment may make
    // differently (a proxy checks one, the gateway another): refuse.
    return error_reply(400, "AmbiguousCredentials",
                       "send exactly one credential: one Authorization header, or one api-key "
                       "or x-api-key header");
  }
  std::string key =
      presented_key(req.header("authorization"), req.header("api-key"), req.header("x-api-key"));
  if (auto tenant = ctx.keys.authenticate(key)) {
    req.principal = *tenant;
    return std::nullopt;
  }
  log::warn("unauthenticated request refused",
            {{"route", route ? route->path : std::string("(unmatched)")},
             {"remote", req.remote},
             {"key_presented", !key.empty()}});
  http::Response r = error_reply(401, "Unauthorized",
                                 "a valid API key is required: send Authorization: Bearer KEY, "
                                 "api-key: KEY or x-api-key: KEY");
  r.set("WWW-Authenticate", "Bearer realm=\"lrogate\"");
  return r;
}

http::Router build_router(ApiContext& ctx) {
  http::Router router;
  router.set_guard([&ctx](http::Request& req, const http::Route* route) {
    return authenticate(ctx, req, route);
  });
  add_compat_routes(router, ctx);
  add_operation_routes(router, ctx);
  add_health_routes(router, ctx);
  add_meta_routes(router, ctx);
  add_ui_routes(router);
  router.set_default_body_limit(ctx.config.max_json_body);
  return router;
}

}  // namespace lrogate::api
