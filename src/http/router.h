// Router: one table of routes (method, path template, handler), matched in
// order. A template segment is a literal, or "{name}" optionally followed by
// a literal suffix, as in "{analyzerId}:analyze". A path that matches no
// template is 404; one that matches only under another method is 405 with
// an Allow header. Every dispatched request is logged as one JSON line with
// its route template, never its query or headers, and counted in metrics
// under labels from closed sets only: the route template (or "(unmatched)"),
// the method (one of kMethods, else "other") and the status.
#pragma once

#include <functional>
#include <map>
#include <optional>
#include <string>
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

// The methods counted under their own name; any other is "other".
inline constexpr std::string_view kMethods[] = {"GET",    "HEAD",    "POST",   "PUT",
                                                "DELETE", "OPTIONS", "PATCH"};
std::string_view method_label(std::string_view method);

class Router {
 public:
  void add(std::string method, std::string path, std::string summary, RouteHandler handler);
  void set_guard(Guard guard) { guard_ = std::move(guard); }
  // Sets the body limit of the route added as (method, path).
  void limit_body(std::string_view method, std::string_view path, std::size_t max_body);
  void set_default_body_limit(std::size_t max_body) { default_body_limit_ = max_body; }
  // The body limit of a request to this method and path: its route's, or the
  // default for every other request (matched or not).
  std::size_t body_limit(std::string_view method, std::string_view path) const;
  const std::vector<Route>& routes() const { return routes_; }

  // Finds the route and calls it; answers 404/405 itself.
  void dispatch(Request&& req, Responder respond) const;

  // Exposed for tests: the params of `path` under `templ`, or false.
  static bool match(std::string_view templ, std::string_view path, Params* params);

 private:
  const Route* find(std::string_view method, std::string_view path, Params* params,
                    std::string* allow) const;

  std::vector<Route> routes_;
  Guard guard_;
  std::size_t default_body_limit_ = 1u << 20;
};

// Parses a query string into decoded name/value pairs; malformed escapes are
// kept literally.
std::vector<std::pair<std::string, std::string>> parse_query(std::string_view query);

}  // namespace lrogate::http
