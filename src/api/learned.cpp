// GET /learned-durations: what this replica has learned of how long each
// analyzer takes (docs/design.md, "Learned poll schedules"), for the
// dashboard. Asked per analyzer id, never listed whole: the names of other
// tenants' analyzers are not the caller's to enumerate. Reads memory only
// (core::PollHistory), so it answers on the I/O thread.
#include <algorithm>

#include <boost/json.hpp>

#include "api/replies.h"
#include "api/routes.h"
#include "base/ids.h"

namespace lrogate::api {
namespace {

constexpr std::size_t kMaxAnalyzers = 20;

void learned_durations(ApiContext& ctx, const http::Request& req, http::Responder respond) {
  std::vector<std::string> wanted;
  for (auto& [k, v] : http::parse_query(req.query)) {
    if (k != "analyzer") {
      return respond(error_reply(400, "InvalidQuery",
                                 "unknown query parameter: ask with analyzer=ID (repeatable)"));
    }
    if (!valid_analyzer_id(v)) return respond(invalid_analyzer_id());
    if (std::find(wanted.begin(), wanted.end(), v) == wanted.end()) wanted.push_back(v);
    if (wanted.size() > kMaxAnalyzers) {
      return respond(error_reply(400, "TooManyAnalyzers",
                                 "ask for at most " + std::to_string(kMaxAnalyzers) +
                                     " analyzers at once"));
    }
  }
  if (wanted.empty()) {
    return respond(error_reply(400, "MissingAnalyzer", "ask with analyzer=ID (repeatable)"));
  }
  boost::json::array value;
  if (auto* history = ctx.service.history()) {
    for (const auto& l : history->summary()) {
      if (std::find(wanted.begin(), wanted.end(), l.analyzer) == wanted.end()) continue;
      value.push_back(boost::json::object{{"analyzerId", l.analyzer},
                                          {"resource", l.resource},
                                          {"samples", l.samples},
                                          {"medianSeconds", static_cast<double>(l.median) / 1000.0},
                                          {"p90Seconds", static_cast<double>(l.p90) / 1000.0}});
    }
  }
  boost::json::object o{
      {"schedule", ctx.service.config().learned_schedule ? "learned" : "fixed"},
      {"minSamples", ctx.service.config().shape.min_samples},
      {"value", std::move(value)}};
  respond(http::json_response(200, boost::json::serialize(o)));
}

}  // namespace

void add_learned_routes(http::Router& router, ApiContext& ctx) {
  router.add("GET", "/learned-durations", "Learned completion times of analyzers",
             [&ctx](http::Request&& req, const http::Params&, http::Responder r) {
               learned_durations(ctx, req, std::move(r));
             });
}

}  // namespace lrogate::api
