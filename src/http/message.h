// Plain HTTP messages: what handlers see and return. No Beast types here, so
// api/ and sim/ compile without Asio. Header names are stored lower-case.
#pragma once

#include <chrono>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace lrogate::http {

struct Header {
  std::string name;  // lower-case
  std::string value;
};

using Headers = std::vector<Header>;

// The value of the first header named `name` (lower-case), or "".
std::string_view find_header(const Headers& headers, std::string_view name);

struct Request {
  std::string method;  // "GET", "POST", ...
  std::string target;  // as sent: path?query
  std::string path;    // percent-decoding is left to the router
  std::string query;   // without '?'
  Headers headers;
  std::string body;
  std::string remote;  // peer address, for logs
  bool tls = false;
  std::string principal;  // who the request acts for (the tenant), set by the router's guard
  // Correlation, set by the router before the guard: the gateway's id for
  // this request (answered as x-ms-request-id), and the client's
  // x-ms-client-request-id and W3C traceparent when valid (else "").
  std::string request_id;
  std::string client_request_id;
  std::string traceparent;

  std::string_view header(std::string_view name) const { return find_header(headers, name); }
};

// Test-only faults the simulator can ask the server to commit while it
// writes a response; the gateway never sets them.
struct WriteFault {
  std::chrono::milliseconds trickle{0};  // pause between 16-byte pieces
  std::size_t cut_after = 0;             // reset the connection after this many bytes (0: off)
};

struct Response {
  int status = 200;
  Headers headers;
  std::string body;
  std::string content_type = "application/json";
  bool close = false;            // close the connection after this response
  std::string log_operation_id;  // for the request log line when no route param names it
  WriteFault fault;

  Response& set(std::string name, std::string value) {
    headers.push_back({std::move(name), std::move(value)});
    return *this;
  }
};

Response json_response(int status, std::string body);

// The handler answers by calling the Responder once, from any thread.
using Responder = std::function<void(Response)>;
using Handler = std::function<void(Request&&, Responder)>;

// Scheme and host (lowercase) and port (explicit, or the scheme's default)
// of an absolute http:// or https:// URL with a host; nullopt for any other
// text. Used wherever a configured or submitted URL must be web-reachable.
struct Origin {
  std::string scheme, host, port;
  bool operator==(const Origin&) const = default;
};
std::optional<Origin> http_origin(std::string_view url);

}  // namespace lrogate::http
