#include "notify/receiver_policy.h"

#include <boost/asio/ip/address.hpp>
#include <boost/url/parse.hpp>

#include "base/strings.h"

namespace lrogate::notify {
namespace {

namespace ip = boost::asio::ip;

std::optional<ip::address> parse_ip(std::string_view text) {
  if (text.size() > 2 && text.front() == '[' && text.back() == ']') {
    text = text.substr(1, text.size() - 2);
  }
  boost::system::error_code ec;
  auto a = ip::make_address(std::string(text), ec);
  if (ec) return std::nullopt;
  // An IPv4 address written as IPv6 is judged as IPv4.
  if (a.is_v6() && a.to_v6().is_v4_mapped()) {
    return ip::address(ip::make_address_v4(ip::v4_mapped, a.to_v6()));
  }
  return a;
}

std::string bytes_of(const ip::address& a) {
  if (a.is_v4()) {
    auto b = a.to_v4().to_bytes();
    return std::string(b.begin(), b.end());
  }
  auto b = a.to_v6().to_bytes();
  return std::string(b.begin(), b.end());
}

bool in_prefix(const std::string& addr, const std::string& net, int prefix) {
  if (addr.size() != net.size()) return false;
  for (int bit = 0; bit < prefix; ++bit) {
    auto i = static_cast<std::size_t>(bit / 8);
    unsigned mask = 0x80u >> (bit % 8);
    if ((static_cast<unsigned char>(addr[i]) & mask) != (static_cast<unsigned char>(net[i]) & mask)) {
      return false;
    }
  }
  return true;
}

// The ranges no callback may reach unless allowed: this host, private and
// shared networks, link-local (cloud metadata at 169.254.169.254), multicast,
// reserved, and IPv6's unique-local, link-local, multicast and translation
// prefixes.
bool special(const ip::address& a) {
  struct Range {
    const char* net;
    int prefix;
  };
  static const Range kRanges[] = {
      {"0.0.0.0", 8},      {"10.0.0.0", 8},     {"100.64.0.0", 10}, {"127.0.0.0", 8},
      {"169.254.0.0", 16}, {"172.16.0.0", 12},  {"192.0.0.0", 24},  {"192.168.0.0", 16},
      {"198.18.0.0", 15},  {"224.0.0.0", 4},    {"240.0.0.0", 4},   {"::", 128},
      {"::1", 128},        {"fc00::", 7},       {"fe80::", 10},     {"ff00::", 8},
      {"64:ff9b::", 96},   {"64:ff9b:1::", 48}, {"2002::", 16},     {"100::", 64},
      {"::", 96},          {"fec0::", 10},      {"2001::", 32},     {"::ffff:0:0:0", 96},
  };
  std::string bytes = bytes_of(a);
  for (const auto& r : kRanges) {
    if (in_prefix(bytes, bytes_of(ip::make_address(r.net)), r.prefix)) return true;
  }
  return false;
}

}  // namespace

Result<ReceiverPolicy> ReceiverPolicy::make(const std::vector<std::string>& hosts,
                                            const std::vector<std::string>& networks) {
  ReceiverPolicy p;
  for (const auto& h : hosts) {
    std::string host = to_lower(h);
    std::string_view name = host;
    if (name.substr(0, 2) == "*.") name.remove_prefix(2);
    bool ok = !name.empty() && name.size() <= 253;
    for (char c : name) {
      ok = ok && ((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-' || c == '.' ||
                  c == ':' || c == '[' || c == ']');
    }
    if (!ok) {
      return make_error(ErrorCode::kInvalidArgument,
                        "--webhook-allowed-hosts: not a host name or *.domain", h);
    }
    p.hosts_.push_back(std::move(host));
  }
  for (const auto& n : networks) {
    auto slash = n.find('/');
    auto a = parse_ip(std::string_view(n).substr(0, slash));
    int max = a && a->is_v4() ? 32 : 128;
    int prefix = max;
    if (slash != std::string::npos) {
      auto digits = parse_digits(std::string_view(n).substr(slash + 1), 3);
      prefix = digits ? static_cast<int>(*digits) : -1;
    }
    if (!a || prefix < 0 || prefix > max) {
      return make_error(ErrorCode::kInvalidArgument,
                        "--webhook-allowed-networks: not an address/prefix", n);
    }
    p.networks_.push_back({bytes_of(*a), prefix});
  }
  return p;
}

std::optional<std::string> ReceiverPolicy::refuse_url(std::string_view url) const {
  if (!enabled()) {
    return "this gateway sends no webhooks: no --webhook-allowed-hosts is configured";
  }
  if (url.size() > kMaxUrl) return "callbackUrl is longer than 2048 characters";
  auto u = boost::urls::parse_absolute_uri(url);
  if (!u || !u->has_authority() || u->encoded_host().empty() || u->has_userinfo() ||
      u->has_fragment()) {
    return "callbackUrl must be an absolute http(s) URL without user info or fragment";
  }
  std::string scheme = to_lower(u->scheme());
  if (scheme != "http" && scheme != "https") return "callbackUrl must be http or https";
  std::string host = to_lower(u->encoded_host());
  bool listed = false;
  for (const auto& h : hosts_) {
    if (h.substr(0, 2) == "*.") {
      std::string_view suffix = std::string_view(h).substr(1);  // ".example.com"
      listed = listed || (host.size() > suffix.size() &&
                          std::string_view(host).substr(host.size() - suffix.size()) == suffix);
    } else {
      listed = listed || h == host;
    }
  }
  if (!listed) return "callbackUrl's host is not one this gateway may call back";
  if (auto a = parse_ip(host); a && !address_allowed(a->to_string())) {
    return "callbackUrl's address is loopback, private, link-local or reserved";
  }
  return std::nullopt;
}

std::string ReceiverPolicy::canonical(std::string_view url) {
  auto u = boost::urls::parse_absolute_uri(url);
  if (!u) return std::string(url);
  std::string scheme = to_lower(u->scheme());
  std::string port = u->has_port() ? std::string(u->port()) : (scheme == "https" ? "443" : "80");
  std::string out = scheme + "://" + to_lower(u->encoded_host()) + ":" + port;
  std::string_view path = u->encoded_path();
  out += path.empty() ? std::string_view("/") : path;
  if (u->has_query()) out += "?" + std::string(u->encoded_query());
  return out;
}

std::string_view ReceiverPolicy::origin(std::string_view canonical_url) {
  auto authority = canonical_url.find("://");
  if (authority == std::string_view::npos) return canonical_url;
  auto slash = canonical_url.find('/', authority + 3);
  return slash == std::string_view::npos ? canonical_url : canonical_url.substr(0, slash + 1);
}

bool ReceiverPolicy::address_allowed(std::string_view text) const {
  auto a = parse_ip(text);
  if (!a) return false;
  if (!special(*a)) return true;
  std::string bytes = bytes_of(*a);
  for (const auto& n : networks_) {
    if (in_prefix(bytes, n.bytes, n.prefix)) return true;
  }
  return false;
}

}  // namespace lrogate::notify
