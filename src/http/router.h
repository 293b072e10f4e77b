// Router: one table of routes (method, path template, handler), matched in
// order. A template segment is a literal, or "{name}" optionally followed by
// a literal suffix, as in "{analyzerId}:analyze". A path that matches no
// template is 404; one that matches only under another method is 405 with
// an Allow header. Every dispatched request is logged as one JSON line with
// its route template, never its query or headers.
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
};

// Runs after a route matched, before its handler: may fill req.principal, or
// answer itself (e.g. 401).
using Guard = std::function<std::optional<Response>(Request& req, const Route& route)>;

class Router {
 public:
  void add(std::string method, std::string path, std::string summary, RouteHandler handler);
  void set_guard(Guard guard) { guard_ = std::move(guard); }
  const std::vector<Route>& routes() const { return routes_; }

  // Finds the route and calls it; answers 404/405 itself.
  void dispatch(Request&& req, Responder respond) const;

  // Exposed for tests: the params of `path` under `templ`, or false.
  static bool match(std::string_view templ, std::string_view path, Params* params);

 private:
  std::vector<Route> routes_;
  Guard guard_;
};

// Parses a query string into decoded name/value pairs; malformed escapes are
// kept literally.
std::vector<std::pair<std::string, std::string>> parse_query(std::string_view query);

}  // namespace lrogate::http
