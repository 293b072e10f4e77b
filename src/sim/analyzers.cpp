#include "sim/analyzers.h"

#include <boost/json/serialize.hpp>
#include <cctype>

#include "base/ids.h"
#include "base/json_util.h"

namespace lrogate::sim {
namespace {

// Fields of an analyzer that only the service sets.
constexpr std::string_view kReadOnly[] = {"analyzerId", "status", "createdAt", "lastModifiedAt",
                                          "warnings"};

bool directive_char(char c) {
  return std::isalnum(static_cast<unsigned char>(c)) || c == '_' || c == '=' || c == '.' ||
         c == ':' || c == '-';
}

http::Response az_error(int status, std::string_view code, std::string_view message) {
  return http::json_response(status, json::error_body(code, message));
}

}  // namespace

bool valid_spec_analyzer_id(std::string_view id) {
  if (id.empty() || id.size() > 64) return false;
  for (char c : id) {
    if (!(std::isalnum(static_cast<unsigned char>(c)) || c == '.' || c == '_' || c == '-')) {
      return false;
    }
  }
  return true;
}

Result<Directives> analyzer_directives(std::string_view description, const Directives& defaults) {
  std::string query;
  for (std::size_t i = description.find("sim_"); i != std::string_view::npos;
       i = description.find("sim_", i + 1)) {
    // A word that starts with sim_, not sim_ inside another word.
    if (i > 0 && (std::isalnum(static_cast<unsigned char>(description[i - 1])) ||
                  description[i - 1] == '_')) {
      continue;
    }
    std::size_t end = i;
    while (end < description.size() && directive_char(description[end])) ++end;
    std::string_view word = description.substr(i, end - i);
    while (!word.empty() && (word.back() == '.' || word.back() == ':')) word.remove_suffix(1);
    std::string_view key = word.substr(0, word.find('='));
    if (key != "sim_duration" && key != "sim_outcome") {
      return make_error(ErrorCode::kInvalidArgument,
                        "invalid simulator directive for an analyzer: " + std::string(key));
    }
    query += (query.empty() ? "?" : "&") + std::string(word);
  }
  auto d = parse_directives(query, defaults);
  if (!d) return d;
  if (d->outcome == "Canceled") {
    return make_error(ErrorCode::kInvalidArgument,
                      "invalid simulator directive for an analyzer: sim_outcome=Canceled");
  }
  return d;
}

AnalyzerRegistry::AnalyzerRegistry(std::chrono::milliseconds create_duration,
                                   std::chrono::milliseconds operation_ttl)
    : create_duration_(create_duration), operation_ttl_(operation_ttl) {}

void AnalyzerRegistry::add_ready(const std::string& id, Millis now) {
  Entry e;
  e.analyzer = boost::json::object{{"analyzerId", id},
                                   {"description", "Simulated analyzer"},
                                   {"status", nullptr},
                                   {"createdAt", json::iso8601(now)},
                                   {"lastModifiedAt", json::iso8601(now)}};
  e.ready_at = now;
  MutexLock lock(mu_);
  analyzers_.insert_or_assign(id, std::move(e));
}

Result<AnalyzerRegistry::Created> AnalyzerRegistry::create(const std::string& id,
                                                           const boost::json::object& body,
                                                           bool allow_replace, Millis now) {
  Directives defaults;
  defaults.duration = create_duration_;
  std::string description;
  if (auto it = body.find("description"); it != body.end() && it->value().is_string()) {
    description = it->value().get_string();
  }
  auto d = analyzer_directives(description, defaults);
  if (!d) return d.error();
  Entry e;
  e.analyzer["analyzerId"] = id;
  for (const auto& [k, v] : body) {
    if (std::find(std::begin(kReadOnly), std::end(kReadOnly), k) == std::end(kReadOnly)) {
      e.analyzer[k] = v;
    }
  }
  e.analyzer["status"] = nullptr;  // set by render()
  e.analyzer["createdAt"] = json::iso8601(now);
  e.analyzer["lastModifiedAt"] = json::iso8601(now);
  e.ready_at = now + d->duration.count();
  e.fails = d->outcome == "Failed";

  MutexLock lock(mu_);
  bool exists = analyzers_.count(id) > 0;
  if (exists && !allow_replace) {
    return make_error(ErrorCode::kConflict, "An analyzer with id '" + id + "' already exists.");
  }
  // Forget operations long over, so the map stays small.
  std::erase_if(operations_, [&](const auto& kv) {
    return kv.second.entry.ready_at + operation_ttl_.count() < now;
  });
  Created out;
  out.operation_id = random_uuid();
  out.replaced = exists;
  out.analyzer = render(e, now);
  operations_.insert_or_assign(out.operation_id, Operation{id, e});
  analyzers_.insert_or_assign(id, std::move(e));
  return out;
}

boost::json::object AnalyzerRegistry::render(const Entry& e, Millis now) {
  boost::json::object o = e.analyzer;
  o["status"] = now < e.ready_at ? "creating" : e.fails ? "failed" : "ready";
  return o;
}

AnalyzerState AnalyzerRegistry::state(std::string_view id, Millis now) const {
  MutexLock lock(mu_);
  auto it = analyzers_.find(id);
  if (it == analyzers_.end()) return AnalyzerState::kUnknown;
  if (now < it->second.ready_at) return AnalyzerState::kCreating;
  return it->second.fails ? AnalyzerState::kFailed : AnalyzerState::kReady;
}

std::optional<boost::json::object> AnalyzerRegistry::get(std::string_view id, Millis now) const {
  MutexLock lock(mu_);
  auto it = analyzers_.find(id);
  if (it == analyzers_.end()) return std::nullopt;
  return render(it->second, now);
}

bool AnalyzerRegistry::remove(std::string_view id) {
  MutexLock lock(mu_);
  auto it = analyzers_.find(id);
  if (it == analyzers_.end()) return false;
  analyzers_.erase(it);
  return true;
}

std::optional<boost::json::object> AnalyzerRegistry::operation(std::string_view analyzer_id,
                                                               std::string_view op_id,
                                                               Millis now) const {
  MutexLock lock(mu_);
  auto it = operations_.find(op_id);
  if (it == operations_.end() || it->second.analyzer_id != analyzer_id ||
      now > it->second.entry.ready_at + operation_ttl_.count()) {
    return std::nullopt;
  }
  const Entry& e = it->second.entry;
  boost::json::object o{{"id", it->first}};
  if (now < e.ready_at) {
    o["status"] = "Running";
  } else if (e.fails) {
    o["status"] = "Failed";
    o["error"] =
        boost::json::object{{"code", "InvalidRequest"},
                            {"message", "The analyzer could not be created (simulated failure)."}};
  } else {
    o["status"] = "Succeeded";
    o["result"] = render(e, now);
  }
  return o;
}

namespace {

// The checks every analyzer route makes, in the order the service would:
// the key, the resource's quota (`kind`: a PUT or DELETE, which start or
// change work, counts as an analyze-type call; a GET of an analyzer or of its
// creation operation as a status-type one), the api-version, the id. An
// answer when one fails.
std::optional<http::Response> refuse(const http::Request& r, const std::string& id,
                                     const RouteContext& ctx, CallKind kind) {
  if (!ctx.authorized(r)) {
    return az_error(401, "401",
                    "Access denied due to invalid subscription key or wrong API endpoint. Make "
                    "sure to provide a valid key for an active subscription and use a correct "
                    "regional API endpoint for your resource.");
  }
  if (ctx.throttle) {
    if (auto throttled = ctx.throttle(kind)) return throttled;
  }
  if (!cu_version_served(query_param(r, "api-version"))) {
    return az_error(400, "InvalidRequest",
                    "The api-version query parameter is missing or not supported.");
  }
  if (!valid_spec_analyzer_id(id)) {
    return az_error(400, "InvalidRequest", "The analyzer id must match ^[a-zA-Z0-9._-]{1,64}$.");
  }
  return std::nullopt;
}

http::Response not_found(const std::string& id) {
  return az_error(404, "ModelNotFound", "The requested analyzer '" + id + "' was not found.");
}

void put_analyzer(http::Request&& r, const std::string& id, AnalyzerRegistry& registry,
                  const RouteContext& ctx, http::Responder done) {
  if (auto no = refuse(r, id, ctx, CallKind::kAnalyze)) return ctx.reply(done, std::move(*no));
  auto body = json::parse(r.body);
  if (!body || !body->is_object()) {
    return ctx.reply(done,
                     az_error(400, "InvalidRequest", "The request body must be a JSON analyzer."));
  }
  bool allow_replace = query_param(r, "allowReplace") == "true";
  auto created = registry.create(id, body->as_object(), allow_replace, ctx.clock->now_ms());
  if (!created) {
    bool conflict = created.error().code == ErrorCode::kConflict;
    return ctx.reply(done, az_error(conflict ? 409 : 400, conflict ? "Conflict" : "InvalidRequest",
                                    created.error().message));
  }
  std::string version = query_param(r, "api-version");
  http::Response res =
      http::json_response(created->replaced ? 200 : 201, boost::json::serialize(created->analyzer));
  res.set("Operation-Location", request_base(r) + "/contentunderstanding/analyzers/" + id +
                                    "/operations/" + created->operation_id +
                                    "?api-version=" + version);
  res.log_operation_id = created->operation_id;
  ctx.reply(done, std::move(res));
}

}  // namespace

void add_analyzer_routes(http::Router& router, AnalyzerRegistry& registry,
                         const RouteContext& ctx) {
  const std::string path = "/contentunderstanding/analyzers/{analyzerId}";
  router.add("PUT", path, "create analyzer",
             [&registry, &ctx](http::Request&& r, const http::Params& p, http::Responder done) {
               put_analyzer(std::move(r), p.at("analyzerId"), registry, ctx, std::move(done));
             });
  router.add("GET", path, "get analyzer",
             [&registry, &ctx](http::Request&& r, const http::Params& p, http::Responder done) {
               const std::string& id = p.at("analyzerId");
               if (auto no = refuse(r, id, ctx, CallKind::kStatus)) {
                 return ctx.reply(done, std::move(*no));
               }
               auto a = registry.get(id, ctx.clock->now_ms());
               if (!a) return ctx.reply(done, not_found(id));
               ctx.reply(done, http::json_response(200, boost::json::serialize(*a)));
             });
  router.add("DELETE", path, "delete analyzer",
             [&registry, &ctx](http::Request&& r, const http::Params& p, http::Responder done) {
               const std::string& id = p.at("analyzerId");
               if (auto no = refuse(r, id, ctx, CallKind::kAnalyze)) {
                 return ctx.reply(done, std::move(*no));
               }
               if (!registry.remove(id)) return ctx.reply(done, not_found(id));
               http::Response res;
               res.status = 204;
               res.content_type.clear();
               ctx.reply(done, std::move(res));
             });
  router.add("GET", path + "/operations/{operationId}", "analyzer operation",
             [&registry, &ctx](http::Request&& r, const http::Params& p, http::Responder done) {
               const std::string& id = p.at("analyzerId");
               if (auto no = refuse(r, id, ctx, CallKind::kStatus)) {
                 return ctx.reply(done, std::move(*no));
               }
               auto op = registry.operation(id, p.at("operationId"), ctx.clock->now_ms());
               if (!op) {
                 return ctx.reply(
                     done, az_error(404, "OperationNotFound", "The operation was not found."));
               }
               ctx.reply(done, http::json_response(200, boost::json::serialize(*op)));
             });
}

}  // namespace lrogate::sim
