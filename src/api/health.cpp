#include "api/replies.h"
#include "api/routes.h"

namespace lrogate::api {

void add_health_routes(http::Router& router, ApiContext& ctx) {
  router.add("GET", "/healthz", "Liveness: the process serves HTTP",
             [](http::Request&&, const http::Params&, http::Responder r) {
               r(http::json_response(200, R"({"status":"ok"})"));
             });
  router.add("GET", "/readyz", "Readiness: the store answers",
             [&ctx](http::Request&&, const http::Params&, http::Responder r) {
               with_store(ctx, r, [&ctx, r] {
                 auto ping = ctx.service.store().ping();
                 if (!ping) return r(store_unavailable(ping.error()));
                 r(http::json_response(200, R"({"status":"ready"})"));
               });
             });
}

}  // namespace lrogate::api
