// Small helpers over Boost.JSON used by several parts.
#pragma once

#include <boost/json/object.hpp>
#include <boost/json/value.hpp>
#include <optional>
#include <string>
#include <string_view>

namespace lrogate::json {

// Parses text; nullopt when it is not one valid JSON value.
std::optional<boost::json::value> parse(std::string_view text);

// obj[key] as a string when it is one.
std::optional<std::string> get_string(const boost::json::object& obj, std::string_view key);

std::string to_string(const boost::json::value& v);

// Appends s as a JSON string (quotes included) to out, escaped exactly as
// boost::json::serialize escapes it.
void append_quoted(std::string& out, std::string_view s);

// {"error":{"code":code,"message":message}}
std::string error_body(std::string_view code, std::string_view message);

// ISO 8601 UTC with milliseconds, e.g. 2026-11-29T00:10:00.123Z.
std::string iso8601(long long epoch_ms);

}  // namespace lrogate::json
