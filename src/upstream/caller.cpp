#include "upstream/caller.h"

#include <algorithm>

#include "base/metrics.h"
#include "http/router.h"

namespace lrogate::upstream {
namespace {

// The public code of a Credential's Error (Credential::headers).
const char* credential_error_code(const Error& e) {
  return e.code == ErrorCode::kUnauthenticated ? "UpstreamTokenRefused"
                                               : "UpstreamTokenUnavailable";
}

void add_tags(const CallTags& tags, http::ClientRequest& req) {
  if (!tags.client_request_id.empty()) {
    req.headers.push_back({"x-ms-client-request-id", tags.client_request_id});
  }
  if (!tags.traceparent.empty()) req.headers.push_back({"traceparent", tags.traceparent});
}

}  // namespace

std::chrono::milliseconds backoff_delay(int attempt, std::chrono::milliseconds base,
                                        std::chrono::milliseconds cap, double u) {
  double d = static_cast<double>(base.count());
  for (int i = 0; i < attempt && d < static_cast<double>(cap.count()); ++i) d *= 2;
  d = std::min(d, static_cast<double>(cap.count()));
  return std::chrono::milliseconds(static_cast<std::int64_t>(d / 2 + u * d / 2));
}

const char* submit_kind_name(SubmitAnswer::Kind k) {
  switch (k) {
    case SubmitAnswer::Kind::kAccepted:
      return "accepted";
    case SubmitAnswer::Kind::kRejected:
      return "rejected";
    case SubmitAnswer::Kind::kAuthRefused:
      return "auth_refused";
    case SubmitAnswer::Kind::kThrottled:
      return "throttled";
    case SubmitAnswer::Kind::kTransient:
      return "transient";
    case SubmitAnswer::Kind::kFailed:
      return "failed";
  }
  return "unknown";
}

const char* poll_kind_name(PollAnswer::Kind k) {
  switch (k) {
    case PollAnswer::Kind::kStatus:
      return "status";
    case PollAnswer::Kind::kTransient:
      return "transient";
    case PollAnswer::Kind::kVanished:
      return "vanished";
    case PollAnswer::Kind::kPermanent:
      return "permanent";
  }
  return "unknown";
}

Caller::Caller(const Upstream& upstream, Credential& credential, http::Client& client,
               const Clock& clock, std::string resource)
    : upstream_(upstream),
      credential_(credential),
      client_(client),
      clock_(clock),
      resource_(std::move(resource)) {}

void Caller::send(http::ClientRequest req, std::function<void(Result<http::ClientResult>)> done) {
  credential_.headers([this, req = std::move(req),
                       done = std::move(done)](Result<http::Headers> auth) mutable {
    if (!auth) {
      // headers() may answer on the credential's own client thread (a token
      // fetch failed): the caller's callbacks always run on its client's.
      client_.post([done = std::move(done), e = auth.error()]() mutable { done(std::move(e)); });
      return;
    }
    for (auto& h : auth.value()) req.headers.push_back(std::move(h));
    client_.send(std::move(req), [this, done = std::move(done)](http::ClientResult r) {
      if (r.response && r.response->status == 401) credential_.rejected();
      done(std::move(r));
    });
  });
}

void Caller::send_poll(http::ClientRequest req, const char* call,
                       std::function<void(PollAnswer)> done) {
  send(std::move(req), [this, call, done = std::move(done)](Result<http::ClientResult> r) {
    PollAnswer a;
    if (!r) {
      a.kind = PollAnswer::Kind::kTransient;
      a.error_code = credential_error_code(r.error());
      a.error_message = r.error().message;
    } else {
      a = upstream_.read_poll(r.value(), clock_.now_ms());
    }
    metrics::count_upstream_call(call, poll_kind_name(a.kind));
    metrics::count_resource_call(resource_, call, poll_kind_name(a.kind),
                                 r && r->response && r->response->status == 429);
    done(std::move(a));
  });
}

void Caller::submit(std::string_view analyzer_id, std::shared_ptr<const std::string> body,
                    std::string_view content_type, const SubmitOptions& options,
                    std::chrono::milliseconds timeout, std::function<void(SubmitAnswer)> done,
                    CallTags tags) {
  send_submit(
      upstream_.build_submit(analyzer_id, std::move(body), content_type, options), "submit",
      timeout, tags,
      [this](const http::ClientResult& r, Millis now) { return upstream_.read_submit(r, now); },
      std::move(done));
}

void Caller::analyzer(AnalyzerCall call, std::string_view analyzer_id,
                      std::shared_ptr<const std::string> body, bool allow_replace,
                      std::chrono::milliseconds timeout, std::function<void(SubmitAnswer)> done,
                      CallTags tags, SubmitOptions options) {
  auto req = upstream_.build_analyzer(call, analyzer_id, std::move(body), allow_replace, options);
  if (!req) {
    SubmitAnswer a;
    a.kind = SubmitAnswer::Kind::kFailed;
    a.error_code = "AnalyzersUnsupported";
    a.error_message = "this gateway's upstream (" + upstream_.settings().kind +
                      ") has no analyzers to create, read or delete";
    return done(std::move(a));
  }
  const char* name = call == AnalyzerCall::kCreate ? "analyzer_create"
                     : call == AnalyzerCall::kGet  ? "analyzer_get"
                                                   : "analyzer_delete";
  send_submit(
      std::move(*req), name, timeout, tags,
      [this, call](const http::ClientResult& r, Millis now) {
        return upstream_.read_analyzer(call, r, now);
      },
      std::move(done));
}

void Caller::send_submit(http::ClientRequest req, const char* call,
                         std::chrono::milliseconds timeout, const CallTags& tags,
                         std::function<SubmitAnswer(const http::ClientResult&, Millis)> read,
                         std::function<void(SubmitAnswer)> done) {
  req.timeout = std::min(req.timeout, std::max(timeout, std::chrono::milliseconds(1)));
  add_tags(tags, req);
  send(std::move(req), [this, call, read = std::move(read),
                        done = std::move(done)](Result<http::ClientResult> r) {
    SubmitAnswer a;
    bool throttled = false;
    if (!r) {
      // Refused: the gateway's own identity is wrong; no retry will fix it soon.
      a.kind = r.error().code == ErrorCode::kUnauthenticated ? SubmitAnswer::Kind::kAuthRefused
                                                             : SubmitAnswer::Kind::kTransient;
      a.error_code = credential_error_code(r.error());
      a.error_message = r.error().message;
    } else {
      a = read(r.value(), clock_.now_ms());
      std::string_view apim = r->response ? r->response->header("apim-request-id") : "";
      if (http::valid_client_request_id(apim)) a.upstream_request_id = apim;
      throttled = r->response && r->response->status == 429;
    }
    metrics::count_upstream_call(call, submit_kind_name(a.kind));
    metrics::count_resource_call(resource_, call, submit_kind_name(a.kind), throttled);
    done(std::move(a));
  });
}

void Caller::poll(std::string operation_location, std::function<void(PollAnswer)> done) {
  send_poll(upstream_.build_poll(operation_location), "poll", std::move(done));
}

void Caller::lookup(std::string analyzer_id, std::string operation_id,
                    std::function<void(PollAnswer)> done, CallTags tags) {
  auto req = upstream_.build_lookup(analyzer_id, operation_id);
  if (!req) {
    PollAnswer a;
    a.kind = PollAnswer::Kind::kVanished;
    a.error_code = "LookupUnsupported";
    a.error_message = "this upstream cannot be asked about an operation by id";
    return done(std::move(a));
  }
  add_tags(tags, *req);
  send_poll(std::move(*req), "lookup", std::move(done));
}

}  // namespace lrogate::upstream
