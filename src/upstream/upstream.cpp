#include "upstream/upstream.h"

#include <boost/url/parse.hpp>

#include "base/strings.h"
#include "upstream/azure_cu/azure_cu.h"

namespace lrogate::upstream {
namespace {

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

Result<std::unique_ptr<Upstream>> make_upstream(const Settings& settings) {
  auto o = origin_of(settings.endpoint);
  if (!o || (o->scheme != "http" && o->scheme != "https")) {
    return make_error(ErrorCode::kInvalidArgument,
                      "--upstream-endpoint must be an absolute http(s) URL");
  }
  if (settings.kind == "azure-cu") return azure_cu::make(settings);
  return make_error(ErrorCode::kInvalidArgument, "unknown upstream kind '" + settings.kind + "'");
}

}  // namespace lrogate::upstream
