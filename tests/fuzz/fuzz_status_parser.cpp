// The upstream status parser and Retry-After reader on arbitrary bodies and headers.
#include <cstdint>
#include <string>

#include "upstream/retry_after.h"
#include "upstream/status_parser.h"

using namespace lrogate;

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  std::string_view in(reinterpret_cast<const char*>(data), size);
  auto s = upstream::parse_status_body(in);
  if (s.status.size() > 64 || s.error_message.size() > 2048) __builtin_trap();
  if (!s.json && s.phase != upstream::Phase::kUnknown) __builtin_trap();
  std::string code, message;
  upstream::parse_error_body(in, &code, &message);
  if (message.empty()) __builtin_trap();
  auto ra = upstream::parse_retry_after_value(in.substr(0, 80), 1'700'000'000'000);
  if (ra && (ra->count() < 0 || ra->count() > 3'600'000)) __builtin_trap();
  http::Headers h{{"retry-after-ms", std::string(in.substr(0, 20))}};
  (void)upstream::parse_retry_after(h, 0);
  return 0;
}
