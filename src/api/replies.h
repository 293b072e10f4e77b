// The answers the API gives, in one place: error bodies, the compatible
// route's shapes, and the status monitor's.
#pragma once

#include <boost/json/object.hpp>
#include <string>
#include <string_view>
#include <variant>

#include <optional>
#include <string>
#include <string_view>

#include "base/result.h"
#include "core/operation.h"
#include "http/message.h"

namespace lrogate::api {

// How an Error reads to a client: the one table from ErrorCode to an HTTP
// status and the public code of the error body (every ErrorCode has an
// entry), with the Retry-After it carries (0: none).
struct ErrorStatus {
  int status;
  std::string_view code;  // a literal
  int retry_after_s = 0;
};
ErrorStatus error_status(ErrorCode code);

// {"error":{"code","message"}} with the given status and x-ms-error-code:
// a handler's own answer.
http::Response error_reply(int status, std::string_view code, std::string_view message);
// The answer to an Error: error_status(e.code)'s status and Retry-After, and
// e.message (never e.detail, which is for the log). `code`, when given, names
// the failure more precisely than the table's code (InvalidSkipToken,
// JsonTooDeep); the status stays the table's.
http::Response error_reply(const Error& e, std::string_view code = {});
// 400 for an id that is not of its format (the message shows the format).
http::Response invalid_analyzer_id();
http::Response invalid_operation_id();
// The answer to a store call that failed (logged, with its detail): the
// table's kUnavailable, 503 StoreUnavailable + Retry-After, whatever e.code.
http::Response store_unavailable(const Error& e);
// 429 with Retry-After (seconds, rounded up).
http::Response too_many_polls(Millis wait_ms, std::string_view message);
// The client poll rate check of both status routes: the 429 when over it.
class PollLimiter;
// key: poll_key(owner, id).
std::optional<http::Response> admit_poll(PollLimiter& limiter, const std::string& key);

// Compatible results route: 202 processing (+Retry-After).
http::Response compat_processing(double elapsed_seconds, int retry_after_s,
                                 std::string_view message);
// 500 {"error":"Analysis failed","message"}.
http::Response compat_failed(std::string_view message);
// 200 with a stored final body, byte for byte.
http::Response compat_result(const std::string& body, const std::string& content_type);

// The status monitor document of an operation (GET /operations/{id}).
http::Response status_monitor(const core::Operation& op, int retry_after_s);
// Its JSON, without or with the result.
boost::json::object status_monitor_object(const core::Operation& op, bool with_result = true);

// A completion event's body (docs/design.md, "Completion webhooks"): the
// final operation's status monitor, or with `cloudevents` that monitor as
// the data of a CloudEvents 1.0 structured-mode event whose id is
// `event_id`. Past kMaxEventBody the result is left out and
// "resultOmitted": true says to GET it.
std::string event_body(const core::Operation& op, std::string_view event_id, bool cloudevents);
inline constexpr std::size_t kMaxEventBody = 1u << 20;

// The query of a listing (GET /operations, GET /webhooks/deliveries):
// `status` (kept as sent, for the caller's parser: `valid_status`),
// `top` 1-1000 (default 50) and `skipToken`; the 400 for anything else.
struct ListingQuery {
  std::string status;  // empty: none asked
  int top = 50;
  std::string skip_token;
};
std::variant<ListingQuery, http::Response> read_listing_query(
    std::string_view query, bool (*valid_status)(std::string_view),
    std::string_view statuses);  // "status must be " + statuses
// A page's nextLink: path?top=N[&status=S]&skipToken=T under the base.
std::string next_link(std::string_view base, std::string_view path, const ListingQuery& q,
                      std::string_view status, std::string_view token);

// base (--public-base-url, already validated, no trailing slash) + path;
// path alone without one. Never built from the request's Host header: a
// client could steer LRO pollers, and the credentials they resend, elsewhere.
std::string public_url(std::string_view base, std::string_view path);

}  // namespace lrogate::api
