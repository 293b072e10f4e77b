#include "api/replies.h"
#include "api/routes.h"

namespace lrogate::api {

void add_health_routes(http::Router& router, ApiContext& ctx) {
  router.add("GET", "/healthz", "Liveness: the process serves HTTP",
             [](http::Request&&, const http::Params&, http::Responder r) {
               r(http::json_response(200, R"({"status":"ok"})"));
             });
  router.add("GET", "/readyz",
             "Readiness: the store answers (degraded: every upstream resource's breaker is open)",
             [&ctx](http::Request&&, const http::Params&, http::Responder r) {
               with_store(ctx, r, [&ctx, r] {
                 auto ping = ctx.service.store().ping();
                 if (!ping) return r(store_unavailable(ping.error()));
                 // Still 200: results and statuses are served from the store,
                 // and every replica shares the same resources.
                 if (ctx.pool.degraded(ctx.clock.now_ms())) {
                   return r(http::json_response(
                       200,
                       R"({"status":"degraded","reason":"every upstream resource's breaker is open or it drains"})"));
                 }
                 r(http::json_response(200, R"({"status":"ready"})"));
               });
             });
}

}  // namespace lrogate::api
