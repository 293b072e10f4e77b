// Upstream: what varies between long-running-operation services. An adapter
// builds requests and reads answers; it never opens a socket (http::Client
// does the I/O, Caller and the poller join the two).
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

#include "base/clock.h"
#include "base/result.h"
#include "http/client.h"
#include "upstream/status_parser.h"

namespace lrogate::upstream {

struct Settings {
  std::string kind = "azure-cu";
  std::string endpoint;  // scheme://host[:port][/base], no trailing slash
  std::string key;       // never logged, never answered
  std::string api_version = "2025-05-01-preview";
  std::chrono::milliseconds timeout{30'000};
  std::size_t max_result = 64u << 20;
};

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
};

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
};

class Upstream {
 public:
  virtual ~Upstream() = default;

  virtual http::ClientRequest build_submit(std::string_view analyzer_id, std::string body,
                                           std::string_view content_type) const = 0;
  virtual SubmitAnswer read_submit(const http::ClientResult& r, Millis now) const = 0;
  virtual http::ClientRequest build_poll(std::string_view operation_location) const = 0;
  virtual PollAnswer read_poll(const http::ClientResult& r, Millis now) const = 0;
  // The status URL of an operation started elsewhere, from a validated id.
  virtual http::ClientRequest build_lookup(std::string_view operation_id) const = 0;

  // Whether url has the configured endpoint's scheme, host and port.
  bool same_origin(std::string_view url) const;
  const Settings& settings() const { return settings_; }

 protected:
  explicit Upstream(Settings s) : settings_(std::move(s)) {}
  Settings settings_;
};

// Builds the adapter named by settings.kind ("azure-cu").
Result<std::unique_ptr<Upstream>> make_upstream(const Settings& settings);

// The last path segment of a URL (query dropped): the operation id.
std::string last_path_segment(std::string_view url);

}  // namespace lrogate::upstream
