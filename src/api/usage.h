// Usage and quotas (docs/design.md, "Usage and quotas"): GET /usage, and
// the daily quotas every submit route checks before it calls the upstream.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include "api/routes.h"

namespace lrogate::api {

// A UTC day written YYYY-MM-DD as days since the epoch; nullopt when it is
// not a valid date of years 1970-9999.
std::optional<std::int64_t> parse_day(std::string_view s);
// Days since the epoch as YYYY-MM-DD.
std::string format_day(std::int64_t day);

// The answer that refuses a submit of `tenant` over one of its daily quotas
// (429 QuotaExceeded, Retry-After: the seconds to the next UTC midnight), or
// a store failure's; nullopt: within its quotas. A tenant without a quota
// costs no store call. Makes a store call otherwise: on store_work only.
std::optional<http::Response> quota_refusal(ApiContext& ctx, const std::string& tenant);

}  // namespace lrogate::api
