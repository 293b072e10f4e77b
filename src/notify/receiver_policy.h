// Which receivers the gateway may call back (docs/design.md, "Completion
// webhooks", Safety): a callback's host must be on the allow-list, and the
// address it connects to must not be loopback, private, link-local,
// multicast or otherwise special unless a network the operator allowed
// holds it. The host is checked when a submit names it; the address is
// checked on every connection, after DNS (http::ClientOptions::
// allow_address), so a name that resolves somewhere else later is refused
// then. Redirects are never followed. Immutable once built; thread-safe.
#pragma once

#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "base/result.h"

namespace lrogate::notify {

class ReceiverPolicy {
 public:
  ReceiverPolicy() = default;  // allows nothing
  // hosts: exact names or IP literals, or "*.example.com" for the names under
  // it; networks: CIDRs ("127.0.0.0/8", "fd00::/8") whose addresses are
  // allowed although special. kInvalidArgument naming a bad entry.
  static Result<ReceiverPolicy> make(const std::vector<std::string>& hosts,
                                     const std::vector<std::string>& networks);

  bool enabled() const { return !hosts_.empty(); }
  // Why `url` cannot be a callback (a message for the client), or nullopt.
  std::optional<std::string> refuse_url(std::string_view url) const;
  // Whether a connection to `ip` (a numeric address, as the resolver gave
  // it) is allowed.
  bool address_allowed(std::string_view ip) const;

  // `url`, one refuse_url() accepted, as it is stored and called: scheme
  // and host in lower case, the port always written, the path at least "/"
  // (the query kept as sent). So its origin() is a prefix of it, and two
  // spellings of one receiver share one.
  static std::string canonical(std::string_view url);
  // "scheme://host:port/" of a canonical url: the receiver whose places
  // (attempts in flight) it takes, as the client's connections count them.
  static std::string_view origin(std::string_view canonical_url);

  // The most characters a callback URL may have.
  static constexpr std::size_t kMaxUrl = 2048;

 private:
  struct Network {
    std::string bytes;  // the address's bytes (4 or 16)
    int prefix = 0;
  };
  std::vector<std::string> hosts_;  // lower case
  std::vector<Network> networks_;
};

}  // namespace lrogate::notify
