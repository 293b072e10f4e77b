// Analyzer set-up, the first step of the original's frontend: it creates
// its analyzer with PUT /pro-mode/content-analyzers/{analyzerId}, then
// analyzes. The gateway forwards the analyzer calls to the upstream
// (upstream::AnalyzerCall) and answers as it does; a creation is a
// long-running operation of its own (store::Kind::kAnalyzerCreation) that
// the poller follows like an analysis, visible at GET /operations/{id}, and
// an analyze of that analyzer waits for it (submit.h).
//
// Analyzers belong to the upstream resource, not to a tenant: any caller
// the guard admits may create, read or delete one; the creation's record
// belongs to whoever created it.
#include <boost/json/object.hpp>
#include <boost/json/serialize.hpp>

#include "api/analyzers.h"
#include "api/replies.h"
#include "api/routes.h"
#include "api/submit.h"
#include "base/ids.h"
#include "base/json_check.h"
#include "base/log.h"
#include "upstream/operation_location.h"

namespace lrogate::api {
namespace {

constexpr const char* kPath = "/pro-mode/content-analyzers/{analyzerId}";

// The upstream's answer as the client's: its status and its JSON body.
http::Response passed_on(const upstream::SubmitAnswer& a) {
  http::Response r;
  r.status = a.status;
  if (a.status == 204) r.content_type.clear();
  if (a.status != 204 && !a.body.empty() && upstream::is_json_type(a.content_type)) {
    r.body = a.body;
  } else if (a.status != 204) {
    r.body = "{}";
  }
  return r;
}

void log_refused(const char* what, const std::string& analyzer, const upstream::SubmitAnswer& a,
                 const std::string& request_id) {
  boost::json::object o{{"analyzer_id", analyzer},     {"call", what},
                        {"upstream_status", a.status}, {"error_code", a.error_code},
                        {"error", a.error_message},    {"request_id", request_id}};
  if (!a.upstream_request_id.empty()) o["upstream_request_id"] = a.upstream_request_id;
  log::warn("analyzer call refused", std::move(o));
}

// allowReplace=true|false is the only query parameter the create takes.
std::optional<http::Response> read_allow_replace(const http::Request& req, bool* allow) {
  for (auto& [k, v] : http::parse_query(req.query)) {
    if (k == "allowReplace" && (v == "true" || v == "false")) {
      *allow = v == "true";
    } else if (k != "api-version") {
      return error_reply(400, "InvalidQuery",
                         "the only query parameters are allowReplace=true|false and api-version");
    }
  }
  return std::nullopt;
}

// The resource the analyzer's latest recorded creation went to; "" when
// this gateway recorded none, the store cannot say, or that resource is no
// longer in the pool. A store read (create runs on body or store work).
std::string analyzer_home(ApiContext& ctx, const std::string& analyzer) {
  auto latest = ctx.service.latest_creation(analyzer);
  if (!latest || !latest.value() || !ctx.pool.find(latest.value()->resource)) return "";
  return latest.value()->resource;
}

}  // namespace

void create_analyzer(ApiContext& ctx, http::Request&& req, const std::string& analyzer,
                     bool allow_replace, AnalyzerRoutes routes, http::Responder respond) {
  std::string_view type = req.header("content-type");
  if (!type.empty() && !upstream::is_json_type(type)) {
    return respond(
        error_reply(415, "UnsupportedMediaType",
                    "an analyzer is a JSON object: send Content-Type: application/json"));
  }
  if (req.body.empty()) {
    return respond(error_reply(400, "EmptyBody", "the request body is empty: send the analyzer"));
  }
  auto in = std::make_shared<http::Request>(std::move(req));
  auto shared_routes = std::make_shared<const AnalyzerRoutes>(std::move(routes));
  with_body_work(ctx, in->body.size(), respond, [&ctx, in, analyzer, allow_replace, respond,
                                                 shared_routes] {
    if (auto refused = json::check(in->body)) return respond(json_refused(*refused));
    std::size_t first = in->body.find_first_not_of(" \t\r\n");
    if (in->body[first] != '{') {
      return respond(error_reply(400, "InvalidAnalyzer", "an analyzer is a JSON object"));
    }
    upstream::CallTags tags = call_tags(*in);
    std::string body = std::move(in->body);
    // A replacement goes where the analyzer was created, while that resource
    // takes new calls; a first creation wherever the pool places it.
    std::string pin = analyzer_home(ctx, analyzer);
    if (auto home = ctx.pool.find(pin); !home || home->draining()) pin.clear();
    ctx.pool.analyzer(
        in->principal, upstream::AnalyzerCall::kCreate, analyzer, std::move(body), allow_replace, std::move(pin),
        ctx.config.submit_timeout,
        [&ctx, in, analyzer, respond, shared_routes](upstream::SubmitAnswer answer,
                                                     std::string resource) {
          if (answer.kind != upstream::SubmitAnswer::Kind::kAccepted) {
            log_refused("create", analyzer, answer, in->request_id);
            return respond(upstream_refusal(answer, ctx.config.submit_timeout));
          }
          // On the client's thread: the record is written on store_work.
          store_must(ctx, "record_submitted", [&ctx, in, analyzer, respond, shared_routes,
                                               a = std::move(answer),
                                               resource = std::move(resource)] {
            core::NewOperation n;
            n.resource = resource;
            n.id = a.operation_id;
            n.tenant = in->principal;
            n.analyzer_id = analyzer;
            n.upstream_url = a.operation_location;
            n.kind = core::Kind::kAnalyzerCreation;
            auto rec = ctx.service.record_submitted(n);
            if (!rec && rec.error().code != ErrorCode::kConflict) {
              return respond(store_unavailable(rec.error()));
            }
            boost::json::object state{{"operation_id", a.operation_id},
                                      {"analyzer_id", analyzer},
                                      {"kind", core::kind_name(n.kind)},
                                      {"from", nullptr},
                                      {"to", "NotStarted"},
                                      {"resource", n.resource},
                                      {"request_id", in->request_id}};
            if (!a.upstream_request_id.empty()) {
              state["upstream_request_id"] = a.upstream_request_id;
            }
            log::info("state", std::move(state));
            ctx.on_submitted();
            http::Response r = passed_on(a);
            r.set("Operation-Location", shared_routes->location(analyzer, a.operation_id));
            r.log_operation_id = a.operation_id;
            respond(std::move(r));
          });
        },
        std::move(tags), shared_routes->options);
  });
}

void forward_analyzer(ApiContext& ctx, upstream::AnalyzerCall call, const http::Request& req,
                      const std::string& analyzer, upstream::SubmitOptions options,
                      http::Responder respond) {
  const char* what = call == upstream::AnalyzerCall::kGet ? "get" : "delete";
  // No store read here (a stalled store must not stall a forwarded call):
  // the pool asks its resources in turn until one has the analyzer.
  ctx.pool.analyzer(
      req.principal, call, analyzer, "", false, "", ctx.config.submit_timeout,
      [&ctx, analyzer, what, request_id = req.request_id, respond](upstream::SubmitAnswer a,
                                                                   std::string) {
        if (a.kind != upstream::SubmitAnswer::Kind::kAccepted) {
          log_refused(what, analyzer, a, request_id);
          return respond(upstream_refusal(a, ctx.config.submit_timeout));
        }
        respond(passed_on(a));
      },
      call_tags(req), std::move(options));
}

namespace {

void create(ApiContext& ctx, http::Request&& req, const http::Params& params,
            http::Responder respond) {
  const std::string& analyzer = params.at("analyzerId");
  if (!valid_analyzer_id(analyzer)) return respond(invalid_analyzer_id());
  bool allow_replace = false;
  if (auto bad = read_allow_replace(req, &allow_replace)) return respond(std::move(*bad));
  AnalyzerRoutes routes;
  routes.location = [&ctx](const std::string&, const std::string& id) {
    return public_url(ctx.config.public_base_url, "/operations/" + id);
  };
  create_analyzer(ctx, std::move(req), analyzer, allow_replace, std::move(routes),
                  std::move(respond));
}

// GET and DELETE: forwarded, answered as the upstream answers.
void forward(ApiContext& ctx, upstream::AnalyzerCall call, const http::Request& req,
             const http::Params& params, http::Responder respond) {
  const std::string& analyzer = params.at("analyzerId");
  if (!valid_analyzer_id(analyzer)) return respond(invalid_analyzer_id());
  if (!req.query.empty()) {
    for (auto& [k, v] : http::parse_query(req.query)) {
      if (k != "api-version") {
        return respond(error_reply(400, "InvalidQuery", "the only query parameter is api-version"));
      }
    }
  }
  forward_analyzer(ctx, call, req, analyzer, {}, std::move(respond));
}

}  // namespace

void add_analyzer_routes(http::Router& router, ApiContext& ctx) {
  router.add("PUT", kPath, "Create or replace an analyzer (forwarded; a long-running operation)",
             [&ctx](http::Request&& req, const http::Params& p, http::Responder r) {
               create(ctx, std::move(req), p, std::move(r));
             });
  router.add("GET", kPath, "Read an analyzer (forwarded)",
             [&ctx](http::Request&& req, const http::Params& p, http::Responder r) {
               forward(ctx, upstream::AnalyzerCall::kGet, req, p, std::move(r));
             });
  router.add("DELETE", kPath, "Delete an analyzer (forwarded)",
             [&ctx](http::Request&& req, const http::Params& p, http::Responder r) {
               forward(ctx, upstream::AnalyzerCall::kDelete, req, p, std::move(r));
             });
}

}  // namespace lrogate::api
