// Router: one table of routes (method, path template, handler), matched in
// order. A template segment is a literal, or "{name}" optionally followed by
// a literal suffix, as in "{analyzerId}:analyze"; a parameter's value never
// holds ':' (Azure's resource:action separator), so ".../x:analyze" is never
// the analyzer "x:analyze" of a "{analyzerId}" route. A path that matches no
// template is 404; one that matches only under another method is 405 with
// an Allow header. Every dispatched request is logged as one JSON line with
// its route template, never its query or headers, and counted in metrics
// under labels from closed sets only: the route template (or "(unmatched)"),
// the method (one of kMethods, else "other") and the status.
//
// Correlation (Azure style): every answer carries x-ms-request-id, a fresh
// random id per request, and echoes x-ms-client-request-id when the client
// sent a valid one; the request log line names request_id, and
// client_request_id / traceparent when valid. Invalid values are dropped,
// never echoed or logged. Handlers find all three in the Request.
//
// Threads: configure (add, set_*) before the first dispatch; dispatch is
// const and may run on many threads at once, and so do the hooks it calls.
// The router must outlive every answer it dispatched (handlers may answer late).
#pragma once

#include <functional>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "http/message.h"

namespace lrogate::http {

using Params = std::map<std::string, std::string, std::less<>>;
using RouteHandler = std::function<void(Request&&, const Params&, Responder)>;

struct Route {
  std::string method;
  std::string path;  // template
  std::string summary;
  RouteHandler handler;
  std::size_t max_body = 0;  // the largest body this route takes; 0: the router's default
};

// Runs before any handler, and before a 404 or 405 (route is null then, so
// strangers learn nothing of the routes): may fill req.principal, or answer
// itself (e.g. 401).
using Guard = std::function<std::optional<Response>(Request& req, const Route* route)>;

// Cross-origin resource sharing (the Fetch standard's CORS protocol): the
// router knows what a preflight is and which methods a path serves; the
// policy (which origins, which headers) is the caller's, e.g. api/cors.h.
// Both hooks are called concurrently from server threads.
struct CrossOrigin {
  // A preflight (OPTIONS with Origin and Access-Control-Request-Method) to a
  // path that some route serves: called before the guard, with the methods of
  // that path's routes (e.g. "GET, DELETE"). Its answer is sent as is (not
  // decorated) and no handler runs; nullopt: dispatched like any request. A
  // preflight to a path no route serves is dispatched like any request.
  std::function<std::optional<Response>(const Request& req, std::string_view methods)> preflight;
  // Every other answer to a request that sent a non-empty Origin, whoever
  // made it (a handler, the guard, the router's 404/405), passes through
  // here before it is sent; origin is that header's value.
  std::function<void(std::string_view origin, Response& res)> decorate;
};

// The methods counted under their own name; any other is "other".
inline constexpr std::string_view kMethods[] = {"GET",    "HEAD",    "POST",   "PUT",
                                                "DELETE", "OPTIONS", "PATCH"};
std::string_view method_label(std::string_view method);

// True iff id is 1-128 characters of [A-Za-z0-9._:-] (an x-ms-client-request-id
// or an upstream's apim-request-id safe to log and to send on).
bool valid_client_request_id(std::string_view id);
// True iff tp is a W3C traceparent "00-<32 hex>-<16 hex>-<2 hex>" (lower-case
// hex) whose trace id and parent id are not all zeros.
bool valid_traceparent(std::string_view tp);

class Router {
 public:
  void add(std::string method, std::string path, std::string summary, RouteHandler handler);
  void set_guard(Guard guard) { guard_ = std::move(guard); }
  // Without it (the default) the router sends no CORS header and treats
  // OPTIONS like any other method.
  void set_cross_origin(CrossOrigin hooks) { cross_origin_ = std::move(hooks); }
  // Sets the body limit of the route added as (method, path).
  void limit_body(std::string_view method, std::string_view path, std::size_t max_body);
  void set_default_body_limit(std::size_t max_body) { default_body_limit_ = max_body; }
  // The body limit of a request to this method and path: its route's, or the
  // default for every other request (matched or not).
  std::size_t body_limit(std::string_view method, std::string_view path) const;
  const std::vector<Route>& routes() const { return routes_; }

  // Finds the route and calls it; answers 404/405 itself.
  void dispatch(Request&& req, Responder respond) const;
  // What every answer carries, for one the server wrote itself
  // (ServerOptions::decorate_own_answer): the CORS headers for a listed
  // Origin, a fresh x-ms-request-id, the client's valid x-ms-client-request-id.
  void decorate_own_answer(const Request& req, Response& res) const;

  // Exposed for tests: the params of `path` under `templ`, or false.
  static bool match(std::string_view templ, std::string_view path, Params* params);

 private:
  const Route* find(std::string_view method, std::string_view path, Params* params,
                    std::string* allow) const;
  // The answer of the preflight hook when req is a preflight to a served
  // path; *templ becomes the first such route's template.
  std::optional<Response> answer_preflight(const Request& req, std::string_view* templ) const;

  std::vector<Route> routes_;
  Guard guard_;
  CrossOrigin cross_origin_;
  std::size_t default_body_limit_ = 1u << 20;
};

// Parses a query string into decoded name/value pairs; malformed escapes are
// kept literally.
std::vector<std::pair<std::string, std::string>> parse_query(std::string_view query);

}  // namespace lrogate::http
