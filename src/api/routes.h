// The API: every route the gateway serves, in one table (build_router), and
// what the handlers need. Handlers are thin: they validate input, call core
// (records) or the upstream Pool (submits, fallback lookups), and map the
// outcome to an answer. No SQL, no sockets.
#pragma once

#include <chrono>
#include <functional>
#include <memory>
#include <variant>

#include "api/api_config.h"
#include "api/api_keys.h"
#include "api/oidc.h"
#include "api/poll_limiter.h"
#include "base/executor.h"
#include "core/operation_service.h"
#include "core/tenant_settings.h"
#include "http/router.h"
#include "notify/receiver_policy.h"
#include "notify/secrets.h"
#include "upstream/pool.h"

namespace lrogate::api {

// Runs fn after a delay on a server thread (long-poll timers).
using After = std::function<void(std::chrono::milliseconds, std::function<void()>)>;

struct ApiContext {
  core::OperationService& service;
  upstream::Pool& pool;
  const Clock& clock;
  ApiConfig config;
  std::function<void()> on_submitted;  // wakes the poller
  After after;
  PollLimiter limiter;
  KeyRing keys;  // empty: an open gateway, every caller is tenant "default"
  // Where large bodies are checked and hashed, off the server's I/O threads
  // (submit.h, with_body_work); null: inline (unit tests).
  BoundedExecutor* body_work = nullptr;
  // Where store calls run (docs/design.md, "Threads"): never on a server
  // I/O thread nor in an http::Client callback; null: inline (unit tests).
  BoundedExecutor* store_work = nullptr;
  OidcVerifier* oidc = nullptr;  // null: no bearer tokens from an issuer
  // Completion webhooks (docs/design.md, "Completion webhooks"): which
  // callbacks a submit may name, the tenants' secrets, and what wakes the
  // dispatcher after a redelivery (core does, through its EventWriter).
  // Null: no submit may name a callback.
  const notify::ReceiverPolicy* webhooks = nullptr;
  const notify::WebhookSecrets* webhook_secrets = nullptr;
  // Per-tenant settings (--tenants-file; core/tenant_settings.h): operators,
  // quotas, reuse and webhook endpoints. Empty: every tenant has the defaults.
  core::TenantDirectory tenants;

  ApiContext(core::OperationService& s, upstream::Pool& p, const Clock& clk, ApiConfig cfg,
             std::function<void()> submitted, After after_fn)
      : service(s),
        pool(p),
        clock(clk),
        config(cfg),
        on_submitted(std::move(submitted)),
        after(std::move(after_fn)),
        limiter(clk, cfg.client_poll_rate, cfg.max_polls) {}

  int retry_after_s() const {
    return static_cast<int>(std::max<std::int64_t>(1, config.poll_interval.count() / 1000));
  }
};

inline constexpr const char* kDefaultTenant = "default";

// Who owns what a token's bearer creates: the group named by X-Group-ID (one
// of the token's groups, else 403) within the token's tenant, or without the
// header the user (oid, else sub) within it. Written "oidc:TENANT:g:GROUP" or
// "oidc:TENANT:u:USER" ('%' and ':' inside a part percent-encoded), so no
// owner can be spelled two ways and none is an API-key tenant (those have no ':').
std::variant<std::string, http::Response> owner_of(const JwtClaims& claims,
                                                   const OidcSettings& settings,
                                                   const http::Request& req);

http::Router build_router(ApiContext& ctx);

// Runs work on ctx.store_work, where store calls may block (inline when it
// is null). When its queue is full, answers 503 ServerBusy with Retry-After
// through respond instead, and work is not run.
void with_store(ApiContext& ctx, const http::Responder& respond, std::function<void()> work);
// The same for work no client waits on: dropped with a warning naming
// `what` when the queue is full.
void store_later(ApiContext& ctx, const char* what, std::function<void()> work);
// The same for work that must run even then (recording what the upstream
// accepted): it queues past the bound (the submits in flight bound it), and
// runs where it is only once store_work has stopped.
void store_must(ApiContext& ctx, const char* what, std::function<void()> work);
// Answers res for op; a final op's first retrieval is recorded first (its
// retrieval grace starts, or with grace 0 it is deleted), on store_work, so
// no later read sees it unretrieved.
void respond_retrieved(ApiContext& ctx, const core::Operation& op, http::Response res,
                       const http::Responder& respond);

// The router's guard: with keys or an OIDC issuer configured, every route
// but /healthz, /readyz and the dashboard's files needs a valid key or token
// (401 + WWW-Authenticate otherwise), and so does an unknown route (401
// before its 404/405); more than one credential in a request is 400. Either
// admits: a key's tenant, or a token's owner (owner_of), becomes
// req.principal. route is null when no route matched.
std::optional<http::Response> authenticate(ApiContext& ctx, http::Request& req,
                                           const http::Route* route);

// Route groups, each in its own file.
void add_compat_routes(http::Router& router, ApiContext& ctx);
// PUT/GET/DELETE /pro-mode/content-analyzers/{analyzerId} (analyzers.cpp)
void add_analyzer_routes(http::Router& router, ApiContext& ctx);
void add_operation_routes(http::Router& router, ApiContext& ctx);
void add_health_routes(http::Router& router, ApiContext& ctx);
// /metrics and /openapi.json
void add_meta_routes(http::Router& router, ApiContext& ctx);
// Content Understanding's and Document Intelligence's own routes
// (api/azure/routes.cpp), for Microsoft's SDKs.
void add_azure_routes(http::Router& router, ApiContext& ctx);
// GET /learned-durations (api/learned.cpp).
void add_learned_routes(http::Router& router, ApiContext& ctx);
// The webhook outbox: GET /webhooks/deliveries, …/{id}, POST …/{id}:redeliver
// (api/webhooks.cpp).
void add_webhook_routes(http::Router& router, ApiContext& ctx);
// GET /usage (api/usage.cpp).
void add_usage_routes(http::Router& router, ApiContext& ctx);

// The OpenAPI 3.1 document served at /openapi.json (docs/openapi.json).
const char* openapi_document();

}  // namespace lrogate::api
