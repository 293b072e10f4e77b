#include "config/values.h"

#include <cctype>

#include "base/strings.h"

namespace lrogate::config {

std::string format_size(std::size_t n) {
  const std::pair<int, const char*> units[] = {{30, "GiB"}, {20, "MiB"}, {10, "KiB"}};
  for (auto [shift, name] : units) {
    std::size_t unit = std::size_t{1} << shift;
    if (n != 0 && n % unit == 0) return std::to_string(n / unit) + name;
  }
  return std::to_string(n);
}

Result<std::size_t> parse_size(std::string_view text, std::size_t limit) {
  auto bad = [&](const std::string& why) {
    return make_error(ErrorCode::kInvalidArgument,
                      "invalid size '" + std::string(text.substr(0, 64)) + "': " + why);
  };
  std::size_t i = 0;
  std::size_t n = 0;
  bool too_large = false;
  while (i < text.size() && std::isdigit(static_cast<unsigned char>(text[i]))) {
    // Past the limit, only the rest is checked: "99999999999999999999X" is
    // an unknown unit before it is too large.
    auto digit = static_cast<std::size_t>(text[i] - '0');
    if (n > limit / 10 || digit > limit - n * 10)
      too_large = true;
    else
      n = n * 10 + digit;
    ++i;
  }
  if (i == 0) return bad("expected a number with an optional unit B, KiB, MiB or GiB (e.g. 64MiB)");
  std::string_view unit = text.substr(i);
  std::size_t mult = 1;
  if (unit.empty() || unit == "B")
    mult = 1;
  else if (unit == "KiB" || unit == "K" || unit == "KB")
    mult = std::size_t{1} << 10;
  else if (unit == "MiB" || unit == "M" || unit == "MB")
    mult = std::size_t{1} << 20;
  else if (unit == "GiB" || unit == "G" || unit == "GB")
    mult = std::size_t{1} << 30;
  else
    return bad("unknown unit (B, KiB, MiB, GiB; e.g. 64MiB)");
  if (too_large || n > limit / mult) return bad("too large (at most " + format_size(limit) + ")");
  return n * mult;
}

bool valid_base_url(const std::string& url) {
  std::size_t scheme = url.rfind("https://", 0) == 0 ? 8 : url.rfind("http://", 0) == 0 ? 7 : 0;
  if (scheme == 0 || url.size() == scheme || url.size() > 2048) return false;
  // RFC 3986: unreserved, sub-delims, ':' and '/', and %XX. No '@' (user
  // info), '?' or '#', and nothing the http client's parser would refuse.
  for (std::size_t i = scheme; i < url.size(); ++i) {
    auto u = static_cast<unsigned char>(url[i]);
    if (url[i] == '%') {
      if (i + 2 >= url.size() || !std::isxdigit(static_cast<unsigned char>(url[i + 1])) ||
          !std::isxdigit(static_cast<unsigned char>(url[i + 2]))) {
        return false;
      }
      i += 2;
    } else if (!std::isalnum(u) &&
               std::string_view("-._~!$&'()*+,;=:/[]").find(url[i]) == std::string_view::npos) {
      return false;
    }
  }
  std::size_t slash = url.find('/', scheme);
  std::string_view authority =
      std::string_view(url).substr(scheme, slash == std::string::npos ? url.npos : slash - scheme);
  if (std::string_view(url).substr(scheme + authority.size()).find_first_of("[]") !=
      std::string_view::npos) {
    return false;  // brackets only around an IPv6 host
  }
  std::string_view host = authority;
  std::string_view port;
  bool has_port = false;
  if (!host.empty() && host.front() == '[') {
    auto close = host.find(']');
    if (close == std::string_view::npos || close < 3) return false;
    for (char c : host.substr(1, close - 1)) {
      if (!std::isxdigit(static_cast<unsigned char>(c)) && c != ':' && c != '.') return false;
    }
    std::string_view rest = host.substr(close + 1);
    if (!rest.empty() && rest.front() != ':') return false;
    has_port = !rest.empty();
    port = has_port ? rest.substr(1) : rest;
  } else {
    auto colon = host.find(':');
    has_port = colon != std::string_view::npos;
    if (has_port) {
      port = host.substr(colon + 1);
      host = host.substr(0, colon);
    }
    if (host.empty()) return false;
    for (char c : host) {
      if (!std::isalnum(static_cast<unsigned char>(c)) && c != '-' && c != '.' && c != '_' &&
          c != '~') {
        return false;
      }
    }
  }
  if (has_port) {
    auto p = parse_digits(port, 5);
    if (!p || *p < 1 || *p > 65535) return false;
  }
  return true;
}

std::optional<HostPort> parse_listen(std::string_view text) {
  auto colon = text.rfind(':');
  if (colon == std::string_view::npos || colon == 0) return std::nullopt;
  std::string_view h = text.substr(0, colon);
  if (h.size() > 2 && h.front() == '[' && h.back() == ']') h = h.substr(1, h.size() - 2);
  auto v = parse_digits(text.substr(colon + 1), 5);
  if (!v || *v > 65535) return std::nullopt;
  return HostPort{std::string(h), static_cast<std::uint16_t>(*v)};
}

Result<void> check_api_version(std::string_view v) {
  for (char c : v) {
    if (!std::isalnum(static_cast<unsigned char>(c)) && c != '-' && c != '.') {
      return make_error(ErrorCode::kInvalidArgument, "letters, digits, '-' and '.' only");
    }
  }
  if (v.size() > 32) return make_error(ErrorCode::kInvalidArgument, "too long (at most 32)");
  return {};
}

bool https_or_loopback(const std::string& url) {
  bool https = url.rfind("https://", 0) == 0;
  bool loopback = url.rfind("http://127.0.0.1:", 0) == 0 ||
                  url.rfind("http://localhost:", 0) == 0 || url.rfind("http://[::1]:", 0) == 0;
  return (https || loopback) && valid_base_url(url);
}

}  // namespace lrogate::config
