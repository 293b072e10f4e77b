#include "config/tenants_file.h"

// toml::parse answers a parse_result: no exception leaves the library.
#define TOML_EXCEPTIONS 0
#include <toml++/toml.h>

#include "config/pool_secrets.h"

namespace lrogate::config {
namespace {

// What an error may echo of the file: printable ASCII, at most 64 characters.
std::string shown(std::string_view s) {
  std::string out;
  for (char c : s.substr(0, 64)) out += (c >= 0x20 && c < 0x7f) ? c : '?';
  return s.size() > 64 ? out + "..." : out;
}

bool valid_tenant(std::string_view t) {
  if (t.empty() || t.size() > 128) return false;
  for (char c : t) {
    if (c < 0x21 || c > 0x7e) return false;
  }
  return true;
}

// Reads one file; the first error found is kept.
class TenantsReader {
 public:
  explicit TenantsReader(const std::string& name) : name_(name) {}

  Result<TenantsFile> read(std::string_view text);

 private:
  bool fail(const toml::source_region& at, std::string_view key, const std::string& what) {
    if (error_) return false;
    std::string m =
        name_ + ":" + std::to_string(at.begin.line) + ":" + std::to_string(at.begin.column) + ": ";
    if (!scope_.empty()) m += scope_ + ": ";
    if (!key.empty()) m += std::string(key) + ": ";
    error_ = make_error(ErrorCode::kInvalidArgument, m + what);
    return false;
  }
  bool settings(const toml::table& t, core::TenantSettings* out);
  bool quota(const toml::node& v, std::string_view key, std::optional<std::int64_t>* to);
  bool webhooks(const toml::node& v, std::vector<std::string>* to);

  const std::string& name_;
  std::string scope_;
  std::optional<Error> error_;
};

bool TenantsReader::quota(const toml::node& v, std::string_view key,
                          std::optional<std::int64_t>* to) {
  const auto* n = v.as_integer();
  if (!n) return fail(v.source(), key, "must be an integer >= 1");
  if (n->get() < 1) return fail(v.source(), key, "must be >= 1 (leave it out for no quota)");
  *to = n->get();
  return true;
}

bool TenantsReader::webhooks(const toml::node& v, std::vector<std::string>* to) {
  const auto* a = v.as_array();
  if (!a) return fail(v.source(), "webhooks", "must be an array of URL strings");
  if (a->size() > kMaxTenantWebhooks) {
    return fail(v.source(), "webhooks",
                "at most " + std::to_string(kMaxTenantWebhooks) + " endpoints per tenant");
  }
  to->clear();
  for (const toml::node& e : *a) {
    const auto* s = e.as_string();
    if (!s || s->get().empty()) return fail(e.source(), "webhooks", "each entry must be a URL");
    if (s->get().size() > kMaxWebhookUrl) {
      return fail(e.source(), "webhooks",
                  "a URL is at most " + std::to_string(kMaxWebhookUrl) + " characters");
    }
    to->push_back(s->get());
  }
  return true;
}

bool TenantsReader::settings(const toml::table& t, core::TenantSettings* out) {
  for (auto&& [k, v] : t) {
    std::string_view key = k.str();
    if (key == "operator" || key == "reuse") {
      const auto* b = v.as_boolean();
      if (!b) return fail(v.source(), key, "must be true or false");
      (key == "operator" ? out->operator_ : out->reuse) = b->get();
    } else if (key == "operations_per_day") {
      if (!quota(v, key, &out->operations_per_day)) return false;
    } else if (key == "pages_per_day") {
      if (!quota(v, key, &out->pages_per_day)) return false;
    } else if (key == "webhooks") {
      if (!webhooks(v, &out->webhooks)) return false;
    } else {
      return fail(k.source(), "",
                  "unknown key '" + shown(key) +
                      "' (known: operator, reuse, webhooks, operations_per_day, pages_per_day)");
    }
  }
  return true;
}

Result<TenantsFile> TenantsReader::read(std::string_view text) {
  toml::parse_result doc = toml::parse(text, name_);
  if (!doc) {
    const auto& e = doc.error();
    return make_error(ErrorCode::kInvalidArgument, name_ + ":" +
                                                       std::to_string(e.source().begin.line) + ":" +
                                                       std::to_string(e.source().begin.column) +
                                                       ": " + std::string(e.description()));
  }
  TenantsFile out;
  for (auto&& [k, v] : doc.table()) {
    if (k.str() == "defaults") {
      const auto* t = v.as_table();
      if (!t) return fail(v.source(), "defaults", "must be a table: [defaults]"), *error_;
      scope_ = "defaults";
      if (!settings(*t, &out.defaults)) return *error_;
      scope_.clear();
    } else if (k.str() == "tenants") {
      const auto* all = v.as_table();
      if (!all) return fail(v.source(), "tenants", "must be tables: [tenants.NAME]"), *error_;
      if (all->size() > kMaxTenants) {
        return fail(v.source(), "tenants", "more than " + std::to_string(kMaxTenants) + " tenants"),
               *error_;
      }
      for (auto&& [name, table] : *all) {
        if (!valid_tenant(name.str())) {
          return fail(name.source(), "",
                      "tenant '" + shown(name.str()) + "' is not 1-128 printable ASCII characters"),
                 *error_;
        }
        scope_ = "tenant '" + shown(name.str()) + "'";
        const auto* t = table.as_table();
        if (!t) return fail(table.source(), "", "must be a table: [tenants.NAME]"), *error_;
        core::TenantSettings s;
        if (!settings(*t, &s)) return *error_;
        out.tenants.emplace(std::string(name.str()), std::move(s));
      }
      scope_.clear();
    } else {
      return fail(k.source(), "",
                  "unknown key '" + shown(k.str()) + "' (known: defaults, tenants)"),
             *error_;
    }
  }
  return out;
}

}  // namespace

Result<TenantsFile> parse_tenants(std::string_view text, const std::string& name) {
  if (text.size() > kMaxTenantsFile) {
    return make_error(ErrorCode::kInvalidArgument, name + ": larger than 1 MiB");
  }
  return TenantsReader(name).read(text);
}

Result<TenantsFile> load_tenants(const std::string& path) {
  auto text = read_small_file(path, kMaxTenantsFile);
  if (!text) return make_error(ErrorCode::kInvalidArgument, path + ": " + text.error().message);
  return parse_tenants(text.value(), path);
}

}  // namespace lrogate::config
