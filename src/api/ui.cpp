#include "api/ui.h"

#include "api/replies.h"

namespace lrogate::api {
namespace {

http::Response asset_response(const UiAsset& a) {
  http::Response r;
  r.status = 200;
  r.content_type = std::string(a.content_type);
  r.body = std::string(a.body);
  // Scripts, styles and requests only from this origin; never framed.
  r.set("Content-Security-Policy",
        "default-src 'none'; script-src 'self'; style-src 'self'; connect-src 'self'; "
        "img-src 'self' data:; frame-ancestors 'none'; base-uri 'none'; form-action 'self'");
  r.set("X-Content-Type-Options", "nosniff");
  r.set("Referrer-Policy", "no-referrer");
  r.set("Cache-Control", "no-cache");
  return r;
}

}  // namespace

void add_ui_routes(http::Router& router) {
  router.add("GET", "/ui", "The operations dashboard (HTML)",
             [](http::Request&&, const http::Params&, http::Responder r) {
               r(asset_response(*ui_asset("index.html")));
             });
  router.add("GET", "/ui/{asset}", "The dashboard's script and style sheet",
             [](http::Request&&, const http::Params& p, http::Responder r) {
               const UiAsset* a = ui_asset(p.at("asset"));
               if (!a || a->name == "index.html") {
                 return r(error_reply(404, "NotFound", "no such dashboard file"));
               }
               r(asset_response(*a));
             });
}

}  // namespace lrogate::api
