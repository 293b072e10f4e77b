#include "base/duration.h"

#include <cctype>
#include <cstdint>
#include <limits>

namespace lrogate {

Result<std::chrono::milliseconds> parse_duration(std::string_view text) {
  auto bad = [&](std::string why) {
    return make_error(ErrorCode::kInvalidArgument,
                      "invalid duration '" + std::string(text.substr(0, 64)) + "': " + why);
  };
  if (text.empty()) return bad("empty");
  if (text.size() > 64) return bad("too long");
  // A bare number is seconds.
  bool all_digits = true;
  for (char c : text) all_digits = all_digits && std::isdigit(static_cast<unsigned char>(c));
  std::int64_t total = 0;
  constexpr std::int64_t kMax = std::numeric_limits<std::int64_t>::max() / 4;
  if (all_digits) {
    for (char c : text) {
      if (total > (kMax / 1000 - (c - '0')) / 10) return bad("too large");  // before it overflows
      total = total * 10 + (c - '0');
    }
    return std::chrono::milliseconds(total * 1000);
  }
  std::size_t i = 0;
  while (i < text.size()) {
    if (!std::isdigit(static_cast<unsigned char>(text[i]))) return bad("expected a number");
    std::int64_t n = 0;
    while (i < text.size() && std::isdigit(static_cast<unsigned char>(text[i]))) {
      if (n > (kMax - (text[i] - '0')) / 10) return bad("too large");  // before it overflows
      n = n * 10 + (text[i] - '0');
      ++i;
    }
    std::size_t u = i;
    while (i < text.size() && std::isalpha(static_cast<unsigned char>(text[i]))) ++i;
    std::string_view unit = text.substr(u, i - u);
    std::int64_t mult = 0;
    if (unit == "ms")
      mult = 1;
    else if (unit == "s")
      mult = 1000;
    else if (unit == "m")
      mult = 60'000;
    else if (unit == "h")
      mult = 3'600'000;
    else if (unit == "d")
      mult = 86'400'000;
    else
      return bad(unit.empty() ? "missing unit (ms, s, m, h, d)" : "unknown unit");
    if (n > kMax / mult) return bad("too large");
    total += n * mult;
    if (total > kMax) return bad("too large");
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
