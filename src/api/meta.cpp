// /metrics (Prometheus text format) and /openapi.json.
#include <algorithm>
#include <atomic>
#include <memory>

#include "api/replies.h"
#include "api/routes.h"
#include "base/metrics.h"

namespace lrogate::api {

constexpr std::chrono::milliseconds kCountsWait{250};

void add_meta_routes(http::Router& router, ApiContext& ctx) {
  router.add(
      "GET", "/metrics", "Prometheus metrics",
      [&ctx](http::Request&&, const http::Params&, http::Responder r) {
        // The operation counts come from the store, on store_work; a scrape
        // waits for them at most kCountsWait, then answers with the last ones.
        auto once = std::make_shared<std::atomic<bool>>(false);
        auto render = [&ctx, once, r] {
          if (once->exchange(true)) return;
          metrics::set_long_poll_waiters(static_cast<double>(ctx.service.notifier().waiters()));
          if (auto* history = ctx.service.history()) {
            std::vector<metrics::LearnedDuration> learned;
            for (const auto& l : history->summary()) {
              learned.push_back({l.resource, l.analyzer, l.samples,
                                 static_cast<double>(l.median) / 1000.0,
                                 static_cast<double>(l.p90) / 1000.0});
            }
            metrics::set_learned_durations(learned);
          }
          ctx.pool.publish_metrics(ctx.clock.now_ms());
          http::Response res = http::json_response(200, metrics::render());
          res.content_type = "text/plain; version=0.0.4; charset=utf-8";
          r(res);
        };
        store_later(ctx, "count_by_status", [&ctx, render] {
          if (auto counts = ctx.service.store().count_by_status()) {
            metrics::set_operations(counts.value());
          }
          // Every resource in the pool gets a sample, 0 when it has none open:
          // a drained resource is empty when this reads 0.
          if (auto open = ctx.service.store().count_open_by_resource()) {
            std::vector<std::pair<std::string, std::int64_t>> all = open.value();
            for (const auto& res : ctx.pool.resources()) {
              bool listed = std::any_of(all.begin(), all.end(),
                                        [&](const auto& p) { return p.first == res->name(); });
              if (!listed) all.emplace_back(res->name(), 0);
            }
            metrics::set_open_by_resource(all);
          }
          render();
        });
        if (ctx.after) ctx.after(kCountsWait, render);
      });
  router.add("GET", "/openapi.json", "This API's OpenAPI 3.1 document",
             [](http::Request&&, const http::Params&, http::Responder r) {
               r(http::json_response(200, openapi_document()));
             });
}

}  // namespace lrogate::api
