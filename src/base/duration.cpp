#include "base/duration.h"

#include <cctype>
#include <cstdint>

namespace lrogate {

Result<std::chrono::milliseconds> parse_duration(std::string_view text) {
  auto bad = [&](std::string why) {
    return make_error(ErrorCode::kInvalidArgument,
                      "invalid duration '" + std::string(text.substr(0, 64)) + "': " + why);
  };
  if (text.empty()) return bad("empty");
  if (text.size() > 64) return bad("too long");
  constexpr std::int64_t kMax = kMaxDuration.count();
  auto too_large = [&] {
    return bad("too large (at most " + std::to_string(kMaxDuration / std::chrono::days(1)) + "d)");
  };
  // A bare number is seconds.
  bool bare = true;
  for (char c : text) bare = bare && std::isdigit(static_cast<unsigned char>(c));
  std::int64_t total = 0;
  std::size_t i = 0;
  while (i < text.size()) {
    if (!std::isdigit(static_cast<unsigned char>(text[i]))) return bad("expected a number");
    std::int64_t n = 0;
    while (i < text.size() && std::isdigit(static_cast<unsigned char>(text[i]))) {
      if (n > (kMax - (text[i] - '0')) / 10) return too_large();  // before it overflows
      n = n * 10 + (text[i] - '0');
      ++i;
    }
    std::size_t u = i;
    while (i < text.size() && std::isalpha(static_cast<unsigned char>(text[i]))) ++i;
    std::string_view unit = text.substr(u, i - u);
    std::int64_t mult = 0;
    if (unit == "ms")
      mult = 1;
    else if (unit == "s" || (unit.empty() && bare))
      mult = 1000;
    else if (unit == "m")
      mult = 60'000;
    else if (unit == "h")
      mult = 3'600'000;
    else if (unit == "d")
      mult = 86'400'000;
    else
      return bad(unit.empty() ? "missing unit (ms, s, m, h, d)" : "unknown unit");
    // total <= kMax here, so neither side overflows.
    if (n > (kMax - total) / mult) return too_large();
    total += n * mult;
  }
  return std::chrono::milliseconds(total);
}

std::string format_duration(std::chrono::milliseconds d) {
  std::int64_t ms = d.count();
  if (ms == 0) return "0s";
  std::string out;
  if (ms < 0) {
    out = "-";
    ms = -ms;
  }
  const std::pair<std::int64_t, const char*> units[] = {
      {3'600'000, "h"}, {60'000, "m"}, {1000, "s"}, {1, "ms"}};
  for (auto [size, name] : units) {
    if (ms >= size) {
      out += std::to_string(ms / size) + name;
      ms %= size;
    }
  }
  return out;
}

}  // namespace lrogate
