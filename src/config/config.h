// Config: flags and environment turned into one immutable, validated value
// per subcommand. Every flag FOO-BAR also reads LROGATE_FOO_BAR; flags win.
// The upstream endpoint and key also read AZURE_CU_ENDPOINT / AZURE_CU_KEY.
// Every limit has its default here and in --help.
#pragma once

#include <chrono>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "base/result.h"

namespace lrogate::config {

using std::chrono::milliseconds;

struct ServeConfig {
  std::string host = "127.0.0.1";
  std::uint16_t port = 8080;
  std::string upstream_endpoint;
  std::string upstream_key;  // secret: never logged
  std::string upstream_kind = "azure-cu";
  std::string api_version;  // "": the adapter's default
  std::string upstream_ca_file;
  // Upstream authentication (upstream/auth/credential.h).
  std::string upstream_auth = "key";  // key | client-credentials | managed-identity
  std::string upstream_key_header = "ocp-apim-subscription-key";
  std::string tenant_id;      // AZURE_TENANT_ID
  std::string client_id;      // AZURE_CLIENT_ID
  std::string client_secret;  // AZURE_CLIENT_SECRET only (never a flag): secret
  std::string authority = "https://login.microsoftonline.com";  // AZURE_AUTHORITY_HOST
  std::string token_scope = "https://cognitiveservices.azure.com/.default";
  std::string imds_endpoint = "http://169.254.169.254";
  std::string identity_endpoint;  // IDENTITY_ENDPOINT
  std::string identity_header;    // IDENTITY_HEADER only: secret
  // The generic upstream (--upstream-kind generic).
  std::string generic_submit_path = "/jobs/{analyzerId}";
  std::string generic_status_path;
  std::string generic_status_field = "status";
  std::string generic_succeeded = "Succeeded";
  std::string generic_failed = "Failed";
  std::string generic_canceled = "Canceled";
  std::string generic_result_field = "result";
  std::string generic_error_field = "error";
  std::string generic_url_field = "url";
  std::string store = "sqlite:lrogate.db";
  milliseconds poll_interval{10'000};
  milliseconds max_wait{30 * 60'000};
  milliseconds result_ttl{3'600'000};
  milliseconds retrieval_grace{5 * 60'000};
  milliseconds submit_timeout{20'000};
  milliseconds upstream_timeout{30'000};
  milliseconds sweep_interval{10'000};
  milliseconds lease{60'000};
  milliseconds max_backoff{60'000};
  milliseconds header_timeout{10'000};
  milliseconds body_timeout{60'000};
  milliseconds idle_timeout{60'000};
  milliseconds drain_timeout{10'000};
  milliseconds max_wait_header{60'000};
  double client_poll_rate = 1;
  int max_polls = 1000;
  int max_inflight_polls = 64;
  double upstream_rps = 50;
  int poller_shards = 0;  // 0: min(2, cores)
  std::size_t max_body = 64u << 20;      // bodies that are only forwarded (:analyze)
  std::size_t max_json_body = 1u << 20;  // JSON bodies whose fields are read (POST /operations)
  std::size_t max_header = 16u << 10;
  std::size_t max_result_size = 64u << 20;
  std::size_t max_connections = 10'000;
  std::size_t max_upstream_connections = 128;  // per upstream origin
  std::string public_base_url;                 // "": Operation-Location and nextLink are relative
  int threads = 2;
  std::string fallback_lookup = "auto";  // auto: on without api keys, off with them
  std::string api_keys_file;
  // Listener TLS: both set, the listener serves HTTPS; reloaded on SIGHUP.
  std::string tls_cert;  // PEM certificate chain
  std::string tls_key;   // PEM private key
  // OIDC bearer tokens (api/oidc.h); issuer "": off.
  std::string oidc_issuer;
  std::string oidc_audience;       // comma-separated
  std::string oidc_extra_issuers;  // comma-separated
  milliseconds oidc_clock_skew{60'000};
  std::string oidc_required_scope;
  std::string oidc_required_role;
  std::string oidc_tenant_claim = "tid";
  std::string oidc_group_claim = "groups";
  milliseconds oidc_jwks_refresh{3'600'000};
  milliseconds oidc_min_refetch{30'000};
  std::string cors_origins;  // comma-separated origins or "*"; "": CORS off
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
  milliseconds result_ttl{24 * 3'600'000};
  milliseconds latency{0};
  std::vector<std::string> analyzers;
  milliseconds analyzer_create_duration{2'000};  // PUT .../analyzers/{id} until ready
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

// Parses argv. Returns -1 with *out filled to go on, or an exit code (0 for
// --help/--version, 2 for a bad setting, after printing why to stderr).
int parse(int argc, char** argv, Config* out);

// The largest size any size flag takes: 1TiB.
inline constexpr std::size_t kMaxSize = std::size_t{1} << 40;

// "64MiB", "16KiB", "1024", "2M": bytes (units B, K/KB/KiB, M/MB/MiB,
// G/GB/GiB, all powers of two). A value over limit, in any unit, is an error
// that names the limit; so is anything but digits and one of those units.
Result<std::size_t> parse_size(std::string_view text, std::size_t limit = kMaxSize);
// The same as a yes or no, at kMaxSize; *out is set only on success.
bool parse_size(const std::string& text, std::size_t* out);
// An absolute http(s) base URL that the http client parses as such: a host
// (a name, IPv4, or [IPv6]), an optional port 1-65535 and an optional path,
// no user info, query, fragment, spaces or bad percent-escapes
// (--public-base-url, --oidc-issuer, --gateway).
bool valid_base_url(const std::string& url);
// "127.0.0.1:8080" → host, port.
bool parse_listen(const std::string& text, std::string* host, std::uint16_t* port);

}  // namespace lrogate::config
