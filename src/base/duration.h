// Durations as people write them in flags: "250ms", "10s", "5m", "1h", "1h30m".
// A bare number means seconds. Negative values, values over kMaxDuration and
// anything else that is not such a spelling are errors; a parsed duration is
// always in [0, kMaxDuration], so it still fits in nanoseconds after being
// added to any clock's now() (twice, even).
#pragma once

#include <chrono>
#include <string>
#include <string_view>

#include "base/result.h"

namespace lrogate {

// 36500d: a hundred years, the longest duration parse_duration accepts.
inline constexpr std::chrono::milliseconds kMaxDuration = std::chrono::hours(24 * 36'500);

Result<std::chrono::milliseconds> parse_duration(std::string_view text);

// The shortest exact spelling: 90000ms → "1m30s", 250ms → "250ms", 0 → "0s".
std::string format_duration(std::chrono::milliseconds d);

}  // namespace lrogate
