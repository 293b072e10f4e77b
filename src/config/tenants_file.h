// The tenant settings file (--tenants-file FILE; README, "Usage and
// quotas"): a TOML file of [defaults] and [tenants.NAME] tables, read into
// core::TenantSettings. serve reads it at start (a bad file exits 2) and
// again on SIGHUP, on a worker thread (a bad file keeps the old settings).
//
// parse_tenants and load_tenants are pure reads: no globals, nothing kept,
// safe on any thread; load_tenants blocks on the file read.
//
// Errors (kInvalidArgument) name the file, line and column, the table and
// the key. Unknown keys are errors; quotas must be >= 1.
#pragma once

#include <map>
#include <string>
#include <string_view>

#include "base/result.h"
#include "core/tenant_settings.h"

namespace lrogate::config {

inline constexpr std::size_t kMaxTenantsFile = std::size_t{1} << 20;
inline constexpr std::size_t kMaxTenants = 10'000;
inline constexpr std::size_t kMaxTenantWebhooks = 4;
inline constexpr std::size_t kMaxWebhookUrl = 2048;

struct TenantsFile {
  core::TenantSettings defaults;
  std::map<std::string, core::TenantSettings, std::less<>> tenants;
};

// `name` is the file's name, as errors show it.
Result<TenantsFile> parse_tenants(std::string_view text, const std::string& name);
Result<TenantsFile> load_tenants(const std::string& path);

}  // namespace lrogate::config
