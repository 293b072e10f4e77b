#include "upstream/operation_location.h"

#include "base/ids.h"
#include "base/strings.h"
#include "upstream/retry_after.h"

namespace lrogate::upstream {

bool is_json_type(std::string_view ct) {
  std::string t = to_lower(ct.substr(0, ct.find(';')));
  while (!t.empty() && t.back() == ' ') t.pop_back();
  return t == "application/json" || (t.rfind("application/", 0) == 0 && t.size() > 5 &&
                                     t.compare(t.size() - 5, 5, "+json") == 0);
}

http::ClientRequest OperationLocationUpstream::post(std::string url,
                                                    std::shared_ptr<const std::string> body,
                                                    std::string_view content_type) const {
  http::ClientRequest r;
  r.method = "POST";
  r.url = std::move(url);
  r.headers.push_back(
      {"content-type", content_type.empty() ? "application/json" : std::string(content_type)});
  r.shared_body = std::move(body);
  r.timeout = settings_.timeout;
  r.max_body = 1u << 20;
  return r;
}

SubmitAnswer OperationLocationUpstream::read_submit(const http::ClientResult& r, Millis now) const {
  SubmitAnswer a;
  if (!r.response) {
    // Retrying cannot fix a TLS, URL, size or protocol failure.
    bool final = r.failure == http::FailureKind::kTls || r.failure == http::FailureKind::kBadUrl ||
                 r.failure == http::FailureKind::kTooLarge ||
                 r.failure == http::FailureKind::kProtocol;
    a.kind = final ? SubmitAnswer::Kind::kFailed : SubmitAnswer::Kind::kTransient;
    a.error_code = r.failure == http::FailureKind::kTls ? "UpstreamTlsError"
                   : final                              ? "UpstreamProtocolError"
                                                        : "UpstreamUnavailable";
    a.error_message = r.error;
    return a;
  }
  const auto& res = *r.response;
  a.status = res.status;
  a.retry_after = parse_retry_after(res.headers, now);
  if (res.status == 200 || res.status == 201 || res.status == 202) {
    a.operation_location = std::string(res.header("operation-location"));
    a.operation_id = last_path_segment(a.operation_location);
    if (a.operation_location.empty() || !valid_operation_id(a.operation_id)) {
      a.kind = SubmitAnswer::Kind::kFailed;
      a.error_code = "UpstreamProtocolError";
      a.error_message = "the upstream accepted the analysis without a usable Operation-Location";
    } else if (!same_origin(a.operation_location)) {
      a.kind = SubmitAnswer::Kind::kFailed;
      a.error_code = "ForeignOperationLocation";
      a.error_message = "the upstream's Operation-Location points outside the configured endpoint";
    } else {
      a.kind = SubmitAnswer::Kind::kAccepted;
    }
    return a;
  }
  parse_error_body(res.body, &a.error_code, &a.error_message);
  if (res.status == 401 || res.status == 403) {
    a.kind = SubmitAnswer::Kind::kAuthRefused;
  } else if (res.status == 429) {
    a.kind = SubmitAnswer::Kind::kThrottled;
  } else if (res.status == 408 || res.status >= 500 || res.status < 200) {
    a.kind = SubmitAnswer::Kind::kTransient;
  } else if (res.status >= 400) {
    a.kind = SubmitAnswer::Kind::kRejected;
    if (a.error_code.empty()) a.error_code = "UpstreamRejected";
  } else {
    a.kind = SubmitAnswer::Kind::kTransient;  // 1xx/3xx: not an answer we can use
  }
  return a;
}

http::ClientRequest OperationLocationUpstream::build_poll(
    std::string_view operation_location) const {
  http::ClientRequest r;
  r.url = std::string(operation_location);
  r.timeout = settings_.timeout;
  r.max_body = settings_.max_result;
  return r;
}

PollAnswer OperationLocationUpstream::read_poll(const http::ClientResult& r, Millis now) const {
  PollAnswer a;
  if (!r.response) {
    if (r.failure == http::FailureKind::kTooLarge) {
      a.kind = PollAnswer::Kind::kPermanent;
      a.error_code = "ResultTooLarge";
      a.error_message = "the upstream result exceeds the gateway's --max-result-size";
    } else {
      a.kind = PollAnswer::Kind::kTransient;
      a.error_code = std::string("Upstream_") + http::failure_name(r.failure);
      a.error_message = r.error;
    }
    return a;
  }
  const auto& res = *r.response;
  a.retry_after = parse_retry_after(res.headers, now);
  if (res.status == 200) {
    StatusBody sb = parse_status_body(res.body, shape_);
    if (!sb.json || sb.phase == Phase::kUnknown) {
      a.kind = PollAnswer::Kind::kTransient;
      a.error_code = sb.json ? "UnknownStatus" : "UnparsableBody";
      a.error_message = sb.json ? "the upstream sent an unknown status '" + sb.status + "'"
                                : "the upstream sent a status body that is not JSON";
      return a;
    }
    if (sb.phase == Phase::kSucceeded && !sb.result_present) {
      // Succeeded without its result: read again rather than keep an empty answer.
      a.kind = PollAnswer::Kind::kTransient;
      a.error_code = "ResultMissing";
      a.error_message = "the upstream reported success without '" + shape_.result_field + "'";
      return a;
    }
    a.kind = PollAnswer::Kind::kStatus;
    a.phase = sb.phase;
    a.error_code = sb.error_code;
    a.error_message = sb.error_message;
    if (sb.phase == Phase::kSucceeded || sb.phase == Phase::kFailed ||
        sb.phase == Phase::kCanceled) {
      a.body = res.body;
      a.content_type = std::string(res.header("content-type"));
      if (a.content_type.empty()) a.content_type = "application/json";
      a.pages = sb.pages;
      a.tokens = sb.tokens;
    }
    return a;
  }
  if (res.status == 404 || res.status == 410) {
    a.kind = PollAnswer::Kind::kVanished;
    parse_error_body(res.body, &a.error_code, &a.error_message);
    return a;
  }
  if (res.status == 429 || res.status == 408 || res.status >= 500 || res.status == 401 ||
      res.status == 403 || res.status < 200 || (res.status > 200 && res.status < 400)) {
    // 401/403 while polling: keys get rotated; keep trying until max-wait.
    a.kind = PollAnswer::Kind::kTransient;
    a.error_code = "UpstreamStatus" + std::to_string(res.status);
    a.error_message = "the upstream answered " + std::to_string(res.status);
    return a;
  }
  a.kind = PollAnswer::Kind::kPermanent;
  parse_error_body(res.body, &a.error_code, &a.error_message);
  if (a.error_code.empty()) a.error_code = "UpstreamRejected";
  return a;
}

}  // namespace lrogate::upstream
