#include "config/tenants_file.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <cstdio>
#include <filesystem>
#include <fstream>

namespace lrogate::config {
namespace {

using ::testing::HasSubstr;

TEST(TenantsFile, AGoodFileIsRead) {
  auto f = parse_tenants(R"(
[defaults]
reuse = false
pages_per_day = 100

[tenants.acme]
operator = true
operations_per_day = 10000
pages_per_day = 50000
reuse = true
webhooks = ["https://hooks.acme.example/lrogate"]

[tenants."oidc:contoso:g:finance"]
operations_per_day = 3
)",
                         "tenants.toml");
  ASSERT_TRUE(f.ok()) << f.error().message;
  EXPECT_FALSE(f->defaults.operator_);
  EXPECT_EQ(f->defaults.pages_per_day, 100);
  EXPECT_FALSE(f->defaults.operations_per_day);
  ASSERT_EQ(f->tenants.size(), 2u);
  const auto& acme = f->tenants.at("acme");
  EXPECT_TRUE(acme.operator_);
  EXPECT_TRUE(acme.reuse);
  EXPECT_EQ(acme.operations_per_day, 10000);
  EXPECT_EQ(acme.pages_per_day, 50000);
  EXPECT_EQ(acme.webhooks, std::vector<std::string>{"https://hooks.acme.example/lrogate"});
  // A tenant's table stands alone: what it leaves out has no quota.
  const auto& fin = f->tenants.at("oidc:contoso:g:finance");
  EXPECT_EQ(fin.operations_per_day, 3);
  EXPECT_FALSE(fin.pages_per_day);
  EXPECT_TRUE(parse_tenants("", "empty.toml").ok());
}

struct Bad {
  const char* text;
  const char* says;
};

TEST(TenantsFile, EachErrorNamesTheFileTheLineAndTheKey) {
  const Bad cases[] = {
      {"[tenants.acme]\nopertor = true\n", "t.toml:2:1: tenant 'acme': unknown key 'opertor'"},
      {"[defaults]\nquota = 1\n", "t.toml:2:1: defaults: unknown key 'quota'"},
      {"[tenant.acme]\n", "unknown key 'tenant' (known: defaults, tenants)"},
      {"[tenants.acme]\noperations_per_day = 0\n",
       "t.toml:2:22: tenant 'acme': operations_per_day: must be >= 1"},
      {"[tenants.acme]\npages_per_day = -5\n", "pages_per_day: must be >= 1"},
      {"[tenants.acme]\npages_per_day = \"5\"\n", "pages_per_day: must be an integer"},
      {"[tenants.acme]\noperator = 1\n", "operator: must be true or false"},
      {"[tenants.acme]\nwebhooks = \"https://x\"\n", "webhooks: must be an array"},
      {"[tenants.acme]\nwebhooks = [\"a\",\"b\",\"c\",\"d\",\"e\"]\n", "at most 4 endpoints"},
      {"[tenants.acme]\nwebhooks = [1]\n", "each entry must be a URL"},
      {"tenants = 3\n", "tenants: must be tables"},
      {"[tenants]\nacme = 3\n", "tenant 'acme': must be a table"},
      {"[tenants.acme\n", "t.toml:1:"},  // the TOML parser's own error
  };
  for (const Bad& b : cases) {
    auto f = parse_tenants(b.text, "t.toml");
    ASSERT_FALSE(f.ok()) << b.text;
    EXPECT_EQ(f.error().code, ErrorCode::kInvalidArgument);
    EXPECT_THAT(f.error().message, HasSubstr(b.says)) << b.text;
  }
  std::string long_url =
      "[tenants.acme]\nwebhooks = [\"https://x/" + std::string(2100, 'a') + "\"]\n";
  EXPECT_THAT(parse_tenants(long_url, "t.toml").error().message, HasSubstr("at most 2048"));
}

TEST(TenantsFile, LimitsOnSizeAndTenants) {
  std::string many;
  for (int i = 0; i <= 10'000; ++i) many += "[tenants.t" + std::to_string(i) + "]\n";
  auto f = parse_tenants(many, "t.toml");
  ASSERT_FALSE(f.ok());
  EXPECT_THAT(f.error().message, HasSubstr("more than 10000 tenants"));
  std::string big(kMaxTenantsFile + 1, '#');
  EXPECT_THAT(parse_tenants(big, "t.toml").error().message, HasSubstr("larger than 1 MiB"));
}

TEST(TenantsFile, LoadReadsTheFileAndNamesAMissingOne) {
  auto path = std::filesystem::temp_directory_path() / "tenants_file_test.toml";
  {
    std::ofstream out(path);
    out << "[tenants.acme]\noperations_per_day = 7\n";
  }
  auto f = load_tenants(path.string());
  ASSERT_TRUE(f.ok()) << f.error().message;
  EXPECT_EQ(f->tenants.at("acme").operations_per_day, 7);
  std::filesystem::remove(path);
  auto missing = load_tenants(path.string());
  ASSERT_FALSE(missing.ok());
  EXPECT_THAT(missing.error().message, HasSubstr(path.string()));
}

TEST(TenantDirectory, ATenantsTableElseTheDefaults) {
  core::TenantDirectory d;
  EXPECT_FALSE(d.settings("anyone").operator_);
  EXPECT_FALSE(d.any_quota());
  core::TenantSettings defaults;
  defaults.pages_per_day = 9;
  core::TenantSettings acme;
  acme.operator_ = true;
  d.replace(defaults, {{"acme", acme}});
  EXPECT_TRUE(d.settings("acme").operator_);
  EXPECT_FALSE(d.settings("acme").pages_per_day);
  EXPECT_EQ(d.settings("other").pages_per_day, 9);
  EXPECT_TRUE(d.any_quota());
}

}  // namespace
}  // namespace lrogate::config
