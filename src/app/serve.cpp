// `lrogate serve`: wires the parts together (docs/design.md, "The parts and
// their directions") and runs until SIGTERM/SIGINT, then drains: stop
// claiming polls, finish requests in flight, exit 0.
//
// One Gateway owns every part (docs/design.md, "Ownership and shutdown"):
// its members are declared in the order they are built, each from those
// above it, and its destructor stops every thread (stop_threads) before any
// member is destroyed, on every way out of run_serve. So no callback can
// reach a part that is gone, and what is left for C++'s reverse order is
// only that each part outlives the parts built from it.
#include <algorithm>
#include <csignal>
#include <future>
#include <thread>
#include <vector>

#include "api/cors.h"
#include "api/replies.h"
#include "api/routes.h"
#include "app/commands.h"
#include "base/ids.h"
#include "base/log.h"
#include "base/strings.h"
#include "config/pool_file.h"
#include "config/tenants_file.h"
#include "core/budget_ledger.h"
#include "core/operation_service.h"
#include "http/client.h"
#include "http/server.h"
#include "notify/dispatcher.h"
#include "notify/receiver_policy.h"
#include "notify/secrets.h"
#include "poller/poller.h"
#include "store/operation_store.h"
#include "upstream/pool.h"

namespace lrogate::app {
namespace {

class Gateway {
 public:
  explicit Gateway(const config::ServeConfig& c) : c_(c) {}
  Gateway(const Gateway&) = delete;
  Gateway& operator=(const Gateway&) = delete;
  ~Gateway() { stop_threads(); }

  // Builds every part, in the order of the members; an exit code when one
  // cannot be built (2: a bad setting, 1: the store or the listener).
  std::optional<int> open();
  // Serves until SIGTERM/SIGINT, then drains; the exit code.
  int run();

 private:
  // Every thread the parts run, stopped in this order; each step is a no-op
  // when its part was never built or already stopped:
  // 1. reload_work_ (a reload under way finishes);
  // 2. body_work_, then store_work_: their queued tasks run (submits go on
  //    to their upstream calls, reads answer into a stopped server);
  // 3. the shards' clients, then client_: no upstream callback runs after;
  // 4. ledger_: no call asks it for a place any more; its answers reach
  //    only what is still alive (upstream/shared_budget.h keeps them weak).
  // The server's threads are run()'s own and have returned; the poller's
  // store threads and the store's own threads (checkpointer, listener) stop
  // in their destructors, with nothing left to call into them.
  void stop_threads();
  void reload();
  // The receivers' policy, the secrets and the dispatcher, when
  // --webhook-allowed-hosts names any; an exit code when they cannot be.
  std::optional<int> open_webhooks(const std::string& node);
  Result<void> check_endpoints(config::TenantsFile& f) const;

