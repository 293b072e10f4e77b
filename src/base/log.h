// Structured logs: one JSON object per line on stderr.
//
// Callers pass fields as a JSON object; the logger adds "ts", "level" and
// "msg". Thread-safe. Never pass a secret: nothing here can tell one apart.
#pragma once

#include <boost/json/object.hpp>
#include <optional>
#include <string_view>

namespace lrogate::log {

enum class Level { kDebug, kInfo, kWarn, kError };

void set_level(Level level);
// Whether a line at `level` would be written: callers that build costly
// fields (the per-request line) ask first.
bool enabled(Level level);
// "debug", "info", "warn", "error"; nullopt for anything else.
std::optional<Level> parse_level(std::string_view name);
void write(Level level, std::string_view msg, boost::json::object fields = {});

inline void info(std::string_view msg, boost::json::object fields = {}) {
  write(Level::kInfo, msg, std::move(fields));
}
inline void warn(std::string_view msg, boost::json::object fields = {}) {
  write(Level::kWarn, msg, std::move(fields));
}
inline void error(std::string_view msg, boost::json::object fields = {}) {
  write(Level::kError, msg, std::move(fields));
}
inline void debug(std::string_view msg, boost::json::object fields = {}) {
  write(Level::kDebug, msg, std::move(fields));
}

}  // namespace lrogate::log
