#include "base/json_check.h"

#include <boost/json/basic_parser_impl.hpp>
#include <boost/json/parse.hpp>
#include <cmath>
#include <unordered_set>

namespace lrogate::json {
namespace {

namespace bj = boost::json;
using boost::system::error_code;

// The keys of one open object. Most objects have a handful of members, so
// they are compared in a small vector; a wide one moves to a hash set.
class KeySet {
 public:
  // False when key is already there.
  bool insert(std::string_view key) {
    if (set_.empty()) {
      for (const auto& k : small_) {
        if (k == key) return false;
      }
      if (small_.size() < kSmall) {
        small_.emplace_back(key);
        return true;
      }
      for (auto& k : small_) set_.insert(std::move(k));
      small_.clear();
    }
    return set_.emplace(key).second;
  }
  std::size_t size() const { return small_.size() + set_.size(); }
  void clear() {
    small_.clear();
    set_.clear();
  }

 private:
  static constexpr std::size_t kSmall = 16;
  std::vector<std::string> small_;
  std::unordered_set<std::string> set_;
};

std::string quoted_prefix(std::string_view key) {
  constexpr std::size_t kShown = 64;
  std::string out = "\"" + std::string(key.substr(0, kShown));
  out += key.size() > kShown ? "...\"" : "\"";
  return out;
}

struct Handler {
  static constexpr std::size_t max_object_size = std::size_t(-1);
  static constexpr std::size_t max_array_size = std::size_t(-1);
  static constexpr std::size_t max_key_size = std::size_t(1) << 16;
  static constexpr std::size_t max_string_size = std::size_t(-1);

  explicit Handler(const CheckLimits& l) : limits(l) {}

  const CheckLimits& limits;
  std::optional<CheckError> refused;
  // One KeySet per open object, reused across objects at the same depth.
  std::vector<KeySet> objects;
  std::size_t open = 0;  // objects[0, open) are in use
  std::size_t open_members = 0;
  std::string key;  // the key being read (its parts)

  bool refuse(error_code& ec, const char* code, std::string message) {
    refused = CheckError{code, std::move(message)};
    ec = make_error_code(boost::system::errc::invalid_argument);
    return false;
  }

  bool on_document_begin(error_code&) { return true; }
  bool on_document_end(error_code&) { return true; }
  bool on_object_begin(error_code&) {
    if (open == objects.size()) objects.emplace_back();
    ++open;
    return true;
  }
  bool on_object_end(std::size_t, error_code&) {
    KeySet& keys = objects[--open];
    open_members -= keys.size();
    keys.clear();
    return true;
  }
  bool on_array_begin(error_code&) { return true; }
  bool on_array_end(std::size_t, error_code&) { return true; }
  bool on_key_part(bj::string_view s, std::size_t, error_code&) {
    key.append(s.data(), s.size());
    return true;
  }
  bool on_key(bj::string_view s, std::size_t, error_code& ec) {
    key.append(s.data(), s.size());
    // Arrays hold no keys, so a key always belongs to the innermost object.
    if (!objects[open - 1].insert(key)) {
      return refuse(ec, "DuplicateJsonKey",
                    "the key " + quoted_prefix(key) + " appears twice in one JSON object");
    }
    key.clear();
    if (++open_members > limits.max_open_members) {
      return refuse(ec, "JsonTooWide",
                    "the JSON objects of the body hold more than " +
                        std::to_string(limits.max_open_members) + " members at once");
    }
    return true;
  }
  bool on_string_part(bj::string_view, std::size_t, error_code&) { return true; }
  bool on_string(bj::string_view, std::size_t, error_code&) { return true; }
  bool on_number_part(bj::string_view, error_code&) { return true; }
  bool on_int64(std::int64_t, bj::string_view, error_code&) { return true; }
  bool on_uint64(std::uint64_t, bj::string_view, error_code&) { return true; }
  bool on_double(double d, bj::string_view, error_code& ec) {
    // Integers past 2^64 arrive here too, as doubles: only overflow is refused.
    if (!std::isfinite(d)) {
      return refuse(ec, "JsonNumberOutOfRange",
                    "a number in the body is beyond the range of a double (about 1.8e308)");
    }
    return true;
  }
  bool on_bool(bool, error_code&) { return true; }
  bool on_null(error_code&) { return true; }
  bool on_comment_part(bj::string_view, error_code&) { return true; }
  bool on_comment(bj::string_view, error_code&) { return true; }
};

bool is_space(char c) { return c == ' ' || c == '\t' || c == '\n' || c == '\r'; }

std::size_t skip_space(std::string_view t, std::size_t i) {
  while (i < t.size() && is_space(t[i])) ++i;
  return i;
}

// The end of the string starting at t[i] == '"'.
std::size_t skip_string(std::string_view t, std::size_t i) {
  for (++i; i < t.size(); ++i) {
    if (t[i] == '\\') {
      ++i;
    } else if (t[i] == '"') {
      return i + 1;
    }
  }
  return t.size();
}

// The end of the (valid) value starting at t[i].
std::size_t skip_value(std::string_view t, std::size_t i) {
  if (i >= t.size()) return t.size();
  if (t[i] == '"') return skip_string(t, i);
  if (t[i] == '{' || t[i] == '[') {
    std::size_t depth = 0;
    while (i < t.size()) {
      char c = t[i];
      if (c == '"') {
        i = skip_string(t, i);
        continue;
      }
      if (c == '{' || c == '[') ++depth;
      if ((c == '}' || c == ']') && --depth == 0) return i + 1;
      ++i;
    }
    return t.size();
  }
  while (i < t.size() && !is_space(t[i]) && t[i] != ',' && t[i] != '}' && t[i] != ']') ++i;
  return i;
}

}  // namespace

std::optional<CheckError> check(std::string_view text, const CheckLimits& limits) {
  bj::parse_options opt;
  opt.max_depth = limits.max_depth;
  bj::basic_parser<Handler> p(opt, limits);
  error_code ec;
  std::size_t n = p.write_some(false, text.data(), text.size(), ec);
  if (p.handler().refused) return std::move(p.handler().refused);
  if (ec == bj::error::too_deep) {
    return CheckError{"JsonTooDeep", "the JSON body nests deeper than " +
                                         std::to_string(limits.max_depth) + " levels"};
  }
  if (ec == bj::error::key_too_large) {
    return CheckError{"JsonKeyTooLong", "a key in the JSON body is longer than " +
                                            std::to_string(Handler::max_key_size) + " bytes"};
  }
  if (ec || n != text.size()) {
    return CheckError{"InvalidJson", "the request body is not valid JSON (at byte " +
                                         std::to_string(n) + ")"};
  }
  return std::nullopt;
}

std::vector<Member> top_level_members(std::string_view t) {
  std::vector<Member> out;
  std::size_t i = skip_space(t, 0);
  if (i >= t.size() || t[i] != '{') return out;
  i = skip_space(t, i + 1);
  while (i < t.size() && t[i] == '"') {
    std::size_t key_end = skip_string(t, i);
    error_code ec;
    bj::value key = bj::parse(t.substr(i, key_end - i), ec);
    if (ec || !key.is_string()) return {};
    i = skip_space(t, key_end);
    if (i >= t.size() || t[i] != ':') return {};
    i = skip_space(t, i + 1);
    std::size_t value_end = skip_value(t, i);
    out.push_back({std::string(key.get_string()), t.substr(i, value_end - i)});
    i = skip_space(t, value_end);
    if (i < t.size() && t[i] == ',') i = skip_space(t, i + 1);
  }
  return out;
}

}  // namespace lrogate::json
