// The submit path shared by the compatible route and POST /operations:
// input checks, idempotency keys, the upstream call with its retry budget,
// the durable record. The caller turns an accepted submit into its own
// answer shape.
#pragma once

#include <functional>
#include <optional>
#include <string>
#include <vector>

#include "api/routes.h"
#include "base/json_check.h"
#include "http/message.h"

namespace lrogate::api {

struct SubmitInput {
  std::string tenant = "default";
  std::string analyzer_id;
  std::string body;
  std::string content_type;
  std::string idempotency_key;  // empty: none
  bool body_checked = false;    // the body is JSON that json::check() already accepted
  std::string request_id;       // the gateway's id of the client request, for logs
  upstream::CallTags tags;      // sent with the upstream submit
  // The pool resource it must go to ("": any): its analyzer's, when this
  // gateway recorded the analyzer's creation.
  std::string resource;
  // The client's api-version and query (the Azure-compatible routes);
  // empty: the gateway's. Part of the idempotency hash when set.
  upstream::SubmitOptions options;
  // Where the completion event goes (read_callback checked it); empty:
  // nowhere. Part of the idempotency hash when set.
  std::string callback_url;
  // The client asked to reuse a stored result (wants_reuse; docs/design.md,
  // "Reuse of results").
  bool reuse = false;
  // What a later submit asking for reuse matches (set by the submit path
  // when it may be reused: store::Operation::reuse_key).
  std::string reuse_key;
  // Set by the submit path when it judged the tenant to have no quota (then
  // it reads no usage for it).
  bool quota_free = false;
};

struct SubmitOutcome {
  std::optional<http::Response> error;  // set when the submit did not go through
  std::string operation_id;
  bool replay = false;  // an earlier request with the same key was answered
  // A stored result was reused: the operation is Succeeded already. The
  // answer says `Preference-Applied: reuse`.
  bool reused = false;
};

// Whether a submit asks to reuse a stored result: its tenant's `reuse`
// setting (the tenants file), or `Prefer: reuse` (RFC 7240; among other
// preferences, any case, with or without parameters).
bool wants_reuse(const ApiContext& ctx, const http::Request& req);

// Whether a submit's body may be matched by a later one's: its bytes are the
// document (any body that is not JSON), or JSON with no member named `url`,
// `urlSource`, `documentUrl` or one of `url_members` at any depth, in any
// case (a URL's content can change).
bool reusable_body(std::string_view content_type, std::string_view body,
                   const std::vector<std::string>& url_members = {});

// The member names the pool's own "analyze this URL" body uses (a generic
// upstream's --generic-url-field among them), for reusable_body.
std::vector<std::string> url_members(const upstream::Pool& pool);

// The correlation headers for an upstream call made for req: its valid
// client request id (else the gateway's request id) and traceparent.
upstream::CallTags call_tags(const http::Request& req);

// Reads the callback of a submit into *url: the native body's callbackUrl
// (`from_body`, when it has one) or the Lrogate-Callback-Url header (the
// same URL when both are sent); an error answer when it is malformed, not a
// receiver the policy allows, or the caller's tenant has no webhook secret.
std::optional<http::Response> read_callback(const ApiContext& ctx, const http::Request& req,
                                            std::optional<std::string_view> from_body,
                                            std::string* url);

// Reads Idempotency-Key or Repeatability-Request-ID (+ Repeatability-First-Sent)
// into *key; returns an error answer when they are malformed.
std::optional<http::Response> read_idempotency_key(const http::Request& req, std::string* key);

// Validates (a JSON body with json::check, the same on both submit routes),
// then submits; done runs once, on any thread. An analyze of an analyzer
// whose latest creation (store::Kind::kAnalyzerCreation) is still running
// waits for it, at most --submit-timeout less the time kept for the submit
// itself (a quarter, ≤ 5 s), then submits or answers 409 AnalyzerNotReady
// with Retry-After; after a failed creation it answers 409
// AnalyzerCreationFailed. Called where with_submit_work runs its work:
// `on_event_loop` says whether that is an event loop (a small body). Then it
// makes no store call itself: with no idempotency key to check and the
// analyzer's latest creation known from memory (OperationService::
// cached_latest_creation) it goes straight to the upstream, else it hops to
// ctx.store_work first. Its own continuations (the creation wait, the
// upstream's answer) go to ctx.store_work.
void submit_operation(ApiContext& ctx, SubmitInput in, std::function<void(SubmitOutcome)> done,
                      bool on_event_loop);

// Runs a submit's first part: a body of at most 64 KiB inline, with
// on_event_loop true (checking it costs tens of microseconds, less than a
// thread hop), a larger one on ctx.body_work (with_body_work) with
// on_event_loop false. The work may parse the body but calls the store only
// through submit_operation.
void with_submit_work(ApiContext& ctx, std::size_t size, const http::Responder& respond,
                      std::function<void(bool on_event_loop)> work);

// Runs work where a body of `size` bytes may be parsed or hashed and the
// store called: on ctx.store_work when it is small (with_store), else on
// ctx.body_work (inline when they are null). When the queue is full it
// answers 503 ServerBusy with Retry-After itself, and work is not run.
void with_body_work(ApiContext& ctx, std::size_t size, const http::Responder& respond,
                    std::function<void()> work);

// The answer to an upstream call that did not go through (submits and
// analyzer calls): its 4xx passed on, 502 for the gateway's credentials or
// an unusable answer, 503 + Retry-After when throttled past the budget,
// 501 when the upstream has no analyzers.
http::Response upstream_refusal(const upstream::SubmitAnswer& a, std::chrono::milliseconds budget);

// The 400 for a body json::check() refused.
http::Response json_refused(const json::CheckError& e);

}  // namespace lrogate::api
