#include "upstream/upstream.h"

#include <boost/url/parse.hpp>

#include "base/strings.h"
#include "upstream/azure_cu/azure_cu.h"
#include "upstream/azure_di/azure_di.h"
#include "upstream/generic/generic.h"

namespace lrogate::upstream {
namespace {

// The adapters: a new upstream is a folder under src/upstream/ and a line here.
struct Registered {
  const char* kind;
  Result<std::unique_ptr<Upstream>> (*make)(const Settings&);
};
const Registered kAdapters[] = {
    {"azure-cu", azure_cu::make},
    {"azure-di", azure_di::make},
    {"generic", generic::make},
};

struct Origin {
  std::string scheme, host, port;
};

std::optional<Origin> origin_of(std::string_view url) {
  auto u = boost::urls::parse_absolute_uri(url);
  if (!u || !u->has_authority()) return std::nullopt;
  Origin o;
  o.scheme = to_lower(u->scheme());
  o.host = to_lower(u->encoded_host());
  o.port = u->has_port() ? std::string(u->port()) : (o.scheme == "https" ? "443" : "80");
  return o;
}

}  // namespace

bool Upstream::same_origin(std::string_view url) const {
  auto a = origin_of(url);
  auto b = origin_of(settings_.endpoint);
  return a && b && a->scheme == b->scheme && a->host == b->host && a->port == b->port;
}

std::string last_path_segment(std::string_view url) {
  url = url.substr(0, url.find_first_of("?#"));
  while (!url.empty() && url.back() == '/') url.remove_suffix(1);
  auto slash = url.rfind('/');
  return std::string(slash == std::string_view::npos ? url : url.substr(slash + 1));
}

std::vector<std::string> upstream_kinds() {
  std::vector<std::string> out;
  for (const auto& a : kAdapters) out.emplace_back(a.kind);
  return out;
}

Result<std::unique_ptr<Upstream>> make_upstream(const Settings& settings) {
  auto o = origin_of(settings.endpoint);
  if (!o || (o->scheme != "http" && o->scheme != "https")) {
    return make_error(ErrorCode::kInvalidArgument,
                      "--upstream-endpoint must be an absolute http(s) URL");
  }
  Settings s = settings;
  while (!s.endpoint.empty() && s.endpoint.back() == '/') s.endpoint.pop_back();
  std::string known;
  for (const auto& a : kAdapters) {
    if (s.kind == a.kind) return a.make(s);
    known += known.empty() ? a.kind : std::string(", ") + a.kind;
  }
  return make_error(ErrorCode::kInvalidArgument,
                    "unknown upstream kind '" + s.kind + "' (known: " + known + ")");
}

}  // namespace lrogate::upstream
