#include "config/config.h"

#include <CLI/CLI.hpp>
#include <algorithm>
#include <cctype>
#include <cstdlib>
#include <iostream>

#include "base/duration.h"
#include "base/strings.h"
#include "config/pool_file.h"

namespace lrogate::config {
namespace {

std::string env_name(const std::string& flag) {
  std::string e = "LROGATE_";
  for (char c : flag)
    e += c == '-' ? '_' : static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
  return e;
}

// Durations and sizes are read as text, then checked with a message that
// names the flag.
struct Deferred {
  std::vector<std::pair<std::string, std::pair<std::string*, milliseconds*>>> durations;
  struct Size {
    std::string* text;
    std::size_t* value;
    std::size_t limit;
  };
  std::vector<std::pair<std::string, Size>> sizes;
};

template <class T>
CLI::Option* flag(CLI::App* app, const std::string& name, T* value, const std::string& help) {
  return app->add_option("--" + name, *value, help)
      ->envname(env_name(name))
      ->capture_default_str()
      ->multi_option_policy(CLI::MultiOptionPolicy::TakeLast);
}

void duration_flag(CLI::App* app, Deferred* d, std::vector<std::unique_ptr<std::string>>* keep,
                   const std::string& name, milliseconds* value, const std::string& help) {
  keep->push_back(std::make_unique<std::string>(format_duration(*value)));
  std::string* text = keep->back().get();
  app->add_option("--" + name, *text, help)
      ->envname(env_name(name))
      ->capture_default_str()
      ->multi_option_policy(CLI::MultiOptionPolicy::TakeLast);
  d->durations.push_back({name, {text, value}});
}

void size_flag(CLI::App* app, Deferred* d, std::vector<std::unique_ptr<std::string>>* keep,
               const std::string& name, std::size_t* value, const std::string& help,
               std::size_t limit = kMaxSize) {
  keep->push_back(std::make_unique<std::string>(format_size(*value)));
  std::string* text = keep->back().get();
  app->add_option("--" + name, *text,
                  limit == kMaxSize ? help : help + " (at most " + format_size(limit) + ")")
      ->envname(env_name(name))
      ->capture_default_str()
      ->multi_option_policy(CLI::MultiOptionPolicy::TakeLast);
  d->sizes.push_back({name, {text, value, limit}});
}

// Counts and rates: plain decimal digits, with a fraction if allowed, leading
// zeros dropped. CLI11 alone reads integers with strtoll base 0 ("010" is 8,
// "0x10" 16), floats with strtold ("nan", "inf", "0x1p3", " 5"), and its Range
// lets NaN through. A transform, so that it runs before Range and the
// conversion, in the order added.
CLI::Validator decimal(bool fraction) {
  return CLI::Validator(
      [fraction](std::string& text) -> std::string {
        std::size_t i = 0;
        while (i < text.size() && std::isdigit(static_cast<unsigned char>(text[i]))) ++i;
        bool ok = i > 0 && i <= 12;
        if (ok && fraction && i < text.size() && text[i] == '.') {
          std::size_t f = ++i;
          while (i < text.size() && std::isdigit(static_cast<unsigned char>(text[i]))) ++i;
          ok = i > f && i - f <= 6;
        }
        if (ok && i == text.size()) {
          std::size_t zeros = 0;
          while (zeros + 1 < text.size() && text[zeros] == '0' &&
                 std::isdigit(static_cast<unsigned char>(text[zeros + 1]))) {
            ++zeros;
          }
          text.erase(0, zeros);
          return {};
        }
        return "'" + text.substr(0, 32) + "' is not a decimal number" +
               (fraction ? " (e.g. 2 or 0.5)" : " (e.g. 8)");
      },
      fraction ? "DECIMAL" : "INT");
}

}  // namespace

std::optional<int> parse(int argc, char** argv, Config* out) {
  CLI::App app{"lrogate: a gateway for long-running upstream operations (hybrid polling)"};
  app.set_version_flag("--version", "lrogate 0.1.0");
  app.require_subcommand(1);
  Deferred d;
  std::vector<std::unique_ptr<std::string>> keep;
  ServeConfig& s = out->serve;
  SimulateConfig& m = out->simulate;

  auto* serve = app.add_subcommand("serve", "Run the gateway");
  s.server.port = 8080;
  std::string serve_listen = s.server.host + ":" + std::to_string(s.server.port);
  // Flags that are lists, or that feed a part in another form, are read as
  // text first (turned into the parts' fields after parsing).
  std::string generic_succeeded = "Succeeded", generic_failed = "Failed",
              generic_canceled = "Canceled";
  s.upstream.generic.shape.result_field = "result";
  std::string oidc_audience, oidc_extra_issuers;
  milliseconds oidc_clock_skew = s.oidc.clock_skew;
  std::string fallback_lookup = "auto";
  std::string poll_schedule = "learned";
  std::string webhook_hosts, webhook_networks, webhook_format = "standard";
  std::string webhook_schedule = "5s,5m,30m,2h,5h,10h,10h";
  flag(serve, "listen", &serve_listen, "Address to listen on (host:port; port 0 picks one)");
  flag(serve, "upstream-endpoint", &s.upstream.endpoint,
       "Upstream endpoint, e.g. https://RES.services.ai.azure.com (env AZURE_CU_ENDPOINT too)");
  serve
      ->add_option("--upstream-key", s.auth.key,
                   "Upstream key (env AZURE_CU_KEY too; prefer the environment)")
      ->envname("LROGATE_UPSTREAM_KEY");
  auto* upstreams = flag(serve, "upstreams", &s.upstreams_file,
                         "Upstream pool file (TOML; docs/upstream-pool.md): the resources, their "
                         "endpoints, credentials, weights and limits, instead of "
                         "--upstream-endpoint and --upstream-key");
  upstreams->excludes(serve->get_option("--upstream-endpoint"))
      ->excludes(serve->get_option("--upstream-key"));
  flag(serve, "upstream-kind", &s.upstream.kind, "Upstream adapter: azure-cu, azure-di, generic");
  flag(serve, "api-version", &s.upstream.api_version,
       "Upstream api-version (default: azure-cu 2025-05-01-preview, azure-di 2024-11-30)");
  flag(serve, "upstream-auth", &s.auth.mode,
       "How the gateway authenticates upstream: key, client-credentials (Entra ID app: "
       "AZURE_TENANT_ID, AZURE_CLIENT_ID, AZURE_CLIENT_SECRET) or managed-identity")
      ->check(CLI::IsMember({"key", "client-credentials", "managed-identity"}));
  flag(serve, "upstream-key-header", &s.auth.key_header, "Header that carries the key");
  flag(serve, "tenant-id", &s.auth.tenant_id, "Entra ID tenant (env AZURE_TENANT_ID too)");
  flag(serve, "client-id", &s.auth.client_id,
       "Entra ID app id, or a user-assigned identity's client id (env AZURE_CLIENT_ID too)");
  flag(serve, "authority", &s.auth.authority,
       "Entra ID authority host (env AZURE_AUTHORITY_HOST too; the token URL is "
       "AUTHORITY/TENANT/oauth2/v2.0/token)");
  flag(serve, "token-scope", &s.auth.scope, "Scope of upstream tokens");
  flag(serve, "imds-endpoint", &s.auth.imds_endpoint,
       "Instance Metadata Service (managed identity without IDENTITY_ENDPOINT)");
  flag(serve, "generic-submit-path", &s.upstream.generic.submit_path,
       "generic: path a submit is POSTed to ({analyzerId}, {apiVersion})");
  flag(serve, "generic-status-path", &s.upstream.generic.status_path,
       "generic: status path of an operation by id, for fallback lookups ({operationId})");
  flag(serve, "generic-status-field", &s.upstream.generic.shape.status_field,
       "generic: field of the status (dotted path)");
  flag(serve, "generic-succeeded", &generic_succeeded, "generic: success values, comma-separated");
  flag(serve, "generic-failed", &generic_failed, "generic: failure values, comma-separated");
  flag(serve, "generic-canceled", &generic_canceled, "generic: canceled values, comma-separated");
  flag(serve, "generic-result-field", &s.upstream.generic.shape.result_field,
       "generic: field a success must carry (dotted path; empty: not checked)");
  flag(serve, "generic-error-field", &s.upstream.generic.shape.error_field,
       "generic: field of a failure's {code,message} or message");
  flag(serve, "generic-url-field", &s.upstream.generic.url_field,
       "generic: field a document URL is sent in ({FIELD: URL})");
  flag(serve, "upstream-ca-file", &s.client.ca_file, "Extra CA certificate (PEM) to trust");
  flag(serve, "store", &s.store,
       "Operation store: sqlite:PATH (one process) or postgresql://user@host:port/db (replicas)");
  duration_flag(serve, &d, &keep, "poll-interval", &s.poller.schedule.poll_interval,
                "Upstream poll interval");
  flag(serve, "poll-schedule", &poll_schedule,
       "learned: skip the polls that each analyzer's learned durations say find nothing "
       "(never later than fixed for durations seen before); fixed: every --poll-interval")
      ->check(CLI::IsMember({"learned", "fixed"}));
  duration_flag(serve, &d, &keep, "max-wait", &s.service.max_wait,
                "Give up (Failed/Timeout) after this long");
  duration_flag(serve, &d, &keep, "result-ttl", &s.service.result_ttl,
                "Keep unretrieved results this long");
  duration_flag(serve, &d, &keep, "retrieval-grace", &s.service.retrieval_grace,
                "Keep a result this long after its first retrieval (0s: delete on read)");
  duration_flag(serve, &d, &keep, "submit-timeout", &s.api.submit_timeout,
                "Budget for starting an analysis upstream, retries included");
  duration_flag(serve, &d, &keep, "upstream-timeout", &s.upstream.timeout,
                "Deadline of one upstream call");
  duration_flag(serve, &d, &keep, "sweep-interval", &s.poller.sweep_interval,
                "How often expired records are deleted");
  duration_flag(serve, &d, &keep, "lease", &s.poller.lease, "Poll lease length");
  duration_flag(serve, &d, &keep, "max-backoff", &s.poller.schedule.backoff_cap,
                "Longest wait between polls after upstream faults (Retry-After may ask longer)");
  duration_flag(serve, &d, &keep, "header-timeout", &s.server.header_timeout,
                "Deadline to receive a request header");
  duration_flag(serve, &d, &keep, "body-timeout", &s.server.body_timeout,
                "Deadline to receive a request body");
  duration_flag(serve, &d, &keep, "idle-timeout", &s.server.idle_timeout,
                "Keep-alive idle timeout");
  duration_flag(serve, &d, &keep, "max-wait-header", &s.api.max_wait_header,
                "Longest long-poll a client may ask for with Prefer: wait=N");
  duration_flag(serve, &d, &keep, "drain-timeout", &s.drain_timeout,
                "On SIGTERM, wait this long for requests in flight");
  flag(serve, "client-poll-rate", &s.api.client_poll_rate,
       "Client polls per second per operation (0: no limit)")
      ->transform(decimal(true))
      ->check(CLI::Range(0.0, 1e6));
  flag(serve, "max-polls", &s.api.max_polls, "Processing answers per operation (0: no limit)")
      ->transform(decimal(false))
      ->check(CLI::Range(0, 1 << 30));
  flag(serve, "webhook-allowed-hosts", &webhook_hosts,
       "Hosts a submit's callbackUrl may name, comma-separated (exact, or *.domain); "
       "none: no callbacks");
  flag(serve, "webhook-allowed-networks", &webhook_networks,
       "CIDRs a callback may reach although loopback, private or link-local "
       "(refused otherwise, checked after DNS)");
  flag(serve, "webhook-secrets-file", &s.webhooks.secrets_file,
       "Webhook signing secrets, one 'tenant:whsec_BASE64' a line, at most two a tenant");
  duration_flag(serve, &d, &keep, "webhook-timeout", &s.webhooks.timeout,
                "Deadline of one webhook attempt, connect to answer");
  flag(serve, "webhook-retry-schedule", &webhook_schedule,
       "Waits after each failed webhook attempt, comma-separated (+-20% jitter); after the "
       "last the delivery has failed");
  flag(serve, "webhook-max-in-flight", &s.webhooks.max_in_flight,
       "Webhook attempts awaiting an answer at once")
      ->transform(decimal(false))
      ->check(CLI::Range(1, 10000));
  flag(serve, "webhook-max-in-flight-per-receiver", &s.webhooks.max_in_flight_per_url,
       "... to one callback URL")
      ->transform(decimal(false))
      ->check(CLI::Range(1, 1000));
  flag(serve, "webhook-format", &webhook_format,
       "Event body: standard (the status monitor) or cloudevents (CloudEvents 1.0, structured)")
      ->check(CLI::IsMember({"standard", "cloudevents"}));
  duration_flag(serve, &d, &keep, "webhook-keep", &s.service.deliveries_kept,
                "How long delivered and failed webhook deliveries stay listed");
  flag(serve, "max-inflight-polls", &s.poller.max_inflight,
       "Upstream polls in flight at once (0: this replica never polls, it only answers clients)")
      ->transform(decimal(false))
      ->check(CLI::Range(0, 100000));
  flag(serve, "poller-shards", &s.poller_shards,
       "Poller shards, each with its own I/O thread, upstream connections and store thread "
       "(0: min(2, cores))")
      ->transform(decimal(false))
      ->check(CLI::Range(0, 64));
  flag(serve, "upstream-rps", &s.poller.upstream_rps, "Upstream polls per second (0: no limit)")
      ->transform(decimal(true))
      ->check(CLI::Range(0.0, 1e6));
  size_flag(serve, &d, &keep, "max-body", &s.server.max_body,
            "Largest request body of a forwarded submit (:analyze; 413 beyond)");
  size_flag(serve, &d, &keep, "max-json-body", &s.api.max_json_body,
            "Largest JSON body whose fields the gateway reads (POST /operations; 413 beyond)");
  size_flag(serve, &d, &keep, "max-header", &s.server.max_header,
            "Largest request header (431 beyond)",
            std::size_t{1} << 30);  // the parser's header limit is 32 bits
  size_flag(serve, &d, &keep, "max-result-size", &s.upstream.max_result,
            "Largest upstream result accepted");
  size_flag(serve, &d, &keep, "max-connections", &s.server.max_connections,
            "Client connections served at once");
  size_flag(serve, &d, &keep, "max-upstream-connections", &s.client.max_connections_per_origin,
            "Connections open to one upstream origin at once; further calls wait for one");
  flag(serve, "public-base-url", &s.api.public_base_url,
       "Base URL clients reach the gateway at (https://host[:port][/prefix]); absolute "
       "Operation-Location and nextLink URLs start with it (default: relative URLs)");
  flag(serve, "threads", &s.server.threads, "Server threads")
      ->transform(decimal(false))
      ->check(CLI::Range(1, 64));
  flag(serve, "fallback-lookup", &fallback_lookup,
       "Ask the upstream about ids the store does not know (auto: on unless --api-keys-file)")
      ->check(CLI::IsMember({"auto", "on", "off"}));
  flag(serve, "api-keys-file", &s.api_keys_file,
       "Client keys, one 'tenant:key' or 'tenant:sha256:HEX' a line; reloaded on SIGHUP");
  flag(serve, "tenants-file", &s.tenants_file,
       "Per-tenant settings (TOML: operator, operations_per_day, pages_per_day, ...); "
       "reloaded on SIGHUP");
  flag(serve, "tls-cert", &s.server.tls_cert_file,
       "Serve HTTPS with this certificate chain (PEM; with --tls-key); reloaded on SIGHUP");
  flag(serve, "tls-key", &s.server.tls_key_file, "... and this private key (PEM)");
  flag(serve, "oidc-issuer", &s.oidc.issuer,
       "Accept bearer tokens from this OpenID Connect issuer (Entra ID: "
       "https://login.microsoftonline.com/TENANT/v2.0); https, or http on loopback");
  flag(serve, "oidc-audience", &oidc_audience,
       "Accepted token audiences, comma-separated (the API app's client id, api://...)");
  flag(serve, "oidc-extra-issuers", &oidc_extra_issuers,
       "More accepted iss values, comma-separated (Entra ID v1 tokens: "
       "https://sts.windows.net/TENANT/)");
  duration_flag(serve, &d, &keep, "oidc-clock-skew", &oidc_clock_skew,
                "Clock skew allowed on exp, nbf and iat");
  flag(serve, "oidc-required-scope", &s.oidc.required_scope, "A scope tokens must carry (scp)");
  flag(serve, "oidc-required-role", &s.oidc.required_role, "An app role tokens must carry (roles)");
  flag(serve, "oidc-tenant-claim", &s.oidc.tenant_claim, "Claim naming the caller's tenant");
  flag(serve, "oidc-group-claim", &s.oidc.group_claim,
       "Claim listing the caller's groups (X-Group-ID must name one)");
  duration_flag(serve, &d, &keep, "oidc-jwks-refresh", &s.oidc.refresh,
                "How often the issuer's signing keys are fetched again");
  duration_flag(serve, &d, &keep, "oidc-min-refetch", &s.oidc.min_refetch,
                "Least time between fetches caused by tokens with unknown key ids");
  flag(serve, "cors-origins", &s.cors_origins,
       "Browser origins allowed to call the API (CORS), comma-separated, or *; default none");
  flag(serve, "log-level", &s.log_level, "debug|info|warn|error")
      ->check(CLI::IsMember({"debug", "info", "warn", "error"}));

  auto* sim = app.add_subcommand("simulate", "Run the Azure Content Understanding simulator");
  std::string sim_listen = m.host + ":" + std::to_string(m.port);
  std::string analyzers =
      "prebuilt-documentAnalyzer,prebuilt-layout,prebuilt-invoice,prebuilt-read,pro-demo,"
      "pro-invoice,test-analyzer";
  flag(sim, "listen", &sim_listen, "Address to listen on (host:port)");
  sim->add_option("--key", m.key, "Subscription key clients must send")
      ->envname("LROGATE_SIM_KEY")
      ->required();
  duration_flag(sim, &d, &keep, "token-lifetime", &m.token_lifetime,
                "Lifetime of the tokens its token endpoints issue");
  duration_flag(sim, &d, &keep, "token-delay", &m.token_delay, "Delay added to every token answer");
  flag(sim, "token-faults", &m.token_faults,
       "Answers of successive token requests before good ones, e.g. 503,500");
  flag(sim, "tls-cert", &m.tls_cert, "Serve HTTPS with this certificate chain (PEM)");
  flag(sim, "tls-key", &m.tls_key, "... and this private key (PEM)");
  duration_flag(sim, &d, &keep, "duration", &m.duration, "Default analysis duration");
  sim->add_option("--analyzer-duration", m.analyzer_durations,
                  "Durations of an analyzer's operations, drawn per document: "
                  "NAME=fixed:5s, NAME=lognormal:MEDIAN:SIGMA (e.g. 120s:0.3) or "
                  "NAME=bimodal:MEDIAN1:MEDIAN2:SIGMA (half at each); NAME * for every other "
                  "analyzer; repeatable or comma-separated; a document's sim_duration= wins")
      ->envname(env_name("analyzer-duration"))
      ->delimiter(',')
      ->multi_option_policy(CLI::MultiOptionPolicy::TakeAll);
  flag(sim, "seed", &m.seed,
       "Seed of the --analyzer-duration draws: simulators with the same seed give a document "
       "the same duration")
      ->transform(decimal(false));
  duration_flag(sim, &d, &keep, "result-ttl", &m.result_ttl, "How long results stay readable");
  duration_flag(sim, &d, &keep, "latency", &m.latency, "Delay added to every answer");
  flag(sim, "analyzers", &analyzers, "Known analyzer ids, comma-separated");
  duration_flag(sim, &d, &keep, "analyzer-create-duration", &m.analyzer_create_duration,
                "Time a created analyzer takes to be ready (sim_duration= in its description "
                "overrides)");
  flag(sim, "analyze-rps", &m.analyze_rps,
       "Analyze-type calls (submits, analyzer PUT/DELETE) admitted in any 1 s window; over it "
       "429 + Retry-After (0: no limit; Document Intelligence S0: 15)")
      ->transform(decimal(false))
      ->check(CLI::Range(0, 100'000));
  flag(sim, "status-rps", &m.status_rps,
       "Status-type calls (result polls, analyzer GETs) admitted in any 1 s window (0: no limit; "
       "Document Intelligence S0: 50)")
      ->transform(decimal(false))
      ->check(CLI::Range(0, 100'000));
  flag(sim, "ops-per-minute", &m.ops_per_minute,
       "Calls of both kinds admitted in any 60 s window (0: no limit; Content Understanding S0: "
       "3000)")
      ->transform(decimal(false))
      ->check(CLI::Range(0, 1'000'000));
  flag(sim, "threads", &m.threads, "Server threads")
      ->transform(decimal(false))
      ->check(CLI::Range(1, 64));
  flag(sim, "log-level", &m.log_level, "debug|info|warn|error");

  ClientConfig& cl = out->client;
  auto* analyze = app.add_subcommand("analyze", "Submit a document to a gateway (and wait for it)");
  flag(analyze, "gateway", &cl.gateway, "Gateway base URL");
  flag(analyze, "analyzer", &cl.analyzer, "Analyzer id")->required();
  auto* url_opt = analyze->add_option("--url", cl.url, "Document URL the upstream fetches");
  auto* file_opt =
      analyze->add_option("--file", cl.file, "Local document to upload")->check(CLI::ExistingFile);
  url_opt->excludes(file_opt);
  analyze->add_option("--content-type", cl.content_type,
                      "Content-Type of --file (default: by extension)");
  analyze->add_flag("--wait", cl.wait, "Wait for the outcome (long-poll), then write the result");
  analyze->add_option("--output", cl.output, "Write the result here instead of stdout");
  duration_flag(analyze, &d, &keep, "timeout", &cl.timeout, "Give up waiting after this long");
  auto* status = app.add_subcommand("status", "Show an operation's status monitor");
  flag(status, "gateway", &cl.gateway, "Gateway base URL");
  status->add_option("id", cl.operation_id, "Operation id")->required();
  status->add_flag("--wait", cl.wait, "Wait until the operation is final");

  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    // --help/--version print and exit 0; every refused setting exits 2, as
    // the checks below do (CLI11's own codes would be 105, 106, ...).
    int code = app.exit(e);
    return code == 0 ? 0 : 2;
  }
  auto bad = [](const std::string& msg) {
    std::cerr << "lrogate: " << msg << "\n";
    return 2;
  };
  for (auto& [name, p] : d.durations) {
    auto r = parse_duration(*p.first);
    if (!r) return bad("--" + name + ": " + r.error().message);
    *p.second = r.value();
  }
  for (auto& [name, size] : d.sizes) {
    auto r = parse_size(*size.text, size.limit);
    if (!r) return bad("--" + name + ": " + r.error().message);
    *size.value = r.value();
  }
  if (*analyze || *status) {
    out->command = *analyze ? "analyze" : "status";
    if (const char* k = std::getenv("LROGATE_API_KEY")) cl.api_key = k;
    // An OIDC bearer token (e.g. from `az account get-access-token`) goes out
    // the same way; set one or the other.
    if (const char* t = std::getenv("LROGATE_TOKEN"); t && *t) {
      if (!cl.api_key.empty()) return bad("set LROGATE_API_KEY or LROGATE_TOKEN, not both");
      cl.api_key = t;
    }
    if (*analyze && cl.url.empty() && cl.file.empty()) return bad("analyze needs --url or --file");
    while (!cl.gateway.empty() && cl.gateway.back() == '/') cl.gateway.pop_back();
    if (!valid_base_url(cl.gateway)) {
      // Not echoed: a URL may carry user info.
      return bad(
          "--gateway must be an http:// or https:// URL with a host, an optional port "
          "(1-65535) and path, and no user info, query or fragment, e.g. http://127.0.0.1:8080");
    }
    return std::nullopt;
  }
  if (*serve) {
    out->command = "serve";
    auto listen = parse_listen(serve_listen);
    if (!listen) return bad("--listen: expected host:port");
    s.server.host = listen->host;
    s.server.port = listen->port;
    if (s.upstream.endpoint.empty()) {
      if (const char* e = std::getenv("AZURE_CU_ENDPOINT")) s.upstream.endpoint = e;
    }
    if (s.auth.key.empty()) {
      if (const char* e = std::getenv("AZURE_CU_KEY")) s.auth.key = e;
    }
    // With a pool file, each resource names its endpoint and credentials there.
    const bool pool_file = !s.upstreams_file.empty();
    if (!pool_file && s.upstream.endpoint.empty()) {
      return bad(
          "no upstream endpoint: set --upstream-endpoint or AZURE_CU_ENDPOINT "
          "(for a local one, run `lrogate simulate --key K`)");
    }
    auto env = [](const char* name, std::string* to) {
      if (const char* e = std::getenv(name); e && to->empty()) *to = e;
    };
    env("AZURE_TENANT_ID", &s.auth.tenant_id);
    env("AZURE_CLIENT_ID", &s.auth.client_id);
    env("AZURE_CLIENT_SECRET", &s.auth.client_secret);
    env("IDENTITY_ENDPOINT", &s.auth.identity_endpoint);
    env("IDENTITY_HEADER", &s.auth.identity_header);
    if (const char* e = std::getenv("AZURE_AUTHORITY_HOST");
        e && *e && !serve->get_option("--authority")->count() &&
        !std::getenv("LROGATE_AUTHORITY")) {
      s.auth.authority = e;
    }
    if (!pool_file && s.auth.mode == "key" && s.auth.key.empty()) {
      return bad("no upstream key: set AZURE_CU_KEY or --upstream-key (or --upstream-auth)");
    }
    if (auto v = check_api_version(s.upstream.api_version); !v) {
      return bad("--api-version: " + v.error().message);
    }
    const milliseconds poll_interval = s.poller.schedule.poll_interval;
    if (poll_interval.count() < 100) return bad("--poll-interval must be at least 100ms");
    if (s.service.max_wait < poll_interval)
      return bad("--max-wait must be at least --poll-interval");
    if (s.service.result_ttl.count() <= 0) return bad("--result-ttl must be positive");
    if (s.service.result_ttl >= std::chrono::hours(24)) {
      return bad("--result-ttl must stay below 24h: the upstream keeps results no longer");
    }
    if (s.poller.lease.count() < s.upstream.timeout.count() + 1000) {
      return bad("--lease must exceed --upstream-timeout by at least 1s");
    }
    if (s.client.max_connections_per_origin < 1) {
      return bad("--max-upstream-connections must be at least 1");
    }
    s.webhooks.allowed_hosts = split_list(webhook_hosts);
    s.webhooks.allowed_networks = split_list(webhook_networks);
    s.webhooks.cloudevents = webhook_format == "cloudevents";
    s.webhooks.retry_schedule.clear();
    for (const auto& w : split_list(webhook_schedule)) {
      auto v = parse_duration(w);
      if (!v || v->count() < 100) {
        return bad("--webhook-retry-schedule: each wait is a duration of at least 100ms");
      }
      s.webhooks.retry_schedule.push_back(*v);
    }
    if (s.webhooks.retry_schedule.size() > 20) {
      return bad("--webhook-retry-schedule: at most 20 waits");
    }
    if (!s.webhooks.allowed_hosts.empty() && s.webhooks.secrets_file.empty()) {
      return bad("--webhook-allowed-hosts needs --webhook-secrets-file: events are signed");
    }
    // A claimed delivery may wait one attempt's time for its receiver's
    // place, then take its own: both within the claim's lease.
    if (s.webhooks.timeout.count() < 100 ||
        (!s.webhooks.allowed_hosts.empty() &&
         2 * s.webhooks.timeout.count() + 1000 > s.poller.lease.count())) {
      return bad("--webhook-timeout must be at least 100ms, and twice it 1s shorter than --lease");
    }
    if (s.service.deliveries_kept.count() <= 0) return bad("--webhook-keep must be positive");
    s.oidc.audiences = split_list(oidc_audience);
    s.oidc.extra_issuers = split_list(oidc_extra_issuers);
    s.oidc.clock_skew = std::chrono::duration_cast<std::chrono::seconds>(oidc_clock_skew);
    if (!s.oidc.issuer.empty()) {
      if (!https_or_loopback(s.oidc.issuer)) {
        return bad("--oidc-issuer must be an https URL (plain http only on loopback)");
      }
      if (s.oidc.audiences.empty()) {
        return bad("--oidc-audience is required with --oidc-issuer (the API app's client id)");
      }
      if (s.oidc.tenant_claim.empty() || s.oidc.group_claim.empty()) {
        return bad("--oidc-tenant-claim and --oidc-group-claim must name a claim");
      }
    }
    if (s.api.max_json_body < 1024) return bad("--max-json-body must be at least 1KiB");
    if (s.server.tls_cert_file.empty() != s.server.tls_key_file.empty()) {
      return bad("--tls-cert and --tls-key go together: set both or neither");
    }
    std::string& base = s.api.public_base_url;
    if (!base.empty()) {
      while (base.size() > 1 && base.back() == '/') base.pop_back();
      if (!valid_base_url(base)) {
        return bad(
            "--public-base-url must be an absolute http(s) URL without query or fragment, "
            "e.g. https://lro.contoso.com or https://api.contoso.com/lro");
      }
    }
    // One flag, several parts.
    s.upstream.generic.shape.succeeded = split_list(generic_succeeded);
    s.upstream.generic.shape.failed = split_list(generic_failed);
    s.upstream.generic.shape.canceled = split_list(generic_canceled);
    s.auth.timeout = std::min(s.upstream.timeout, milliseconds(10'000));
    s.service.first_poll_delay = std::min(poll_interval, milliseconds(1000));
    s.service.learned_schedule = poll_schedule == "learned";
    s.service.shape.first_poll_delay = s.service.first_poll_delay.count();
    s.service.shape.poll_interval = poll_interval.count();
    s.poller.schedule.learned = s.service.learned_schedule;
    s.poller.schedule.first_poll_delay = s.service.first_poll_delay;
    s.poller.schedule.max_wait = s.service.max_wait;
    s.poller.schedule.backoff_base = std::min(poll_interval, milliseconds(1000));
    s.poller.schedule.backoff_cap =
        std::max(s.poller.schedule.backoff_cap, s.poller.schedule.backoff_base);
    s.service.shape.tail_cap = s.poller.schedule.backoff_cap.count();
    s.api.poll_interval = poll_interval;
    s.api.max_body = s.server.max_body;
    // With client keys the fallback is off unless asked for: an id started
    // elsewhere belongs to no tenant.
    s.api.fallback_lookup =
        fallback_lookup == "on" ||
        (fallback_lookup == "auto" && s.api_keys_file.empty() && s.oidc.issuer.empty());
    // Read once here so that a bad pool file stops the start with its reason;
    // serve reads it again (and on SIGHUP) for the pool it runs.
    if (pool_file) {
      if (auto pool = load_pool(s); !pool) return bad(pool.error().message);
    }
  } else {
    out->command = "simulate";
    auto listen = parse_listen(sim_listen);
    if (!listen) return bad("--listen: expected host:port");
    m.host = listen->host;
    m.port = listen->port;
    if ((m.tls_cert.empty()) != (m.tls_key.empty()))
      return bad("--tls-cert and --tls-key go together");
    if (const char* e = std::getenv("LROGATE_SIM_CLIENT_SECRET")) m.client_secret = e;
    if (const char* e = std::getenv("LROGATE_SIM_IDENTITY_HEADER")) m.identity_header = e;
    m.analyzers = split_list(analyzers);
  }
  return std::nullopt;
}

}  // namespace lrogate::config
