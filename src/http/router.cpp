#include "http/router.h"

#include <algorithm>
#include <boost/url/params_view.hpp>
#include <boost/url/parse.hpp>
#include <boost/url/parse_query.hpp>
#include <chrono>

#include "base/ids.h"
#include "base/json_util.h"
#include "base/log.h"
#include "base/metrics.h"

namespace lrogate::http {
namespace {

// The segments of a path, one by one, without allocating: "/a/b" gives
// "a", "b"; "/" gives one empty segment, as does the end of "/a/".
class Segments {
 public:
  explicit Segments(std::string_view path) : rest_(path) {
    if (!rest_.empty() && rest_[0] == '/') rest_.remove_prefix(1);
  }
  // False once every segment was given.
  bool next(std::string_view* out) {
    if (done_) return false;
    std::size_t j = rest_.find('/');
    *out = rest_.substr(0, j);
    if (j == std::string_view::npos) {
      done_ = true;
    } else {
      rest_.remove_prefix(j + 1);
    }
    return true;
  }

 private:
  std::string_view rest_;
  bool done_ = false;
};

// Whether path matches templ; each parameter's name and value go to `found`
// (when given) as they are met. Allocates nothing itself.
template <class Found>
bool match_segments(std::string_view templ, std::string_view path, Found found) {
  Segments t(templ), p(path);
  std::string_view ts, ps;
  for (;;) {
    bool more_t = t.next(&ts), more_p = p.next(&ps);
    if (more_t != more_p) return false;
    if (!more_t) return true;
    if (!ts.empty() && ts.front() == '{') {
      std::size_t close = ts.find('}');
      std::string_view name = ts.substr(1, close - 1);
      std::string_view suffix = ts.substr(close + 1);
      if (ps.size() <= suffix.size() || ps.substr(ps.size() - suffix.size()) != suffix) {
        return false;
      }
      std::string_view value = ps.substr(0, ps.size() - suffix.size());
      // ':' separates a resource from its action ({id}:analyze): never part of a value.
      if (value.find(':') != std::string_view::npos) return false;
      found(name, value);
    } else if (ts != ps) {
      return false;
    }
  }
}

bool matches(std::string_view templ, std::string_view path) {
  return match_segments(templ, path, [](std::string_view, std::string_view) {});
}

bool all_hex_not_zero(std::string_view s) {
  bool nonzero = false;
  for (char c : s) {
    if (!((c >= '0' && c <= '9') || (c >= 'a' && c <= 'f'))) return false;
    nonzero = nonzero || c != '0';
  }
  return nonzero;
}

}  // namespace

bool valid_client_request_id(std::string_view id) {
  if (id.empty() || id.size() > 128) return false;
  for (char c : id) {
    bool ok = (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') ||
              c == '.' || c == '_' || c == ':' || c == '-';
    if (!ok) return false;
  }
  return true;
}

bool valid_traceparent(std::string_view tp) {
  // 00-<trace-id 32>-<parent-id 16>-<flags 2>: 55 characters.
  if (tp.size() != 55 || tp.substr(0, 3) != "00-" || tp[35] != '-' || tp[52] != '-') return false;
  std::string_view flags = tp.substr(53, 2);
  bool flags_hex = std::all_of(flags.begin(), flags.end(), [](char c) {
    return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f');
  });
  return flags_hex && all_hex_not_zero(tp.substr(3, 32)) && all_hex_not_zero(tp.substr(36, 16));
}

bool Router::match(std::string_view templ, std::string_view path, Params* params) {
  if (!matches(templ, path)) return false;
  if (params) {
    params->clear();
    match_segments(templ, path, [params](std::string_view name, std::string_view value) {
      params->emplace(std::string(name), std::string(value));
    });
  }
  return true;
}

std::string_view method_label(std::string_view method) {
  for (std::string_view m : kMethods) {
    if (m == method) return m;
  }
  return "other";
}

void Router::add(std::string method, std::string path, std::string summary, RouteHandler handler) {
  routes_.push_back({std::move(method), std::move(path), std::move(summary), std::move(handler)});
}

void Router::limit_body(std::string_view method, std::string_view path, std::size_t max_body) {
  for (auto& r : routes_) {
    if (r.method == method && r.path == path) r.max_body = max_body;
  }
}

const Route* Router::find(std::string_view method, std::string_view path, Params* params,
                          std::string* allow) const {
  for (const auto& r : routes_) {
    if (!matches(r.path, path)) continue;
    if (r.method == method || (method == "HEAD" && r.method == "GET")) {
      if (params) match(r.path, path, params);
      return &r;
    }
    if (allow && allow->find(r.method) == std::string::npos) {
      if (!allow->empty()) *allow += ", ";
      *allow += r.method;
    }
  }
  return nullptr;
}

std::size_t Router::body_limit(std::string_view method, std::string_view path) const {
  const Route* r = find(method, path, nullptr, nullptr);
  return r && r->max_body ? r->max_body : default_body_limit_;
}

std::optional<Response> Router::answer_preflight(const Request& req,
                                                 std::string_view* templ) const {
  if (!cross_origin_.preflight || req.method != "OPTIONS" || req.header("origin").empty() ||
      req.header("access-control-request-method").empty()) {
    return std::nullopt;
  }
  std::vector<std::string_view> served;
  const Route* first = nullptr;
  for (const auto& r : routes_) {
    if (!matches(r.path, req.path)) continue;
    if (!first) first = &r;
    if (std::find(served.begin(), served.end(), r.method) == served.end()) {
      served.push_back(r.method);
    }
  }
  if (!first) return std::nullopt;
  std::string methods;
  for (std::string_view m : served) {
    if (!methods.empty()) methods += ", ";
    methods += m;
  }
  auto answer = cross_origin_.preflight(req, methods);
  if (answer) *templ = first->path;
  return answer;
}

void Router::decorate_own_answer(const Request& req, Response& res) const {
  if (cross_origin_.decorate) {
    if (std::string_view origin = req.header("origin"); !origin.empty()) {
      cross_origin_.decorate(origin, res);
    }
  }
  res.set("x-ms-request-id", random_uuid());
  if (std::string_view v = req.header("x-ms-client-request-id"); valid_client_request_id(v)) {
    res.set("x-ms-client-request-id", std::string(v));
  }
}

void Router::dispatch(Request&& req, Responder respond) const {
  auto start = std::chrono::steady_clock::now();
  req.request_id = random_uuid();
  if (std::string_view v = req.header("x-ms-client-request-id"); valid_client_request_id(v)) {
    req.client_request_id = v;
  }
  if (std::string_view v = req.header("traceparent"); valid_traceparent(v)) req.traceparent = v;
  std::string allow;
  Params params;
  const Route* route = find(req.method, req.path, &params, &allow);
  // The route's template lives as long as the router, which outlives the answer.
  std::string_view templ = route ? std::string_view(route->path) : "(unmatched)";
  const bool log_info = log::enabled(log::Level::kInfo);
  std::string op;  // for the log line only
  if (log_info) {
    for (const char* key : {"operationId", "id"}) {
      if (auto it = params.find(key); it != params.end()) op = it->second.substr(0, 128);
    }
  }
  std::optional<Response> preflight = answer_preflight(req, &templ);
  // Kept for the answer, which may come after req has gone to the handler;
  // stays empty (no allocation) without CORS or without an Origin.
  std::string origin;
  if (!preflight && cross_origin_.decorate) origin = req.header("origin");
  auto logged = [respond = std::move(respond), method = method_label(req.method), templ, log_info,
                 op = std::move(op), start, origin = std::move(origin), cors = &cross_origin_,
                 request_id = req.request_id, client_request_id = req.client_request_id,
                 traceparent = log_info ? req.traceparent : std::string()](Response res) mutable {
    if (!origin.empty()) cors->decorate(origin, res);
    double ms =
        std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - start).count();
    if (log_info) {  // the line's object costs allocations
      boost::json::object f{{"method", method},
                            {"route", templ},
                            {"status", res.status},
                            {"ms", static_cast<double>(static_cast<long long>(ms * 100)) / 100}};
      if (op.empty()) op = res.log_operation_id;
      if (!op.empty()) f["operation_id"] = op;
      f["request_id"] = request_id;
      if (!client_request_id.empty()) f["client_request_id"] = client_request_id;
      if (!traceparent.empty()) f["traceparent"] = traceparent;
      log::info("request", std::move(f));
    }
    // Called once per request: the ids move into the answer.
    res.set("x-ms-request-id", std::move(request_id));
    if (!client_request_id.empty()) res.set("x-ms-client-request-id", std::move(client_request_id));
    metrics::observe_request(templ, method, res.status, ms / 1000.0);
    respond(std::move(res));
  };
  if (preflight) {
    logged(std::move(*preflight));
    return;
  }
  if (guard_) {
    if (auto refused = guard_(req, route)) {
      logged(std::move(*refused));
      return;
    }
  }
  if (!route) {
    if (!allow.empty()) {
      Response res = json_response(
          405, json::error_body("MethodNotAllowed",
                                "method " + req.method.substr(0, 16) + " is not allowed here"));
      res.set("Allow", allow);
      logged(std::move(res));
    } else {
      logged(json_response(404, json::error_body("NotFound", "no such route")));
    }
    return;
  }
  route->handler(std::move(req), params, std::move(logged));
}

std::vector<std::pair<std::string, std::string>> parse_query(std::string_view query) {
  std::vector<std::pair<std::string, std::string>> out;
  auto parsed = boost::urls::parse_query(query);
  if (!parsed) return out;
  for (auto p : *parsed) out.emplace_back(p.key.decode(), p.value.decode());
  return out;
}

}  // namespace lrogate::http
