#include "sim/throttle.h"

#include <algorithm>
#include <boost/json/array.hpp>
#include <boost/json/serialize.hpp>
#include <optional>
#include <string>

#include "base/json_util.h"

namespace lrogate::sim {

Throttle::Throttle(ThrottleLimits limits) : limits_(limits) {}

Throttle::Second& Throttle::second_of(Millis now) {
  std::int64_t t = now / 1000;
  Second& s = seconds_[static_cast<std::size_t>(t % 60)];
  if (s.t != t) s = Second{t, {}, {}};
  return s;
}

Throttle::Verdict Throttle::admit(CallKind kind, Millis now) {
  MutexLock lock(mu_);
  now = std::max(now, last_);
  last_ = now;
  auto k = static_cast<std::size_t>(kind);
  int kind_limit = kind == CallKind::kAnalyze ? limits_.analyze_rps : limits_.status_rps;
  Millis at = per_kind_[k].admit_at(now, kind_limit);
  Verdict v;
  if (at > now) v.limit = kind_limit;
  if (limits_.ops_per_minute > 0) {
    Millis minute_at = all_60s_.admit_at(now, limits_.ops_per_minute);
    if (minute_at > at) {
      at = minute_at;
      v.limit = limits_.ops_per_minute;
      v.per_minute = true;
    }
  }
  Second& second = second_of(now);
  if (at > now) {
    v.admitted = false;
    v.wait_ms = at - now;
    v.retry_after_s = static_cast<int>(std::max<Millis>(1, (v.wait_ms + 999) / 1000));
    ++throttled_[k];
    ++second.throttled[k];
    return v;
  }
  v.limit = 0;
  ++admitted_[k];
  ++second.admitted[k];
  max_kind_1s_[k] = std::max(max_kind_1s_[k], per_kind_[k].record(now));
  max_all_1s_ = std::max(max_all_1s_, all_1s_.record(now));
  if (limits_.ops_per_minute > 0) max_all_60s_ = std::max(max_all_60s_, all_60s_.record(now));
  return v;
}

ThrottleLimits Throttle::limits() const {
  MutexLock lock(mu_);
  return limits_;
}

void Throttle::set_limits(ThrottleLimits limits) {
  MutexLock lock(mu_);
  limits_ = limits;
}

void Throttle::reset_counts() {
  MutexLock lock(mu_);
  admitted_ = {};
  throttled_ = {};
  max_kind_1s_ = {};
  max_all_1s_ = 0;
  max_all_60s_ = 0;
  seconds_ = {};
}

void Throttle::add_stats(boost::json::object& o, Millis now) const {
  MutexLock lock(mu_);
  now = std::max(now, last_);
  o["analyze_rps"] = limits_.analyze_rps;
  o["status_rps"] = limits_.status_rps;
  o["ops_per_minute"] = limits_.ops_per_minute;
  o["admitted_analyze"] = admitted_[0];
  o["admitted_status"] = admitted_[1];
  o["throttled_analyze"] = throttled_[0];
  o["throttled_status"] = throttled_[1];
  o["max_analyze_1s"] = max_kind_1s_[0];
  o["max_status_1s"] = max_kind_1s_[1];
  o["max_calls_1s"] = max_all_1s_;
  if (limits_.ops_per_minute > 0) o["max_calls_60s"] = max_all_60s_;
  std::int64_t newest = now / 1000;
  boost::json::array per_second;
  for (std::int64_t t = newest - 59; t <= newest; ++t) {
    if (t < 0) continue;
    const Second& s = seconds_[static_cast<std::size_t>(t % 60)];
    if (s.t != t) continue;
    per_second.push_back(boost::json::object{{"t", t},
                                             {"analyze", s.admitted[0]},
                                             {"status", s.admitted[1]},
                                             {"throttled_analyze", s.throttled[0]},
                                             {"throttled_status", s.throttled[1]}});
  }
  o["per_second"] = std::move(per_second);
}

namespace {

boost::json::object limits_json(const ThrottleLimits& l) {
  return {{"analyze_rps", l.analyze_rps},
          {"status_rps", l.status_rps},
          {"ops_per_minute", l.ops_per_minute}};
}

http::Response bad_request(const std::string& message) {
  return http::json_response(400, json::error_body("InvalidRequest", message));
}

// Reads the fields of a PUT /_sim/throttle body into *out and *reset (the
// fields it lacks keep their values); the reason when one is bad.
std::optional<std::string> read_limits(const boost::json::object& body, ThrottleLimits* out,
                                       bool* reset) {
  for (const auto& [key, value] : body) {
    if (key == "reset") {
      if (!value.is_bool()) return std::string("reset must be true or false");
      *reset = value.as_bool();
      continue;
    }
    int* field = key == "analyze_rps"      ? &out->analyze_rps
                 : key == "status_rps"     ? &out->status_rps
                 : key == "ops_per_minute" ? &out->ops_per_minute
                                           : nullptr;
    if (!field) {
      return "unknown field '" + std::string(key.substr(0, 64)) +
             "' (analyze_rps, status_rps, ops_per_minute, reset)";
    }
    long long most = key == "ops_per_minute" ? kMaxOpsPerMinute : kMaxRps;
    bool integral = value.is_int64() || value.is_uint64();
    long long n = value.is_int64() ? value.as_int64() : 0;
    if (value.is_uint64()) n = most + 1;  // beyond int64: beyond any limit
    if (!integral || n < 0 || n > most) {
      return std::string(key) + " must be an integer from 0 (no limit) to " + std::to_string(most);
    }
    *field = static_cast<int>(n);
  }
  return std::nullopt;
}

}  // namespace

void add_throttle_routes(http::Router& router, Throttle& throttle) {
  router.add(
      "GET", "/_sim/throttle", "throttle",
      [&throttle](http::Request&&, const http::Params&, http::Responder done) {
        done(http::json_response(200, boost::json::serialize(limits_json(throttle.limits()))));
      });
  router.add("PUT", "/_sim/throttle", "set throttle",
             [&throttle](http::Request&& r, const http::Params&, http::Responder done) {
               auto body = json::parse(r.body);
               if (!body || !body->is_object()) {
                 return done(bad_request("The body must be a JSON object."));
               }
               ThrottleLimits limits = throttle.limits();
               bool reset = false;
               if (auto why = read_limits(body->as_object(), &limits, &reset)) {
                 return done(bad_request(*why));
               }
               throttle.set_limits(limits);
               if (reset) throttle.reset_counts();
               done(http::json_response(200, boost::json::serialize(limits_json(limits))));
             });
}

}  // namespace lrogate::sim
