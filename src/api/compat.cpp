// The compatible routes: an existing frontend of the original design polls
// these unchanged (docs/design.md, "Compatible routes").
#include <boost/json/object.hpp>
#include <boost/json/serialize.hpp>

#include "api/long_poll.h"
#include "api/replies.h"
#include "api/routes.h"
#include "api/submit.h"
#include "base/ids.h"
#include "base/log.h"

namespace lrogate::api {
namespace {

constexpr const char* kSubmittedMessage =
    "Analysis started successfully. Backend is polling Azure in background.";
constexpr const char* kProcessingMessage = "Backend is polling Azure in background...";

std::string results_path(std::string_view analyzer, std::string_view id) {
  return "/pro-mode/content-analyzers/" + std::string(analyzer) + "/results/" + std::string(id);
}

http::Response submitted_reply(ApiContext& ctx, const std::string& analyzer,
                               const std::string& id) {
  std::string path = results_path(analyzer, id);
  boost::json::object o{{"status", "submitted"},
                        {"analyzerId", analyzer},
                        {"operationId", id},
                        {"message", kSubmittedMessage},
                        {"resultsEndpoint", path}};
  http::Response r = http::json_response(202, boost::json::serialize(o));
  r.set("Operation-Location", public_url(ctx.config.public_base_url, path));
  r.set("Retry-After", std::to_string(ctx.retry_after_s()));
  r.log_operation_id = id;
  return r;
}

void submit(ApiContext& ctx, http::Request&& req, const http::Params& params,
            http::Responder respond) {
  SubmitInput in;
  in.tenant = req.principal;
  in.analyzer_id = params.at("analyzerId");
  in.request_id = req.request_id;
  in.tags = call_tags(req);
  if (auto bad = read_idempotency_key(req, &in.idempotency_key)) return respond(std::move(*bad));
  if (auto bad = read_callback(ctx, req, std::nullopt, &in.callback_url)) {
    return respond(std::move(*bad));
  }
  in.content_type = std::string(req.header("content-type"));
  in.reuse = wants_reuse(ctx, req);
  in.body = std::move(req.body);
  bool repeatability = !req.header("repeatability-request-id").empty();
  std::size_t size = in.body.size();
  auto shared_in = std::make_shared<SubmitInput>(std::move(in));
  // The body is forwarded as sent; submit_operation checks it (JSON) and
  // hashes it (idempotency), which for a large body is work for body_work.
  with_submit_work(ctx, size, respond, [&ctx, shared_in, respond, repeatability](bool on_loop) {
    std::string analyzer = shared_in->analyzer_id;
    submit_operation(
        ctx, std::move(*shared_in),
        [&ctx, analyzer, respond, repeatability](SubmitOutcome o) {
          if (o.error) return respond(std::move(*o.error));
          http::Response r = submitted_reply(ctx, analyzer, o.operation_id);
          if (repeatability) r.set("Repeatability-Result", "accepted");
          if (o.reused) r.set("Preference-Applied", "reuse");
          respond(std::move(r));
        },
        on_loop);
  });
}

// The original's fallback: ask the upstream about an id the store does not know.
void fallback(ApiContext& ctx, const std::string& analyzer, const std::string& id,
              upstream::CallTags tags, http::Responder respond) {
  auto answer = [respond, &ctx](upstream::PollAnswer a) {
    using K = upstream::PollAnswer::Kind;
    if (a.kind == K::kVanished) {
      respond(error_reply(404, "NotFound", "no operation with this id"));
    } else if (a.kind == K::kStatus && a.phase == upstream::Phase::kSucceeded) {
      respond(compat_result(a.body, a.content_type));
    } else if (a.kind == K::kStatus &&
               (a.phase == upstream::Phase::kFailed || a.phase == upstream::Phase::kCanceled)) {
      respond(compat_failed(a.error_message.empty() ? "the analysis failed" : a.error_message));
    } else if (a.kind == K::kStatus) {
      respond(compat_processing(0, ctx.retry_after_s(), "Still processing"));
    } else {
      respond(error_reply(502, "UpstreamUnavailable",
                          "the operation is not known here and the upstream could not be asked: " +
                              a.error_message));
    }
  };
  ctx.pool.lookup(analyzer, id, std::move(answer), std::move(tags));
}

void answer_results(ApiContext& ctx, const std::string& tenant, const std::string& analyzer,
                    const std::string& id, Found op, Applied applied, upstream::CallTags tags,
                    http::Responder respond) {
  respond = with_preference_applied(std::move(respond), applied);
  if (!op && ctx.config.fallback_lookup) {
    return fallback(ctx, analyzer, id, std::move(tags), std::move(respond));
  }
  // Another tenant's operation reads as unknown (and is never looked up upstream).
  if (!op || op->tenant != tenant || op->analyzer_id != analyzer ||
      op->kind != core::Kind::kAnalysis) {
    return respond(error_reply(404, "NotFound", "no operation with this id for this analyzer"));
  }
  if (!core::is_terminal(op->status)) {
    if (ctx.limiter.max_polls() > 0 && !ctx.limiter.count_processing(poll_key(tenant, id))) {
      return respond(too_many_polls(60'000, "this operation has been polled more than " +
                                                std::to_string(ctx.limiter.max_polls()) +
                                                " times (--max-polls)"));
    }
    double elapsed = static_cast<double>(ctx.clock.now_ms() - op->created_at) / 1000.0;
    return respond(compat_processing(elapsed, ctx.retry_after_s(), kProcessingMessage));
  }
  http::Response res = op->status == core::Status::kSucceeded
                           ? compat_result(op->result, op->result_type)
                           : compat_failed(op->error_message);
  respond_retrieved(ctx, *op, std::move(res), respond);
}

void results(ApiContext& ctx, http::Request&& req, const http::Params& params,
             http::Responder respond) {
  const std::string& analyzer = params.at("analyzerId");
  const std::string& id = params.at("operationId");
  if (!valid_analyzer_id(analyzer)) {
    return respond(invalid_analyzer_id());
  }
  if (!valid_operation_id(id)) {
    return respond(invalid_operation_id());
  }
  if (ctx.limiter.rate() > 0) {
    if (auto limited = admit_poll(ctx.limiter, poll_key(req.principal, id))) {
      return respond(std::move(*limited));
    }
  }
  // Only a fallback lookup sends them: a plain poll copies nothing.
  upstream::CallTags tags = ctx.config.fallback_lookup ? call_tags(req) : upstream::CallTags{};
  read_or_wait(ctx, req, id, std::move(respond),
               [&ctx, tenant = req.principal, analyzer, id, tags = std::move(tags)](
                   Found op, Applied applied, http::Responder respond) mutable {
                 answer_results(ctx, tenant, analyzer, id, std::move(op), applied, std::move(tags),
                                std::move(respond));
               });
}

}  // namespace

void add_compat_routes(http::Router& router, ApiContext& ctx) {
  router.add("POST", "/pro-mode/content-analyzers/{analyzerId}:analyze",
             "Start an analysis (compatible route)",
             [&ctx](http::Request&& req, const http::Params& p, http::Responder r) {
               submit(ctx, std::move(req), p, std::move(r));
             });
  // Only this route takes large bodies: a frontend sends every input file
  // base64-encoded in {"inputs":[{"name","data"}]}.
  router.limit_body("POST", "/pro-mode/content-analyzers/{analyzerId}:analyze",
                    ctx.config.max_body);
  router.add("GET", "/pro-mode/content-analyzers/{analyzerId}/results/{operationId}",
             "Poll an analysis (compatible route)",
             [&ctx](http::Request&& req, const http::Params& p, http::Responder r) {
               results(ctx, std::move(req), p, std::move(r));
             });
}

}  // namespace lrogate::api
