#include "sim/directives.h"

#include <boost/url/parse.hpp>
#include <charconv>
#include <optional>

#include "base/duration.h"

namespace lrogate::sim {
namespace {

// A non-negative int of at most 9 characters, or nullopt.
std::optional<int> to_int(std::string_view s) {
  if (s.empty() || s.size() > 9) return std::nullopt;
  int n = 0;
  auto [p, ec] = std::from_chars(s.data(), s.data() + s.size(), n);
  if (ec != std::errc() || p != s.data() + s.size() || n < 0) return std::nullopt;
  return n;
}

Error bad(std::string_view what) {
  return make_error(ErrorCode::kInvalidArgument,
                    "invalid simulator directive: " + std::string(what));
}

Result<std::vector<Fault>> parse_faults(std::string_view list) {
  std::vector<Fault> out;
  while (!list.empty()) {
    auto comma = list.find(',');
    auto tok = list.substr(0, comma);
    auto f = parse_fault(tok);
    if (!f) return f.error();
    out.push_back(f.value());
    if (comma == std::string_view::npos) break;
    list.remove_prefix(comma + 1);
    if (out.size() > 1000) return bad("too many faults");
  }
  return out;
}

}  // namespace

Result<Fault> parse_fault(std::string_view tok) {
  Fault f;
  if (tok == "hang")
    f.kind = Fault::Kind::kHang;
  else if (tok == "slow")
    f.kind = Fault::Kind::kSlow;
  else if (tok == "reset")
    f.kind = Fault::Kind::kReset;
  else if (tok == "badjson")
    f.kind = Fault::Kind::kBadJson;
  else if (tok == "unknown")
    f.kind = Fault::Kind::kUnknownStatus;
  else {
    auto colon = tok.find(':');
    auto status = to_int(tok.substr(0, colon));
    if (!status || *status < 100 || *status > 599) return bad(tok);
    f.status = *status;
    if (colon != std::string_view::npos) {
      auto arg = tok.substr(colon + 1);
      if (arg.rfind("date", 0) == 0) {
        f.after = Fault::After::kDate;
        arg.remove_prefix(4);
      } else if (arg.rfind("ms", 0) == 0) {
        f.after = Fault::After::kMillis;
        arg.remove_prefix(2);
      } else {
        f.after = Fault::After::kSeconds;
      }
      auto after = to_int(arg);
      if (!after) return bad(tok);
      f.after_value = *after;
    }
  }
  return f;
}

Result<Directives> parse_directives(std::string_view url, const Directives& defaults) {
  Directives d = defaults;
  auto u = boost::urls::parse_uri_reference(url);
  if (!u) return d;
  for (auto p : u->params()) {
    std::string_view k = p.key;
    if (k.rfind("sim_", 0) != 0) continue;
    std::string v = p.value;
    if (k == "sim_duration") {
      auto dur = parse_duration(v);
      if (!dur) return bad(v);
      d.duration = dur.value();
      d.duration_given = true;
    } else if (k == "sim_outcome") {
      if (v != "Succeeded" && v != "Failed" && v != "Canceled") return bad(v);
      d.outcome = v;
    } else if (k == "sim_poll_faults") {
      auto f = parse_faults(v);
      if (!f) return f.error();
      d.poll_faults = f.value();
    } else if (k == "sim_submit_faults") {
      auto f = parse_faults(v);
      if (!f) return f.error();
      d.submit_faults = f.value();
    } else if (k == "sim_retry_after") {
      auto s = to_int(v);
      if (!s) return bad(v);
      d.retry_after_s = *s;
    } else if (k == "sim_result_bytes") {
      auto n = to_int(v);
      if (!n) return bad(v);
      d.result_bytes = static_cast<std::size_t>(*n);
    } else if (k == "sim_location") {
      if (v != "foreign") return bad(v);
      d.foreign_location = true;
    } else {
      return bad(k);
    }
  }
  return d;
}

}  // namespace lrogate::sim
