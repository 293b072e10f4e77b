// How long the upstream asks us to wait: `retry-after-ms`, then
// `x-ms-retry-after-ms` (milliseconds), then `Retry-After` (delta-seconds or
// an HTTP-date, RFC 9110 §10.2.3). Values are clamped to [0, 1h]; nullopt
// when absent or unparsable.
#pragma once

#include <chrono>
#include <optional>
#include <string_view>

#include "base/clock.h"
#include "http/message.h"

namespace lrogate::upstream {

std::optional<std::chrono::milliseconds> parse_retry_after(const http::Headers& headers,
                                                           Millis now_epoch_ms);

// One Retry-After value (seconds or HTTP-date) alone; exposed for tests.
std::optional<std::chrono::milliseconds> parse_retry_after_value(std::string_view value,
                                                                 Millis now_epoch_ms);

}  // namespace lrogate::upstream
