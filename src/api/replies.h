// The answers the API gives, in one place: error bodies, the compatible
// route's shapes, and the status monitor's.
#pragma once

#include <optional>
#include <string>
#include <string_view>

#include "base/result.h"
#include "core/operation.h"
#include "http/message.h"

namespace lrogate::api {

// {"error":{"code","message"}} with the given status.
http::Response error_reply(int status, std::string_view code, std::string_view message);
// 400 for an id that is not of its format (the message shows the format).
http::Response invalid_analyzer_id();
http::Response invalid_operation_id();
// 503 for a store failure (the detail goes to the log, not the client).
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

// base (--public-base-url, already validated, no trailing slash) + path;
// path alone without one. Never built from the request's Host header: a
// client could steer LRO pollers, and the credentials they resend, elsewhere.
std::string public_url(std::string_view base, std::string_view path);

}  // namespace lrogate::api
