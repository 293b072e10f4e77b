#include "upstream/retry_after.h"

#include <cctype>
#include <ctime>
#include <string>

#include "base/strings.h"

namespace lrogate::upstream {
namespace {

constexpr std::int64_t kMaxMs = 3'600'000;

std::optional<std::int64_t> parse_uint(std::string_view v) {
  while (!v.empty() && v.front() == ' ') v.remove_prefix(1);
  while (!v.empty() && v.back() == ' ') v.remove_suffix(1);
  return parse_digits(v, 12);
}

std::chrono::milliseconds clamp(std::int64_t ms) {
  return std::chrono::milliseconds(std::max<std::int64_t>(0, std::min(ms, kMaxMs)));
}

}  // namespace

std::optional<std::chrono::milliseconds> parse_retry_after_value(std::string_view value,
                                                                 Millis now_epoch_ms) {
  if (auto secs = parse_uint(value)) return clamp(*secs * 1000);
  if (value.size() > 64) return std::nullopt;
  // IMF-fixdate: "Sun, 06 Nov 1994 08:49:37 GMT".
  std::string s(value);
  std::tm tm{};
  const char* end = strptime(s.c_str(), "%a, %d %b %Y %H:%M:%S GMT", &tm);
  if (!end || *end != '\0') return std::nullopt;
  std::int64_t at = static_cast<std::int64_t>(timegm(&tm)) * 1000;
  return clamp(at - now_epoch_ms);
}

std::optional<std::chrono::milliseconds> parse_retry_after(const http::Headers& headers,
                                                           Millis now_epoch_ms) {
  for (const char* name : {"retry-after-ms", "x-ms-retry-after-ms"}) {
    auto v = http::find_header(headers, name);
    if (!v.empty()) {
      if (auto ms = parse_uint(v)) return clamp(*ms);
    }
  }
  auto v = http::find_header(headers, "retry-after");
  if (v.empty()) return std::nullopt;
  return parse_retry_after_value(v, now_epoch_ms);
}

}  // namespace lrogate::upstream
