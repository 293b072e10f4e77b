// Standard Webhooks signatures (https://www.standardwebhooks.com, "Signature
// scheme"): `webhook-signature: v1,<base64 HMAC-SHA256 over
// "<webhook-id>.<webhook-timestamp>.<body>">`, one `v1,…` per secret,
// separated by spaces, so a receiver holding either of two secrets during a
// rotation accepts the event. Pure functions over OpenSSL's HMAC.
#pragma once

#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace lrogate::notify {

// The key bytes of a secret written as Standard Webhooks writes them,
// "whsec_" + base64 of 24 to 64 bytes; nullopt for anything else.
std::optional<std::string> parse_secret(std::string_view text);

// The header value for one event, one signature per key (raw key bytes),
// in the keys' order.
std::string signature_header(const std::vector<std::string>& keys, std::string_view id,
                             std::string_view timestamp, std::string_view body);

// Base64 (RFC 4648 §4, padded) of bytes, and back (nullopt when not base64).
std::string base64(std::string_view bytes);
std::optional<std::string> unbase64(std::string_view text);

}  // namespace lrogate::notify
