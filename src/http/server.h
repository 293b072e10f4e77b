// Server: an HTTP/1.1 server (optionally TLS) that hands each request to one
// Handler and writes what the Handler answers.
//
// Promises: every connection has deadlines (idle keep-alive, header read,
// body read, write); a request over the header or body limit is answered
// 431/413 without reading the rest and the connection is closed; a request
// the parser rejects is answered 400; at most max_connections are served
// (the rest get 503, but for the probe paths: see probe_reserve). Framing
// follows RFC 9112 (http/framing.h): an ambiguous or unsupported framing is
// answered 400/501 and the connection closed before any body byte is read.
// One io_context per thread; the handler may be called concurrently from
// several threads and may answer from any thread.
//
// TLS (tls_cert_file and tls_key_file set): TLS 1.2 and later. reload_tls()
// reads both files again; new connections use the new certificate, open ones
// keep the one they were accepted with (each holds its context), and a failed
// reload changes nothing.
#pragma once

#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "base/result.h"
#include "http/message.h"

namespace lrogate::http {

struct ServerOptions {
  std::string host = "127.0.0.1";
  std::uint16_t port = 0;  // 0: any free port; see Server::port()
  int threads = 2;
  std::size_t max_body = 64u << 20;
  std::size_t max_header = 16u << 10;
  std::size_t max_connections = 10'000;
  // Connections past max_connections, up to this many more, are read for one
  // request: a probe path is served, anything else answered 503; past the
  // reserve a connection is closed at once. So a flood of connections does
  // not fail liveness probes.
  std::size_t probe_reserve = 64;
  std::vector<std::string> probe_paths = {"/healthz", "/readyz"};
  // The body limit of one request by its method and path (413 beyond);
  // unset: max_body for every request.
  std::function<std::size_t(std::string_view method, std::string_view path)> body_limit;
  // Called on the answers the server writes itself, instead of a handler
  // (framing 400/501, 408, 413, 431, 503 at the probe reserve): req holds
  // the method, target and header fields read so far (all of them unless the
  // header itself was refused), no body. The router adds what every answer carries (CORS
  // headers, x-ms-request-id), so a browser page can read these errors too.
  std::function<void(const Request& req, Response& res)> decorate_own_answer;
  std::chrono::milliseconds header_timeout{10'000};
  std::chrono::milliseconds body_timeout{60'000};
  std::chrono::milliseconds idle_timeout{60'000};
  std::chrono::milliseconds write_timeout{60'000};
  std::string tls_cert_file;  // both set: serve HTTPS (PEM chain; create() fails on one alone)
  std::string tls_key_file;   // PEM private key matching the certificate
};

class Server {
 public:
  virtual ~Server() = default;

  // Binds and listens; the server does not serve until run(). A TLS file
  // that cannot be read or used, or a key not matching the certificate, is
  // an error kInvalidArgument naming the file and OpenSSL's reason (never the
  // file's contents).
  static Result<std::unique_ptr<Server>> create(const ServerOptions& options, Handler handler);

  virtual std::uint16_t port() const = 0;
  // Serves on `threads` threads (this one included) until stop() and drain.
  virtual void run() = 0;
  // Stops accepting, lets requests in flight finish (up to `drain`), then
  // makes run() return. Safe from any thread and from a signal watcher.
  virtual void stop(std::chrono::milliseconds drain) = 0;
  // Runs fn after delay on the server's first thread (simulator timers).
  virtual void post_after(std::chrono::milliseconds delay, std::function<void()> fn) = 0;
  // Calls fn on every SIGINT, SIGTERM or SIGHUP (from a server thread) until
  // the server stops.
  virtual void on_signal(std::function<void(int)> fn) = 0;
  // Reads the TLS certificate and key files again and serves new connections
  // with them; on error the old ones stay (the error says which file and
  // why). Without TLS: an error kInvalidArgument. Safe from any thread. It
  // blocks while it reads the two files: never call it on an I/O thread
  // (`serve` runs it on a thread of its own, queued by on_signal's callback).
  virtual Result<void> reload_tls() = 0;
};

}  // namespace lrogate::http
