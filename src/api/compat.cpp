// The compatible routes: an existing frontend of the original design polls
// these unchanged (DESIGN.md, "The HTTP contract").
#include <boost/json/object.hpp>
#include <boost/json/serialize.hpp>

#include "api/replies.h"
#include "api/routes.h"
#include "base/ids.h"
#include "base/json_util.h"
#include "base/log.h"
#include "upstream/azure_cu/azure_cu.h"

namespace lrogate::api {
namespace {

constexpr const char* kSubmittedMessage =
    "Analysis started successfully. Backend is polling Azure in background.";
constexpr const char* kProcessingMessage = "Backend is polling Azure in background...";

std::string results_path(std::string_view analyzer, std::string_view id) {
  return "/pro-mode/content-analyzers/" + std::string(analyzer) + "/results/" + std::string(id);
}

http::Response submitted_reply(const http::Request& req, ApiContext& ctx,
                               const std::string& analyzer, const std::string& id) {
  std::string path = results_path(analyzer, id);
  boost::json::object o{{"status", "submitted"},
                        {"analyzerId", analyzer},
                        {"operationId", id},
                        {"message", kSubmittedMessage},
                        {"resultsEndpoint", path}};
  http::Response r = http::json_response(202, boost::json::serialize(o));
  r.set("Operation-Location", absolute_url(req, path));
  r.set("Retry-After", std::to_string(ctx.retry_after_s()));
  r.log_operation_id = id;
  return r;
}

http::Response submit_failure(const upstream::SubmitAnswer& a, std::chrono::milliseconds budget) {
  using K = upstream::SubmitAnswer::Kind;
  switch (a.kind) {
    case K::kRejected: {
      int status = (a.status >= 400 && a.status < 500) ? a.status : 400;
      return error_reply(status, a.error_code, a.error_message);
    }
    case K::kAuthRefused:
      return error_reply(502, "UpstreamAuthRefused",
                         "the upstream refused the gateway's credentials (answer " +
                             std::to_string(a.status) + "); check the gateway's upstream key");
    case K::kThrottled: {
      http::Response r = error_reply(
          503, "UpstreamThrottled",
          "the upstream is rate limiting analyses and did not accept this one within the "
          "submit budget; retry later");
      auto wait = a.retry_after.value_or(std::chrono::seconds(5));
      r.set("Retry-After", std::to_string(std::max<std::int64_t>(1, (wait.count() + 999) / 1000)));
      return r;
    }
    case K::kTransient: {
      std::string why = a.status ? "it answered " + std::to_string(a.status) : a.error_message;
      return error_reply(502, "UpstreamUnavailable",
                         "the upstream did not accept the analysis within " +
                             std::to_string(budget.count() / 1000) + "s: " + why);
    }
    case K::kFailed:
    case K::kAccepted:
      break;
  }
  return error_reply(502, a.error_code.empty() ? "UpstreamError" : a.error_code, a.error_message);
}

void submit(ApiContext& ctx, http::Request&& req, const http::Params& params,
            http::Responder respond) {
  std::string analyzer = params.at("analyzerId");
  if (!valid_analyzer_id(analyzer)) {
    respond(error_reply(400, "InvalidAnalyzerId",
                        "analyzerId must match ^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$"));
    return;
  }
  std::string content_type(req.header("content-type"));
  if (content_type.empty()) content_type = "application/json";
  if (req.body.empty()) {
    respond(error_reply(400, "EmptyBody",
                        "the request body is empty: send {\"url\": ...} or a document"));
    return;
  }
  if (upstream::azure_cu::is_json_type(content_type) && !json::parse(req.body)) {
    respond(error_reply(400, "InvalidJson", "the request body is not valid JSON"));
    return;
  }
  auto shared_req = std::make_shared<http::Request>(std::move(req));
  std::string body = std::move(shared_req->body);
  ctx.caller.submit(
      analyzer, std::move(body), content_type, ctx.config.submit_timeout,
      [&ctx, shared_req, analyzer, respond](upstream::SubmitAnswer a) {
        if (a.kind != upstream::SubmitAnswer::Kind::kAccepted) {
          log::warn("submit refused", {{"analyzer_id", analyzer},
                                       {"upstream_status", a.status},
                                       {"error_code", a.error_code},
                                       {"error", a.error_message}});
          respond(submit_failure(a, ctx.config.submit_timeout));
          return;
        }
        core::NewOperation n{a.operation_id, "default", analyzer, a.operation_location};
        auto rec = ctx.service.record_submitted(n);
        if (!rec && rec.error().code != ErrorCode::kConflict) {
          respond(store_unavailable(rec.error()));
          return;
        }
        log::info("state", {{"operation_id", a.operation_id},
                            {"analyzer_id", analyzer},
                            {"from", nullptr},
                            {"to", "NotStarted"}});
        ctx.on_submitted();
        respond(submitted_reply(*shared_req, ctx, analyzer, a.operation_id));
      });
}

// The original's fallback: ask the upstream about an id the store does not know.
void fallback(ApiContext& ctx, const std::string& id, http::Responder respond) {
  ctx.caller.lookup(id, [respond, &ctx](upstream::PollAnswer a) {
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
  });
}

void results(ApiContext& ctx, http::Request&&, const http::Params& params,
             http::Responder respond) {
  const std::string& analyzer = params.at("analyzerId");
  const std::string& id = params.at("operationId");
  if (!valid_analyzer_id(analyzer)) {
    respond(error_reply(400, "InvalidAnalyzerId",
                        "analyzerId must match ^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$"));
    return;
  }
  if (!valid_operation_id(id)) {
    respond(error_reply(400, "InvalidOperationId",
                        "operationId must match ^[A-Za-z0-9][A-Za-z0-9._-]{0,127}$"));
    return;
  }
  if (Millis wait = ctx.limiter.admit(id); wait > 0) {
    respond(too_many_polls(wait, "too many polls of this operation: the limit is " +
                                     std::to_string(ctx.limiter.rate()) + " per second"));
    return;
  }
  auto found = ctx.service.find(id);
  if (!found) {
    respond(store_unavailable(found.error()));
    return;
  }
  auto& op = found.value();
  if (!op && ctx.config.fallback_lookup) {
    fallback(ctx, id, std::move(respond));
    return;
  }
  if (!op || op->analyzer_id != analyzer) {
    respond(error_reply(404, "NotFound", "no operation with this id for this analyzer"));
    return;
  }
  if (!core::is_terminal(op->status)) {
    if (!ctx.limiter.count_processing(id)) {
      respond(too_many_polls(60'000, "this operation has been polled more than " +
                                         std::to_string(ctx.limiter.max_polls()) +
                                         " times (--max-polls)"));
      return;
    }
    double elapsed = static_cast<double>(ctx.clock.now_ms() - op->created_at) / 1000.0;
    respond(compat_processing(elapsed, ctx.retry_after_s(), kProcessingMessage));
    return;
  }
  http::Response res = op->status == core::Status::kSucceeded
                           ? compat_result(op->result, op->result_type)
                           : compat_failed(op->error_message);
  if (auto r = ctx.service.note_retrieved(*op); !r) {
    log::warn("cannot record retrieval", {{"operation_id", id}, {"detail", r.error().detail}});
  }
  respond(std::move(res));
}

}  // namespace

void add_compat_routes(http::Router& router, ApiContext& ctx) {
  router.add("POST", "/pro-mode/content-analyzers/{analyzerId}:analyze",
             "Start an analysis (compatible route)",
             [&ctx](http::Request&& req, const http::Params& p, http::Responder r) {
               submit(ctx, std::move(req), p, std::move(r));
             });
  router.add("GET", "/pro-mode/content-analyzers/{analyzerId}/results/{operationId}",
             "Poll an analysis (compatible route)",
             [&ctx](http::Request&& req, const http::Params& p, http::Responder r) {
               results(ctx, std::move(req), p, std::move(r));
             });
}

}  // namespace lrogate::api
