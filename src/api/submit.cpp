#include "api/submit.h"

#include "api/replies.h"
#include "base/ids.h"
#include "base/json_util.h"
#include "base/log.h"
#include "base/sha256.h"
#include "upstream/operation_location.h"
#include "upstream/retry_after.h"

namespace lrogate::api {
namespace {

http::Response submit_failure(const upstream::SubmitAnswer& a, std::chrono::milliseconds budget) {
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
  return error_reply(502, a.error_code.empty() ? "UpstreamError" : a.error_code, a.error_message);
}

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

http::Response json_refused(const json::CheckError& e) { return error_reply(400, e.code, e.message); }

void with_body_work(ApiContext& ctx, std::size_t size, const http::Responder& respond,
                    std::function<void()> work) {
  // Checking 64 KiB of JSON costs tens of microseconds: not worth a thread hop.
  constexpr std::size_t kInline = 64u << 10;
  if (size <= kInline || !ctx.body_work) return work();
  if (ctx.body_work->try_post(std::move(work))) return;
  http::Response r = error_reply(503, "ServerBusy",
                                 "too many large request bodies are being checked; retry shortly");
  r.set("Retry-After", "1");
  respond(std::move(r));
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

void submit_operation(ApiContext& ctx, SubmitInput in, std::function<void(SubmitOutcome)> done) {
  auto fail = [&done](http::Response r) {
    SubmitOutcome o;
    o.error = std::move(r);
    done(std::move(o));
  };
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
  if (!in.idempotency_key.empty()) {
    std::string hash = sha256_hex({in.analyzer_id, "\n", in.content_type, "\n", in.body});
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
  auto shared = std::make_shared<SubmitInput>(std::move(in));
  std::string body = std::move(shared->body);
  upstream::CallTags tags = std::move(shared->tags);
  ctx.caller.submit(
      shared->analyzer_id, std::move(body), shared->content_type, ctx.config.submit_timeout,
      [&ctx, shared, done = std::move(done)](upstream::SubmitAnswer a) {
        const std::string& key = shared->idempotency_key;
        SubmitOutcome o;
        if (a.kind != upstream::SubmitAnswer::Kind::kAccepted) {
          boost::json::object refused{{"analyzer_id", shared->analyzer_id},
                                      {"upstream_status", a.status},
                                      {"error_code", a.error_code},
                                      {"error", a.error_message},
                                      {"request_id", shared->request_id}};
          if (!a.upstream_request_id.empty()) {
            refused["upstream_request_id"] = a.upstream_request_id;
          }
          log::warn("submit refused", std::move(refused));
          if (!key.empty()) (void)ctx.service.release_key(shared->tenant, key);
          o.error = submit_failure(a, ctx.config.submit_timeout);
          done(std::move(o));
          return;
        }
        core::NewOperation n{a.operation_id, shared->tenant, shared->analyzer_id,
                             a.operation_location, key};
        auto rec = ctx.service.record_submitted(n);
        if (!rec && rec.error().code != ErrorCode::kConflict) {
          if (!key.empty()) (void)ctx.service.release_key(shared->tenant, key);
          o.error = store_unavailable(rec.error());
          done(std::move(o));
          return;
        }
        if (!key.empty()) {
          if (auto b = ctx.service.bind_key(shared->tenant, key, a.operation_id); !b) {
            log::warn("cannot bind idempotency key",
                      {{"operation_id", a.operation_id}, {"detail", b.error().detail}});
          }
        }
        boost::json::object state{{"operation_id", a.operation_id},
                                  {"analyzer_id", shared->analyzer_id},
                                  {"from", nullptr},
                                  {"to", "NotStarted"},
                                  {"request_id", shared->request_id}};
        if (!a.upstream_request_id.empty()) state["upstream_request_id"] = a.upstream_request_id;
        log::info("state", std::move(state));
        ctx.on_submitted();
        o.operation_id = a.operation_id;
        done(std::move(o));
      },
      std::move(tags));
}

}  // namespace lrogate::api
