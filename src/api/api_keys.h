// Client API keys and the tenants they name.
//
// The keys file has one entry a line: `tenant:key` or `tenant:sha256:HEX`
// (the SHA-256 of the key, so the file need not hold the key itself); blank
// lines and lines starting with '#' are ignored. Keys are kept in memory only
// as SHA-256 digests and compared in constant time against every entry. A
// parse error names the line, never its content. KeyRing is thread-safe and
// can be replaced whole (reload on SIGHUP).
#pragma once

#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "base/result.h"
#include "base/thread_annotations.h"

namespace lrogate::api {

// The longest key a keys file may hold: a longer credential is no key (an
// OIDC token is longer), so it need not be hashed against the ring.
inline constexpr std::size_t kMaxKeySize = 512;

struct KeyEntry {
  std::string tenant;
  std::string digest;  // 32 raw bytes: SHA-256 of the key
};

Result<std::vector<KeyEntry>> parse_api_keys(std::string_view text);
Result<std::vector<KeyEntry>> load_api_keys(const std::string& path);

class KeyRing {
 public:
  // Enabled once it holds a file's entries; disabled (open gateway) before.
  bool enabled() const;
  void replace(std::vector<KeyEntry> entries);
  // The tenant of a presented key, or nullopt. Constant time in the key.
  std::optional<std::string> authenticate(std::string_view presented) const;

 private:
  mutable SharedMutex mu_;
  bool enabled_ GUARDED_BY(mu_) = false;
  std::vector<KeyEntry> entries_ GUARDED_BY(mu_);
};

// The key a request presents: `Authorization: Bearer KEY`, `api-key: KEY`,
// `x-api-key: KEY` or `Ocp-Apim-Subscription-Key: KEY` (what the Azure SDKs'
// AzureKeyCredential sends); empty when none. The guard refuses a request
// that sends more than one, so the order here decides nothing.
std::string presented_key(std::string_view authorization, std::string_view api_key,
                          std::string_view x_api_key, std::string_view subscription_key = {});

}  // namespace lrogate::api
