#include "api/replies.h"

#include <boost/json/object.hpp>
#include <boost/json/serialize.hpp>
#include <cctype>
#include <cmath>
#include <cstdio>

#include "api/poll_limiter.h"
#include "http/router.h"
#include "base/json_util.h"
#include "base/log.h"
#include "base/strings.h"

namespace lrogate::api {

ErrorStatus error_status(ErrorCode code) {
  switch (code) {
    case ErrorCode::kInvalidArgument:
      return {400, "InvalidRequest"};
    case ErrorCode::kNotFound:
      return {404, "NotFound"};
    case ErrorCode::kConflict:
      return {409, "Conflict"};
    case ErrorCode::kUnavailable:
      // The API meets this code from the store only: the upstream's failures
      // come as SubmitAnswer/PollAnswer (upstream_refusal, 502/503).
      return {503, "StoreUnavailable", 2};
    case ErrorCode::kUnauthenticated:
      return {401, "Unauthorized"};
    case ErrorCode::kInternal:
      break;
  }
  return {500, "InternalError"};
}

http::Response error_reply(int status, std::string_view code, std::string_view message) {
  http::Response r = http::json_response(status, json::error_body(code, message));
  // As Azure's services do (its REST API guidelines): the code in a header
  // too, which the SDKs read before the body.
  r.set("x-ms-error-code", std::string(code));
  return r;
}

http::Response error_reply(const Error& e, std::string_view code) {
  ErrorStatus s = error_status(e.code);
  http::Response r = error_reply(s.status, code.empty() ? s.code : code, e.message);
  if (s.retry_after_s > 0) r.set("Retry-After", std::to_string(s.retry_after_s));
  return r;
}

http::Response invalid_analyzer_id() {
  return error_reply(400, "InvalidAnalyzerId",
                     "analyzerId must match ^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$");
}

http::Response invalid_operation_id() {
  return error_reply(400, "InvalidOperationId",
                     "the operation id must match ^[A-Za-z0-9][A-Za-z0-9._-]{0,127}$");
}

http::Response store_unavailable(const Error& e) {
  log::error("store failed", {{"error", e.message}, {"detail", e.detail}});
  // Whatever the store's code (kInternal, an unexpected kConflict), the
  // client can only retry: it hears that the store cannot answer now.
  return error_reply(
      make_error(ErrorCode::kUnavailable, "the operation store is unavailable; retry shortly"));
}

http::Response too_many_polls(Millis wait_ms, std::string_view message) {
  http::Response r = error_reply(429, "TooManyRequests", message);
  r.set("Retry-After", std::to_string(std::max<Millis>(1, (wait_ms + 999) / 1000)));
  return r;
}

std::optional<http::Response> admit_poll(PollLimiter& limiter, const std::string& key) {
  Millis wait = limiter.admit(key);
  if (wait <= 0) return std::nullopt;
  return too_many_polls(wait, "too many polls of this operation: the limit is " +
                                  std::to_string(limiter.rate()) + " per second");
}

http::Response compat_processing(double elapsed_seconds, int retry_after_s,
                                 std::string_view message) {
  // elapsed_seconds with one decimal, as the original wrote it (round(x, 1)).
  char elapsed[32];
  std::size_t n = static_cast<std::size_t>(
      std::snprintf(elapsed, sizeof elapsed, "%.1f", std::max(0.0, elapsed_seconds)));
  // One buffer, sized once: this is every processing poll's body.
  constexpr std::string_view kHead = R"({"status":"processing","message":)";
  constexpr std::string_view kMid = R"(,"elapsed_seconds":)";
  std::string body;
  body.reserve(kHead.size() + message.size() + 8 + kMid.size() + n + 1);
  body.append(kHead);
  json::append_quoted(body, message);
  body.append(kMid).append(elapsed, std::min(n, sizeof elapsed - 1)).append("}");
  http::Response r = http::json_response(202, std::move(body));
  r.set("Retry-After", std::to_string(std::max(1, retry_after_s)));
  return r;
}

http::Response compat_failed(std::string_view message) {
  boost::json::object o{{"error", "Analysis failed"}, {"message", message}};
  return http::json_response(500, boost::json::serialize(o));
}

http::Response compat_result(const std::string& body, const std::string& content_type) {
  http::Response r = http::json_response(200, body);
  if (!content_type.empty()) r.content_type = content_type;
  return r;
}

http::Response status_monitor(const core::Operation& op, int retry_after_s) {
  http::Response r = http::json_response(200, boost::json::serialize(status_monitor_object(op)));
  if (!core::is_terminal(op.status))
    r.set("Retry-After", std::to_string(std::max(1, retry_after_s)));
  return r;
}

std::string event_body(const core::Operation& op, std::string_view event_id, bool cloudevents) {
  auto wrap = [&](boost::json::object monitor) {
    if (!cloudevents) return boost::json::serialize(monitor);
    std::string type = std::string("lrogate.operation.") + core::status_name(op.status);
    for (auto& c : type) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
    boost::json::object e{{"specversion", "1.0"},
                          {"id", event_id},
                          {"source", "/operations"},
                          {"subject", op.id},
                          {"type", type},
                          {"time", json::iso8601(op.updated_at)},
                          {"datacontenttype", "application/json"},
                          {"data", std::move(monitor)}};
    return boost::json::serialize(e);
  };
  std::string body = wrap(status_monitor_object(op));
  if (body.size() <= kMaxEventBody) return body;
  boost::json::object thin = status_monitor_object(op, /*with_result=*/false);
  thin["resultOmitted"] = true;
  return wrap(std::move(thin));
}

boost::json::object status_monitor_object(const core::Operation& op, bool with_result) {
  boost::json::object o{{"id", op.id},
                        {"kind", core::kind_name(op.kind)},
                        {"status", core::status_name(op.status)},
                        {"createdDateTime", json::iso8601(op.created_at)},
                        {"lastUpdatedDateTime", json::iso8601(op.updated_at)}};
  if (op.status == core::Status::kFailed || op.status == core::Status::kCanceled) {
    o["error"] = boost::json::object{{"code", op.error_code}, {"message", op.error_message}};
  }
  if (op.status == core::Status::kSucceeded && with_result) {
    auto v = json::parse(op.result);
    if (v && v->is_object() && v->as_object().contains("result")) {
      o["result"] = v->as_object()["result"];
    } else if (v) {
      o["result"] = *v;
    } else {
      o["result"] = op.result;
    }
  }
  return o;
}

std::variant<ListingQuery, http::Response> read_listing_query(
    std::string_view query, bool (*valid_status)(std::string_view), std::string_view statuses) {
  ListingQuery q;
  for (auto& [k, v] : http::parse_query(query)) {
    if (k == "status") {
      if (!valid_status(v)) {
        return error_reply(400, "InvalidStatus", "status must be " + std::string(statuses));
      }
      q.status = v;
    } else if (k == "top") {
      q.top = static_cast<int>(parse_digits(v, 4).value_or(0));
      if (q.top < 1 || q.top > 1000) {
        return error_reply(400, "InvalidTop", "top must be between 1 and 1000");
      }
    } else if (k == "skipToken") {
      q.skip_token = v;
    } else {
      return error_reply(400, "InvalidQuery", "unknown query parameter");
    }
  }
  return q;
}

std::string next_link(std::string_view base, std::string_view path, const ListingQuery& q,
                      std::string_view status, std::string_view token) {
  std::string next = std::string(path) + "?top=" + std::to_string(q.top);
  if (!status.empty()) next += "&status=" + std::string(status);
  next += "&skipToken=" + std::string(token);
  return public_url(base, next);
}

std::string public_url(std::string_view base, std::string_view path) {
  return std::string(base) + std::string(path);
}

}  // namespace lrogate::api
