#include "api/submit.h"

#include <atomic>
#include <boost/json/parse.hpp>
#include <boost/json/value.hpp>
#include <memory>
#include <utility>
#include <vector>

#include "api/replies.h"
#include "api/usage.h"
#include "base/ids.h"
#include "base/json_util.h"
#include "base/log.h"
#include "base/sha256.h"
#include "base/strings.h"
#include "upstream/operation_location.h"
#include "upstream/retry_after.h"

namespace lrogate::api {

http::Response upstream_refusal(const upstream::SubmitAnswer& a, std::chrono::milliseconds budget) {
  using K = upstream::SubmitAnswer::Kind;
  switch (a.kind) {
    case K::kRejected: {
      int status = (a.status >= 400 && a.status < 500) ? a.status : 400;
      return error_reply(status, a.error_code, a.error_message);
    }
    case K::kAuthRefused:
      // No upstream answer: the token authority refused the gateway's identity.
      if (a.status == 0) return error_reply(502, a.error_code, a.error_message);
      return error_reply(502, "UpstreamAuthRefused",
                         "the upstream refused the gateway's credentials (answer " +
                             std::to_string(a.status) +
                             "); check the gateway's upstream key or identity");
    case K::kThrottled: {
      http::Response r = error_reply(
          503, "UpstreamThrottled",
          "the upstream is rate limiting analyses and did not accept this one within the "
          "submit budget; retry later");
      auto wait = a.retry_after.value_or(std::chrono::seconds(5));
      r.set("Retry-After", std::to_string(std::max<std::int64_t>(1, (wait.count() + 999) / 1000)));
      return r;
    }
    case K::kTransient: {
      std::string why = a.status ? "it answered " + std::to_string(a.status) : a.error_message;
      return error_reply(502, "UpstreamUnavailable",
                         "the upstream did not accept the analysis within " +
                             std::to_string(budget.count() / 1000) + "s: " + why);
    }
    case K::kFailed:
    case K::kAccepted:
      break;
  }
  if (a.error_code == "AnalyzersUnsupported")
    return error_reply(501, a.error_code, a.error_message);
  return error_reply(502, a.error_code.empty() ? "UpstreamError" : a.error_code, a.error_message);
}

namespace {

bool printable_key(std::string_view k) {
  if (k.empty() || k.size() > 128) return false;
  for (char c : k) {
    if (c < 0x21 || c > 0x7e) return false;
  }
  return true;
}

}  // namespace

upstream::CallTags call_tags(const http::Request& req) {
  return {req.client_request_id.empty() ? req.request_id : req.client_request_id, req.traceparent};
}

http::Response json_refused(const json::CheckError& e) {
  return error_reply(make_error(ErrorCode::kInvalidArgument, e.message), e.code);
}

void with_body_work(ApiContext& ctx, std::size_t size, const http::Responder& respond,
                    std::function<void()> work) {
  // Checking 64 KiB of JSON costs tens of microseconds: not worth a thread hop.
  constexpr std::size_t kInline = 64u << 10;
  // Either way off the I/O thread: the submit makes store calls.
  if (size <= kInline || !ctx.body_work) return with_store(ctx, respond, std::move(work));
  if (ctx.body_work->try_post(std::move(work))) return;
  http::Response r = error_reply(503, "ServerBusy",
                                 "too many large request bodies are being checked; retry shortly");
  r.set("Retry-After", "1");
  respond(std::move(r));
}

std::optional<http::Response> read_callback(const ApiContext& ctx, const http::Request& req,
                                            std::optional<std::string_view> from_body,
                                            std::string* url) {
  std::string_view header = req.header("lrogate-callback-url");
  if (header.empty() && !from_body) return std::nullopt;
  if (!header.empty() && from_body && *from_body != header) {
    return error_reply(400, "InvalidCallbackUrl",
                       "callbackUrl and the Lrogate-Callback-Url header name different URLs");
  }
  std::string_view u = from_body ? *from_body : header;
  static const notify::ReceiverPolicy kNone;
  const notify::ReceiverPolicy& policy = ctx.webhooks ? *ctx.webhooks : kNone;
  if (auto why = policy.refuse_url(u)) return error_reply(400, "InvalidCallbackUrl", *why);
  if (!ctx.webhook_secrets || !ctx.webhook_secrets->has(req.principal)) {
    return error_reply(400, "WebhookSecretMissing",
                       "no webhook secret is configured for this caller's tenant "
                       "(--webhook-secrets-file): its events could not be signed");
  }
  *url = notify::ReceiverPolicy::canonical(u);
  return std::nullopt;
}

bool wants_reuse(const ApiContext& ctx, const http::Request& req) {
  if (ctx.tenants.settings(req.principal).reuse) return true;
  std::string_view prefer = req.header("prefer");
  while (!prefer.empty()) {
    std::size_t comma = prefer.find(',');
    std::string_view item = prefer.substr(0, comma);
    prefer = comma == std::string_view::npos ? std::string_view() : prefer.substr(comma + 1);
    item = item.substr(0, item.find_first_of(";="));
    while (!item.empty() && (item.front() == ' ' || item.front() == '\t')) item.remove_prefix(1);
    while (!item.empty() && (item.back() == ' ' || item.back() == '\t')) item.remove_suffix(1);
    if (iequals(item, "reuse")) return true;
  }
  return false;
}

namespace {

// Calls fn(name) for every object member's name in a JSON value, at any
// depth, until it returns true; walked without recursion (nesting is
// bounded by json::check, but the walk need not rely on it).
template <class Fn>
bool any_member(const boost::json::value& root, Fn&& fn) {
  std::vector<const boost::json::value*> todo{&root};
  while (!todo.empty()) {
    const boost::json::value* v = todo.back();
    todo.pop_back();
    if (const auto* o = v->if_object()) {
      for (const auto& [k, member] : *o) {
        if (fn(std::string_view(k))) return true;
        todo.push_back(&member);
      }
    } else if (const auto* a = v->if_array()) {
      for (const auto& item : *a) todo.push_back(&item);
    }
  }
  return false;
}

}  // namespace

bool reusable_body(std::string_view content_type, std::string_view body,
                   const std::vector<std::string>& url_members) {
  if (!upstream::is_json_type(content_type)) return true;
  boost::system::error_code ec;
  boost::json::value v = boost::json::parse(body, ec);
  if (ec) return false;
  return !any_member(v, [&](std::string_view k) {
    if (iequals(k, "url") || iequals(k, "urlSource") || iequals(k, "documentUrl")) return true;
    for (const auto& m : url_members) {
      if (iequals(k, m)) return true;
    }
    return false;
  });
}

std::vector<std::string> url_members(const upstream::Pool& pool) {
  boost::system::error_code ec;
  boost::json::value v = boost::json::parse(pool.document_url_body("https://example.invalid/"), ec);
  std::vector<std::string> names;
  if (ec) return names;
  any_member(v, [&](std::string_view k) {
    names.emplace_back(k);
    return false;
  });
  return names;
}

std::optional<http::Response> read_idempotency_key(const http::Request& req, std::string* key) {
  std::string_view k = req.header("idempotency-key");
  if (k.empty()) k = req.header("repeatability-request-id");
  if (k.empty()) return std::nullopt;
  if (!printable_key(k)) {
    return error_reply(400, "InvalidIdempotencyKey",
                       "Idempotency-Key / Repeatability-Request-ID must be 1-128 printable "
                       "ASCII characters");
  }
  std::string_view first = req.header("repeatability-first-sent");
  if (!first.empty() && !upstream::parse_retry_after_value(first, 0)) {
    return error_reply(400, "InvalidRepeatabilityFirstSent",
                       "Repeatability-First-Sent must be an HTTP-date");
  }
  *key = std::string(k);
  return std::nullopt;
}

namespace {

using SubmitDone = std::function<void(SubmitOutcome)>;

void fail_with(const SubmitDone& done, http::Response r) {
  SubmitOutcome o;
  o.error = std::move(r);
  done(std::move(o));
}

// The time an analyze keeps for its own upstream call when it first waited
// for its analyzer's creation: a quarter of the budget, at most 5 s.
std::chrono::milliseconds submit_reserve(std::chrono::milliseconds budget) {
  return std::min<std::chrono::milliseconds>(budget / 4, std::chrono::seconds(5));
}

// The operation id of a creation, for the caller who submitted it only.
std::string creation_ref(const core::Operation& c, const std::string& tenant) {
  return c.tenant == tenant ? " (operation " + c.id + ")" : "";
}

http::Response creation_failed(const core::Operation& c, const std::string& tenant) {
  return error_reply(409, "AnalyzerCreationFailed",
                     "the latest creation of analyzer '" + c.analyzer_id + "'" +
                         creation_ref(c, tenant) +
                         " failed: " + (c.error_message.empty() ? c.error_code : c.error_message) +
                         "; create it again before analyzing");
}

void submit_checked(ApiContext& ctx, SubmitInput in, std::string hash,
                    std::chrono::milliseconds budget, SubmitDone done);
void read_creation(ApiContext& ctx, SubmitInput in, SubmitDone done);
void after_creation(ApiContext& ctx, const core::Operation* c, SubmitInput in, std::string hash,
                    SubmitDone done);

// Waits for analyzer creation `c` to end, at most until `deadline`, then
// submits (it succeeded or was canceled), or answers 409.
struct CreationWait;
void creation_read(ApiContext& ctx, const std::shared_ptr<CreationWait>& w);
struct CreationWait {
  std::atomic<bool> done{false};
  core::Notifier::Token token = 0;
  std::string creation_id;
  SubmitInput in;
  std::string hash;
  Millis deadline = 0;
  SubmitDone then;
};

// Runs on the notifying thread or the timer's: the rest goes to store_work.
void creation_over(ApiContext& ctx, const std::shared_ptr<CreationWait>& w) {
  if (w->done.exchange(true)) return;
  auto failed = [w](http::Response r) { fail_with(w->then, std::move(r)); };
  with_store(ctx, failed, [&ctx, w] { creation_read(ctx, w); });
}

void creation_read(ApiContext& ctx, const std::shared_ptr<CreationWait>& w) {
  auto found = ctx.service.find(w->creation_id);
  if (!found) return fail_with(w->then, store_unavailable(found.error()));
  const auto& c = found.value();
  if (c && !core::is_terminal(c->status)) {
    http::Response r = error_reply(409, "AnalyzerNotReady",
                                   "analyzer '" + c->analyzer_id + "' is still being created" +
                                       creation_ref(*c, w->in.tenant) +
                                       "; retry the analysis when its creation has finished");
    r.set("Retry-After", std::to_string(ctx.retry_after_s()));
    return fail_with(w->then, std::move(r));
  }
  if (c && c->status == core::Status::kFailed) {
    return fail_with(w->then, creation_failed(*c, w->in.tenant));
  }
  std::chrono::milliseconds left(std::max<Millis>(w->deadline - ctx.clock.now_ms(), 0));
  left = std::max(left, submit_reserve(ctx.config.submit_timeout));
  submit_checked(ctx, std::move(w->in), std::move(w->hash), left, std::move(w->then));
}

void wait_for_creation(ApiContext& ctx, const core::Operation& c, SubmitInput in, std::string hash,
                       SubmitDone done) {
  auto w = std::make_shared<CreationWait>();
  w->creation_id = c.id;
  w->in = std::move(in);
  w->hash = std::move(hash);
  w->then = std::move(done);
  auto wait = ctx.config.submit_timeout - submit_reserve(ctx.config.submit_timeout);
  w->deadline = ctx.clock.now_ms() + wait.count();
  if (!ctx.after || wait.count() <= 0) return creation_over(ctx, w);
  // Subscribe before reading again: a completion in between still wakes us.
  w->token = ctx.service.notifier().subscribe(c.id, [&ctx, w] { creation_over(ctx, w); });
  auto again = ctx.service.find(c.id);
  if (!again || !again.value() || core::is_terminal(again.value()->status)) {
    if (ctx.service.notifier().unsubscribe(c.id, w->token)) creation_over(ctx, w);
    return;
  }
  ctx.after(wait, [&ctx, w] {
    if (ctx.service.notifier().unsubscribe(w->creation_id, w->token)) creation_over(ctx, w);
  });
}

}  // namespace

void submit_operation(ApiContext& ctx, SubmitInput in, std::function<void(SubmitOutcome)> done,
                      bool on_event_loop) {
  auto fail = [&done](http::Response r) { fail_with(done, std::move(r)); };
  if (!valid_analyzer_id(in.analyzer_id)) {
    return fail(invalid_analyzer_id());
  }
  if (in.content_type.empty()) in.content_type = "application/json";
  if (in.body.empty()) {
    return fail(error_reply(400, "EmptyBody",
                            "the request body is empty: send {\"url\": ...} or a document"));
  }
  if (!in.body_checked && upstream::is_json_type(in.content_type)) {
    if (auto refused = json::check(in.body)) return fail(json_refused(*refused));
  }
  // An analyzer whose creation this gateway follows is not ready until it
  // has succeeded: the upstream would refuse the analysis (404 or 409).
  // Known from memory (none, or a final one), a submit with no key to check
  // calls the store only to record what the upstream accepted: one thread
  // hop fewer (docs/design.md, "Threads").
  // A tenant with a daily quota reads its usage first (quota_refusal), and
  // a submit asking for reuse looks for a stored result.
  if (in.idempotency_key.empty() && !in.reuse && !ctx.tenants.settings(in.tenant).has_quota()) {
    if (auto known = ctx.service.cached_latest_creation(in.analyzer_id);
        known && (!*known || core::is_terminal((*known)->status))) {
      // Judged quota-free here: a quota a reload adds from now on applies
      // from the next submit, never as a store read on this thread.
      in.quota_free = true;
      return after_creation(ctx, known->get(), std::move(in), {}, std::move(done));
    }
  }
  if (!on_event_loop) return read_creation(ctx, std::move(in), std::move(done));
  auto s = std::make_shared<std::pair<SubmitInput, SubmitDone>>(std::move(in), std::move(done));
  auto failed = [s](http::Response r) { fail_with(s->second, std::move(r)); };
  with_store(ctx, failed,
             [&ctx, s] { read_creation(ctx, std::move(s->first), std::move(s->second)); });
}

void with_submit_work(ApiContext& ctx, std::size_t size, const http::Responder& respond,
                      std::function<void(bool on_event_loop)> work) {
  // Checking 64 KiB of JSON costs tens of microseconds: not worth a thread hop.
  constexpr std::size_t kInline = 64u << 10;
  if (size <= kInline) return work(true);
  with_body_work(ctx, size, respond, [work = std::move(work)] { work(false); });
}

namespace {

// The request's hash, kept with its idempotency key: a replay must match it.
std::string request_hash(const SubmitInput& in) {
  if (in.idempotency_key.empty()) return {};
  if (in.options.api_version.empty() && in.callback_url.empty()) {
    return sha256_hex({in.analyzer_id, "\n", in.content_type, "\n", in.body});
  }
  if (in.callback_url.empty()) {
    return sha256_hex({in.analyzer_id, "\n", in.content_type, "\n", in.options.api_version, "?",
                       in.options.query, "\n", in.body});
  }
  return sha256_hex({in.analyzer_id, "\n", in.content_type, "\n", in.options.api_version, "?",
                     in.options.query, "\n", in.body, "\ncallback ", in.callback_url});
}

// Where the store may be called: the analyzer's latest creation from the
// store, then the rest of the submit.
void read_creation(ApiContext& ctx, SubmitInput in, SubmitDone done) {
  std::string hash = request_hash(in);
  auto creation = ctx.service.latest_creation(in.analyzer_id);
  if (!creation) return fail_with(done, store_unavailable(creation.error()));
  const auto& c = creation.value();
  // A submit whose end has receivers (its callback, its tenant's endpoints)
  // is not answered from a stored result: the event would need a write of
  // its own (docs/design.md, "Reuse of results"). The analyzer's latest
  // creation is in the key: a redefined analyzer matches no older result.
  if (in.reuse && in.callback_url.empty() && ctx.tenants.settings(in.tenant).webhooks.empty() &&
      reusable_body(in.content_type, in.body, url_members(ctx.pool))) {
    in.reuse_key =
        sha256_hex({"analysis\n", in.analyzer_id, "\n", c ? c->id : "", "\n", in.content_type, "\n",
                    in.options.api_version, "?", in.options.query, "\n", in.body});
  }
  after_creation(ctx, c ? &*c : nullptr, std::move(in), std::move(hash), std::move(done));
}

// Goes on after the analyzer's latest creation `c` (null: none). Reached on
// an event loop only with a final creation, no idempotency key and no
// quota: then it calls no store.
void after_creation(ApiContext& ctx, const core::Operation* c, SubmitInput in, std::string hash,
                    SubmitDone done) {
  if (c) {
    if (c->status == core::Status::kFailed) return fail_with(done, creation_failed(*c, in.tenant));
    // The analyzer exists on the resource that created it, and only there
    // (one no longer in the pool at all leaves the choice to the pool).
    if (ctx.pool.find(c->resource)) in.resource = c->resource;
    if (!core::is_terminal(c->status)) {
      return wait_for_creation(ctx, *c, std::move(in), std::move(hash), std::move(done));
    }
  }
  submit_checked(ctx, std::move(in), std::move(hash), ctx.config.submit_timeout, std::move(done));
}

}  // namespace

namespace {

// Calls the store (check_key, quota_refusal) only for a submit with an
// idempotency key or of a tenant with a quota, which reach it from
// read_creation only, off the event loops.
void submit_checked(ApiContext& ctx, SubmitInput in, std::string hash,
                    std::chrono::milliseconds budget, SubmitDone done) {
  auto fail = [&done](http::Response r) { fail_with(done, std::move(r)); };
  if (!in.idempotency_key.empty()) {
    auto check = ctx.service.check_key(in.tenant, in.idempotency_key, hash);
    if (!check) return fail(store_unavailable(check.error()));
    using K = core::KeyCheck::Kind;
    switch (check->kind) {
      case K::kMismatch:
        return fail(error_reply(422, "IdempotencyKeyReused",
                                "this idempotency key was used for a different request"));
      case K::kInFlight: {
        http::Response r = error_reply(409, "IdempotentRequestInProgress",
                                       "a request with this idempotency key is still being "
                                       "submitted; retry shortly");
        r.set("Retry-After", "1");
        return fail(std::move(r));
      }
      case K::kReplay: {
        SubmitOutcome o;
        o.operation_id = check->operation_id;
        o.replay = true;
        done(std::move(o));
        return;
      }
      case K::kFirst:
        break;
    }
  }
  // Reuse before the quota: a stored result costs no upstream call.
  if (!in.reuse_key.empty()) {
    core::NewOperation n{"", in.tenant, in.analyzer_id, "", in.idempotency_key};
    n.reuse_key = in.reuse_key;
    auto reused = ctx.service.reuse(n);
    if (!reused) {
      if (!in.idempotency_key.empty()) (void)ctx.service.release_key(in.tenant, in.idempotency_key);
      return fail(store_unavailable(reused.error()));
    }
    if (const auto& op = reused.value()) {
      if (!in.idempotency_key.empty()) {
        if (auto b = ctx.service.bind_key(in.tenant, in.idempotency_key, op->id); !b) {
          log::warn("cannot bind idempotency key",
                    {{"operation_id", op->id}, {"detail", b.error().detail}});
        }
      }
      log::info("state", {{"operation_id", op->id},
                          {"analyzer_id", op->analyzer_id},
                          {"from", nullptr},
                          {"to", "Succeeded"},
                          {"reused", true},
                          {"request_id", in.request_id}});
      SubmitOutcome o;
      o.operation_id = op->id;
      o.reused = true;
      done(std::move(o));
      return;
    }
  }
  // Daily quotas (docs/design.md, "Usage and quotas"): after a replay has
  // had its answer, before the upstream is called.
  if (auto refused = in.quota_free ? std::nullopt : quota_refusal(ctx, in.tenant)) {
    if (!in.idempotency_key.empty()) (void)ctx.service.release_key(in.tenant, in.idempotency_key);
    return fail(std::move(*refused));
  }
  // A document sent as the body tells its size: its schedule learns from
  // documents of its size band (core/poll_history.h); a JSON body does not.
  const auto size = static_cast<std::int64_t>(in.body.size());  // usage's bytes in
  int band = upstream::is_json_type(in.content_type)
                 ? -1
                 : core::size_band(static_cast<std::int64_t>(in.body.size()));
  auto shared = std::make_shared<SubmitInput>(std::move(in));
  std::string body = std::move(shared->body);
  upstream::CallTags tags = std::move(shared->tags);
  upstream::SubmitOptions options = shared->options;
  ctx.pool.submit(
      shared->tenant, shared->analyzer_id, std::move(body), shared->content_type, shared->resource,
      budget,
      [&ctx, shared, band, size, done = std::move(done)](upstream::SubmitAnswer answer,
                                                         std::string resource) {
        // On the client's thread: the writes below go to store_work.
        store_must(ctx, "record_submitted",
                   [&ctx, shared, band, size, done, a = std::move(answer),
                    resource = std::move(resource)] {
                     const std::string& key = shared->idempotency_key;
                     SubmitOutcome o;
                     if (a.kind != upstream::SubmitAnswer::Kind::kAccepted) {
                       boost::json::object refused{{"analyzer_id", shared->analyzer_id},
                                                   {"resource", resource},
                                                   {"request_id", shared->request_id}};
                       if (!a.upstream_request_id.empty()) {
                         refused["upstream_request_id"] = a.upstream_request_id;
                       }
                       log::warn("submit refused", std::move(refused));
                       if (!key.empty()) (void)ctx.service.release_key(shared->tenant, key);
                       o.error = upstream_refusal(a, ctx.config.submit_timeout);
                       done(std::move(o));
                       return;
                     }
                     core::NewOperation n{a.operation_id, shared->tenant, shared->analyzer_id,
                                          a.operation_location, key};
                     n.resource = resource;
                     n.size_band = band;
                     n.request_bytes = size;
                     n.callback_url = shared->callback_url;
                     n.reuse_key = shared->reuse_key;
                     auto rec = ctx.service.record_submitted(n);
                     if (!rec && rec.error().code == ErrorCode::kConflict && !key.empty()) {
                       // Either this id is recorded already (the upstream answered an id
                       // twice), or an older record still carries the key, whose
                       // reservation has expired (a record that finished late outlives
                       // it): then this is a new operation, recorded without the column
                       // (the reservation, bound below, is what replays read).
                       auto known = ctx.service.find(a.operation_id);
                       if (known && !known.value()) {
                         n.idempotency_key.clear();
                         rec = ctx.service.record_submitted(n);
                       }
                     }
                     if (!rec && rec.error().code != ErrorCode::kConflict) {
                       if (!key.empty()) (void)ctx.service.release_key(shared->tenant, key);
                       o.error = store_unavailable(rec.error());
                       done(std::move(o));
                       return;
                     }
                     if (!key.empty()) {
                       if (auto b = ctx.service.bind_key(shared->tenant, key, a.operation_id); !b) {
                         log::warn("cannot bind idempotency key", {{"operation_id", a.operation_id},
                                                                   {"detail", b.error().detail}});
                       }
                     }
                     boost::json::object state{{"operation_id", a.operation_id},
                                               {"analyzer_id", shared->analyzer_id},
                                               {"from", nullptr},
                                               {"to", "NotStarted"},
                                               {"resource", resource},
                                               {"request_id", shared->request_id}};
                     if (!a.upstream_request_id.empty())
                       state["upstream_request_id"] = a.upstream_request_id;
                     log::info("state", std::move(state));
                     ctx.on_submitted();
                     o.operation_id = a.operation_id;
                     done(std::move(o));
                   });
      },
      std::move(tags), std::move(options));
}

}  // namespace

}  // namespace lrogate::api
