#include "config/pool_file.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <optional>
#include <string>
#include <vector>

namespace lrogate::config {
namespace {

using ::testing::HasSubstr;
using ::testing::Not;

// A folder of its own per test, for the pool file and its secret files.
class PoolFile : public ::testing::Test {
 protected:
  void SetUp() override {
    std::string tmpl = (std::filesystem::temp_directory_path() / "pool_file_test.XXXXXX").string();
    ASSERT_NE(::mkdtemp(tmpl.data()), nullptr);
    dir_ = tmpl;
    c_.upstreams_file = (dir_ / "pool.toml").string();
  }
  void TearDown() override {
    std::filesystem::remove_all(dir_);
    for (const auto& name : env_) ::unsetenv(name.c_str());
  }

  void write(const std::string& name, const std::string& text) {
    std::ofstream(dir_ / name, std::ios::binary) << text;
  }
  void set_env(const std::string& name, const std::string& value) {
    ::setenv(name.c_str(), value.c_str(), 1);
    env_.push_back(name);
  }
  Result<upstream::PoolSettings> load(const std::string& toml) {
    write("pool.toml", toml);
    return load_pool(c_);
  }
  // The error loading toml answers; a test failure when it loads.
  std::string error_of(const std::string& toml) {
    auto r = load(toml);
    if (r.ok()) {
      ADD_FAILURE() << "loaded:\n" << toml;
      return "";
    }
    EXPECT_EQ(r.error().code, ErrorCode::kInvalidArgument);
    return r.error().message;
  }
  std::string file() const { return c_.upstreams_file; }

