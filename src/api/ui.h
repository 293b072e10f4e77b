// The dashboard at /ui: a static page (HTML, JS, CSS from src/api/ui/,
// compiled into the binary) that lists the caller's operations live,
// submits a document URL and shows results, all through the public API with
// the caller's own API key. The assets themselves carry no data and are
// served without a key, with a strict Content-Security-Policy.
#pragma once

#include <string_view>

#include "http/router.h"

namespace lrogate::api {

struct UiAsset {
  std::string_view name;
  std::string_view content_type;
  std::string_view body;
};

// The compiled-in asset of that file name, or null.
const UiAsset* ui_asset(std::string_view name);

void add_ui_routes(http::Router& router);

}  // namespace lrogate::api
