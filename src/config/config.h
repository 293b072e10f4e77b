// Config: flags and environment turned into one immutable, validated value
// per subcommand. Every flag FOO-BAR also reads LROGATE_FOO_BAR; flags win.
// The upstream endpoint and key also read AZURE_CU_ENDPOINT / AZURE_CU_KEY.
// Every limit has its default here and in --help. The value spellings that
// several settings share are in config/values.h.
#pragma once

#include <chrono>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "api/api_config.h"
#include "base/result.h"
#include "config/values.h"
#include "core/service_config.h"
#include "http/client.h"
#include "http/server.h"
#include "notify/webhook_config.h"
#include "poller/poller_config.h"
#include "upstream/settings.h"

namespace lrogate::config {

using std::chrono::milliseconds;

// `lrogate serve`: each part's own settings struct, filled from the flags
// that name its fields; where one flag feeds several parts (--poll-interval,
// --max-wait, --upstream-timeout, --max-body) parse() copies it to each.
struct ServeConfig {
  http::ServerOptions server;   // --listen, --threads, limits, timeouts, --tls-cert/--tls-key
  http::ClientOptions client;   // --upstream-ca-file, --max-upstream-connections
  upstream::Settings upstream;  // --upstream-kind, --upstream-endpoint, --generic-*, ...
  upstream::AuthSettings auth;  // --upstream-auth and its secrets (never logged)
  core::ServiceConfig service;  // --max-wait, --result-ttl, --retrieval-grace
  poller::PollerConfig poller;  // --poll-interval, --lease, --max-inflight-polls, ...
  api::ApiConfig api;           // --submit-timeout, client poll limits, --public-base-url, ...
  api::OidcSettings oidc;       // --oidc-*; issuer "": off
  notify::WebhookConfig webhooks;  // --webhook-*; no allowed host: no callbacks
  std::string store = "sqlite:lrogate.db";
  // Poller shards, each with a client (I/O thread, keep-alive pool) of its
  // own, which serve.cpp creates; 0: min(2, cores).
  int poller_shards = 0;
  std::string api_keys_file;
  // --tenants-file: per-tenant settings (config/tenants_file.h): operators,
  // quotas; "": every tenant has the defaults (no quota, not an operator).
  std::string tenants_file;
  // --upstreams: the upstream pool file (config/pool_file.h); "": the pool
  // of one resource made from the single-endpoint flags above.
  std::string upstreams_file;
  std::string cors_origins;  // comma-separated origins or "*"; "": CORS off
  milliseconds drain_timeout{10'000};
  std::string log_level = "info";
};

struct SimulateConfig {
  std::string host = "127.0.0.1";
  std::uint16_t port = 9090;
  std::string key;
  // The token endpoints (Entra ID client credentials, managed identity).
  std::string client_secret;    // LROGATE_SIM_CLIENT_SECRET only
  std::string identity_header;  // LROGATE_SIM_IDENTITY_HEADER only
  milliseconds token_lifetime{3'600'000};
  milliseconds token_delay{0};
  std::string token_faults;  // answers of successive token requests, e.g. "503,500"
  std::string tls_cert;
  std::string tls_key;
  milliseconds duration{5'000};
  // --analyzer-duration NAME=SPEC, repeatable (sim/durations.h; simulate.cpp
  // reads them and refuses a bad one), and the --seed of their draws.
  std::vector<std::string> analyzer_durations;
  std::uint64_t seed = 1;
  milliseconds result_ttl{24 * 3'600'000};
  milliseconds latency{0};
  std::vector<std::string> analyzers;
  milliseconds analyzer_create_duration{2'000};  // PUT .../analyzers/{id} until ready
  // The resource's quotas (sim/throttle.h); 0: no limit.
  int analyze_rps = 0;
  int status_rps = 0;
  int ops_per_minute = 0;
  int threads = 2;
  std::string log_level = "info";
};

// `lrogate analyze` and `lrogate status`: the client side.
struct ClientConfig {
  std::string gateway = "http://127.0.0.1:8080";
  std::string api_key;  // LROGATE_API_KEY or LROGATE_TOKEN only (never a flag: ps shows flags)
  std::string analyzer;
  std::string url;
  std::string file;
  std::string content_type;  // default: from the file's extension
  std::string output;        // default: stdout
  std::string operation_id;  // status
  bool wait = false;
  milliseconds timeout{30 * 60'000};  // how long --wait waits in all
};

struct Config {
  std::string command;  // "serve", "simulate", "analyze" or "status"
  ServeConfig serve;
  SimulateConfig simulate;
  ClientConfig client;
};

// Parses argv into *out. Returns nullopt to go on, or the exit code to stop
// with (0 for --help/--version, 2 for a bad setting, after printing why to
// stderr). *out is an out-parameter because CLI11 binds each flag to its
// field while it parses.
std::optional<int> parse(int argc, char** argv, Config* out);

}  // namespace lrogate::config
