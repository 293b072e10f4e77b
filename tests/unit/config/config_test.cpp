#include "config/config.h"

#include <gtest/gtest.h>

#include <cstdlib>
#include <initializer_list>
#include <optional>
#include <string_view>

namespace lrogate::config {
namespace {

// What parse() answers to go on (no exit code).
constexpr std::optional<int> kGoOn = std::nullopt;

std::optional<int> run(std::vector<std::string> args, Config* c) {
  std::vector<char*> argv;
  for (auto& a : args) argv.push_back(a.data());
  return parse(static_cast<int>(argv.size()), argv.data(), c);
}

TEST(Config, Sizes) {
  auto n = parse_size("64MiB");
  ASSERT_TRUE(n.ok());
  EXPECT_EQ(n.value(), 64u << 20);
  n = parse_size("1024");
  ASSERT_TRUE(n.ok());
  EXPECT_EQ(n.value(), 1024u);
  EXPECT_FALSE(parse_size("MiB").ok());
  EXPECT_FALSE(parse_size("12XB").ok());
}

constexpr std::size_t kKiB = std::size_t{1} << 10, kMiB = kKiB << 10, kGiB = kMiB << 10;

// The largest value accepted in each unit (kMaxSize, 1TiB) and the first one refused.
TEST(Config, SizeLimitInEveryUnit) {
  struct Case {
    const char* largest;
    const char* first_refused;
  };
  for (auto [largest, refused] : std::initializer_list<Case>{
           {"1099511627776", "1099511627777"},
           {"1099511627776B", "1099511627777B"},
           {"1073741824K", "1073741825K"},
           {"1073741824KB", "1073741825KB"},
           {"1073741824KiB", "1073741825KiB"},
           {"1048576M", "1048577M"},
           {"1048576MB", "1048577MB"},
           {"1048576MiB", "1048577MiB"},
           {"1024G", "1025G"},
           {"1024GB", "1025GB"},
           {"1024GiB", "1025GiB"},
       }) {
    auto ok = parse_size(std::string_view(largest));
    ASSERT_TRUE(ok.ok()) << largest;
    EXPECT_EQ(ok.value(), kMaxSize) << largest;
    auto r = parse_size(std::string_view(refused));
    ASSERT_FALSE(r.ok()) << refused;
    EXPECT_EQ(r.error().message,
              "invalid size '" + std::string(refused) + "': too large (at most 1024GiB)");
  }
}

TEST(Config, SizesThatOverflowAreRefusedNotWrapped) {
  // 2^34 GiB is 2^64 bytes: it used to wrap to 0.
  for (const char* big :
       {"17179869184GiB", "17179869185GiB", "18446744073709551616", "18446744073709551615",
        "18446744073709551615GiB", "4294967296KiB", "99999999999999999999999999999999",
        "00000000000000000000000000002048GiB"}) {
    auto r = parse_size(std::string_view(big));
    ASSERT_FALSE(r.ok()) << big;
    EXPECT_NE(r.error().message.find("too large (at most 1024GiB)"), std::string::npos) << big;
  }
}

TEST(Config, SizeUnitsAndLeadingZeros) {
  struct Case {
    const char* text;
    std::size_t bytes;
  };
  for (auto [text, bytes] :
       std::initializer_list<Case>{{"0", 0},
                                   {"0GiB", 0},
                                   {"1B", 1},
                                   {"16KiB", 16 * kKiB},
                                   {"2M", 2 * kMiB},
                                   {"3GB", 3 * kGiB},
                                   {"0000000000000000000000064MiB", 64 * kMiB}}) {
    auto r = parse_size(std::string_view(text));
    ASSERT_TRUE(r.ok()) << text;
    EXPECT_EQ(r.value(), bytes) << text;
  }
}

TEST(Config, SizeGarbageIsRefused) {
  for (const char* bad : {"", " ", "MiB", "-1", "+1", " 1", "1 ", "1 MiB", "1.5MiB", "1e3", "0x10",
                          "64mib", "64kb", "64TiB", "64T", "1MiBB", "1MiB1", "12XB", "1B2"}) {
    auto r = parse_size(std::string_view(bad));
    ASSERT_FALSE(r.ok()) << bad;
    EXPECT_EQ(r.error().message.rfind("invalid size '" + std::string(bad) + "': ", 0), 0u) << bad;
  }
  // Garbage past the limit is garbage first; long text is cut in the message.
  EXPECT_NE(parse_size(std::string_view("99999999999999999999999XB")).error().message.find("unit"),
            std::string::npos);
  auto long_text = std::string(100, '1') + "Q";
  EXPECT_EQ(parse_size(std::string_view(long_text)).error().message.find(long_text),
            std::string::npos);
}

TEST(Config, SizeWithItsOwnLimit) {
  EXPECT_EQ(parse_size("1GiB", kGiB).value(), kGiB);
  EXPECT_EQ(parse_size("1073741824", kGiB).value(), kGiB);
  EXPECT_EQ(parse_size("1073741825", kGiB).error().message,
            "invalid size '1073741825': too large (at most 1GiB)");
  EXPECT_EQ(parse_size("1048577KiB", kGiB).error().message,
            "invalid size '1048577KiB': too large (at most 1GiB)");
  EXPECT_EQ(parse_size("1001", 1000).error().message,
            "invalid size '1001': too large (at most 1000)");
  EXPECT_EQ(parse_size("5", 3).error().message, "invalid size '5': too large (at most 3)");
  EXPECT_EQ(parse_size("3", 3).value(), 3u);
}

TEST(Config, BaseUrls) {
  for (const char* good :
       {"http://127.0.0.1:8080", "https://lro.contoso.com", "https://api.contoso.com/lro",
        "http://[::1]:8080", "http://[::1]", "http://h:1", "http://h:65535", "http://my_host.local",
        "https://h/a%2Fb/c-d.e~f", "http://h/a:b;c=d"}) {
    EXPECT_TRUE(valid_base_url(good)) << good;
  }
  for (const char* bad : {"",
                          "h",
                          "127.0.0.1:8080",
                          "ftp://h",
                          "http://",
                          "https://",
                          "http:///x",
                          "http://:80",
                          "http://h:",
                          "http://h:0",
                          "http://h:65536",
                          "http://h:99999",
                          "http://h:abc",
                          "http://h:8080:1",
                          "http://h:-1",
                          "http://u@h",
                          "http://u:p@h",
                          "http://h/?q=1",
                          "http://h/#f",
                          "http://h /x",
                          "http://h/a b",
                          "http://exa mple",
                          "http://h/%zz",
                          "http://h/%2",
                          "http://h/a|b",
                          "http://h/a^b",
                          "http://h/{x}",
                          "http://h/a\\b",
                          "http://h\x01",
                          "http://h\xc3\xa9",
                          "https://[::1",
                          "https://[]",
                          "https://[::1]x",
                          "https://[zz::1]",
                          "http://h/[x]",
                          "http://ho%41st"}) {
    EXPECT_FALSE(valid_base_url(bad)) << bad;
  }
  EXPECT_FALSE(valid_base_url("https://h/" + std::string(2048, 'a')));
}

TEST(Config, Listen) {
  auto l = parse_listen("127.0.0.1:0");
  ASSERT_TRUE(l);
  EXPECT_EQ(l->host, "127.0.0.1");
  EXPECT_EQ(l->port, 0);
  l = parse_listen("[::1]:8080");
  ASSERT_TRUE(l);
  EXPECT_EQ(l->host, "::1");
  EXPECT_EQ(l->port, 8080);
  EXPECT_FALSE(parse_listen("localhost"));
  EXPECT_FALSE(parse_listen("h:70000"));
  EXPECT_FALSE(parse_listen(":80"));
}

TEST(Config, ServeDefaultsAndFlags) {
  ::unsetenv("AZURE_CU_ENDPOINT");
  ::unsetenv("AZURE_CU_KEY");
  Config c;
  ASSERT_EQ(run({"lrogate", "serve", "--upstream-endpoint", "http://127.0.0.1:1", "--upstream-key",
                 "k", "--poll-interval", "3s", "--max-body", "1MiB"},
                &c),
            kGoOn);
  EXPECT_EQ(c.command, "serve");
  EXPECT_EQ(c.serve.poller.schedule.poll_interval, std::chrono::seconds(3));
  EXPECT_EQ(c.serve.service.max_wait, std::chrono::minutes(30));
  EXPECT_EQ(c.serve.service.retrieval_grace, std::chrono::minutes(5));
  EXPECT_EQ(c.serve.server.max_body, 1u << 20);
  EXPECT_EQ(c.serve.store, "sqlite:lrogate.db");
  // Each part's struct holds what its flags say, and a flag that feeds
  // several parts reaches each of them.
  EXPECT_EQ(c.serve.server.port, 8080);
  EXPECT_EQ(c.serve.api.poll_interval, std::chrono::seconds(3));
  EXPECT_EQ(c.serve.service.first_poll_delay, std::chrono::seconds(1));
  EXPECT_EQ(c.serve.poller.schedule.backoff_base, std::chrono::seconds(1));
  EXPECT_EQ(c.serve.poller.schedule.max_wait, std::chrono::minutes(30));
  EXPECT_EQ(c.serve.api.max_body, 1u << 20);
  EXPECT_EQ(c.serve.auth.timeout, std::chrono::seconds(10));
  EXPECT_TRUE(c.serve.api.fallback_lookup);
  EXPECT_EQ(c.serve.upstream.generic.shape.succeeded, std::vector<std::string>{"Succeeded"});
  EXPECT_EQ(c.serve.upstream.generic.shape.result_field, "result");
}

TEST(Config, ListsAndDerivedSettingsReachTheirParts) {
  ::unsetenv("AZURE_CU_ENDPOINT");
  ::unsetenv("AZURE_CU_KEY");
  Config c;
  ASSERT_EQ(run({"lrogate",
                 "serve",
                 "--upstream-endpoint",
                 "http://127.0.0.1:1",
                 "--upstream-key",
                 "k",
                 "--poll-interval",
                 "200ms",
                 "--upstream-timeout",
                 "5s",
                 "--api-keys-file",
                 "/nonexistent/keys",
                 "--generic-succeeded",
                 "done,ok",
                 "--oidc-issuer",
                 "http://127.0.0.1:9/o",
                 "--oidc-audience",
                 "a1,api://a2",
                 "--oidc-clock-skew",
                 "90s",
                 "--max-backoff",
                 "100ms"},
                &c),
            kGoOn);
  EXPECT_EQ(c.serve.service.first_poll_delay, std::chrono::milliseconds(200));
  EXPECT_EQ(c.serve.auth.timeout, std::chrono::seconds(5));
  EXPECT_FALSE(c.serve.api.fallback_lookup);  // off by default with client keys
  EXPECT_EQ(c.serve.upstream.generic.shape.succeeded, (std::vector<std::string>{"done", "ok"}));
  EXPECT_EQ(c.serve.oidc.audiences, (std::vector<std::string>{"a1", "api://a2"}));
  EXPECT_EQ(c.serve.oidc.clock_skew, std::chrono::seconds(90));
  // The backoff never caps below its base.
  EXPECT_EQ(c.serve.poller.schedule.backoff_cap, std::chrono::milliseconds(200));
}

TEST(Config, EnvironmentFillsAndFlagsWin) {
  ::setenv("AZURE_CU_ENDPOINT", "http://127.0.0.1:2", 1);
  ::setenv("AZURE_CU_KEY", "envkey", 1);
  ::setenv("LROGATE_MAX_WAIT", "10m", 1);
  Config c;
  ASSERT_EQ(run({"lrogate", "serve", "--max-wait", "20m"}, &c), kGoOn);
  EXPECT_EQ(c.serve.upstream.endpoint, "http://127.0.0.1:2");
  EXPECT_EQ(c.serve.auth.key, "envkey");
  EXPECT_EQ(c.serve.service.max_wait, std::chrono::minutes(20));
  Config d;
  ASSERT_EQ(run({"lrogate", "serve"}, &d), kGoOn);
  EXPECT_EQ(d.serve.service.max_wait, std::chrono::minutes(10));
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

// What parse() answers and prints for one setting of `serve`.
struct Outcome {
  std::optional<int> code;
  std::string err;
  Config config;
};

Outcome serve_with(std::vector<std::string> extra) {
  ::unsetenv("AZURE_CU_ENDPOINT");
  ::unsetenv("AZURE_CU_KEY");
  std::vector<std::string> args = {"lrogate",  "serve",          "--upstream-endpoint",
                                   "http://x", "--upstream-key", "k"};
  args.insert(args.end(), extra.begin(), extra.end());
  Outcome o;
  testing::internal::CaptureStderr();
  o.code = run(args, &o.config);
  o.err = testing::internal::GetCapturedStderr();
  return o;
}

TEST(Config, WebhookFlags) {
  auto ok = serve_with({"--webhook-allowed-hosts", "hooks.example.com,*.corp.example",
                        "--webhook-allowed-networks", "10.0.0.0/8", "--webhook-secrets-file",
                        "/dev/null", "--webhook-retry-schedule", "1s,1m", "--webhook-format",
                        "cloudevents", "--webhook-keep", "2d"});
  ASSERT_EQ(ok.code, kGoOn) << ok.err;
  const auto& w = ok.config.serve.webhooks;
  EXPECT_EQ(w.allowed_hosts, (std::vector<std::string>{"hooks.example.com", "*.corp.example"}));
  EXPECT_EQ(w.allowed_networks, (std::vector<std::string>{"10.0.0.0/8"}));
  EXPECT_EQ(w.retry_schedule, (std::vector<std::chrono::milliseconds>{
                                  std::chrono::seconds(1), std::chrono::minutes(1)}));
  EXPECT_TRUE(w.cloudevents);
  EXPECT_EQ(ok.config.serve.service.deliveries_kept, std::chrono::hours(48));
  // The defaults: no callbacks, Standard Webhooks' schedule of seven waits;
  // without callbacks a short --lease does not meet the webhook timeout.
  auto d = serve_with({"--lease", "3s", "--upstream-timeout", "1s"});
  ASSERT_EQ(d.code, kGoOn) << d.err;
  EXPECT_TRUE(d.config.serve.webhooks.allowed_hosts.empty());
  EXPECT_EQ(d.config.serve.webhooks.retry_schedule.size(), 7u);
  struct Bad {
    std::vector<std::string> args;
    const char* names;
  };
  for (const auto& b : std::vector<Bad>{
           {{"--webhook-allowed-hosts", "h.example"}, "--webhook-secrets-file"},
           {{"--webhook-retry-schedule", "1s,soon"}, "--webhook-retry-schedule"},
           {{"--webhook-retry-schedule", "10ms"}, "--webhook-retry-schedule"},
           {{"--webhook-allowed-hosts", "h.example", "--webhook-secrets-file", "/dev/null",
             "--webhook-timeout", "60s"},
            "--webhook-timeout"},
           {{"--webhook-format", "xml"}, "--webhook-format"},
           {{"--webhook-max-in-flight", "0"}, "--webhook-max-in-flight"},
       }) {
    auto o = serve_with(b.args);
    EXPECT_EQ(o.code, 2) << b.args[0];
    EXPECT_NE(o.err.find(b.names), std::string::npos) << o.err;
  }
}

TEST(Config, SizeFlagsNameTheFlagAndTheLimit) {
  struct Case {
    std::vector<std::string> args;
    std::string err;  // "": accepted
  };
  for (const auto& [args, err] : std::vector<Case>{
           {{"--max-body", "17179869184GiB"},
            "lrogate: --max-body: invalid size '17179869184GiB': too large (at most 1024GiB)\n"},
           {{"--max-body", "1024GiB"}, ""},
           {{"--max-result-size", "1025GiB"},
            "lrogate: --max-result-size: invalid size '1025GiB': too large (at most 1024GiB)\n"},
           {{"--max-connections", "18446744073709551616"},
            "lrogate: --max-connections: invalid size '18446744073709551616': too large (at most "
            "1024GiB)\n"},
           // The HTTP parser's header limit is 32 bits: --max-header stops at 1GiB.
           {{"--max-header", "1GiB"}, ""},
           {{"--max-header", "4GiB"},
            "lrogate: --max-header: invalid size '4GiB': too large (at most 1GiB)\n"},
           {{"--max-header", "1073741825"},
            "lrogate: --max-header: invalid size '1073741825': too large (at most 1GiB)\n"},
           {{"--max-json-body", "1MB "},
            "lrogate: --max-json-body: invalid size '1MB ': unknown unit (B, KiB, MiB, GiB; e.g. "
            "64MiB)\n"},
           {{"--max-upstream-connections", ""},
            "lrogate: --max-upstream-connections: invalid size '': expected a number with an "
            "optional unit B, KiB, MiB or GiB (e.g. 64MiB)\n"},
       }) {
    auto o = serve_with(args);
    EXPECT_EQ(o.code, err.empty() ? kGoOn : 2) << args[0] << " " << args[1];
    EXPECT_EQ(o.err, err) << args[0] << " " << args[1];
  }
  EXPECT_EQ(serve_with({"--max-body", "1024GiB"}).config.serve.server.max_body, kMaxSize);
  EXPECT_EQ(serve_with({"--max-header", "1GiB"}).config.serve.server.max_header, kGiB);
}

TEST(Config, DurationFlagsNameTheFlagAndTheLimit) {
  auto o = serve_with({"--max-wait", "36501d"});
  EXPECT_EQ(o.code, 2);
  EXPECT_EQ(o.err, "lrogate: --max-wait: invalid duration '36501d': too large (at most 36500d)\n");
  o = serve_with({"--max-wait", "36500d"});
  EXPECT_EQ(o.code, kGoOn) << o.err;
  EXPECT_EQ(o.config.serve.service.max_wait, std::chrono::hours(24 * 36'500));
}

// Counts and rates: decimal only; CLI11 alone took "010" as 8 and let NaN past Range.
TEST(Config, CountsAndRatesAreDecimal) {
  struct Case {
    const char* flag;
    const char* value;
    bool accepted;
  };
  for (auto [flag, value, accepted] : std::initializer_list<Case>{
           {"--threads", "8", true},
           {"--threads", "010", true},
           {"--threads", "64", true},
           {"--threads", "65", false},
           {"--threads", "0", false},
           {"--threads", "0x10", false},
           {"--threads", "-1", false},
           {"--threads", "", false},
           {"--threads", "8 ", false},
           {"--threads", " 8", false},
           {"--threads", "8.0", false},
           {"--threads", "1e1", false},
           {"--max-polls", "0", true},
           {"--max-polls", "1073741824", true},
           {"--max-polls", "1073741825", false},
           {"--max-polls", "99999999999999999999", false},
           {"--max-polls", "0100", true},
           {"--max-inflight-polls", "100000", true},
           {"--max-inflight-polls", "100001", false},
           {"--upstream-rps", "0", true},
           {"--upstream-rps", "0.5", true},
           {"--upstream-rps", "1000000", true},
           {"--upstream-rps", "1000000.1", false},
           {"--upstream-rps", "nan", false},
           {"--upstream-rps", "NaN", false},
           {"--upstream-rps", "inf", false},
           {"--upstream-rps", "-1", false},
           {"--upstream-rps", "1e3", false},
           {"--upstream-rps", "0x1p3", false},
           {"--upstream-rps", ".5", false},
           {"--upstream-rps", "5.", false},
           {"--upstream-rps", "1.2.3", false},
           {"--client-poll-rate", "nan", false},
           {"--client-poll-rate", "2.25", true},
           {"--client-poll-rate", "1000001", false},
       }) {
    auto o = serve_with({flag, value});
    EXPECT_EQ(o.code, accepted ? kGoOn : 2) << flag << " '" << value << "': " << o.err;
    if (!accepted) {
      EXPECT_NE(o.err.find(flag), std::string::npos) << o.err;
    }
  }
  EXPECT_EQ(serve_with({"--threads", "010"}).config.serve.server.threads, 10);
  EXPECT_EQ(serve_with({"--max-polls", "0100"}).config.serve.api.max_polls, 100);
  EXPECT_EQ(serve_with({"--max-polls", "0"}).config.serve.api.max_polls, 0);
  EXPECT_EQ(serve_with({"--upstream-rps", "002.5"}).config.serve.poller.upstream_rps, 2.5);
  auto nan = serve_with({"--upstream-rps", "nan"});
  EXPECT_NE(nan.err.find("'nan' is not a decimal number"), std::string::npos) << nan.err;
}

// The simulator's quotas: off by default, whole numbers within their limits,
// and from the environment too.
TEST(Config, SimulatorQuotaFlags) {
  auto sim = [](std::vector<std::string> extra) {
    std::vector<std::string> args = {"lrogate", "simulate", "--key", "k"};
    args.insert(args.end(), extra.begin(), extra.end());
    Outcome o;
    testing::internal::CaptureStderr();
    o.code = run(args, &o.config);
    o.err = testing::internal::GetCapturedStderr();
    return o;
  };
  auto d = sim({});
  ASSERT_EQ(d.code, kGoOn) << d.err;
  EXPECT_EQ(d.config.simulate.analyze_rps, 0);
  EXPECT_EQ(d.config.simulate.status_rps, 0);
  EXPECT_EQ(d.config.simulate.ops_per_minute, 0);
  auto set = sim({"--analyze-rps", "15", "--status-rps", "050", "--ops-per-minute", "3000"});
  ASSERT_EQ(set.code, kGoOn) << set.err;
  EXPECT_EQ(set.config.simulate.analyze_rps, 15);
  EXPECT_EQ(set.config.simulate.status_rps, 50);
  EXPECT_EQ(set.config.simulate.ops_per_minute, 3000);
  struct Case {
    const char* flag;
    const char* value;
    bool accepted;
  };
  for (auto [flag, value, accepted] : std::initializer_list<Case>{
           {"--analyze-rps", "100000", true},
           {"--analyze-rps", "100001", false},
           {"--analyze-rps", "-1", false},
           {"--analyze-rps", "1.5", false},
           {"--status-rps", "0x10", false},
           {"--status-rps", "", false},
           {"--ops-per-minute", "1000000", true},
           {"--ops-per-minute", "1000001", false},
       }) {
    auto o = sim({flag, value});
    EXPECT_EQ(o.code, accepted ? kGoOn : 2) << flag << " '" << value << "': " << o.err;
    if (!accepted) {
      EXPECT_NE(o.err.find(flag), std::string::npos) << o.err;
    }
  }
  ::setenv("LROGATE_STATUS_RPS", "7", 1);
  auto env = sim({});
  EXPECT_EQ(env.config.simulate.status_rps, 7);
  EXPECT_EQ(sim({"--status-rps", "8"}).config.simulate.status_rps, 8);
  ::unsetenv("LROGATE_STATUS_RPS");
}

// --analyzer-duration: repeatable and comma-separated, kept as written for
// the simulator to read (sim/durations.h); --seed a whole number.
TEST(Config, SimulatorAnalyzerDurations) {
  auto sim = [](std::vector<std::string> extra) {
    std::vector<std::string> args = {"lrogate", "simulate", "--key", "k"};
    args.insert(args.end(), extra.begin(), extra.end());
    Outcome o;
    testing::internal::CaptureStderr();
    o.code = run(args, &o.config);
    o.err = testing::internal::GetCapturedStderr();
    return o;
  };
  auto d = sim({});
  ASSERT_EQ(d.code, kGoOn) << d.err;
  EXPECT_TRUE(d.config.simulate.analyzer_durations.empty());
  EXPECT_EQ(d.config.simulate.seed, 1u);
  auto set = sim({"--analyzer-duration", "a=lognormal:120s:0.3", "--analyzer-duration",
                  "b=fixed:5s,*=bimodal:30s:300s:0.1", "--seed", "42"});
  ASSERT_EQ(set.code, kGoOn) << set.err;
  EXPECT_EQ(
      set.config.simulate.analyzer_durations,
      (std::vector<std::string>{"a=lognormal:120s:0.3", "b=fixed:5s", "*=bimodal:30s:300s:0.1"}));
  EXPECT_EQ(set.config.simulate.seed, 42u);
  EXPECT_EQ(sim({"--seed", "-1"}).code, 2);
  EXPECT_EQ(sim({"--seed", "0x10"}).code, 2);
}

TEST(Config, GatewayMustBeAUsableUrl) {
  auto client = [](const std::string& gateway) {
    std::vector<std::string> args = {"lrogate", "status", "--gateway", gateway, "op"};
    Outcome o;
    testing::internal::CaptureStderr();
    o.code = run(args, &o.config);
    o.err = testing::internal::GetCapturedStderr();
    return o;
  };
  auto ok = client("http://127.0.0.1:8080/lro//");
  EXPECT_EQ(ok.code, kGoOn) << ok.err;
  EXPECT_EQ(ok.config.client.gateway, "http://127.0.0.1:8080/lro");
  for (const char* bad : {"127.0.0.1:8080", "http://", "http://h:99999", "http://h:x",
                          "http://exa mple", "http://h/?q", "http://user:pw-secret@h"}) {
    auto o = client(bad);
    EXPECT_EQ(o.code, 2) << bad;
    EXPECT_EQ(o.err.rfind("lrogate: --gateway must be an http:// or https:// URL", 0), 0u) << o.err;
    EXPECT_EQ(o.err.find("pw-secret"), std::string::npos);
  }
}

}  // namespace
}  // namespace lrogate::config
