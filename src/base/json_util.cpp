#include "base/json_util.h"

#include <boost/json/parse.hpp>
#include <boost/json/serialize.hpp>
#include <ctime>

namespace lrogate::json {

std::optional<boost::json::value> parse(std::string_view text) {
  boost::system::error_code ec;
  boost::json::value v = boost::json::parse(text, ec);
  if (ec) return std::nullopt;
  return v;
}

std::optional<std::string> get_string(const boost::json::object& obj, std::string_view key) {
  auto it = obj.find(key);
  if (it == obj.end() || !it->value().is_string()) return std::nullopt;
  return std::string(it->value().get_string());
}

std::string to_string(const boost::json::value& v) { return boost::json::serialize(v); }

void append_quoted(std::string& out, std::string_view s) {
  bool plain = true;
  for (char c : s) {
    plain = plain && c != '"' && c != '\\' && static_cast<unsigned char>(c) >= 0x20;
  }
  if (!plain) {  // rare: Boost.JSON's own escaping
    out += boost::json::serialize(boost::json::string(s));
    return;
  }
  out.push_back('"');
  out.append(s);
  out.push_back('"');
}

std::string error_body(std::string_view code, std::string_view message) {
  boost::json::object err{{"code", code}, {"message", message}};
  return boost::json::serialize(boost::json::object{{"error", std::move(err)}});
}

std::string iso8601(long long epoch_ms) {
  std::time_t secs = static_cast<std::time_t>(epoch_ms / 1000);
  std::tm tm{};
  gmtime_r(&secs, &tm);
  char buf[40];
  std::size_t n = std::strftime(buf, sizeof buf, "%Y-%m-%dT%H:%M:%S", &tm);
  std::snprintf(buf + n, sizeof buf - n, ".%03dZ", static_cast<int>(epoch_ms % 1000));
  return buf;
}

}  // namespace lrogate::json
