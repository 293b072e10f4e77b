// Caller: joins an Upstream adapter, the Credential and an http::Client into
// the calls the API and the poller make of one upstream resource: a submit,
// an analyzer call, a poll, a lookup — one attempt each. Retries, failover
// between resources and the resources' limits are the Pool's
// (upstream/pool.h). Every call gets its authentication headers from the
// Credential just before it is sent (adapters never see a key or token).
// Callbacks run on the client's I/O thread (this Caller's client, even when
// the Credential fetches its tokens through another one).
//
// A submit or lookup made for a client request may carry CallTags: they are
// sent as x-ms-client-request-id and traceparent (each when non-empty; the
// API validates them first). Polls carry none.
#pragma once

#include <chrono>
#include <functional>
#include <memory>
#include <string>
#include <string_view>

#include "base/clock.h"
#include "http/client.h"
#include "upstream/auth/credential.h"
#include "upstream/pool_settings.h"
#include "upstream/upstream.h"

namespace lrogate::upstream {

// The correlation headers of an upstream call made for a client request.
struct CallTags {
  std::string client_request_id;  // sent as x-ms-client-request-id when non-empty
  std::string traceparent;        // sent as traceparent when non-empty
};

class Caller {
 public:
  // `resource`: the pool resource's name, for the per-resource metrics.
  Caller(const Upstream& upstream, Credential& credential, http::Client& client, const Clock& clock,
         std::string resource = std::string(kDefaultResource));

  // One attempt, given at most `timeout` (the adapter's own timeout caps it).
  void submit(std::string_view analyzer_id, std::shared_ptr<const std::string> body,
              std::string_view content_type, const SubmitOptions& options,
              std::chrono::milliseconds timeout, std::function<void(SubmitAnswer)> done,
              CallTags tags = {});
  // An analyzer call for a client (create, read, delete), one attempt;
  // answers kFailed with AnalyzersUnsupported at once when the upstream has
  // no analyzers.
  void analyzer(AnalyzerCall call, std::string_view analyzer_id,
                std::shared_ptr<const std::string> body, bool allow_replace,
                std::chrono::milliseconds timeout, std::function<void(SubmitAnswer)> done,
                CallTags tags = {}, SubmitOptions options = {});
  void poll(std::string operation_location, std::function<void(PollAnswer)> done);
  // An operation started elsewhere; answers kVanished when the adapter has
  // no status URL for a bare id.
  void lookup(std::string analyzer_id, std::string operation_id,
              std::function<void(PollAnswer)> done, CallTags tags = {});

  const Upstream& upstream() const { return upstream_; }
  http::Client& client() { return client_; }

 private:
  // Sends req (tags added, timeout capped) and reads its answer with read.
  void send_submit(http::ClientRequest req, const char* call, std::chrono::milliseconds timeout,
                   const CallTags& tags,
                   std::function<SubmitAnswer(const http::ClientResult&, Millis)> read,
                   std::function<void(SubmitAnswer)> done);
  // Adds the credential's headers and sends: the client's result (which may
  // itself be a transport failure), or the Credential's Error when no
  // credential could be had.
  void send(http::ClientRequest req, std::function<void(Result<http::ClientResult>)> done);
  // A poll or lookup GET: sent with credentials, read, counted as `call`.
  void send_poll(http::ClientRequest req, const char* call, std::function<void(PollAnswer)> done);

  const Upstream& upstream_;
  Credential& credential_;
  http::Client& client_;
  const Clock& clock_;
  std::string resource_;
};

const char* submit_kind_name(SubmitAnswer::Kind k);
const char* poll_kind_name(PollAnswer::Kind k);

// The delay before retry `attempt` (0-based): base·2^attempt capped at cap,
// with "equal jitter" (half fixed, half uniform) from u in [0, 1).
std::chrono::milliseconds backoff_delay(int attempt, std::chrono::milliseconds base,
                                        std::chrono::milliseconds cap, double u);

}  // namespace lrogate::upstream
