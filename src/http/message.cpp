#include "http/message.h"

#include <boost/url/parse.hpp>

#include "base/strings.h"

namespace lrogate::http {

std::string_view find_header(const Headers& headers, std::string_view name) {
  for (const auto& h : headers) {
    if (iequals(h.name, name)) return h.value;
  }
  return {};
}

Response json_response(int status, std::string body) {
  Response r;
  r.status = status;
  r.body = std::move(body);
  r.headers.reserve(4);  // x-ms-request-id and a few more: one allocation, not three
  return r;
}

std::optional<Origin> http_origin(std::string_view url) {
  auto u = boost::urls::parse_absolute_uri(url);
  if (!u || !u->has_authority() || u->encoded_host().empty()) return std::nullopt;
  Origin o;
  o.scheme = to_lower(u->scheme());
  if (o.scheme != "http" && o.scheme != "https") return std::nullopt;
  o.host = to_lower(u->encoded_host());
  o.port = u->has_port() ? std::string(u->port()) : (o.scheme == "https" ? "443" : "80");
  return o;
}

}  // namespace lrogate::http
