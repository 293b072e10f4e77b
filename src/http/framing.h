// Framing: where one HTTP/1.1 request ends and the next begins (RFC 9112).
//
// check_framing() decides, from a request's head alone and before any body
// byte is read, whether its framing is unambiguous and supported:
//   - Transfer-Encoding together with Content-Length is refused (§6.1, §6.3:
//     a server "ought to handle such a message as an error" and close; we do);
//   - Transfer-Encoding in an HTTP/1.0 request is refused (§6.1);
//   - Transfer-Encoding whose final coding is not exactly `chunked`, or that
//     names `chunked` twice, is refused (§6.1, §6.3 item 4); a well-formed list
//     with codings besides the final `chunked` (`gzip, chunked`) is 501 (§6.1:
//     we implement only chunked);
//   - more than one Content-Length, or a list (`2, 2`), is refused (§6.3 item 5);
//   - an HTTP/1.1 request without exactly one Host, or any request with two, is
//     refused (§3.2).
// Each refusal is answered with its ErrorAnswer and the connection closed, so
// no byte of a refused request is ever read as the next request.
//
// frame_requests() frames a byte string the way the server does, without
// sockets, for the unit tests and the fuzzer.
//
// append_response_head() writes an answer's status line and fields, the bytes
// Beast's serializer wrote before (the same fields in the same order), into a
// buffer the caller reuses, so that a response costs no allocation.
//
// Pure functions over plain values; no Beast types here (framing.cpp and
// server.cpp speak Beast). Thread-safe: no shared state.
#pragma once

#include <cstddef>
#include <functional>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "http/message.h"

namespace boost::system {
class error_code;
}

namespace lrogate::http {

// What check_framing() needs of a request head. The views point into the
// parser's header and live as long as it does.
struct RequestHead {
  int version = 11;  // 10: HTTP/1.0, 11: HTTP/1.1
  // Each Transfer-Encoding field's value, in order (empty when there is none,
  // so the common request allocates nothing).
  std::vector<std::string_view> transfer_encoding;
  std::size_t content_length_count = 0;  // number of Content-Length fields
  std::string_view content_length;       // the first one's value
  std::size_t host_count = 0;            // number of Host fields
  // Whether the parser will read the body as chunked (its own reading of
  // Transfer-Encoding); check_framing() refuses a head where the two differ.
  bool parser_chunked = false;
};

// Adds one header field to `head` if it is one check_framing() looks at
// (names are case-insensitive); other fields are ignored.
void note_field(RequestHead& head, std::string_view name, std::string_view value);

// The RequestHead of a Beast request_parser's header (read whole or in part).
template <class Parser>
RequestHead head_of(const Parser& parser) {
  RequestHead head;
  head.version = static_cast<int>(parser.get().version());
  head.parser_chunked = parser.chunked();
  for (const auto& field : parser.get()) note_field(head, field.name_string(), field.value());
  return head;
}

enum class FramingError {
  kAmbiguousFraming,           // Transfer-Encoding and Content-Length (400)
  kTransferEncodingInHttp10,   // Transfer-Encoding in HTTP/1.0 (400)
  kBadTransferEncoding,        // final coding not `chunked`, or `chunked` twice (400)
  kUnsupportedTransferCoding,  // codings besides the final `chunked` (501)
  kBadContentLength,           // several Content-Lengths, a list, not a number (400)
  kMissingHost,                // HTTP/1.1 without Host (400)
  kDuplicateHost,              // more than one Host (400)
};

// Returns nullopt iff the head's framing is acceptable: no Transfer-Encoding
// and at most one Content-Length of digits, or Transfer-Encoding that is
// exactly one `chunked` (any case; empty list elements and OWS ignored), no
// Content-Length, and the parser reading chunked too; and for HTTP/1.1 one
// Host. Allocates nothing.
std::optional<FramingError> check_framing(const RequestHead& head);

// What the server writes before it closes: status, error code and a message
// safe for the client, as {"error":{"code","message"}}.
struct ErrorAnswer {
  int status = 400;
  std::string_view code;  // a literal: lives as long as the program
  std::string message;
};

ErrorAnswer answer_for(FramingError error);

// The answer to an error of Beast's request parser (`ec`), met while reading
// a head (`so_far`: the fields read before the one refused) or a body.
// Framing refusals Beast makes itself (Transfer-Encoding after Content-Length
// and the like) are answered as check_framing() would have. nullopt: nothing
// to answer (the input ended; the peer went away).
std::optional<ErrorAnswer> answer_for_parse_error(const boost::system::error_code& ec,
                                                  const RequestHead& so_far,
                                                  std::size_t header_limit, std::size_t body_limit);

// The limit on a request body by method and path (the target without query).
using BodyLimit = std::function<std::size_t(std::string_view method, std::string_view path)>;

struct FramerLimits {
  std::size_t max_header = 16u << 10;
  std::size_t max_body = 64u << 20;
  BodyLimit body_limit;  // unset: max_body for every request
};

struct FramedRequest {
  std::string method;
  std::string target;
  std::string body;
  bool chunked = false;  // the body came chunked
  bool had_content_length = false;
  std::size_t body_limit = 0;  // the limit that applied to it
  bool keep_alive = true;      // the connection may carry another request
};

struct Framed {
  std::vector<FramedRequest> requests;  // in order; none after `error`
  // Why the connection was closed, as the server answers it; nullopt when the
  // input ended between requests, mid-request, or after a request that closes.
  std::optional<ErrorAnswer> error;
  bool incomplete = false;  // the input ended inside a request
};

// Parses `bytes` as one connection's worth of requests with Beast's request
// parser, the server's limits and check_framing() between head and body.
// Like the server, stops at the first error and after a request that does
// not keep the connection alive.
Framed frame_requests(std::string_view bytes, const FramerLimits& limits);

// Appends the HTTP/1.1 head of `r` to `out`: the status line, Content-Type
// (when r has one, and the status is not 1xx), r.headers in order (a field
// named like an earlier one follows that one's last sibling, as Beast orders
// them), `Connection: close` unless keep_alive, and Content-Length of r.body
// (on every answer, a 204 too, as Beast wrote it), then the blank line. The
// body is not included; for HEAD the caller writes the head alone.
void append_response_head(const Response& r, bool keep_alive, std::string& out);

}  // namespace lrogate::http
