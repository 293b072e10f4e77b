// Upstream: what varies between long-running-operation services. An adapter
// builds requests and reads answers; it never opens a socket and never sees
// a credential (http::Client does the I/O, Caller adds the Credential's
// headers and joins the two).
//
// Adapters (one folder each, registered in upstream.cpp):
//   azure-cu   Azure AI Content Understanding (the default)
//   azure-di   Azure AI Document Intelligence
//   generic    any Operation-Location service, described by GenericSettings
// Most of their work is shared by OperationLocationUpstream
// (upstream/operation_location.h): accept answers, poll answers, errors.
//
// Every URL an adapter builds starts with the configured endpoint, and the
// only other URLs the gateway follows (Operation-Location) must have the same
// scheme, host and port (same_origin): the gateway cannot be steered to call
// anything else.
#pragma once

#include <chrono>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "base/clock.h"
#include "base/result.h"
#include "http/client.h"
#include "upstream/settings.h"
#include "upstream/status_parser.h"

namespace lrogate::upstream {

struct SubmitAnswer {
  enum class Kind {
    kAccepted,     // operation_location + operation_id
    kRejected,     // the upstream refused the input: pass status, code, message on
    kAuthRefused,  // the gateway's credentials were refused
    kThrottled,    // 429; retry_after when given
    kTransient,    // 5xx, timeout, reset: worth retrying
    kFailed,       // not worth retrying (TLS verification, bad Operation-Location)
  };
  Kind kind = Kind::kTransient;
  int status = 0;
  std::string operation_location;
  std::string operation_id;
  std::optional<std::chrono::milliseconds> retry_after;
  std::string error_code;
  std::string error_message;
  std::string upstream_request_id;  // the answer's apim-request-id when valid, for logs
  // Set by read_analyzer only: what the upstream answered (an analyzer's
  // JSON), passed on to the client as it came.
  std::string body;
  std::string content_type;
};

// What a client of the Azure-compatible routes (api/azure/) chose for its
// submit: the service version it speaks, and the other query parameters it
// sent (features, pages, locale, ...), passed through. Empty: the adapter's
// configured version, no other parameters (every other route).
struct SubmitOptions {
  std::string api_version;  // one of api_versions(), checked by the caller
  std::string query;        // "name=value&..." percent-encoded as sent; "" none
};

// The calls on a service's analyzers (Content Understanding's custom
// analyzers): create (PUT, itself a long-running operation), read, delete.
enum class AnalyzerCall { kCreate, kGet, kDelete };

struct PollAnswer {
  enum class Kind {
    kStatus,     // a readable status (phase); body kept for final answers
    kTransient,  // retry later (429, 5xx, timeouts, resets, unparsable bodies)
    kVanished,   // 404: the upstream no longer knows the operation
    kPermanent,  // a final failure the upstream or the gateway cannot undo
  };
  Kind kind = Kind::kTransient;
  Phase phase = Phase::kUnknown;
  std::optional<std::chrono::milliseconds> retry_after;
  std::string body;
  std::string content_type;
  std::string error_code;
  std::string error_message;
  // A Succeeded body's usage as the adapter reads it (StatusShape::usage);
  // 0 when it tells none.
  std::int64_t pages = 0;
  std::int64_t tokens = 0;
};

class Upstream {
 public:
  virtual ~Upstream() = default;

  // The body is shared, not copied: the retries of one submit send the same.
  virtual http::ClientRequest build_submit(std::string_view analyzer_id,
                                           std::shared_ptr<const std::string> body,
                                           std::string_view content_type,
                                           const SubmitOptions& options) const = 0;
  // The service versions a client may ask for (SubmitOptions::api_version),
  // newest last; empty: the service has none (the generic adapter).
  virtual std::vector<std::string> api_versions() const { return {}; }
  virtual SubmitAnswer read_submit(const http::ClientResult& r, Millis now) const = 0;
  virtual http::ClientRequest build_poll(std::string_view operation_location) const = 0;
  virtual PollAnswer read_poll(const http::ClientResult& r, Millis now) const = 0;
  // The status URL of an operation started elsewhere, from a validated id;
  // nullopt when this upstream has no such URL.
  virtual std::optional<http::ClientRequest> build_lookup(std::string_view analyzer_id,
                                                          std::string_view operation_id) const = 0;
  // The JSON body that asks this upstream to analyze the document at url.
  virtual std::string document_url_body(std::string_view url) const = 0;
  // An analyzer call from a validated id; kCreate sends `body` (the
  // analyzer, JSON) and, with allow_replace, replaces an existing one; the
  // options' api_version, when set, is the one sent (its query is not).
  // nullopt when this upstream has no analyzers (the default).
  virtual std::optional<http::ClientRequest> build_analyzer(AnalyzerCall call,
                                                            std::string_view analyzer_id,
                                                            std::shared_ptr<const std::string> body,
                                                            bool allow_replace,
                                                            const SubmitOptions& options) const {
    (void)call, (void)analyzer_id, (void)body, (void)allow_replace, (void)options;
    return std::nullopt;
  }
  // Its answer, with body and content_type kept: kCreate reads as a submit
  // does (accepted only with an Operation-Location to follow); kGet and
  // kDelete are kAccepted on any 2xx; failures are classified as submits' are.
  SubmitAnswer read_analyzer(AnalyzerCall call, const http::ClientResult& r, Millis now) const;

  // Whether url has the configured endpoint's scheme, host and port.
  bool same_origin(std::string_view url) const;
  const Settings& settings() const { return settings_; }

 protected:
  explicit Upstream(Settings s) : settings_(std::move(s)) {}
  Settings settings_;
};

// Builds the adapter named by settings.kind.
Result<std::unique_ptr<Upstream>> make_upstream(const Settings& settings);
// The registered kinds, for --help and errors.
std::vector<std::string> upstream_kinds();

// The last path segment of a URL (query dropped): the operation id.
std::string last_path_segment(std::string_view url);

}  // namespace lrogate::upstream
