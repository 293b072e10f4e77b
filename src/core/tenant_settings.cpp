#include "core/tenant_settings.h"

namespace lrogate::core {

void TenantDirectory::replace(TenantSettings defaults,
                              std::map<std::string, TenantSettings, std::less<>> tenants) {
  bool any = defaults.has_quota();
  for (const auto& [name, s] : tenants) any = any || s.has_quota();
  WriterLock lock(mu_);
  defaults_ = std::move(defaults);
  tenants_ = std::move(tenants);
  any_quota_ = any;
}

TenantSettings TenantDirectory::settings(std::string_view tenant) const {
  ReaderLock lock(mu_);
  auto it = tenants_.find(tenant);
  return it != tenants_.end() ? it->second : defaults_;
}

bool TenantDirectory::any_quota() const {
  ReaderLock lock(mu_);
  return any_quota_;
}

}  // namespace lrogate::core
