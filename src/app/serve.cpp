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
  if (auto level = log::parse_level(c.log_level)) log::set_level(*level);

  auto store = store::open_store(c.store);
  if (!store) {
    log::error("cannot open the store",
               {{"error", store.error().message}, {"detail", store.error().detail}});
    return 1;
  }
  SystemClock clock;
  SystemRandom random;
  auto client = http::Client::create(c.client);
  if (!client) {
    log::error("cannot start the upstream client", {{"error", client.error().message}});
    return 2;
  }
  auto up = upstream::make_upstream(c.upstream);
  if (!up) {
    log::error("bad upstream settings", {{"error", up.error().message}});
    return 2;
  }
  auto credential = upstream::make_credential(c.auth, *client.value(), clock);
  if (!credential) {
    log::error("bad upstream auth settings", {{"error", credential.error().message}});
    return 2;
  }
  upstream::Caller caller(*up.value(), *credential.value(), *client.value(), clock, random);

  core::OperationService service(*store.value(), clock, c.service);

  // Each poller shard polls through a client of its own: its own I/O thread
  // and keep-alive pool (docs/design.md, "Threads"). They stop before the
  // poller and callers declared below them are destroyed (StopClient).
  int shard_count = c.poller_shards > 0
                        ? c.poller_shards
                        : static_cast<int>(std::clamp(std::thread::hardware_concurrency(), 1u, 2u));
  std::vector<std::unique_ptr<http::Client>> shard_clients;
  std::vector<std::unique_ptr<upstream::Caller>> shard_callers;
  std::vector<upstream::Caller*> poll_callers;
  for (int i = 0; i < shard_count && i < std::max(1, c.poller.max_inflight); ++i) {
    auto sc = http::Client::create(c.client);
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
  poller::Poller poller(service, poll_callers, clock, random, c.poller, "node-" + random_uuid());

  http::Server* srv_ptr = nullptr;  // set once the server exists; timers start after that
  api::ApiContext ctx(
      service, caller, clock, c.api, [&poller, &c] { poller.wake(c.service.first_poll_delay); },
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
  if (!c.oidc.issuer.empty()) {
    oidc.emplace(c.oidc, *client.value(), clock);
    ctx.oidc = &*oidc;
    oidc->start();
    log::info("oidc bearer tokens accepted", {{"issuer", c.oidc.issuer}});
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

  http::ServerOptions so = c.server;
  so.body_limit = [&router](std::string_view method, std::string_view path) {
    return router.body_limit(method, path);
  };
  so.decorate_own_answer = [&router](const http::Request& req, http::Response& res) {
    router.decorate_own_answer(req, res);
  };
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
  log::info("listening", {{"address", c.server.host},
                          {"port", srv.port()},
                          {"store", c.store.substr(0, c.store.find(':'))},
                          {"upstream", up.value()->settings().endpoint},
                          {"upstream_kind", c.upstream.kind},
                          {"upstream_auth", c.auth.mode},
                          {"poller_shards", poller.shards()},
                          {"api_version", up.value()->settings().api_version},
                          {"tls", !c.server.tls_cert_file.empty()}});
  if (!ctx.keys.enabled() && !ctx.oidc) {
    log::warn(
        "no client API keys are configured (--api-keys-file): every caller can use "
        "this gateway; keep it on loopback or behind an authenticating proxy",
        {{"address", c.server.host}});
  }
  // SIGHUP's file reads (the listener's PEM files, the keys file) run here,
  // not on the signal watcher's I/O thread; declared after the server and
  // ctx it uses, so it stops (finishing a reload under way) before them.
  BoundedExecutor reload_work(1, 1);
  auto reload = [&] {
    if (!c.server.tls_cert_file.empty()) {
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
