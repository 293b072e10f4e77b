// /metrics (Prometheus text format) and /openapi.json.
#include "api/replies.h"
#include "api/routes.h"
#include "base/metrics.h"

namespace lrogate::api {

void add_meta_routes(http::Router& router, ApiContext& ctx) {
  router.add(
      "GET", "/metrics", "Prometheus metrics",
      [&ctx](http::Request&&, const http::Params&, http::Responder r) {
        if (auto counts = ctx.service.store().count_by_status()) {
          metrics::set_operations(counts.value());
        }
        metrics::set_long_poll_waiters(static_cast<double>(ctx.service.notifier().waiters()));
        http::Response res = http::json_response(200, metrics::render());
        res.content_type = "text/plain; version=0.0.4; charset=utf-8";
        r(std::move(res));
      });
  router.add("GET", "/openapi.json", "This API's OpenAPI 3.1 document",
             [](http::Request&&, const http::Params&, http::Responder r) {
               r(http::json_response(200, openapi_document()));
             });
}

}  // namespace lrogate::api
