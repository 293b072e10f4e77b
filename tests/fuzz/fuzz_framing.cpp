// Request framing: any bytes, as one connection's worth of requests, must
// frame without crash or UB into requests whose framing was unambiguous —
// never Transfer-Encoding with Content-Length, no body over its limit — and
// stop at the first error with one of the server's answers.
#include <cstdint>
#include <string>
#include <string_view>

#include "http/framing.h"

using namespace lrogate;

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  std::string_view in(reinterpret_cast<const char*>(data), size);
  http::FramerLimits limits;
  limits.max_header = 1024;
  limits.body_limit = [](std::string_view method, std::string_view path) -> std::size_t {
    return method == "POST" && path == "/operations" ? 16 : 256;
  };
  http::Framed f = http::frame_requests(in, limits);
  if (f.error && f.incomplete) __builtin_trap();
  std::size_t body_bytes = 0;
  for (std::size_t i = 0; i < f.requests.size(); ++i) {
    const auto& r = f.requests[i];
    if (r.chunked && r.had_content_length) __builtin_trap();  // ambiguous, yet run
    if (r.body.size() > r.body_limit) __builtin_trap();
    if (r.body_limit != 16 && r.body_limit != 256) __builtin_trap();
    if (!r.chunked && !r.had_content_length && !r.body.empty()) __builtin_trap();
    if (!r.keep_alive && i + 1 != f.requests.size()) __builtin_trap();  // nothing after a close
    if (r.method.empty() || r.target.empty()) __builtin_trap();
    body_bytes += r.body.size();
  }
  // Every byte of a body came from the input, once.
  if (body_bytes > size) __builtin_trap();
  if (f.error) {
    int s = f.error->status;
    if (s != 400 && s != 413 && s != 431 && s != 501) __builtin_trap();
    if (f.error->code.empty() || f.error->message.empty()) __builtin_trap();
  }
  return 0;
}
