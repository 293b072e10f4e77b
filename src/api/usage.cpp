// GET /usage and the submit quotas (docs/design.md, "Usage and quotas").
// The counts come from the daily rollup each Succeeded completion adds to in
// its own transaction; every store read runs on store_work.
#include "api/usage.h"

#include <boost/json/array.hpp>
#include <boost/json/object.hpp>
#include <boost/json/serialize.hpp>
#include <cstdio>

#include "api/replies.h"

namespace lrogate::api {
namespace {

constexpr std::int64_t kDayMs = 86'400'000;
constexpr std::int64_t kMaxRangeDays = 366;
constexpr std::int64_t kDefaultRangeDays = 30;

// Howard Hinnant's days_from_civil / civil_from_days (proleptic Gregorian).
std::int64_t days_from_civil(std::int64_t y, unsigned m, unsigned d) {
  y -= m <= 2;
  const std::int64_t era = (y >= 0 ? y : y - 399) / 400;
  const unsigned yoe = static_cast<unsigned>(y - era * 400);
  const unsigned doy = (153 * (m + (m > 2 ? -3 : 9)) + 2) / 5 + d - 1;
  const unsigned doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
  return era * 146097 + static_cast<std::int64_t>(doe) - 719468;
}

bool leap(std::int64_t y) { return (y % 4 == 0 && y % 100 != 0) || y % 400 == 0; }

bool operator_of(ApiContext& ctx, const std::string& tenant) {
  // An open gateway has one anonymous tenant, which sees what there is.
  if (!ctx.keys.enabled() && !ctx.oidc) return true;
  return ctx.tenants.settings(tenant).operator_;
}

struct UsageQuery {
  std::int64_t from = 0, to = 0;
  store::UsageGroup group = store::UsageGroup::kTenant;
  std::string tenant;  // empty: every tenant's (operators only)
};

std::variant<UsageQuery, http::Response> read_usage_query(ApiContext& ctx,
                                                          const http::Request& req) {
  UsageQuery q;
  std::optional<std::int64_t> from, to;
  bool tenant_given = false;
  for (auto& [k, v] : http::parse_query(req.query)) {
    if (k == "from" || k == "to") {
      auto day = parse_day(v);
      if (!day) {
        return error_reply(400, "InvalidDate", k + " must be a UTC date written YYYY-MM-DD");
      }
      (k == "from" ? from : to) = day;
    } else if (k == "group_by") {
      if (v == "tenant") {
        q.group = store::UsageGroup::kTenant;
      } else if (v == "analyzer") {
        q.group = store::UsageGroup::kAnalyzer;
      } else {
        return error_reply(400, "InvalidGroupBy", "group_by must be tenant or analyzer");
      }
    } else if (k == "tenant") {
      if (v.empty()) return error_reply(400, "InvalidTenant", "tenant must not be empty");
      q.tenant = v;
      tenant_given = true;
    } else {
      return error_reply(400, "InvalidQuery",
                         "unknown query parameter (known: from, to, group_by, tenant)");
    }
  }
  const std::int64_t tomorrow = store::utc_day(ctx.clock.now_ms()) + 1;
  q.to = to.value_or(from ? std::min(*from + kDefaultRangeDays, tomorrow) : tomorrow);
  q.from = from.value_or(q.to - kDefaultRangeDays);
  if (q.from >= q.to) return error_reply(400, "InvalidRange", "from must be before to");
  if (q.to - q.from > kMaxRangeDays) {
    return error_reply(400, "RangeTooLong", "from and to may be at most 366 days apart");
  }
  if (!operator_of(ctx, req.principal)) {
    if (tenant_given && q.tenant != req.principal) {
      return error_reply(403, "NotAnOperator", "only an operator tenant may read another's usage");
    }
    q.tenant = req.principal;
  }
  return q;
}

void get_usage(ApiContext& ctx, const http::Request& req, const http::Responder& respond) {
  auto read = read_usage_query(ctx, req);
  if (auto* bad = std::get_if<http::Response>(&read)) return respond(std::move(*bad));
  const auto& q = std::get<UsageQuery>(read);
  auto rows = ctx.service.usage_between(q.from, q.to, q.tenant, q.group);
  if (!rows) return respond(store_unavailable(rows.error()));
  const char* key = q.group == store::UsageGroup::kTenant ? "tenant" : "analyzer";
  boost::json::array value;
  for (const auto& r : rows.value()) {
    value.push_back(boost::json::object{{key, r.key},
                                        {"operations", r.operations},
                                        {"pages", r.pages},
                                        {"tokens", r.tokens},
                                        {"bytesIn", r.bytes_in},
                                        {"bytesOut", r.bytes_out}});
  }
  boost::json::object body{{"from", format_day(q.from)},
                           {"to", format_day(q.to)},
                           {"groupBy", key},
                           {"value", std::move(value)}};
  respond(http::json_response(200, boost::json::serialize(body)));
}

}  // namespace

std::optional<std::int64_t> parse_day(std::string_view s) {
  if (s.size() != 10 || s[4] != '-' || s[7] != '-') return std::nullopt;
  auto digits = [&](std::size_t at, std::size_t n) -> std::optional<unsigned> {
    unsigned v = 0;
    for (std::size_t i = at; i < at + n; ++i) {
      if (s[i] < '0' || s[i] > '9') return std::nullopt;
      v = v * 10 + static_cast<unsigned>(s[i] - '0');
    }
    return v;
  };
  auto y = digits(0, 4), m = digits(5, 2), d = digits(8, 2);
  if (!y || !m || !d || *y < 1970 || *m < 1 || *m > 12 || *d < 1) return std::nullopt;
  static constexpr unsigned kDays[] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
  unsigned last = kDays[*m - 1] + (*m == 2 && leap(*y) ? 1 : 0);
  if (*d > last) return std::nullopt;
  return days_from_civil(*y, *m, *d);
}

std::string format_day(std::int64_t day) {
  day += 719468;
  const std::int64_t era = (day >= 0 ? day : day - 146096) / 146097;
  const unsigned doe = static_cast<unsigned>(day - era * 146097);
  const unsigned yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
  std::int64_t y = static_cast<std::int64_t>(yoe) + era * 400;
  const unsigned doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
  const unsigned mp = (5 * doy + 2) / 153;
  const unsigned d = doy - (153 * mp + 2) / 5 + 1;
  const unsigned m = mp < 10 ? mp + 3 : mp - 9;
  y += m <= 2;
  char buf[48];
  std::snprintf(buf, sizeof buf, "%04lld-%02u-%02u", static_cast<long long>(y), m, d);
  return buf;
}

std::optional<http::Response> quota_refusal(ApiContext& ctx, const std::string& tenant) {
  core::TenantSettings s = ctx.tenants.settings(tenant);
  if (!s.has_quota()) return std::nullopt;
  const Millis now = ctx.clock.now_ms();
  auto used = ctx.service.usage_on(tenant, store::utc_day(now));
  if (!used) return store_unavailable(used.error());
  std::string which;
  if (s.operations_per_day && used->operations + used->in_flight >= *s.operations_per_day) {
    which = "operations_per_day (" + std::to_string(*s.operations_per_day) +
            " operations a UTC day, those in flight included)";
  } else if (s.pages_per_day && used->pages >= *s.pages_per_day) {
    which = "pages_per_day (" + std::to_string(*s.pages_per_day) + " pages a UTC day)";
  } else {
    return std::nullopt;
  }
  http::Response r = error_reply(
      429, "QuotaExceeded",
      "this tenant's quota " + which + " is reached; it resets at the next UTC midnight");
  const std::int64_t into_day = ((now % kDayMs) + kDayMs) % kDayMs;
  r.set("Retry-After", std::to_string(std::max<std::int64_t>(1, (kDayMs - into_day + 999) / 1000)));
  return r;
}

void add_usage_routes(http::Router& router, ApiContext& ctx) {
  router.add("GET", "/usage",
             "Usage per tenant or analyzer over UTC days (an operator sees every tenant's)",
             [&ctx](http::Request&& req, const http::Params&, http::Responder r) {
               auto shared = std::make_shared<http::Request>(std::move(req));
               with_store(ctx, r, [&ctx, shared, r] { get_usage(ctx, *shared, r); });
             });
}

}  // namespace lrogate::api
