// The body check against Boost.JSON's own parser (a differential test):
// whatever check() accepts, the DOM parser accepts too, with the same
// members at the top, each member's bytes parsing to the DOM's value; and
// whatever the DOM parser refuses (within the depth limit), check() refuses.
#include <algorithm>
#include <boost/json/parse.hpp>
#include <cmath>
#include <cstdint>
#include <string>

#include "base/json_check.h"

using namespace lrogate;
namespace bj = boost::json;

namespace {

// Whether a DOM holds a non-finite number (check() refuses those).
bool has_infinity(const bj::value& v) {
  if (v.is_double()) return !std::isfinite(v.get_double());
  if (v.is_array()) {
    for (const auto& e : v.get_array()) {
      if (has_infinity(e)) return true;
    }
  }
  if (v.is_object()) {
    for (const auto& m : v.get_object()) {
      if (has_infinity(m.value())) return true;
    }
  }
  return false;
}

// The DOM's equality, but doubles within a few ULPs count as equal: Boost
// 1.81 parses numbers with a fast, imprecise algorithm whose last bits can
// differ for the same text inside a document and alone (seen:
// 10567891241.6051722 → ...171E10 alone, ...173E10 in an object;
// corpus/json_check/regression-imprecise-double). The gateway never
// reinterprets a number (bodies are forwarded byte for byte), so only the
// parsers' agreement on structure and values matters here.
bool same(const bj::value& a, const bj::value& b) {
  if (a.is_double() && b.is_double()) {
    double x = a.get_double(), y = b.get_double();
    return x == y || std::fabs(x - y) <= 1e-14 * std::max(std::fabs(x), std::fabs(y));
  }
  if (a.is_array() && b.is_array()) {
    const auto &p = a.get_array(), &q = b.get_array();
    if (p.size() != q.size()) return false;
    for (std::size_t i = 0; i < p.size(); ++i) {
      if (!same(p[i], q[i])) return false;
    }
    return true;
  }
  if (a.is_object() && b.is_object()) {
    const auto &p = a.get_object(), &q = b.get_object();
    if (p.size() != q.size()) return false;
    for (const auto& m : p) {
      const bj::value* v = q.if_contains(m.key());
      if (!v || !same(m.value(), *v)) return false;
    }
    return true;
  }
  return a == b;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  std::string_view in(reinterpret_cast<const char*>(data), size);
  json::CheckLimits limits;
  limits.max_depth = 16;
  auto refused = json::check(in, limits);
  bj::parse_options opt;
  opt.max_depth = 16;
  boost::system::error_code ec;
  bj::value dom = bj::parse(in, ec, {}, opt);
  if (!refused) {
    if (ec || has_infinity(dom)) __builtin_trap();
    if (dom.is_object()) {
      auto members = json::top_level_members(in);
      // No duplicates passed the check, so the DOM kept every member.
      if (members.size() != dom.get_object().size()) __builtin_trap();
      for (const auto& m : members) {
        const bj::value* v = dom.get_object().if_contains(m.key);
        if (!v) __builtin_trap();
        boost::system::error_code mec;
        bj::value mv = bj::parse(m.value, mec, {}, opt);
        if (mec || !same(mv, *v)) __builtin_trap();
      }
    }
  } else if (std::string(refused->code) == "InvalidJson" && !ec) {
    __builtin_trap();  // the DOM parser read it: only a check of ours may refuse it
  }
  return 0;
}
