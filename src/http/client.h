// Client: asynchronous HTTP/1.1 and HTTPS requests to the upstream.
//
// HTTPS verifies the peer certificate chain (system CAs plus an optional CA
// file) and the host name, and sends SNI. Every request has one total
// deadline (ClientRequest::timeout: waiting for a connection, connect, TLS,
// write and read all count against it) and a response body limit. Failures
// are values (ClientResult::error), never exceptions. The client runs its own
// I/O thread; callbacks run on it, so callers must not block in them. send(),
// post() and post_after() may be called from any thread; all connection state
// lives on the I/O thread alone.
//
// Connections are kept alive and reused per origin (scheme, host, port).
// At most ClientOptions::max_connections_per_origin are open to one origin at
// once, in use or idle; a request that finds none free waits in a first-come,
// first-served line for one (a reusable connection goes straight to the first
// in line; a closed one lets it open a new one) until its deadline (then
// kTimeout), and when max_waiters_per_origin already wait it fails at once
// (kConnect). An idle connection closes as soon as the server closes it (or
// sends bytes unasked), and after 15 s idle at the latest; one the server
// closed unnoticed is detected before use, and a GET whose kept-alive
// connection dropped before any answer is sent once more on a new one.
#pragma once

#include <chrono>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>

#include "base/result.h"
#include "http/message.h"

namespace lrogate::http {

struct ClientRequest {
  std::string method = "GET";
  std::string url;  // absolute http:// or https:// URL
  Headers headers;
  std::string body;
  // When set, sent instead of body: a large body shared by the retries of
  // one submit without a copy for each (the client keeps a reference until
  // the call completes, and never copies it).
  std::shared_ptr<const std::string> shared_body;
  std::chrono::milliseconds timeout{30'000};
  std::size_t max_body = 64u << 20;
};

struct ClientResponse {
  int status = 0;
  Headers headers;
  std::string body;
  std::string_view header(std::string_view name) const { return find_header(headers, name); }
};

enum class FailureKind {
  kNone,
  kBadUrl,
  kConnect,   // refused, unreachable, DNS
  kTls,       // handshake or verification failed
  kTimeout,   // the total deadline passed
  kReset,     // the connection dropped mid-exchange
  kTooLarge,  // the body exceeded max_body
  kProtocol,  // not HTTP
};

struct ClientResult {
  std::optional<ClientResponse> response;
  FailureKind failure = FailureKind::kNone;
  std::string error;  // safe for clients: names the kind, never a header or key
};

const char* failure_name(FailureKind kind);

struct ClientOptions {
  std::string ca_file;  // extra trusted CA (PEM), besides the system store
  // Connections open to one origin at once (in use or idle). A request that
  // finds them all busy waits for one, within its own deadline; at most
  // max_waiters_per_origin wait, the next fails at once (kConnect).
  std::size_t max_connections_per_origin = 128;
  std::size_t max_waiters_per_origin = 10'000;
  // When set, a connection is opened only to a resolved address (numeric,
  // as text) it allows; with none allowed the request fails (kConnect,
  // "the address is not allowed"). Checked after DNS, on every connection:
  // the webhook receivers' policy (notify/receiver_policy.h).
  std::function<bool(std::string_view ip)> allow_address;
};

class Client {
 public:
  virtual ~Client() = default;
  static Result<std::unique_ptr<Client>> create(const ClientOptions& options);

  virtual void send(ClientRequest request, std::function<void(ClientResult)> done) = 0;
  // Runs fn after delay on the client's thread (retry and schedule timers).
  virtual void post_after(std::chrono::milliseconds delay, std::function<void()> fn) = 0;
  virtual void post(std::function<void()> fn) = 0;
  // Stops the I/O thread; pending callbacks are dropped.
  virtual void shutdown() = 0;
};

}  // namespace lrogate::http
