// Each tenant's webhook secrets (--webhook-secrets-file): one or two a
// tenant, so a secret can be rotated without a window where receivers
// refuse events (both sign every event while both are listed). Immutable
// once loaded; thread-safe. The secrets never appear in a log or an error.
#pragma once

#include <map>
#include <string>
#include <string_view>
#include <vector>

#include "base/result.h"

namespace lrogate::notify {

class WebhookSecrets {
 public:
  // Lines "tenant:whsec_<base64>"; blank lines and lines starting with '#'
  // are skipped. kInvalidArgument naming the line (never its secret).
  static Result<WebhookSecrets> parse(std::string_view text);
  static Result<WebhookSecrets> load(const std::string& path);

  // The tenant's keys (raw bytes), in the file's order; empty when none.
  const std::vector<std::string>& keys(std::string_view tenant) const;
  bool has(std::string_view tenant) const { return !keys(tenant).empty(); }
  std::size_t tenants() const { return keys_.size(); }

 private:
  std::map<std::string, std::vector<std::string>, std::less<>> keys_;
};

}  // namespace lrogate::notify
