#include "base/log.h"

#include <spdlog/sinks/stdout_sinks.h>
#include <spdlog/spdlog.h>

#include <atomic>
#include <boost/json/serialize.hpp>
#include <chrono>
#include <ctime>

#include "base/json_util.h"

namespace lrogate::log {
namespace {

std::atomic<Level> g_level{Level::kInfo};

spdlog::logger& logger() {
  // spdlog does the locking and the write; we hand it a finished JSON line.
  static auto instance = [] {
    auto l = spdlog::stderr_logger_mt("lrogate");
    l->set_pattern("%v");
    l->set_level(spdlog::level::trace);
    l->flush_on(spdlog::level::trace);
    return l;
  }();
  return *instance;
}

std::string timestamp() {
  auto now = std::chrono::system_clock::now().time_since_epoch();
  return json::iso8601(std::chrono::duration_cast<std::chrono::milliseconds>(now).count());
}

const char* level_name(Level l) {
  switch (l) {
    case Level::kDebug:
      return "debug";
    case Level::kInfo:
      return "info";
    case Level::kWarn:
      return "warn";
    case Level::kError:
      return "error";
  }
  return "info";
}

}  // namespace

void set_level(Level level) { g_level = level; }
bool enabled(Level level) { return level >= g_level.load(std::memory_order_relaxed); }

std::optional<Level> parse_level(std::string_view name) {
  if (name == "debug") return Level::kDebug;
  if (name == "info") return Level::kInfo;
  if (name == "warn") return Level::kWarn;
  if (name == "error") return Level::kError;
  return std::nullopt;
}

void write(Level level, std::string_view msg, boost::json::object fields) {
  if (level < g_level.load()) return;
  // Built by hand so doubles read as 12.5, not Boost.JSON 1.81's 1.25E1.
  std::string line = "{\"ts\":\"" + timestamp() + "\",\"level\":\"" + level_name(level) +
                     "\",\"msg\":" + boost::json::serialize(boost::json::string(msg));
  for (const auto& kv : fields) {
    line += ",";
    line += boost::json::serialize(boost::json::string(kv.key()));
    line += ":";
    if (kv.value().is_double()) {
      char buf[32];
      std::snprintf(buf, sizeof buf, "%.3f", kv.value().get_double());
      line += buf;
    } else {
      line += boost::json::serialize(kv.value());
    }
  }
  line += "}";
  logger().info(line);
}

}  // namespace lrogate::log
