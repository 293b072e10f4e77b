#include "config/config.h"

#include <gtest/gtest.h>

#include <cstdlib>

namespace lrogate::config {
namespace {

int run(std::vector<std::string> args, Config* c) {
  std::vector<char*> argv;
  for (auto& a : args) argv.push_back(a.data());
  return parse(static_cast<int>(argv.size()), argv.data(), c);
}

TEST(Config, Sizes) {
  std::size_t n = 0;
  EXPECT_TRUE(parse_size("64MiB", &n));
  EXPECT_EQ(n, 64u << 20);
  EXPECT_TRUE(parse_size("1024", &n));
  EXPECT_EQ(n, 1024u);
  EXPECT_FALSE(parse_size("MiB", &n));
  EXPECT_FALSE(parse_size("12XB", &n));
}

TEST(Config, Listen) {
  std::string h;
  std::uint16_t p = 1;
  EXPECT_TRUE(parse_listen("127.0.0.1:0", &h, &p));
  EXPECT_EQ(h, "127.0.0.1");
  EXPECT_EQ(p, 0);
  EXPECT_TRUE(parse_listen("[::1]:8080", &h, &p));
  EXPECT_EQ(h, "::1");
  EXPECT_FALSE(parse_listen("localhost", &h, &p));
  EXPECT_FALSE(parse_listen("h:70000", &h, &p));
}

TEST(Config, ServeDefaultsAndFlags) {
  ::unsetenv("AZURE_CU_ENDPOINT");
  ::unsetenv("AZURE_CU_KEY");
  Config c;
  ASSERT_EQ(run({"lrogate", "serve", "--upstream-endpoint", "http://127.0.0.1:1", "--upstream-key",
                 "k", "--poll-interval", "3s", "--max-body", "1MiB"},
                &c),
            -1);
  EXPECT_EQ(c.command, "serve");
  EXPECT_EQ(c.serve.poll_interval, std::chrono::seconds(3));
  EXPECT_EQ(c.serve.max_wait, std::chrono::minutes(30));
  EXPECT_EQ(c.serve.retrieval_grace, std::chrono::minutes(5));
  EXPECT_EQ(c.serve.max_body, 1u << 20);
  EXPECT_EQ(c.serve.store, "sqlite:lrogate.db");
}

TEST(Config, EnvironmentFillsAndFlagsWin) {
  ::setenv("AZURE_CU_ENDPOINT", "http://127.0.0.1:2", 1);
  ::setenv("AZURE_CU_KEY", "envkey", 1);
  ::setenv("LROGATE_MAX_WAIT", "10m", 1);
  Config c;
  ASSERT_EQ(run({"lrogate", "serve", "--max-wait", "20m"}, &c), -1);
  EXPECT_EQ(c.serve.upstream_endpoint, "http://127.0.0.1:2");
  EXPECT_EQ(c.serve.upstream_key, "envkey");
  EXPECT_EQ(c.serve.max_wait, std::chrono::minutes(20));
  Config d;
  ASSERT_EQ(run({"lrogate", "serve"}, &d), -1);
  EXPECT_EQ(d.serve.max_wait, std::chrono::minutes(10));
  ::unsetenv("AZURE_CU_ENDPOINT");
  ::unsetenv("AZURE_CU_KEY");
  ::unsetenv("LROGATE_MAX_WAIT");
}

TEST(Config, RejectsBadSettingsByName) {
  ::unsetenv("AZURE_CU_ENDPOINT");
  ::unsetenv("AZURE_CU_KEY");
  Config c;
  EXPECT_EQ(run({"lrogate", "serve"}, &c), 2);  // no endpoint
  Config d;
  EXPECT_EQ(run({"lrogate", "serve", "--upstream-endpoint", "http://x", "--upstream-key", "k",
                 "--poll-interval", "soon"},
                &d),
            2);
  Config e;
  EXPECT_EQ(run({"lrogate", "serve", "--upstream-endpoint", "http://x", "--upstream-key", "k",
                 "--result-ttl", "25h"},
                &e),
            2);
}

}  // namespace
}  // namespace lrogate::config
