// Request routing and path parsing: any method and target must route to a
// handler, a 404 or a 405, never crash; parsed params must satisfy their template.
#include <cstdint>
#include <string>

#include "base/log.h"
#include "http/router.h"

using namespace lrogate;

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  static bool quiet = [] {
    log::set_level(log::Level::kError);
    return true;
  }();
  (void)quiet;
  std::string in(reinterpret_cast<const char*>(data), size);
  auto nl = in.find('\n');
  std::string method = nl == std::string::npos ? "GET" : in.substr(0, nl);
  std::string target = nl == std::string::npos ? in : in.substr(nl + 1);
  static http::Router router = [] {
    http::Router r;
    auto ok = [](http::Request&&, const http::Params& p, http::Responder res) {
      for (const auto& [k, v] : p) {
        if (v.empty() || v.find('/') != std::string::npos) __builtin_trap();
      }
      res(http::json_response(200, "{}"));
    };
    r.add("POST", "/pro-mode/content-analyzers/{analyzerId}:analyze", "", ok);
    r.add("GET", "/pro-mode/content-analyzers/{analyzerId}/results/{operationId}", "", ok);
    r.add("GET", "/operations/{id}", "", ok);
    r.add("DELETE", "/operations/{id}", "", ok);
    r.add("GET", "/operations", "", ok);
    return r;
  }();
  http::Request req;
  req.method = method;
  req.target = target;
  auto q = target.find('?');
  req.path = target.substr(0, q);
  if (q != std::string::npos) req.query = target.substr(q + 1);
  int status = 0;
  router.dispatch(std::move(req), [&status](http::Response r) { status = r.status; });
  if (status != 200 && status != 404 && status != 405) __builtin_trap();
  (void)http::parse_query(q == std::string::npos ? std::string() : target.substr(q + 1));
  return 0;
}
