// The spellings of setting values that several settings share: sizes, base
// URLs, listen addresses, api-versions. Pure functions of their text, safe
// on any thread; used by parse() (config.h) and the pool file (pool_file.h).
#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include "base/result.h"

namespace lrogate::config {

// The largest size any size flag takes: 1TiB.
inline constexpr std::size_t kMaxSize = std::size_t{1} << 40;

// "64MiB", "16KiB", "1024", "2M": bytes (units B, K/KB/KiB, M/MB/MiB,
// G/GB/GiB, all powers of two). A value over limit, in any unit, is an error
// that names the limit; so is anything but digits and one of those units.
Result<std::size_t> parse_size(std::string_view text, std::size_t limit = kMaxSize);
// The shortest exact spelling in parse_size's units: 1GiB, 16KiB, 1000.
std::string format_size(std::size_t n);
// An absolute http(s) base URL that the http client parses as such: a host
// (a name, IPv4, or [IPv6]), an optional port 1-65535 and an optional path,
// no user info, query, fragment, spaces or bad percent-escapes
// (--public-base-url, --oidc-issuer, --gateway, a pool resource's endpoint).
bool valid_base_url(const std::string& url);
// valid_base_url, and https, or plain http on a loopback host with a port
// (--oidc-issuer, a pool resource's token authority).
bool https_or_loopback(const std::string& url);
struct HostPort {
  std::string host;
  std::uint16_t port = 0;
};
// "127.0.0.1:8080", "[::1]:0" → host, port; nullopt when not host:port.
std::optional<HostPort> parse_listen(std::string_view text);
// An upstream api-version ("" = the adapter's default): letters, digits, '-'
// and '.', at most 32 of them. The error says which rule failed, without
// the value (--api-version, a pool resource's api_version).
Result<void> check_api_version(std::string_view version);

}  // namespace lrogate::config
