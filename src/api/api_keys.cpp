#include "api/api_keys.h"

#include <openssl/crypto.h>

#include <cctype>
#include <fstream>
#include <optional>
#include <sstream>
#include <unordered_map>

#include "base/sha256.h"
#include "base/strings.h"

namespace lrogate::api {
namespace {

std::string digest(std::string_view key) { return sha256_digest(key); }

bool valid_tenant(std::string_view t) {
  if (t.empty() || t.size() > 64) return false;
  for (char c : t) {
    if (!(std::isalnum(static_cast<unsigned char>(c)) || c == '.' || c == '_' || c == '-'))
      return false;
  }
  return true;
}

bool valid_key(std::string_view k) {
  if (k.size() < 8 || k.size() > kMaxKeySize) return false;
  for (char c : k) {
    if (c < 0x21 || c > 0x7e) return false;
  }
  return true;
}

std::optional<int> hex_value(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return std::nullopt;
}

}  // namespace

Result<std::vector<KeyEntry>> parse_api_keys(std::string_view text) {
  std::vector<KeyEntry> out;
  // Where each digest was first given: one key in two entries would make its
  // tenant depend on the order of the file.
  struct First {
    int line;
    std::size_t index;
  };
  std::unordered_map<std::string, First> first;
  int line_no = 0;
  while (!text.empty()) {
    ++line_no;
    auto nl = text.find('\n');
    std::string_view line = text.substr(0, nl);
    text = nl == std::string_view::npos ? std::string_view() : text.substr(nl + 1);
    if (!line.empty() && line.back() == '\r') line.remove_suffix(1);
    while (!line.empty() && (line.front() == ' ' || line.front() == '\t')) line.remove_prefix(1);
    while (!line.empty() && (line.back() == ' ' || line.back() == '\t')) line.remove_suffix(1);
    if (line.empty() || line.front() == '#') continue;
    auto bad = [&](const std::string& why) {
      return make_error(ErrorCode::kInvalidArgument,
                        "api keys file, line " + std::to_string(line_no) + ": " + why);
    };
    auto colon = line.find(':');
    if (colon == std::string_view::npos) return bad("expected tenant:key or tenant:sha256:HEX");
    std::string_view tenant = line.substr(0, colon);
    std::string_view rest = line.substr(colon + 1);
    if (!valid_tenant(tenant)) return bad("the tenant must be 1-64 of [A-Za-z0-9._-]");
    KeyEntry e;
    e.tenant = std::string(tenant);
    if (rest.rfind("sha256:", 0) == 0) {
      std::string_view hex = rest.substr(7);
      if (hex.size() != 64) return bad("sha256: needs 64 hex digits");
      for (std::size_t i = 0; i < 64; i += 2) {
        auto hi = hex_value(hex[i]), lo = hex_value(hex[i + 1]);
        if (!hi || !lo) return bad("sha256: needs 64 hex digits");
        e.digest += static_cast<char>(*hi * 16 + *lo);
      }
    } else {
      if (!valid_key(rest)) return bad("the key must be 8-512 printable characters without spaces");
      e.digest = digest(rest);
    }
    auto [seen, fresh] = first.emplace(e.digest, First{line_no, out.size()});
    if (!fresh) {
      // Plain and sha256 entries of one key are caught alike: their digests match.
      const First& f = seen->second;
      return bad(out[f.index].tenant == e.tenant
                     ? "repeats the key of line " + std::to_string(f.line)
                     : "gives the key of line " + std::to_string(f.line) +
                           " to another tenant; a key must name one tenant");
    }
    out.push_back(std::move(e));
    if (out.size() > 100'000) return bad("too many keys");
  }
  return out;
}

Result<std::vector<KeyEntry>> load_api_keys(const std::string& path) {
  std::ifstream f(path, std::ios::binary);
  if (!f) return make_error(ErrorCode::kInvalidArgument, "cannot read the api keys file " + path);
  std::ostringstream ss;
  ss << f.rdbuf();
  auto entries = parse_api_keys(ss.str());
  if (entries && entries->empty()) {
    return make_error(ErrorCode::kInvalidArgument, "the api keys file " + path + " holds no key");
  }
  return entries;
}

bool KeyRing::enabled() const {
  ReaderLock lock(mu_);
  return enabled_;
}

void KeyRing::replace(std::vector<KeyEntry> entries) {
  WriterLock lock(mu_);
  entries_ = std::move(entries);
  enabled_ = true;
}

std::optional<std::string> KeyRing::authenticate(std::string_view presented) const {
  std::string d = digest(presented);
  ReaderLock lock(mu_);
  const KeyEntry* match = nullptr;
  // Every entry is compared, whatever matched, so timing tells nothing.
  for (const auto& e : entries_) {
    bool eq =
        e.digest.size() == d.size() && CRYPTO_memcmp(e.digest.data(), d.data(), d.size()) == 0;
    if (eq && !match) match = &e;
  }
  if (!match || presented.empty()) return std::nullopt;
  return match->tenant;
}

std::string presented_key(std::string_view authorization, std::string_view api_key,
                          std::string_view x_api_key, std::string_view subscription_key) {
  if (authorization.size() > 7) {
    if (iequals(authorization.substr(0, 7), "bearer ")) {
      std::string_view k = authorization.substr(7);
      while (!k.empty() && k.front() == ' ') k.remove_prefix(1);
      return std::string(k);
    }
  }
  if (!api_key.empty()) return std::string(api_key);
  if (!x_api_key.empty()) return std::string(x_api_key);
  return std::string(subscription_key);
}

}  // namespace lrogate::api