  std::filesystem::path dir_;
  ServeConfig c_;
  std::vector<std::string> env_;
};

// One resource with a key from the environment; `extra` goes into its table.
std::string one(const std::string& extra = "", const std::string& name = "eastus") {
  return "[[resource]]\nname = \"" + name + "\"\nendpoint = \"https://eastus.example.com\"\n" +
         extra + "\n[resource.auth]\nkey_env = \"POOL_TEST_KEY\"\n";
}

TEST_F(PoolFile, WithoutAFileThePoolOfOneFromTheFlags) {
  c_.upstreams_file.clear();
  c_.upstream.endpoint = "https://one.example.com";
  c_.upstream.kind = "azure-di";
  c_.upstream.api_version = "2024-11-30";
  c_.auth.key = "flag-key";
  c_.auth.key_header = "x-key";
  c_.poller.upstream_rps = 7.5;
  auto p = load_pool(c_);
  ASSERT_TRUE(p.ok()) << p.error().message;
  ASSERT_EQ(p->resources.size(), 1u);
  const auto& r = p->resources[0];
  EXPECT_EQ(r.name, upstream::kDefaultResource);
  EXPECT_EQ(r.upstream.endpoint, "https://one.example.com");
  EXPECT_EQ(r.upstream.kind, "azure-di");
  EXPECT_EQ(r.upstream.api_version, "2024-11-30");
  EXPECT_EQ(r.auth.key, "flag-key");
  EXPECT_EQ(r.auth.key_header, "x-key");
  EXPECT_EQ(r.weight, 1);
  EXPECT_EQ(r.priority, 0);
  EXPECT_FALSE(r.drain);
  EXPECT_EQ(r.limits.polls_per_second, 7.5);
  EXPECT_EQ(r.limits.submits_per_second, 0);
  EXPECT_EQ(r.limits.operations_per_minute, 0);
  EXPECT_EQ(r.limits.calls_in_flight, 0);
}

// The example of docs/upstream-pool.md, whole.
TEST_F(PoolFile, TheDocumentedExample) {
  set_env("CU_KEY_EASTUS", "k-east");
  set_env("WEU_CLIENT_SECRET", "s-weu");
  write("westus.key", "k-west\n\n");
  auto p = load(R"(
[defaults]
kind = "azure-cu"
api_version = "2025-05-01-preview"
timeout = "30s"

[[resource]]
name = "eastus"
endpoint = "https://eastus.api.cognitive.microsoft.com"
weight = 3
priority = 0
drain = false
  [resource.auth]
  mode = "key"
  key_env = "CU_KEY_EASTUS"
  key_header = "ocp-apim-subscription-key"
  [resource.limits]
  submits_per_second = 15
  polls_per_second = 50
  operations_per_minute = 3000
  calls_in_flight = 64

[[resource]]
name = "westus"
endpoint = "https://westus.api.cognitive.microsoft.com/"
  [resource.auth]
  key_file = "westus.key"

[[resource]]
name = "westeurope"
endpoint = "https://westeurope.api.cognitive.microsoft.com"
priority = 1
drain = true
  [resource.auth]
  mode = "client-credentials"
  tenant_id = "00000000-0000-0000-0000-000000000001"
  client_id = "00000000-0000-0000-0000-000000000002"
  client_secret_env = "WEU_CLIENT_SECRET"
  [resource.limits]
  polls_per_second = 2.5

[[resource]]
name = "northeurope"
endpoint = "https://northeurope.api.cognitive.microsoft.com"
priority = 1
  [resource.auth]
  mode = "managed-identity"
  client_id = "00000000-0000-0000-0000-000000000003"
)");
  ASSERT_TRUE(p.ok()) << p.error().message;
  ASSERT_EQ(p->resources.size(), 4u);
  const auto& e = p->resources[0];
  EXPECT_EQ(e.name, "eastus");
  EXPECT_EQ(e.upstream.endpoint, "https://eastus.api.cognitive.microsoft.com");
  EXPECT_EQ(e.upstream.api_version, "2025-05-01-preview");
  EXPECT_EQ(e.upstream.timeout, std::chrono::seconds(30));
  EXPECT_EQ(e.weight, 3);
  EXPECT_EQ(e.auth.mode, "key");
  EXPECT_EQ(e.auth.key, "k-east");
  EXPECT_EQ(e.limits.submits_per_second, 15);
  EXPECT_EQ(e.limits.polls_per_second, 50);
  EXPECT_EQ(e.limits.operations_per_minute, 3000);
  EXPECT_EQ(e.limits.calls_in_flight, 64);
  const auto& w = p->resources[1];
  EXPECT_EQ(w.upstream.endpoint, "https://westus.api.cognitive.microsoft.com");  // '/' dropped
  EXPECT_EQ(w.auth.key, "k-west");  // relative to the pool file's folder, trimmed
  EXPECT_EQ(w.weight, 1);
  EXPECT_EQ(w.limits.polls_per_second, 0);  // --upstream-rps is the pool of one's only
  const auto& weu = p->resources[2];
  EXPECT_EQ(weu.auth.mode, "client-credentials");
  EXPECT_EQ(weu.auth.client_secret, "s-weu");
  EXPECT_EQ(weu.auth.tenant_id, "00000000-0000-0000-0000-000000000001");
  EXPECT_EQ(weu.priority, 1);
  EXPECT_TRUE(weu.drain);
  EXPECT_EQ(weu.limits.polls_per_second, 2.5);
  const auto& ne = p->resources[3];
  EXPECT_EQ(ne.auth.mode, "managed-identity");
  EXPECT_EQ(ne.auth.client_id, "00000000-0000-0000-0000-000000000003");
  EXPECT_TRUE(ne.auth.key.empty());
}

// Flags, then [defaults], then the resource's own table.
TEST_F(PoolFile, FlagsThenDefaultsThenTheResource) {
  set_env("POOL_TEST_KEY", "k");
  c_.upstream.kind = "generic";
  c_.upstream.api_version = "flag-version";
  c_.upstream.timeout = std::chrono::seconds(5);
  c_.upstream.max_result = 1234;
  c_.upstream.generic.submit_path = "/custom/{analyzerId}";
  c_.upstream.generic.shape.status_field = "state";
  c_.auth.authority = "https://login.example.com";
  c_.auth.scope = "flag-scope";
  c_.auth.identity_endpoint = "http://127.0.0.1:4000/id";
  c_.auth.identity_header = "flag-identity-header";
  c_.auth.tenant_id = "flag-tenant";  // not carried: each resource names its own
  c_.auth.key = "flag-key";           // not carried
  auto p = load(R"(
[defaults]
weight = 5
timeout = "12s"
  [defaults.auth]
  scope = "defaults-scope"
  [defaults.limits]
  calls_in_flight = 9

[[resource]]
name = "a"
endpoint = "http://127.0.0.1:9000"
timeout = "7s"
  [resource.auth]
  key_env = "POOL_TEST_KEY"
  scope = "own-scope"

[[resource]]
name = "b"
endpoint = "http://127.0.0.1:9001"
weight = 2
api_version = "own-version"
  [resource.auth]
  key_env = "POOL_TEST_KEY"
  [resource.limits]
  polls_per_second = 4
)");
  ASSERT_TRUE(p.ok()) << p.error().message;
  const auto& a = p->resources[0];
  const auto& b = p->resources[1];
  EXPECT_EQ(a.upstream.kind, "generic");
  EXPECT_EQ(a.upstream.api_version, "flag-version");
  EXPECT_EQ(b.upstream.api_version, "own-version");
  EXPECT_EQ(a.upstream.timeout, std::chrono::seconds(7));
  EXPECT_EQ(b.upstream.timeout, std::chrono::seconds(12));
  EXPECT_EQ(a.auth.timeout, std::chrono::seconds(7));  // min(timeout, 10s), as for the flags
  EXPECT_EQ(b.auth.timeout, std::chrono::seconds(10));
  EXPECT_EQ(a.upstream.max_result, 1234u);
  EXPECT_EQ(b.upstream.generic.submit_path, "/custom/{analyzerId}");
  EXPECT_EQ(b.upstream.generic.shape.status_field, "state");
  EXPECT_EQ(a.weight, 5);
  EXPECT_EQ(b.weight, 2);
  EXPECT_EQ(a.auth.scope, "own-scope");
  EXPECT_EQ(b.auth.scope, "defaults-scope");
  EXPECT_EQ(a.auth.authority, "https://login.example.com");
  EXPECT_EQ(a.auth.identity_endpoint, "http://127.0.0.1:4000/id");
  EXPECT_EQ(a.auth.identity_header, "flag-identity-header");
  EXPECT_TRUE(a.auth.tenant_id.empty());
  EXPECT_EQ(a.auth.key, "k");
  EXPECT_EQ(a.limits.calls_in_flight, 9);
  EXPECT_EQ(b.limits.calls_in_flight, 9);
  EXPECT_EQ(b.limits.polls_per_second, 4);
  EXPECT_EQ(a.limits.polls_per_second, 0);
}

TEST_F(PoolFile, ASecretFromTheDefaultsAndASourceReplacedByTheResource) {
  set_env("POOL_SHARED_SECRET", "shared");
  write("own.secret", "own");
  auto p = load(R"(
[defaults.auth]
mode = "client-credentials"
tenant_id = "t"
client_id = "c"
client_secret_env = "POOL_SHARED_SECRET"

[[resource]]
name = "a"
endpoint = "https://a.example.com"

[[resource]]
name = "b"
endpoint = "https://b.example.com"
  [resource.auth]
  client_secret_file = "own.secret"
)");
  ASSERT_TRUE(p.ok()) << p.error().message;
  EXPECT_EQ(p->resources[0].auth.client_secret, "shared");
  EXPECT_EQ(p->resources[1].auth.client_secret, "own");
}

TEST_F(PoolFile, SecretsFromTheEnvironment) {
  EXPECT_THAT(error_of(one()), HasSubstr(file() + ":6:11: resource 'eastus': auth.key_env: "
                                                  "the environment variable POOL_TEST_KEY is not "
                                                  "set or empty"));
  set_env("POOL_TEST_KEY", "");
  EXPECT_THAT(error_of(one()), HasSubstr("POOL_TEST_KEY is not set or empty"));
  set_env("POOL_TEST_KEY", "line1\nline2-secret");
  std::string e = error_of(one());
  EXPECT_THAT(e, HasSubstr("auth.key_env: the environment variable POOL_TEST_KEY holds control"));
  EXPECT_THAT(e, Not(HasSubstr("line2-secret")));
  set_env("POOL_TEST_KEY", "good");
  auto p = load(one());
  ASSERT_TRUE(p.ok()) << p.error().message;
  EXPECT_EQ(p->resources[0].auth.key, "good");
  EXPECT_THAT(error_of("[[resource]]\nname = \"a\"\nendpoint = \"https://a.example.com\"\n"
                       "[resource.auth]\nkey_env = \"1BAD-NAME\"\n"),
              HasSubstr("auth.key_env: must name an environment variable"));
  auto named = [](const std::string& name) {
    return "[[resource]]\nname = \"a\"\nendpoint = \"https://a.example.com\"\n"
           "[resource.auth]\nkey_env = \"" +
           name + "\"\n";
  };
  set_env(std::string(128, 'V'), "v");
  EXPECT_TRUE(load(named(std::string(128, 'V'))).ok());
  EXPECT_THAT(error_of(named(std::string(129, 'V'))),
              HasSubstr("auth.key_env: must name an environment variable"));
}

TEST_F(PoolFile, SecretsFromAFile) {
  auto with_file = [](const std::string& path) {
    return "[[resource]]\nname = \"a\"\nendpoint = \"https://a.example.com\"\n"
           "[resource.auth]\nkey_file = \"" +
           path + "\"\n";
  };
  write("key", "  file-secret \t\r\n");
  auto p = load(with_file((dir_ / "key").string()));
  ASSERT_TRUE(p.ok()) << p.error().message;
  EXPECT_EQ(p->resources[0].auth.key, "  file-secret");  // trailing whitespace only
  EXPECT_THAT(error_of(with_file("missing.key")),
              HasSubstr("resource 'a': auth.key_file: " + (dir_ / "missing.key").string() +
                        ": cannot open: No such file or directory"));
  write("blank", " \n\n");
  EXPECT_THAT(error_of(with_file("blank")), HasSubstr("blank: empty"));
  write("big", std::string(16 * 1024 + 1, 'x'));
  EXPECT_THAT(error_of(with_file("big")), HasSubstr("big: larger than 16KiB"));
  write("just-fits", std::string(16 * 1024, 'y'));
  EXPECT_TRUE(load(with_file("just-fits")).ok());
  write("ctl", "abc\x01secret-after-control\n");
  std::string e = error_of(with_file("ctl"));
  EXPECT_THAT(e, HasSubstr("holds control characters"));
  EXPECT_THAT(e, Not(HasSubstr("secret-after-control")));
  EXPECT_THAT(error_of(with_file(dir_.string())), HasSubstr("not a regular file"));
  EXPECT_THAT(error_of(with_file("")), HasSubstr("auth.key_file: must be a file's path"));
  EXPECT_THAT(error_of(with_file(std::string(4097, 'p'))),
              HasSubstr("auth.key_file: must be a file's path (1-4096 characters)"));
}

TEST_F(PoolFile, AFifoIsRefusedWithoutWaitingForAWriter) {
  ASSERT_EQ(::mkfifo((dir_ / "fifo").c_str(), 0600), 0);
  EXPECT_THAT(error_of("[[resource]]\nname = \"a\"\nendpoint = \"https://a.example.com\"\n"
                       "[resource.auth]\nkey_file = \"fifo\"\n"),
              HasSubstr("fifo: not a regular file"));
}

TEST_F(PoolFile, InlineSecretsAreRefusedWithoutEchoingThem) {
  set_env("POOL_TEST_KEY", "k");
  for (const char* key : {"key", "client_secret", "identity_header"}) {
    std::string e = error_of(
        "[[resource]]\nname = \"eastus\"\nendpoint = \"https://e.example.com\"\n"
        "[resource.auth]\nkey_env = \"POOL_TEST_KEY\"\n" +
        std::string(key) + " = \"inline-secret-value\"\n");
    EXPECT_THAT(e, HasSubstr(file() + ":6:1: resource 'eastus': auth." + key +
                             ": a secret is never written in the file"));
    EXPECT_THAT(e, Not(HasSubstr("inline-secret-value")));
  }
  EXPECT_THAT(error_of("[defaults.auth]\nkey = \"x\"\n" + one()),
              HasSubstr("defaults: auth.key: a secret is never written in the file: use key_env "
                        "or key_file"));
}

TEST_F(PoolFile, OneSourcePerSecretInATable) {
  EXPECT_THAT(error_of("[[resource]]\nname = \"a\"\nendpoint = \"https://a.example.com\"\n"
                       "[resource.auth]\nkey_env = \"A\"\nkey_file = \"b\"\n"),
              HasSubstr("auth.key_env: set key_env or key_file, not both"));
}

TEST_F(PoolFile, TheModeNeedsItsIdsAndSecrets) {
  auto with_auth = [](const std::string& auth) {
    return "[[resource]]\nname = \"a\"\nendpoint = \"https://a.example.com\"\n"
           "[resource.auth]\n" +
           auth;
  };
  EXPECT_THAT(error_of(with_auth("key_header = \"x-key\"\n")),
              HasSubstr(file() + ":1:1: resource 'a': auth: mode key needs key_env or key_file"));
  EXPECT_THAT(error_of(with_auth("mode = \"client-credentials\"\nclient_id = \"c\"\n")),
              HasSubstr("auth.tenant_id: is required with client-credentials"));
  EXPECT_THAT(error_of(with_auth("mode = \"client-credentials\"\ntenant_id = \"t\"\n")),
              HasSubstr("auth.client_id: is required with client-credentials"));
  EXPECT_THAT(error_of(with_auth("mode = \"client-credentials\"\ntenant_id = \"t\"\n"
                                 "client_id = \"c\"\n")),
              HasSubstr("client-credentials needs client_secret_env or client_secret_file"));
  EXPECT_THAT(error_of(with_auth("mode = \"password\"\n")),
              HasSubstr("auth.mode: 'password' is not key, client-credentials or "
                        "managed-identity"));
  EXPECT_THAT(error_of(with_auth("mode = \"managed-identity\"\ntenant_id = \"not an id\"\n")),
              HasSubstr("auth.tenant_id: must be an id"));
  EXPECT_THAT(error_of(with_auth("mode = \"managed-identity\"\nauthority = \"http://x.com\"\n")),
              HasSubstr("auth.authority: must be an https URL"));
  EXPECT_THAT(error_of(with_auth("mode = \"managed-identity\"\nscope = \"\"\n")),
              HasSubstr("auth.scope: must be 1-512 printable characters"));
  EXPECT_THAT(error_of(with_auth("key_env = \"A\"\nkey_header = \"bad header\"\n")),
              HasSubstr("auth.key_header: must be an HTTP header name"));
  // A managed identity needs no secret, and an unused source is not read.
  auto p =
      load(with_auth("mode = \"managed-identity\"\nkey_env = \"POOL_UNSET_VARIABLE\"\n"
                     "authority = \"http://127.0.0.1:7000/\"\n"));
  ASSERT_TRUE(p.ok()) << p.error().message;
  EXPECT_EQ(p->resources[0].auth.authority, "http://127.0.0.1:7000");
}

TEST_F(PoolFile, UnknownKeysEverywhere) {
  set_env("POOL_TEST_KEY", "k");
  EXPECT_THAT(error_of("resources = 1\n" + one()),
              HasSubstr(file() + ":1:1: unknown key 'resources' (known: defaults, resource)"));
  EXPECT_THAT(error_of(one("wieght = 2")),
              HasSubstr(file() + ":4:1: resource 'eastus': unknown key 'wieght'"));
  EXPECT_THAT(error_of("[defaults]\nprio = 1\n" + one()),
              HasSubstr(":2:1: defaults: unknown key 'prio'"));
  EXPECT_THAT(error_of(one() + "keyenv = \"X\"\n"),
              HasSubstr("resource 'eastus': unknown key 'auth.keyenv'"));
  EXPECT_THAT(error_of(one() + "[resource.limits]\npolls_per_sec = 3\n"),
              HasSubstr("resource 'eastus': unknown key 'limits.polls_per_sec'"));
}

TEST_F(PoolFile, WrongTypes) {
  set_env("POOL_TEST_KEY", "k");
  EXPECT_THAT(error_of(one("weight = \"3\"")),
              HasSubstr(":4:10: resource 'eastus': weight: must be an integer 1..1000 (found a "
                        "string)"));
  EXPECT_THAT(error_of(one("drain = 1")),
              HasSubstr("drain: must be true or false (found an integer)"));
  EXPECT_THAT(error_of(one("timeout = 30")), HasSubstr("timeout: must be a string"));
  EXPECT_THAT(error_of(one("kind = [\"azure-cu\"]")),
              HasSubstr("kind: must be a string (found an array)"));
  EXPECT_THAT(error_of("[[resource]]\nname = \"a\"\nauth = \"key\"\n"),
              HasSubstr(":3:8: resource 'a': auth: must be a table (found a string)"));
  EXPECT_THAT(error_of(one("priority = 1.5")), HasSubstr("priority: must be an integer"));
  EXPECT_THAT(error_of("[resource]\nname = \"a\"\n"),
              HasSubstr("resource: must be an array of tables: [[resource]] (found a table)"));
  EXPECT_THAT(error_of("defaults = 3\n" + one()), HasSubstr("defaults: must be a table"));
  EXPECT_THAT(error_of("[[resource]]\nname = 5\n"),
              HasSubstr("resource #1: name: must be a string"));
}

TEST_F(PoolFile, TheFileItself) {
  c_.upstreams_file = (dir_ / "absent.toml").string();
  auto r = load_pool(c_);
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.error().message, c_.upstreams_file + ": cannot open: No such file or directory");
  c_.upstreams_file = (dir_ / "pool.toml").string();
  EXPECT_EQ(error_of(std::string(kMaxPoolFile + 1, '#')), file() + ": larger than 1MiB");
  EXPECT_EQ(error_of("[[resource]]\nname = \"a\"\nweight = \n"),
            file() + ":3:10: Error while parsing key-value pair: expected value, saw '\\n'");
  EXPECT_EQ(error_of(""), file() + ":1:1: no resources: add at least one [[resource]] table");
  EXPECT_THAT(error_of("[defaults]\nweight = 2\n"), HasSubstr("no resources"));
}

TEST_F(PoolFile, AtMost256Resources) {
  set_env("POOL_TEST_KEY", "k");
  std::string text;
  for (int i = 0; i < 256; ++i) text += one("", "r" + std::to_string(i));
  auto p = load(text);
  ASSERT_TRUE(p.ok()) << p.error().message;
  EXPECT_EQ(p->resources.size(), 256u);
  EXPECT_THAT(error_of(text + one("", "r256")), HasSubstr("more than 256 resources"));
}

TEST_F(PoolFile, Names) {
  set_env("POOL_TEST_KEY", "k");
  EXPECT_THAT(error_of("[[resource]]\nendpoint = \"https://a.example.com\"\n"),
              HasSubstr(file() + ":1:1: resource #1: name: is required"));
  EXPECT_THAT(error_of(one("", "bad name")),
              HasSubstr("resource #1: name: 'bad name' is not 1-64 of A-Z a-z 0-9 . _ -"));
  EXPECT_THAT(error_of(one("", std::string(65, 'n'))), HasSubstr("resource #1: name: '"));
  EXPECT_TRUE(load(one("", std::string(64, 'n'))).ok());
  EXPECT_THAT(error_of(one("", "a") + one("", "b") + one("", "a")),
              HasSubstr(":14:8: resource #3: name: 'a' names two resources"));
  EXPECT_THAT(error_of("[defaults]\nname = \"x\"\n" + one()),
              HasSubstr("defaults: name: belongs in each [[resource]], not in [defaults]"));
  EXPECT_THAT(error_of("[defaults]\nendpoint = \"https://x.example.com\"\n" + one()),
              HasSubstr("defaults: endpoint: belongs in each [[resource]]"));
}

TEST_F(PoolFile, Endpoints) {
  set_env("POOL_TEST_KEY", "k");
  auto with = [](const std::string& endpoint) {
    return "[[resource]]\nname = \"a\"\nendpoint = \"" + endpoint +
           "\"\n[resource.auth]\nkey_env = \"POOL_TEST_KEY\"\n";
  };
  for (const char* bad : {"ftp://a.example.com", "a.example.com", "/relative", "https://",
                          "https://a.example.com?x=1", "https://user:pw@a.example.com",
                          "https://a.example.com:99999", "https://a.example.com/#frag"}) {
    EXPECT_THAT(error_of(with(bad)),
                HasSubstr(":3:12: resource 'a': endpoint: must be an absolute http(s) URL"))
        << bad;
  }
  EXPECT_THAT(
      error_of("[[resource]]\nname = \"a\"\n[resource.auth]\nkey_env = \"POOL_TEST_KEY\"\n"),
      HasSubstr("resource 'a': endpoint: is required"));
  auto p = load(with("http://[::1]:8080/base//"));
  ASSERT_TRUE(p.ok()) << p.error().message;
  EXPECT_EQ(p->resources[0].upstream.endpoint, "http://[::1]:8080/base");
}

TEST_F(PoolFile, OneKnownKindForThePool) {
  set_env("POOL_TEST_KEY", "k");
  EXPECT_THAT(error_of(one("kind = \"azure-xx\"")),
              HasSubstr("kind: unknown kind 'azure-xx' (known: azure-cu, azure-di, generic)"));
  EXPECT_THAT(error_of(one("", "a") + one("kind = \"azure-di\"", "b")),
              HasSubstr("resource 'b': kind: 'azure-di' differs from resource 'a' (azure-cu): "
                        "one pool fronts one kind of service"));
  auto p = load("[defaults]\nkind = \"azure-di\"\n" + one("", "a") + one("", "b"));
  ASSERT_TRUE(p.ok()) << p.error().message;
  EXPECT_EQ(p->resources[1].upstream.kind, "azure-di");
}

TEST_F(PoolFile, WeightAndPriorityRanges) {
  set_env("POOL_TEST_KEY", "k");
  EXPECT_THAT(error_of(one("weight = 0")), HasSubstr("weight: must be 1..1000 (found 0)"));
  EXPECT_THAT(error_of(one("weight = 1001")), HasSubstr("weight: must be 1..1000 (found 1001)"));
  EXPECT_THAT(error_of(one("priority = -1")), HasSubstr("priority: must be 0..1000 (found -1)"));
  EXPECT_THAT(error_of(one("priority = 1001")), HasSubstr("priority: must be 0..1000"));
  auto p = load(one("weight = 1000\npriority = 1000"));
  ASSERT_TRUE(p.ok()) << p.error().message;
  EXPECT_EQ(p->resources[0].weight, 1000);
  EXPECT_EQ(p->resources[0].priority, 1000);
}

TEST_F(PoolFile, Limits) {
  set_env("POOL_TEST_KEY", "k");
  auto with = [](const std::string& limit) { return one() + "[resource.limits]\n" + limit + "\n"; };
  EXPECT_THAT(error_of(with("polls_per_second = -1")),
              HasSubstr("limits.polls_per_second: must be a number from 0 (no limit) to 1000000"));
  EXPECT_THAT(error_of(with("submits_per_second = nan")), HasSubstr("limits.submits_per_second"));
  EXPECT_THAT(error_of(with("submits_per_second = inf")), HasSubstr("limits.submits_per_second"));
  EXPECT_THAT(error_of(with("submits_per_second = \"15\"")),
              HasSubstr("limits.submits_per_second: must be a number (found a string)"));
  EXPECT_THAT(error_of(with("operations_per_minute = -5")),
              HasSubstr("limits.operations_per_minute: must be 0..1000000 (found -5)"));
  EXPECT_THAT(error_of(with("calls_in_flight = 1.5")),
              HasSubstr("limits.calls_in_flight: must be an integer 0..100000 (found a float)"));
  EXPECT_THAT(error_of(with("calls_in_flight = 100001")), HasSubstr("limits.calls_in_flight"));
  auto p =
      load(with("polls_per_second = 1000000\nsubmits_per_second = 0.25\n"
                "operations_per_minute = 1000000\ncalls_in_flight = 0"));
  ASSERT_TRUE(p.ok()) << p.error().message;
  EXPECT_EQ(p->resources[0].limits.polls_per_second, 1e6);
  EXPECT_EQ(p->resources[0].limits.submits_per_second, 0.25);
  EXPECT_EQ(p->resources[0].limits.operations_per_minute, 1'000'000);
}

TEST_F(PoolFile, ApiVersionAndTimeout) {
  set_env("POOL_TEST_KEY", "k");
  EXPECT_THAT(error_of(one("api_version = \"2025 05\"")),
              HasSubstr("api_version: letters, digits, '-' and '.' only"));
  EXPECT_THAT(error_of(one("api_version = \"" + std::string(33, '1') + "\"")),
              HasSubstr("api_version: too long (at most 32)"));
  EXPECT_TRUE(load(one("api_version = \"" + std::string(32, '1') + "\"")).ok());
  EXPECT_THAT(error_of(one("timeout = \"soon\"")), HasSubstr("timeout: invalid duration"));
  EXPECT_THAT(error_of(one("timeout = \"0s\"")), HasSubstr("timeout: must be positive"));
  c_.poller.lease = std::chrono::seconds(10);
  EXPECT_THAT(error_of(one("timeout = \"9500ms\"")),
              HasSubstr("resource 'eastus': timeout: 9s500ms must stay at least 1s below --lease "
                        "(10s)"));
  EXPECT_TRUE(load(one("timeout = \"9s\"")).ok());
}

TEST_F(PoolFile, AWholePoolMayBeDrained) {
  set_env("POOL_TEST_KEY", "k");
  auto p = load("[defaults]\ndrain = true\n" + one("", "a") + one("", "b"));
  ASSERT_TRUE(p.ok()) << p.error().message;
  EXPECT_TRUE(p->resources[0].drain);
  EXPECT_TRUE(p->resources[1].drain);
}

// No error, of all those above and of a file full of them, holds a secret.
TEST_F(PoolFile, NoErrorHoldsASecret) {
  const std::string secret = "S3CRET-d0-not-show";
  set_env("POOL_TEST_KEY", secret);
  write("secret.key", secret + "\n");
  std::vector<std::string> bad = {
      one("weight = 0"),
      one("kind = \"nope\""),
      one() + "key = \"" + secret + "\"\n",
      one() + "client_secret = \"" + secret + "\"\n",
      one() + "key_header = \"" + secret + " x\"\n",
      one("endpoint2 = 1"),
      one("", "a") + one("", "a"),
      "[[resource]]\nname = \"a\"\nendpoint = \"https://a.example.com\"\n[resource.auth]\n"
      "mode = \"client-credentials\"\nclient_secret_file = \"secret.key\"\n",
      "[[resource]]\nname = \"a\"\nendpoint = \"https://" + secret + "@a.example.com\"\n",
      "[[resource]]\nname = \"a\"\nendpoint = \"https://a.example.com\"\n[resource.auth]\n"
      "key_file = \"secret.key\"\nkey_env = \"POOL_TEST_KEY\"\n",
      "key = " + secret + "\n",
  };
  for (const auto& text : bad) {
    EXPECT_THAT(error_of(text), Not(HasSubstr(secret))) << text;
  }
}

// parse(): --upstreams replaces the single-endpoint checks, and a bad file
// stops the start.
class ParseWithPoolFile : public PoolFile {
 protected:
  std::optional<int> run(std::vector<std::string> args) {
    for (const char* e : {"AZURE_CU_ENDPOINT", "AZURE_CU_KEY", "LROGATE_UPSTREAM_ENDPOINT",
                          "LROGATE_UPSTREAM_KEY", "LROGATE_UPSTREAMS"}) {
      ::unsetenv(e);
    }
    std::vector<char*> argv;
    for (auto& a : args) argv.push_back(a.data());
    Config c;
    auto r = parse(static_cast<int>(argv.size()), argv.data(), &c);
    upstreams_ = c.serve.upstreams_file;
    return r;
  }
  std::string upstreams_;
};

TEST_F(ParseWithPoolFile, AGoodFileNeedsNoEndpointOrKey) {
  set_env("POOL_TEST_KEY", "k");
  write("pool.toml", one());
  EXPECT_EQ(run({"lrogate", "serve", "--upstreams", file()}), std::nullopt);
  EXPECT_EQ(upstreams_, file());
  // The variable, as for every flag (run() clears it first: set it here by hand).
  set_env("LROGATE_UPSTREAMS", file());
  std::string a0 = "lrogate", a1 = "serve";
  std::vector<char*> argv = {a0.data(), a1.data()};
  Config c;
  EXPECT_EQ(parse(2, argv.data(), &c), std::nullopt);
  EXPECT_EQ(c.serve.upstreams_file, file());
}

TEST_F(ParseWithPoolFile, ABadFileExits2) {
  write("pool.toml", one());  // POOL_TEST_KEY unset
  testing::internal::CaptureStderr();
  EXPECT_EQ(run({"lrogate", "serve", "--upstreams", file()}), 2);
  EXPECT_THAT(testing::internal::GetCapturedStderr(),
              HasSubstr("lrogate: " + file() + ":6:11: resource 'eastus': auth.key_env"));
  testing::internal::CaptureStderr();
  EXPECT_EQ(run({"lrogate", "serve", "--upstreams", (dir_ / "none.toml").string()}), 2);
  EXPECT_THAT(testing::internal::GetCapturedStderr(), HasSubstr("cannot open"));
}

TEST_F(ParseWithPoolFile, NotWithTheSingleEndpointFlags) {
  set_env("POOL_TEST_KEY", "k");
  write("pool.toml", one());
  testing::internal::CaptureStderr();
  EXPECT_EQ(run({"lrogate", "serve", "--upstreams", file(), "--upstream-endpoint",
                 "https://x.example.com"}),
            2);
  EXPECT_THAT(testing::internal::GetCapturedStderr(), HasSubstr("excludes"));
  // Without the file, the single-endpoint checks are as before.
  testing::internal::CaptureStderr();
  EXPECT_EQ(run({"lrogate", "serve"}), 2);
  EXPECT_THAT(testing::internal::GetCapturedStderr(), HasSubstr("no upstream endpoint"));
}

}  // namespace
}  // namespace lrogate::config