  const config::ServeConfig& c_;
  SystemClock host_clock_;
  // Every part's clock: the host's, set to the shared store's by the
  // service (docs/design.md, "One clock for the cluster").
  ClusterClock clock_{host_clock_};
  SystemRandom random_;
  std::unique_ptr<store::OperationStore> store_;
  std::unique_ptr<http::Client> client_;  // submits, token fetches, OIDC keys
  // Each poller shard polls through a client of its own: its own I/O thread
  // and keep-alive pool (docs/design.md, "Threads").
  std::vector<std::unique_ptr<http::Client>> shard_clients_;
  // On a store other replicas share, their common budget of each resource's
  // limits, taken from the store on a thread of its own (docs/design.md,
  // "The budget shared by replicas"); none on SQLite.
  std::optional<core::BudgetLedger> ledger_;
  // The upstream resources, with a caller on client_ and on each shard's
  // client (docs/design.md, "Upstream pools").
  std::optional<upstream::Pool> pool_;
  // What this replica knows of how long analyses take (docs/design.md,
  // "Learned poll schedules"): before the service, which adds to it.
  core::PollHistory history_;
  std::optional<core::OperationService> service_;
  // Completion webhooks (docs/design.md, "Completion webhooks"): the
  // tenants' secrets, which receivers may be called, and the dispatcher of
  // the outbox, with a client of its own. Before the poller, whose
  // completions wake it.
  notify::WebhookSecrets webhook_secrets_;
  notify::ReceiverPolicy receivers_;
  std::optional<notify::Dispatcher> dispatcher_;
  std::optional<poller::Poller> poller_;
  std::optional<api::ApiContext> ctx_;
  std::optional<api::OidcVerifier> oidc_;
  // Every store call the API makes runs here, never on a server I/O thread
  // or in a client callback (docs/design.md, "Threads"): as many threads as
  // the stores serve at once (PostgreSQL's pool, SQLite's readers); past
  // 10,000 waiting, requests are answered 503.
  std::optional<BoundedExecutor> store_work_;
  // Large bodies are checked and hashed here, never on a server thread: two
  // at a time (the machine's cores are shared with the I/O threads), a few
  // more waiting, the rest answered 503 (api/submit.h, with_body_work).
  std::optional<BoundedExecutor> body_work_;
  std::optional<http::Router> router_;
  std::unique_ptr<http::Server> server_;
  // SIGHUP's file reads (the listener's PEM files, the keys file) run here,
  // not on the signal watcher's I/O thread.
  std::optional<BoundedExecutor> reload_work_;
};

std::optional<int> Gateway::open() {
  auto store = store::open_store(c_.store);
  if (!store) {
    log::error("cannot open the store",
               {{"error", store.error().message}, {"detail", store.error().detail}});
    return 1;
  }
  store_ = std::move(store).value();
  auto client = http::Client::create(c_.client);
  if (!client) {
    log::error("cannot start the upstream client", {{"error", client.error().message}});
    return 2;
  }
  client_ = std::move(client).value();
  int shard_count = c_.poller_shards > 0
                        ? c_.poller_shards
                        : static_cast<int>(std::clamp(std::thread::hardware_concurrency(), 1u, 2u));
  std::vector<http::Client*> poll_clients;
  for (int i = 0; i < shard_count && i < std::max(1, c_.poller.max_inflight); ++i) {
    auto sc = http::Client::create(c_.client);
    if (!sc) {
      log::error("cannot start a poller shard's client", {{"error", sc.error().message}});
      return 2;
    }
    shard_clients_.push_back(std::move(sc).value());
    poll_clients.push_back(shard_clients_.back().get());
  }
  upstream::BudgetLedger shared;
  if (!store_->exclusive()) {
    ledger_.emplace(*store_, clock_);
    shared = [this](upstream::BudgetAsk a, std::function<void(int, int)> granted) {
      ledger_->take({std::move(a.resource), std::move(a.budget), a.slot, a.ends_at, a.want, a.cap},
                    std::move(granted));
    };
  }
  pool_.emplace(*client_, poll_clients, clock_, std::move(shared));
  auto settings = config::load_pool(c_);
  if (!settings) {
    log::error("bad upstream pool", {{"error", settings.error().message}});
    return 2;
  }
  if (auto applied = pool_->apply(settings.value()); !applied) {
    log::error("bad upstream pool", {{"error", applied.error().message}});
    return 2;
  }
  service_.emplace(*store_, clock_, c_.service);
  service_->set_history(&history_);
  // Before anything judges a time: the offset from the store's clock (the
  // poller's heartbeat measures it again while serving).
  if (auto synced = service_->sync_clock(); !synced) {
    log::warn("cannot read the database's clock; this host's clock is used until it can",
              {{"error", synced.error().message}, {"detail", synced.error().detail}});
  }

  const std::string node = "node-" + random_uuid();
  if (auto bad = open_webhooks(node)) return bad;
  // The claim caps follow the pool's limits at each claim (a SIGHUP too).
  poller_.emplace(*service_, *pool_, poll_clients, clock_, random_, c_.poller, node);

  ctx_.emplace(
      *service_, *pool_, clock_, c_.api, [this] { poller_->wake(c_.service.first_poll_delay); },
      // Long-poll timers start only once the server exists.
      [this](std::chrono::milliseconds d, std::function<void()> fn) {
        server_->post_after(d, std::move(fn));
      });
  if (receivers_.enabled()) {
    ctx_->webhooks = &receivers_;
    ctx_->webhook_secrets = &webhook_secrets_;
  }
  if (!c_.api_keys_file.empty()) {
    auto keys = api::load_api_keys(c_.api_keys_file);
    if (!keys) {
      log::error("cannot load the api keys", {{"error", keys.error().message}});
      return 2;
    }
    log::info("api keys loaded", {{"keys", keys->size()}});
    ctx_->keys.replace(std::move(keys).value());
  }
  if (!c_.tenants_file.empty()) {
    auto tenants = config::load_tenants(c_.tenants_file);
    if (tenants) {
      if (auto ok = check_endpoints(*tenants); !ok) tenants = ok.error();
    }
    if (!tenants) {
      log::error("bad tenants file", {{"error", tenants.error().message}});
      return 2;
    }
    log::info("tenants file loaded", {{"tenants", tenants->tenants.size()}});
    ctx_->tenants.replace(std::move(tenants->defaults), std::move(tenants->tenants));
  }
  if (!c_.oidc.issuer.empty()) {
    oidc_.emplace(c_.oidc, *client_, clock_);
    ctx_->oidc = &*oidc_;
    oidc_->start();
    log::info("oidc bearer tokens accepted", {{"issuer", c_.oidc.issuer}});
  }
  store_work_.emplace(4, 10'000);
  ctx_->store_work = &*store_work_;
  body_work_.emplace(2, 16);
  ctx_->body_work = &*body_work_;
  router_.emplace(api::build_router(*ctx_));
  auto cors = api::parse_cors_origins(c_.cors_origins);
  if (!cors) {
    log::error("invalid setting", {{"error", cors.error().message}});
    return 2;
  }
  api::install_cors(*router_, std::move(cors).value());  // nothing when no origin is listed

  http::ServerOptions so = c_.server;
  so.body_limit = [this](std::string_view method, std::string_view path) {
    return router_->body_limit(method, path);
  };
  so.decorate_own_answer = [this](const http::Request& req, http::Response& res) {
    router_->decorate_own_answer(req, res);
  };
  auto server = http::Server::create(so, [this](http::Request&& req, http::Responder r) {
    router_->dispatch(std::move(req), std::move(r));
  });
  if (!server) {
    log::error("cannot listen", {{"error", server.error().message}});
    // A bad setting (e.g. an unusable TLS file) exits 2 like the others.
    return server.error().code == ErrorCode::kInvalidArgument ? 2 : 1;
  }
  server_ = std::move(server).value();
  reload_work_.emplace(1, 1);
  return std::nullopt;
}

std::optional<int> Gateway::open_webhooks(const std::string& node) {
  const notify::WebhookConfig& w = c_.webhooks;
  if (w.allowed_hosts.empty()) return std::nullopt;
  auto policy = notify::ReceiverPolicy::make(w.allowed_hosts, w.allowed_networks);
  if (!policy) {
    log::error("invalid setting",
               {{"error", policy.error().message}, {"entry", policy.error().detail}});
    return 2;
  }
  receivers_ = std::move(policy).value();
  auto secrets = notify::WebhookSecrets::load(w.secrets_file);
  if (!secrets) {
    log::error("cannot load the webhook secrets", {{"error", secrets.error().message}});
    return 2;
  }
  webhook_secrets_ = std::move(secrets).value();
  http::ClientOptions co = c_.client;
  co.max_connections_per_origin = static_cast<std::size_t>(w.max_in_flight_per_url);
  co.allow_address = [this](std::string_view ip) { return receivers_.address_allowed(ip); };
  auto client = http::Client::create(co);
  if (!client) {
    log::error("cannot start the webhook client", {{"error", client.error().message}});
    return 1;
  }
  dispatcher_.emplace(*store_, std::move(client).value(), clock_, random_, webhook_secrets_, w,
                      node, c_.poller.lease);
  service_->set_events(
      {[cloudevents = w.cloudevents](const core::Operation& op, std::string_view id) {
         return api::event_body(op, id, cloudevents);
       },
       [this] { dispatcher_->wake(); },
       [this](std::string_view tenant) { return ctx_->tenants.settings(tenant).webhooks; }});
  log::info("webhooks on", {{"allowed_hosts", w.allowed_hosts.size()},
                            {"tenants_with_secrets", webhook_secrets_.tenants()}});
  return std::nullopt;
}

// The tenants file's webhook endpoints (docs/design.md, "Completion
// webhooks"): each a receiver the policy allows, of a tenant with a webhook
// secret, kept canonical as a submit's callback is. Errors name the tenant
// and the endpoint's place, never its URL (it may carry a token).
Result<void> Gateway::check_endpoints(config::TenantsFile& f) const {
  auto bad = [&](const std::string& tenant, const std::string& why) {
    return make_error(ErrorCode::kInvalidArgument,
                      c_.tenants_file + ": tenant '" + tenant + "': webhooks: " + why);
  };
  if (!f.defaults.webhooks.empty()) {
    return bad("[defaults]", "endpoints are named per tenant, not in [defaults]");
  }
  for (auto& [tenant, s] : f.tenants) {
    if (s.webhooks.empty()) continue;
    if (!receivers_.enabled()) return bad(tenant, "webhooks need --webhook-allowed-hosts");
    if (!webhook_secrets_.has(tenant)) {
      return bad(tenant, "the tenant has no webhook secret (--webhook-secrets-file)");
    }
    for (std::size_t i = 0; i < s.webhooks.size(); ++i) {
      if (auto why = receivers_.refuse_url(s.webhooks[i])) {
        return bad(tenant, "endpoint " + std::to_string(i + 1) + ": " + *why);
      }
      s.webhooks[i] = notify::ReceiverPolicy::canonical(s.webhooks[i]);
    }
  }
  return {};
}

void Gateway::reload() {
  if (!c_.server.tls_cert_file.empty()) {
    if (auto r = server_->reload_tls(); !r) {
      log::error("listener tls not reloaded; the old certificate stays",
                 {{"error", r.error().message}});
    } else {
      log::info("listener tls reloaded");
    }
  }
  if (!c_.upstreams_file.empty()) {
    auto settings = config::load_pool(c_);
    auto applied = settings ? pool_->apply(settings.value()) : Result<void>(settings.error());
    if (!applied) {
      log::error("upstream pool not reloaded; the old one stays",
                 {{"error", applied.error().message}});
    } else {
      log::info("upstream pool reloaded", {{"resources", settings.value().resources.size()}});
    }
  }
  if (!c_.tenants_file.empty()) {
    auto tenants = config::load_tenants(c_.tenants_file);
    if (tenants) {
      if (auto ok = check_endpoints(*tenants); !ok) tenants = ok.error();
    }
    if (!tenants) {
      log::error("tenants file not reloaded; the old settings stay",
                 {{"error", tenants.error().message}});
    } else {
      log::info("tenants file reloaded", {{"tenants", tenants->tenants.size()}});
      ctx_->tenants.replace(std::move(tenants->defaults), std::move(tenants->tenants));
    }
  }
  if (c_.api_keys_file.empty()) return;
  auto keys = api::load_api_keys(c_.api_keys_file);
  if (!keys) {
    log::error("api keys not reloaded; the old ones stay", {{"error", keys.error().message}});
    return;
  }
  log::info("api keys reloaded", {{"keys", keys->size()}});
  ctx_->keys.replace(std::move(keys).value());
}

int Gateway::run() {
  const auto first = pool_->resources().front();  // the pool's kind and its first endpoint
  log::info("listening", {{"address", c_.server.host},
                          {"port", server_->port()},
                          {"store", c_.store.substr(0, c_.store.find(':'))},
                          {"upstream_resources", pool_->resources().size()},
                          {"upstream", first->settings().upstream.endpoint},
                          {"upstream_kind", first->settings().upstream.kind},
                          {"upstream_auth", first->settings().auth.mode},
                          {"poller_shards", poller_->shards()},
                          {"api_version", first->upstream().settings().api_version},
                          {"tls", !c_.server.tls_cert_file.empty()}});
  if (!ctx_->keys.enabled() && !ctx_->oidc) {
    log::warn(
        "no client API keys are configured (--api-keys-file): every caller can use "
        "this gateway; keep it on loopback or behind an authenticating proxy",
        {{"address", c_.server.host}});
  }
  poller_->start();
  if (dispatcher_) dispatcher_->start();
  // SIGTERM: stop accepting and claiming at once; requests and polls in
  // flight finish (each bounded by --drain-timeout) and record what they got.
  auto poller_stopped = std::make_shared<std::promise<void>>();
  auto stopped = poller_stopped->get_future();
  bool draining = false;
  server_->on_signal([this, poller_stopped, &draining](int sig) {
    if (sig == SIGHUP) {
      // One reload waiting is enough: it reads the files as they are then.
      if (!reload_work_->try_post([this] { reload(); })) log::info("reload already queued");
      return;
    }
    if (draining) return;
    draining = true;
    log::info("draining", {{"signal", sig}});
    poller_->stop([poller_stopped] { poller_stopped->set_value(); });
    // Attempts in flight are abandoned: their leases end and a replica (this
    // one restarted) sends them again with the same webhook-id.
    if (dispatcher_) dispatcher_->stop();
    server_->stop(c_.drain_timeout);
    service_->notifier().notify_all();  // long-polls answer now instead of holding the drain
  });
  server_->run();
  // The drain: the executors run what they hold, then the polls in flight
  // get the rest of --drain-timeout to record their outcomes.
  reload_work_->stop();
  body_work_->stop();
  store_work_->stop();
  if (stopped.wait_for(c_.drain_timeout) != std::future_status::ready) {
    log::warn("polls still in flight at exit; they resume on the next start");
  }
  stop_threads();
  log::info("stopped");
  return 0;
}

void Gateway::stop_threads() {
  if (reload_work_) reload_work_->stop();
  if (body_work_) body_work_->stop();
  if (store_work_) store_work_->stop();
  for (auto& sc : shard_clients_) sc->shutdown();
  if (client_) client_->shutdown();
  if (ledger_) ledger_->stop();
}

}  // namespace

int run_serve(const config::ServeConfig& c) {
  if (auto level = log::parse_level(c.log_level)) log::set_level(*level);
  Gateway gateway(c);
  if (auto failed = gateway.open()) return *failed;
  return gateway.run();
}

}  // namespace lrogate::app
