// Per-tenant settings (docs/design.md, "Usage and quotas"): who may read
// every tenant's usage, each tenant's daily quotas, and what items 1 and 3
// of issue 18 read (webhook endpoints, reuse). Read from --tenants-file
// (config/tenants_file.h) at start and on SIGHUP.
//
// TenantDirectory is thread-safe: settings() may be called from any thread
// (an I/O thread included: it is a map lookup under a shared lock, no I/O),
// and replace() swaps the whole directory at once, so a reader sees the old
// settings or the new ones, never a mix.
#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "base/thread_annotations.h"

namespace lrogate::core {

struct TenantSettings {
  bool operator_ = false;  // may read every tenant's usage (GET /usage)
  bool reuse = false;      // every submit asks for reuse of results (api/submit.cpp, wants_reuse)
  // Endpoints that get every final transition of the tenant's operations
  // (canonical once serve has checked them: app/serve.cpp, check_endpoints).
  std::vector<std::string> webhooks;
  // Daily quotas (UTC days); none: no limit.
  std::optional<std::int64_t> operations_per_day, pages_per_day;
  bool operator==(const TenantSettings&) const = default;

  bool has_quota() const { return operations_per_day || pages_per_day; }
};

class TenantDirectory {
 public:
  // Replaces every setting at once: `tenants` by name, `defaults` for any
  // other tenant.
  void replace(TenantSettings defaults, std::map<std::string, TenantSettings, std::less<>> tenants)
      EXCLUDES(mu_);
  // The tenant's own table, else the defaults (a copy: the directory may be
  // replaced meanwhile).
  TenantSettings settings(std::string_view tenant) const EXCLUDES(mu_);
  // Whether any tenant (or the defaults) has a quota: without one, submits
  // pay no store call for quotas.
  bool any_quota() const EXCLUDES(mu_);

 private:
  mutable SharedMutex mu_;
  TenantSettings defaults_ GUARDED_BY(mu_);
  std::map<std::string, TenantSettings, std::less<>> tenants_ GUARDED_BY(mu_);
  bool any_quota_ GUARDED_BY(mu_) = false;
};

}  // namespace lrogate::core
