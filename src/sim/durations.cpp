#include "sim/durations.h"

#include <algorithm>
#include <cmath>
#include <numbers>

#include "base/duration.h"

namespace lrogate::sim {
namespace {

Error bad(std::string_view spec, std::string_view why) {
  return make_error(
      ErrorCode::kInvalidArgument,
      "invalid analyzer duration '" + std::string(spec.substr(0, 80)) + "': " + std::string(why));
}

std::uint64_t splitmix64(std::uint64_t* state) {
  std::uint64_t z = (*state += 0x9e3779b97f4a7c15ULL);
  z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
  z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
  return z ^ (z >> 31);
}

// A uniform in (0, 1]: never 0, so that its logarithm is finite.
double unit_open(std::uint64_t bits) {
  return static_cast<double>((bits >> 11) + 1) * (1.0 / 9007199254740992.0);
}

// A decimal in [0, kMaxSigma]: digits, optionally a point and digits.
std::optional<double> parse_sigma(std::string_view s) {
  if (s.empty() || s.size() > 12) return std::nullopt;
  double v = 0, scale = 1;
  bool point = false, digits = false;
  for (char c : s) {
    if (c == '.' && !point) {
      point = true;
    } else if (c >= '0' && c <= '9') {
      digits = true;
      if (point) {
        scale /= 10;
        v += (c - '0') * scale;
      } else {
        v = v * 10 + (c - '0');
      }
    } else {
      return std::nullopt;
    }
  }
  if (!digits || s.back() == '.' || v > kMaxSigma) return std::nullopt;
  return v;
}

// ms · e^(σz), within [0, kMaxDuration].
std::chrono::milliseconds scaled(std::chrono::milliseconds median, double sigma, double z) {
  double ms = static_cast<double>(median.count()) * std::exp(sigma * z);
  double cap = static_cast<double>(kMaxDuration.count());
  return std::chrono::milliseconds(static_cast<std::int64_t>(std::llround(std::min(ms, cap))));
}

}  // namespace

Result<DurationDist> parse_duration_dist(std::string_view spec) {
  std::vector<std::string_view> parts;
  for (std::string_view rest = spec;;) {
    auto colon = rest.find(':');
    parts.push_back(rest.substr(0, colon));
    if (colon == std::string_view::npos) break;
    rest.remove_prefix(colon + 1);
    if (parts.size() > 4) return bad(spec, "too many fields");
  }
  auto dur = [&](std::string_view t) -> Result<std::chrono::milliseconds> {
    auto d = parse_duration(t);
    if (!d)
      return bad(spec, "'" + std::string(t.substr(0, 20)) + "' is not a duration (e.g. 120s)");
    return d.value();
  };
  auto sigma = [&](std::string_view t) -> Result<double> {
    auto s = parse_sigma(t);
    if (!s) return bad(spec, "σ must be a decimal from 0 to 3 (e.g. 0.3)");
    return *s;
  };
  DurationDist d;
  const std::string_view kind = parts[0];
  if (kind == "fixed" && parts.size() == 2) {
    auto m = dur(parts[1]);
    if (!m) return m.error();
    d.kind = DurationDist::Kind::kFixed;
    d.median = m.value();
  } else if (kind == "lognormal" && parts.size() == 3) {
    auto m = dur(parts[1]);
    if (!m) return m.error();
    auto s = sigma(parts[2]);
    if (!s) return s.error();
    d.kind = DurationDist::Kind::kLogNormal;
    d.median = m.value();
    d.sigma = s.value();
  } else if (kind == "bimodal" && parts.size() == 4) {
    auto a = dur(parts[1]);
    if (!a) return a.error();
    auto b = dur(parts[2]);
    if (!b) return b.error();
    auto s = sigma(parts[3]);
    if (!s) return s.error();
    d.kind = DurationDist::Kind::kBimodal;
    d.median = a.value();
    d.median2 = b.value();
    d.sigma = s.value();
  } else {
    return bad(spec,
               "expected fixed:DURATION, lognormal:MEDIAN:SIGMA or bimodal:MEDIAN1:MEDIAN2:SIGMA");
  }
  return d;
}

Result<AnalyzerDuration> parse_analyzer_duration(std::string_view text) {
  auto eq = text.find('=');
  if (eq == std::string_view::npos || eq == 0) {
    return bad(text, "expected ANALYZER=SPEC (or *=SPEC), e.g. prebuilt-read=lognormal:120s:0.3");
  }
  auto dist = parse_duration_dist(text.substr(eq + 1));
  if (!dist) return dist.error();
  return AnalyzerDuration{std::string(text.substr(0, eq)), dist.value()};
}

std::uint64_t duration_hash(std::string_view analyzer, std::string_view document,
                            std::uint64_t seed) {
  std::uint64_t h = 1469598103934665603ULL;
  auto mix = [&h](std::string_view s) {
    for (unsigned char c : s) {
      h ^= c;
      h *= 1099511628211ULL;
    }
    h ^= 0xff;  // a byte no UTF-8 text holds: ("ab","c") and ("a","bc") differ
    h *= 1099511628211ULL;
  };
  mix(analyzer);
  mix(document);
  for (int i = 0; i < 8; ++i) {
    h ^= (seed >> (8 * i)) & 0xff;
    h *= 1099511628211ULL;
  }
  return splitmix64(&h);
}

std::chrono::milliseconds draw_duration(const DurationDist& dist, std::uint64_t hash) {
  if (dist.kind == DurationDist::Kind::kFixed) return dist.median;
  // Box–Muller: one standard normal from two uniforms of the hash's stream.
  std::uint64_t state = hash;
  double u1 = unit_open(splitmix64(&state));
  double u2 = unit_open(splitmix64(&state));
  double z = std::sqrt(-2.0 * std::log(u1)) * std::cos(2.0 * std::numbers::pi * u2);
  std::chrono::milliseconds median = dist.median;
  if (dist.kind == DurationDist::Kind::kBimodal && (splitmix64(&state) >> 63) != 0) {
    median = dist.median2;
  }
  return scaled(median, dist.sigma, z);
}

std::string_view document_key(std::string_view input, std::string_view body_sha256) {
  return input.rfind("binary:", 0) == 0 ? body_sha256 : input;
}

Result<DurationTable> DurationTable::create(std::vector<AnalyzerDuration> rules,
                                            std::uint64_t seed) {
  for (std::size_t i = 0; i < rules.size(); ++i) {
    for (std::size_t j = 0; j < i; ++j) {
      if (rules[i].analyzer == rules[j].analyzer) {
        return make_error(
            ErrorCode::kInvalidArgument,
            "analyzer '" + rules[i].analyzer.substr(0, 80) + "' has two --analyzer-duration rules");
      }
    }
  }
  DurationTable t;
  t.rules_ = std::move(rules);
  t.seed_ = seed;
  return t;
}

std::optional<std::chrono::milliseconds> DurationTable::duration(std::string_view analyzer,
                                                                 std::string_view document) const {
  const AnalyzerDuration* any = nullptr;
  for (const auto& r : rules_) {
    if (r.analyzer == analyzer) {
      return draw_duration(r.dist, duration_hash(analyzer, document, seed_));
    }
    if (r.analyzer == "*") any = &r;
  }
  if (!any) return std::nullopt;
  return draw_duration(any->dist, duration_hash(analyzer, document, seed_));
}

std::chrono::milliseconds DurationTable::resolve(const Directives& d, std::string_view analyzer,
                                                 std::string_view document) const {
  if (d.duration_given) return d.duration;
  return duration(analyzer, document).value_or(d.duration);
}

}  // namespace lrogate::sim
