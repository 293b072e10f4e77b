// The Azure-compatible routes (docs/design.md, "Azure-compatible routes"):
// Content Understanding's and Document Intelligence's own paths, so that an
// SDK pointed at the gateway changes only its endpoint. Submits go through
// the same path as every other route (api/submit.h: the pool, idempotency,
// the durable record); status reads are answered from the store (the
// poller alone calls the upstream, on its schedule), in the service's own
// shapes (api/azure/shapes.h). A gateway serves the routes of its pool's
// service; the other service's answer 404.
#include "api/routes.h"

#include "api/analyzers.h"
#include "api/azure/shapes.h"
#include "api/long_poll.h"
#include "api/replies.h"
#include "api/submit.h"
#include "base/ids.h"
#include "upstream/operation_location.h"

namespace lrogate::api {
namespace {

using azure::Service;

constexpr std::string_view kCuGa = "2025-11-01";
constexpr std::size_t kInlineShaping = 64u << 10;

// nullopt when this gateway fronts `asked`; else the 404 to answer.
std::optional<http::Response> not_served(ApiContext& ctx, Service asked) {
  auto served = azure::service_of_kind(ctx.pool.kind());
  if (served == asked) return std::nullopt;
  return azure::other_service(asked, served);
}

// The checks every route shares: the service, then the query.
std::variant<azure::Query, http::Response> admit(ApiContext& ctx, Service s,
                                                 const http::Request& req) {
  if (auto no = not_served(ctx, s)) return std::move(*no);
  return azure::read_query(req.query, ctx.pool.api_versions());
}

// Where an absolute Operation-Location starts (azure::base_url), or the 400
// when the request gives nothing to build it from.
std::variant<std::string, http::Response> operation_base(ApiContext& ctx,
                                                         const http::Request& req) {
  if (auto base = azure::base_url(ctx.config.public_base_url, req.header("host"), req.tls)) {
    return std::move(*base);
  }
  return error_reply(400, "InvalidRequest",
                     "the request has no usable Host header to build the Operation-Location "
                     "from (or set --public-base-url)");
}

void analyze(ApiContext& ctx, Service s, bool binary_route, http::Request&& req,
             const std::string& analyzer, http::Responder respond) {
  auto q = admit(ctx, s, req);
  if (auto* r = std::get_if<http::Response>(&q)) return respond(std::move(*r));
  auto& query = std::get<azure::Query>(q);
  if (!valid_analyzer_id(analyzer)) return respond(invalid_analyzer_id());
  std::string type(req.header("content-type"));
  bool json = type.empty() || upstream::is_json_type(type);
  if (binary_route) {
    if (query.api_version != kCuGa) {
      return respond(error_reply(404, "NotFound",
                                 ":analyzeBinary is served by api-version 2025-11-01 only; "
                                 "earlier versions take binary input on :analyze"));
    }
    if (type.empty()) type = "application/octet-stream";
  } else if (s == Service::kContentUnderstanding && query.api_version == kCuGa && !json) {
    return respond(error_reply(415, "UnsupportedMediaType",
                               "api-version 2025-11-01 takes a JSON body on :analyze; send the "
                               "document's bytes to :analyzeBinary"));
  }
  auto base = operation_base(ctx, req);
  if (auto* r = std::get_if<http::Response>(&base)) return respond(std::move(*r));
  SubmitInput in;
  in.tenant = req.principal;
  in.analyzer_id = analyzer;
  in.request_id = req.request_id;
  in.tags = call_tags(req);
  if (auto bad = read_idempotency_key(req, &in.idempotency_key)) return respond(std::move(*bad));
  if (auto bad = read_callback(ctx, req, std::nullopt, &in.callback_url)) {
    return respond(std::move(*bad));
  }
  in.content_type = type;
  in.reuse = wants_reuse(ctx, req);
  in.body = std::move(req.body);
  in.options = {query.api_version, query.passthrough};
  bool repeatability = !req.header("repeatability-request-id").empty();
  std::size_t size = in.body.size();
  auto shared_in = std::make_shared<SubmitInput>(std::move(in));
  with_submit_work(
      ctx, size, respond,
      [&ctx, s, shared_in, respond, repeatability, base = std::get<std::string>(std::move(base)),
       version = query.api_version](bool on_loop) {
        std::string analyzer = shared_in->analyzer_id;
        submit_operation(
            ctx, std::move(*shared_in),
            [&ctx, s, analyzer, respond, repeatability, base, version](SubmitOutcome o) {
              if (o.error) return respond(std::move(*o.error));
              http::Response r =
                  azure::accepted(s, o.operation_id,
                                  base + azure::result_path(s, analyzer, o.operation_id, version),
                                  ctx.retry_after_s());
              if (repeatability) r.set("Repeatability-Result", "accepted");
              if (o.reused) r.set("Preference-Applied", "reuse");
              respond(std::move(r));
            },
            on_loop);
      });
}

// Answers a status read of `op` (null: none) when it is the caller's and
// `matches` it; large final bodies are shaped off the I/O thread.
void answer_status(ApiContext& ctx, Service s, const Found& op, bool matches,
                   const http::Responder& respond) {
  if (!op || !matches) return respond(azure::not_found());
  auto shape = [&ctx, s, op, respond] {
    respond_retrieved(ctx, *op, azure::status_answer(s, *op, ctx.retry_after_s()), respond);
  };
  if (op->result.size() <= kInlineShaping) return shape();
  with_body_work(ctx, op->result.size(), respond, std::move(shape));
}

// A status read: GET analyzerResults/{id} (CU), .../analyzeResults/{id}
// (DI), analyzers/{a}/operations/{id} (CU creations). `kind` and `analyzer`
// (when not empty) must match the record.
void status(ApiContext& ctx, Service s, http::Request&& req, const std::string& id,
            std::string analyzer, core::Kind kind, http::Responder respond) {
  auto q = admit(ctx, s, req);
  if (auto* r = std::get_if<http::Response>(&q)) return respond(std::move(*r));
  if (!analyzer.empty() && !valid_analyzer_id(analyzer)) return respond(invalid_analyzer_id());
  if (!valid_operation_id(id)) return respond(invalid_operation_id());
  if (ctx.limiter.rate() > 0) {
    if (auto limited = admit_poll(ctx.limiter, poll_key(req.principal, id))) {
      return respond(std::move(*limited));
    }
  }
  read_or_wait(ctx, req, id, std::move(respond),
               [&ctx, s, tenant = req.principal, analyzer = std::move(analyzer), kind](
                   Found op, Applied applied, http::Responder respond) {
                 bool mine = op && op->tenant == tenant && op->kind == kind &&
                             (analyzer.empty() || op->analyzer_id == analyzer);
                 answer_status(ctx, s, op, mine,
                               with_preference_applied(std::move(respond), applied));
               });
}

// PUT/GET/DELETE contentunderstanding/analyzers/{analyzerId}.
void analyzer_call(ApiContext& ctx, upstream::AnalyzerCall call, http::Request&& req,
                   const std::string& analyzer, http::Responder respond) {
  Service s = Service::kContentUnderstanding;
  auto q = admit(ctx, s, req);
  if (auto* r = std::get_if<http::Response>(&q)) return respond(std::move(*r));
  auto& query = std::get<azure::Query>(q);
  if (!valid_analyzer_id(analyzer)) return respond(invalid_analyzer_id());
  bool allow_replace = false;
  for (auto& [k, v] : http::parse_query(query.passthrough)) {
    if (call == upstream::AnalyzerCall::kCreate && k == "allowReplace" &&
        (v == "true" || v == "false")) {
      allow_replace = v == "true";
    } else {
      return respond(error_reply(400, "InvalidQueryParameter",
                                 call == upstream::AnalyzerCall::kCreate
                                     ? "the only query parameters are api-version and "
                                       "allowReplace=true|false"
                                     : "the only query parameter is api-version"));
    }
  }
  upstream::SubmitOptions options{query.api_version, ""};
  if (call != upstream::AnalyzerCall::kCreate) {
    return forward_analyzer(ctx, call, req, analyzer, std::move(options), std::move(respond));
  }
  auto base = operation_base(ctx, req);
  if (auto* r = std::get_if<http::Response>(&base)) return respond(std::move(*r));
  AnalyzerRoutes routes;
  routes.options = std::move(options);
  routes.location = [base = std::get<std::string>(std::move(base)), version = query.api_version](
                        const std::string& a, const std::string& id) {
    return base + azure::creation_path(a, id, version);
  };
  create_analyzer(ctx, std::move(req), analyzer, allow_replace, std::move(routes),
                  std::move(respond));
}

}  // namespace

void add_azure_routes(http::Router& router, ApiContext& ctx) {
  const std::string cu = "/contentunderstanding";
  const std::string di = "/documentintelligence";
  using P = const http::Params&;
  using R = http::Responder;
  router.add("POST", cu + "/analyzers/{analyzerId}:analyze",
             "Start an analysis (Azure Content Understanding's route)",
             [&ctx](http::Request&& req, P p, R r) {
               analyze(ctx, Service::kContentUnderstanding, false, std::move(req),
                       p.at("analyzerId"), std::move(r));
             });
  router.add("POST", cu + "/analyzers/{analyzerId}:analyzeBinary",
             "Start an analysis of a binary document (Content Understanding 2025-11-01)",
             [&ctx](http::Request&& req, P p, R r) {
               analyze(ctx, Service::kContentUnderstanding, true, std::move(req),
                       p.at("analyzerId"), std::move(r));
             });
  router.add("GET", cu + "/analyzerResults/{resultId}",
             "Status and result of an analysis (Content Understanding's shape)",
             [&ctx](http::Request&& req, P p, R r) {
               status(ctx, Service::kContentUnderstanding, std::move(req), p.at("resultId"), "",
                      core::Kind::kAnalysis, std::move(r));
             });
  router.add("PUT", cu + "/analyzers/{analyzerId}",
             "Create or replace an analyzer (forwarded; Content Understanding's route)",
             [&ctx](http::Request&& req, P p, R r) {
               analyzer_call(ctx, upstream::AnalyzerCall::kCreate, std::move(req),
                             p.at("analyzerId"), std::move(r));
             });
  router.add("GET", cu + "/analyzers/{analyzerId}",
             "Read an analyzer (forwarded; Content Understanding's route)",
             [&ctx](http::Request&& req, P p, R r) {
               analyzer_call(ctx, upstream::AnalyzerCall::kGet, std::move(req), p.at("analyzerId"),
                             std::move(r));
             });
  router.add("DELETE", cu + "/analyzers/{analyzerId}",
             "Delete an analyzer (forwarded; Content Understanding's route)",
             [&ctx](http::Request&& req, P p, R r) {
               analyzer_call(ctx, upstream::AnalyzerCall::kDelete, std::move(req),
                             p.at("analyzerId"), std::move(r));
             });
  router.add("GET", cu + "/analyzers/{analyzerId}/operations/{operationId}",
             "Status of an analyzer's creation (Content Understanding's shape)",
             [&ctx](http::Request&& req, P p, R r) {
               status(ctx, Service::kContentUnderstanding, std::move(req), p.at("operationId"),
                      p.at("analyzerId"), core::Kind::kAnalyzerCreation, std::move(r));
             });
  router.add("POST", di + "/documentModels/{modelId}:analyze",
             "Start an analysis (Azure Document Intelligence's route)",
             [&ctx](http::Request&& req, P p, R r) {
               analyze(ctx, Service::kDocumentIntelligence, false, std::move(req), p.at("modelId"),
                       std::move(r));
             });
  router.add("GET", di + "/documentModels/{modelId}/analyzeResults/{resultId}",
             "Status and result of an analysis (Document Intelligence's shape)",
             [&ctx](http::Request&& req, P p, R r) {
               status(ctx, Service::kDocumentIntelligence, std::move(req), p.at("resultId"),
                      p.at("modelId"), core::Kind::kAnalysis, std::move(r));
             });
  // Documents come in these bodies, inline (base64) or as bytes.
  for (const char* path : {"/contentunderstanding/analyzers/{analyzerId}:analyze",
                           "/contentunderstanding/analyzers/{analyzerId}:analyzeBinary",
                           "/documentintelligence/documentModels/{modelId}:analyze"}) {
    router.limit_body("POST", path, ctx.config.max_body);
  }
}

}  // namespace lrogate::api
