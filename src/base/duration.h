// Durations as people write them in flags: "250ms", "10s", "5m", "1h", "1h30m".
// A bare number means seconds. Negative or overflowing values are errors.
#pragma once

#include <chrono>
#include <string>
#include <string_view>

#include "base/result.h"

namespace lrogate {

Result<std::chrono::milliseconds> parse_duration(std::string_view text);

// The shortest exact spelling: 90000ms → "1m30s", 250ms → "250ms", 0 → "0s".
std::string format_duration(std::chrono::milliseconds d);

}  // namespace lrogate
