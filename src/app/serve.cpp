// `lrogate serve`: wires the parts together (docs/design.md, "The parts and
// their directions") and runs until SIGTERM/SIGINT, then drains: stop
// claiming polls, finish requests in flight, exit 0 (docs/design.md,
// "Ownership and shutdown").
#include <algorithm>
#include <csignal>
#include <future>
#include <thread>
#include <vector>

#include "api/cors.h"
#include "api/routes.h"
#include "app/commands.h"
#include "base/ids.h"
#include "base/log.h"
#include "base/strings.h"
#include "core/operation_service.h"
#include "http/client.h"
#include "http/server.h"
#include "poller/poller.h"
#include "store/operation_store.h"
#include "upstream/caller.h"

namespace lrogate::app {

int run_serve(const config::ServeConfig& c) {
  log::Level level;
  if (log::parse_level(c.log_level, &level)) log::set_level(level);

  auto store = store::open_store(c.store);
  if (!store) {
    log::error("cannot open the store",
               {{"error", store.error().message}, {"detail", store.error().detail}});
    return 1;
  }
  SystemClock clock;
  SystemRandom random;
  http::ClientOptions co;
  co.ca_file = c.upstream_ca_file;
  co.max_connections_per_origin = c.max_upstream_connections;
  auto client = http::Client::create(co);
  if (!client) {
    log::error("cannot start the upstream client", {{"error", client.error().message}});
    return 2;
  }
  upstream::Settings settings;
  settings.kind = c.upstream_kind;
  settings.endpoint = c.upstream_endpoint;
  settings.api_version = c.api_version;
  settings.timeout = c.upstream_timeout;
  settings.max_result = c.max_result_size;
  settings.generic.submit_path = c.generic_submit_path;
  settings.generic.status_path = c.generic_status_path;
  settings.generic.url_field = c.generic_url_field;
  settings.generic.shape.status_field = c.generic_status_field;
  settings.generic.shape.succeeded = split_list(c.generic_succeeded);
  settings.generic.shape.failed = split_list(c.generic_failed);
  settings.generic.shape.canceled = split_list(c.generic_canceled);
  settings.generic.shape.result_field = c.generic_result_field;
  settings.generic.shape.error_field = c.generic_error_field;
  auto up = upstream::make_upstream(settings);
  if (!up) {
    log::error("bad upstream settings", {{"error", up.error().message}});
    return 2;
  }
  upstream::AuthSettings auth;
  auth.mode = c.upstream_auth;
  auth.key_header = c.upstream_key_header;
  auth.key = c.upstream_key;
  auth.authority = c.authority;
  auth.tenant_id = c.tenant_id;
  auth.client_id = c.client_id;
  auth.client_secret = c.client_secret;
  auth.scope = c.token_scope;
  auth.imds_endpoint = c.imds_endpoint;
  auth.identity_endpoint = c.identity_endpoint;
  auth.identity_header = c.identity_header;
  auth.timeout = std::min(c.upstream_timeout, std::chrono::milliseconds(10'000));
  auto credential = upstream::make_credential(auth, *client.value(), clock);
  if (!credential) {
    log::error("bad upstream auth settings", {{"error", credential.error().message}});
    return 2;
  }
  upstream::Caller caller(*up.value(), *credential.value(), *client.value(), clock, random);

  core::ServiceConfig sc;
  sc.max_wait = c.max_wait;
  sc.result_ttl = c.result_ttl;
  sc.retrieval_grace = c.retrieval_grace;
  sc.first_poll_delay = std::min(c.poll_interval, std::chrono::milliseconds(1000));
  core::OperationService service(*store.value(), clock, sc);

  poller::PollerConfig pc;
  pc.schedule.poll_interval = c.poll_interval;
  pc.schedule.max_wait = c.max_wait;
  pc.schedule.backoff_base = std::min(c.poll_interval, std::chrono::milliseconds(1000));
  pc.schedule.backoff_cap = std::max(c.max_backoff, pc.schedule.backoff_base);
  pc.lease = c.lease;
  pc.max_inflight = c.max_inflight_polls;
  pc.upstream_rps = c.upstream_rps;
  pc.sweep_interval = c.sweep_interval;
  // Each poller shard polls through a client of its own: its own I/O thread
  // and keep-alive pool (docs/design.md, "Threads"). They stop before the
  // poller and callers declared below them are destroyed (StopClient).
  int shard_count = c.poller_shards > 0
                        ? c.poller_shards
                        : static_cast<int>(std::clamp(std::thread::hardware_concurrency(), 1u, 2u));
  std::vector<std::unique_ptr<http::Client>> shard_clients;
  std::vector<std::unique_ptr<upstream::Caller>> shard_callers;
  std::vector<upstream::Caller*> poll_callers;
  for (int i = 0; i < shard_count && i < std::max(1, c.max_inflight_polls); ++i) {
    auto sc = http::Client::create(co);
    if (!sc) {
      log::error("cannot start a poller shard's client", {{"error", sc.error().message}});
      return 2;
    }
    shard_clients.push_back(std::move(sc).value());
    shard_callers.push_back(std::make_unique<upstream::Caller>(
        *up.value(), *credential.value(), *shard_clients.back(), clock, random));
    poll_callers.push_back(shard_callers.back().get());
  }
  struct StopClients {
    std::vector<std::unique_ptr<http::Client>>& clients;
    ~StopClients() {
      for (auto& sc : clients) sc->shutdown();
    }
  } stop_shard_clients{shard_clients};
  poller::Poller poller(service, poll_callers, clock, random, pc, "node-" + random_uuid());

  api::ApiConfig ac;
  ac.submit_timeout = c.submit_timeout;
  ac.poll_interval = c.poll_interval;
  // With client keys the fallback is off unless asked for: an id started
  // elsewhere belongs to no tenant.
  ac.fallback_lookup = c.fallback_lookup == "on" || (c.fallback_lookup == "auto" &&
                                                     c.api_keys_file.empty() && c.oidc_issuer.empty());
  ac.client_poll_rate = c.client_poll_rate;
  ac.max_polls = c.max_polls;
  ac.max_wait_header = c.max_wait_header;
  ac.public_base_url = c.public_base_url;
  ac.max_body = c.max_body;
  ac.max_json_body = c.max_json_body;
  http::Server* srv_ptr = nullptr;  // set once the server exists; timers start after that
  api::ApiContext ctx(
      service, caller, clock, ac, [&poller, &sc] { poller.wake(sc.first_poll_delay); },
      [&srv_ptr](std::chrono::milliseconds d, std::function<void()> fn) {
        srv_ptr->post_after(d, std::move(fn));
      });
  if (!c.api_keys_file.empty()) {
    auto keys = api::load_api_keys(c.api_keys_file);
    if (!keys) {
      log::error("cannot load the api keys", {{"error", keys.error().message}});
      return 2;
    }
    log::info("api keys loaded", {{"keys", keys->size()}});
    ctx.keys.replace(std::move(keys).value());
  }
  std::optional<api::OidcVerifier> oidc;
  // Whatever way run_serve returns, the client's thread stops before the
  // objects declared above it (the verifier, the poller, the caller, the
  // credential), whose callbacks it runs, are destroyed. The normal exit
  // stops it earlier, explicitly, while the server still exists.
  struct StopClient {
    http::Client& client;
    ~StopClient() { client.shutdown(); }
  } stop_client{*client.value()};
  if (!c.oidc_issuer.empty()) {
    api::OidcSettings os;
    os.issuer = c.oidc_issuer;
    os.extra_issuers = split_list(c.oidc_extra_issuers);
    os.audiences = split_list(c.oidc_audience);
    os.clock_skew = std::chrono::duration_cast<std::chrono::seconds>(c.oidc_clock_skew);
    os.required_scope = c.oidc_required_scope;
    os.required_role = c.oidc_required_role;
    os.tenant_claim = c.oidc_tenant_claim;
    os.group_claim = c.oidc_group_claim;
    os.refresh = c.oidc_jwks_refresh;
    os.min_refetch = c.oidc_min_refetch;
    oidc.emplace(std::move(os), *client.value(), clock);
    ctx.oidc = &*oidc;
    oidc->start();
    log::info("oidc bearer tokens accepted", {{"issuer", c.oidc_issuer}});
  }
  // Every store call the API makes runs here, never on a server I/O thread
  // or in a client callback (docs/design.md, "Threads"): as many threads as
  // the stores serve at once (PostgreSQL's pool, SQLite's readers); past
  // 10,000 waiting, requests are answered 503. Declared before body_work,
  // whose tasks post here, so it stops after it.
  BoundedExecutor store_work(4, 10'000);
  ctx.store_work = &store_work;
  // Large bodies are checked and hashed here, never on a server thread: two
  // at a time (the machine's cores are shared with the I/O threads), a few
  // more waiting, the rest answered 503 (api/submit.h, with_body_work).
  BoundedExecutor body_work(2, 16);
  ctx.body_work = &body_work;
  http::Router router = api::build_router(ctx);
  auto cors = api::parse_cors_origins(c.cors_origins);
  if (!cors) {
    log::error("invalid setting", {{"error", cors.error().message}});
    return 2;
  }
  api::install_cors(router, std::move(cors).value());  // nothing when no origin is listed

  http::ServerOptions so;
  so.host = c.host;
  so.port = c.port;
  so.threads = c.threads;
  so.max_body = c.max_body;
  so.max_header = c.max_header;
  so.max_connections = c.max_connections;
  so.body_limit = [&router](std::string_view method, std::string_view path) {
    return router.body_limit(method, path);
  };
  so.decorate_own_answer = [&router](const http::Request& req, http::Response& res) {
    router.decorate_own_answer(req, res);
  };
  so.header_timeout = c.header_timeout;
  so.body_timeout = c.body_timeout;
  so.idle_timeout = c.idle_timeout;
  so.tls_cert_file = c.tls_cert;
  so.tls_key_file = c.tls_key;
  auto server = http::Server::create(so, [&router](http::Request&& req, http::Responder r) {
    router.dispatch(std::move(req), std::move(r));
  });
  if (!server) {
    log::error("cannot listen", {{"error", server.error().message}});
    // A bad setting (e.g. an unusable TLS file) exits 2 like the others.
    return server.error().code == ErrorCode::kInvalidArgument ? 2 : 1;
  }
  http::Server& srv = *server.value();
  srv_ptr = &srv;
  log::info("listening", {{"address", c.host},
                          {"port", srv.port()},
                          {"store", c.store.substr(0, c.store.find(':'))},
                          {"upstream", up.value()->settings().endpoint},
                          {"upstream_kind", c.upstream_kind},
                          {"upstream_auth", c.upstream_auth},
                          {"poller_shards", poller.shards()},
                          {"api_version", up.value()->settings().api_version},
                          {"tls", !c.tls_cert.empty()}});
  if (!ctx.keys.enabled() && !ctx.oidc) {
    log::warn(
        "no client API keys are configured (--api-keys-file): every caller can use "
        "this gateway; keep it on loopback or behind an authenticating proxy",
        {{"address", c.host}});
  }
  // SIGHUP's file reads (the listener's PEM files, the keys file) run here,
  // not on the signal watcher's I/O thread; declared after the server and
  // ctx it uses, so it stops (finishing a reload under way) before them.
  BoundedExecutor reload_work(1, 1);
  auto reload = [&] {
    if (!c.tls_cert.empty()) {
      if (auto r = srv.reload_tls(); !r) {
        log::error("listener tls not reloaded; the old certificate stays",
                   {{"error", r.error().message}});
      } else {
        log::info("listener tls reloaded");
      }
    }
    if (c.api_keys_file.empty()) return;
    auto keys = api::load_api_keys(c.api_keys_file);
    if (!keys) {
      log::error("api keys not reloaded; the old ones stay", {{"error", keys.error().message}});
      return;
    }
    log::info("api keys reloaded", {{"keys", keys->size()}});
    ctx.keys.replace(std::move(keys).value());
  };
  poller.start();
  // SIGTERM: stop accepting and claiming at once; requests and polls in
  // flight finish (each bounded by --drain-timeout) and record what they got.
  std::promise<void> poller_stopped;
  bool draining = false;
  srv.on_signal([&](int sig) {
    if (sig == SIGHUP) {
      // One reload waiting is enough: it reads the files as they are then.
      if (!reload_work.try_post(reload)) log::info("reload already queued");
      return;
    }
    if (draining) return;
    draining = true;
    log::info("draining", {{"signal", sig}});
    poller.stop([&poller_stopped] { poller_stopped.set_value(); });
    srv.stop(c.drain_timeout);
    service.notifier().notify_all();  // long-polls answer now instead of holding the drain
  });
  srv.run();
  body_work.stop();   // the checks still queued go on to their upstream calls
  store_work.stop();  // so do the submits queued behind them; reads answer
  if (poller_stopped.get_future().wait_for(c.drain_timeout) != std::future_status::ready) {
    log::warn("polls still in flight at exit; they resume on the next start");
  }
  for (auto& sc : shard_clients) sc->shutdown();
  client.value()->shutdown();
  log::info("stopped");
  return 0;
}

}  // namespace lrogate::app
