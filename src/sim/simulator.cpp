#include "sim/simulator.h"

#include <algorithm>
#include <boost/json/array.hpp>
#include <boost/json/object.hpp>
#include <boost/json/serialize.hpp>
#include <ctime>
#include <map>
#include <optional>

#include "base/ids.h"
#include "base/json_util.h"
#include "base/sha256.h"
#include "base/strings.h"
#include "base/thread_annotations.h"
#include "http/router.h"
#include "sim/analyzers.h"
#include "sim/flavors.h"

namespace lrogate::sim {
namespace {

std::string http_date(Millis epoch_ms) {
  std::time_t t = static_cast<std::time_t>(epoch_ms / 1000);
  std::tm tm{};
  gmtime_r(&t, &tm);
  char buf[64];
  std::strftime(buf, sizeof buf, "%a, %d %b %Y %H:%M:%S GMT", &tm);
  return buf;
}

http::Response az_error(int status, std::string_view code, std::string_view message) {
  return http::json_response(status, json::error_body(code, message));
}

// `query` = NAME=DIGITS (the stats route's one parameter): the number, at
// most 15 digits; nullopt for any other query.
std::optional<Millis> query_millis(std::string_view query, std::string_view name) {
  if (query.substr(0, name.size()) != name) return std::nullopt;
  return parse_digits(query.substr(name.size()), 15);
}

}  // namespace

struct Simulator::Impl {
  SimOptions opt;
  const Clock& clock;
  http::Server* server = nullptr;
  http::Router router;
  Mutex mu;
  std::map<std::string, SimOp, std::less<>> ops GUARDED_BY(mu);
  std::map<std::uint64_t, std::size_t> submit_attempts GUARDED_BY(mu);  // by body hash
  long long submits GUARDED_BY(mu) = 0;
  long long polls GUARDED_BY(mu) = 0;
  long long overlaps GUARDED_BY(mu) = 0;
  long long rejected GUARDED_BY(mu) = 0;
  // Polls of ids this instance never issued (or forgot): what a pool's
  // sticky-poll tests count to show no poll reached another resource.
  long long unknown_polls GUARDED_BY(mu) = 0;
  // Polls being answered, node-wide, and the most at once.
  int inflight GUARDED_BY(mu) = 0;
  int max_inflight GUARDED_BY(mu) = 0;
  // Submits the throttle refused, by body hash as submit_attempts, until one
  // is admitted and its operation takes them over (SimOp::throttled_submits).
  std::map<std::uint64_t, std::vector<SimOp::Refused>> throttled_submits GUARDED_BY(mu);
  Throttle throttle;                   // the resource's quotas; thread-safe
  TokenIssuer tokens;                  // the Entra ID token endpoints
  std::unique_ptr<OidcIssuer> issuer;  // null: no OIDC routes
  AnalyzerRegistry analyzer_registry;  // custom analyzers and those of --analyzers
  RouteContext ctx;  // for the routes of tokens.cpp, oidc_issuer.cpp and analyzers.cpp

  Impl(SimOptions o, const Clock& c, std::unique_ptr<OidcIssuer> oidc)
      : opt(std::move(o)),
        clock(c),
        throttle(opt.throttle),
        tokens(opt.tokens, c),
        issuer(std::move(oidc)),
        analyzer_registry(opt.analyzer_create_duration, opt.result_ttl) {
    for (const auto& id : opt.analyzers) analyzer_registry.add_ready(id, clock.now_ms());
    ctx.reply = [this](http::Responder& done, http::Response res) { reply(done, std::move(res)); };
    ctx.reply_after = [this](http::Responder& done, http::Response res,
                             std::chrono::milliseconds extra) {
      reply(done, std::move(res), extra);
    };
    ctx.authorized = [this](const http::Request& r) { return authorized(r); };
    ctx.throttle = [this](CallKind kind) -> std::optional<http::Response> {
      Throttle::Verdict v = throttle.admit(kind, clock.now_ms());
      if (v.admitted) return std::nullopt;
      return throttled_response(Flavor::kCu, kind, v);
    };
    ctx.clock = &clock;
    add_job_routes();
    add_control_routes();
    add_throttle_routes(router, throttle);
    add_token_routes(router, tokens, ctx);
    add_analyzer_routes(router, analyzer_registry, ctx);
    if (issuer) add_oidc_routes(router, *issuer, ctx);
  }

  // The three APIs' submit and status routes (sim/flavors.h).
  void add_job_routes() {
    router.add("POST", "/contentunderstanding/analyzers/{analyzerId}:analyze", "analyze",
               [this](http::Request&& r, const http::Params& p, http::Responder done) {
                 analyze(std::move(r), p.at("analyzerId"), false, std::move(done));
               });
    router.add("POST", "/contentunderstanding/analyzers/{analyzerId}:analyzeBinary",
               "analyzeBinary",
               [this](http::Request&& r, const http::Params& p, http::Responder done) {
                 analyze(std::move(r), p.at("analyzerId"), true, std::move(done));
               });
    router.add("GET", "/contentunderstanding/analyzerResults/{resultId}", "result",
               [this](http::Request&& r, const http::Params& p, http::Responder done) {
                 result(std::move(r), p.at("resultId"), std::move(done));
               });
    router.add("POST", "/documentintelligence/documentModels/{modelId}:analyze", "di analyze",
               [this](http::Request&& r, const http::Params& p, http::Responder done) {
                 analyze(std::move(r), p.at("modelId"), false, std::move(done), Flavor::kDi);
               });
    router.add("GET", "/documentintelligence/documentModels/{modelId}/analyzeResults/{resultId}",
               "di result", [this](http::Request&& r, const http::Params& p, http::Responder done) {
                 result(std::move(r), p.at("resultId"), std::move(done), Flavor::kDi);
               });
    router.add("POST", "/generic/jobs/{analyzerId}", "generic submit",
               [this](http::Request&& r, const http::Params& p, http::Responder done) {
                 analyze(std::move(r), p.at("analyzerId"), false, std::move(done),
                         Flavor::kGeneric);
               });
    router.add("GET", "/generic/jobs/{analyzerId}/{id}", "generic status",
               [this](http::Request&& r, const http::Params& p, http::Responder done) {
                 result(std::move(r), p.at("id"), std::move(done), Flavor::kGeneric);
               });
  }

  // What the tests and benchmarks read: counts, an operation's polls, health.
  void add_control_routes() {
    router.add("GET", "/_sim/stats", "stats",
               [this](http::Request&& req, const http::Params&, http::Responder done) {
                 MutexLock lock(mu);
                 boost::json::object o{{"submits", submits},           {"polls", polls},
                                       {"overlaps", overlaps},         {"rejected", rejected},
                                       {"max_inflight", max_inflight}, {"operations", ops.size()},
                                       {"unknown_polls", unknown_polls}};
                 tokens.add_stats(o);
                 throttle.add_stats(o, clock.now_ms());
                 if (issuer) {
                   o["oidc_discovery_requests"] = issuer->discovery_requests.load();
                   o["oidc_jwks_requests"] = issuer->jwks_requests.load();
                 }
                 // ?since=EPOCH_MS: how many operations were polled at or after
                 // that moment (the recovery benchmark's "every one polled again").
                 if (auto since = query_millis(req.query, "since=")) {
                   std::size_t polled = 0;
                   for (const auto& [id, op] : ops) {
                     if (!op.poll_times.empty() && op.poll_times.back() >= *since) ++polled;
                   }
                   o["polled_since"] = polled;
                 }
                 // ?interval=MS: of the operations that are over and whose end
                 // was seen, how many took more polls than ceil(duration /
                 // interval) + 1 (the in-flight benchmark's poll budget).
                 if (auto given = query_millis(req.query, "interval=")) {
                   Millis interval = *given;
                   std::size_t finished = 0, over = 0;
                   int most = 0;
                   for (const auto& [id, op] : ops) {
                     Millis end = op.created + op.d.duration.count();
                     if (interval <= 0 || op.poll_times.empty() || op.poll_times.back() < end) {
                       continue;
                     }
                     ++finished;
                     Millis budget = (op.d.duration.count() + interval - 1) / interval + 1;
                     if (op.polls > budget) ++over;
                     most = std::max(most, op.polls);
                   }
                   o["finished_seen"] = finished;
                   o["over_poll_budget"] = over;
                   o["most_polls"] = most;
                 }
                 done(http::json_response(200, boost::json::serialize(o)));
               });
    router.add("GET", "/_sim/operations/{id}", "operation stats",
               [this](http::Request&&, const http::Params& p, http::Responder done) {
                 MutexLock lock(mu);
                 auto it = ops.find(p.at("id"));
                 if (it == ops.end()) {
                   done(az_error(404, "NotFound", "unknown operation"));
                   return;
                 }
                 const SimOp& op = it->second;
                 boost::json::array times;
                 for (Millis t : op.poll_times) times.push_back(t - op.created);
                 // The calls refused, at offsets from the creation (a
                 // submit's are negative) with the Retry-After they got.
                 auto refused = [&op](const std::vector<SimOp::Refused>& calls) {
                   boost::json::array a;
                   for (const auto& c : calls) {
                     a.push_back(boost::json::object{{"offset_ms", c.at - op.created},
                                                     {"retry_after_s", c.retry_after_s}});
                   }
                   return a;
                 };
                 boost::json::object o{{"id", op.id},
                                       {"created_ms", op.created},
                                       {"duration_ms", op.d.duration.count()},
                                       {"polls", op.polls},
                                       {"overlaps", op.overlaps},
                                       {"poll_offsets_ms", std::move(times)},
                                       {"throttled_polls", refused(op.throttled_polls)},
                                       {"throttled_submits", refused(op.throttled_submits)},
                                       {"checksum", checksum(op)},
                                       {"body_sha256", op.body_sha256},
                                       {"api_version", op.api_version},
                                       {"query", op.query}};
                 done(http::json_response(200, boost::json::serialize(o)));
               });
    router.add("GET", "/healthz", "health",
               [](http::Request&&, const http::Params&, http::Responder done) {
                 done(http::json_response(200, R"({"status":"ok"})"));
               });
  }

  // The key (in the flavor's header) or a bearer token this simulator issued
  // and that has not expired. Takes the lock.
  bool authorized(const http::Request& r, Flavor f = Flavor::kCu) {
    if (!opt.key.empty() && r.header(key_header(f)) == opt.key) return true;
    return tokens.accepts(r.header("authorization"));
  }

  // Answers after the configured latency (or a fault's delay).
  void reply(http::Responder& done, http::Response res, std::chrono::milliseconds extra = {}) {
    auto delay = opt.latency + extra;
    if (delay.count() > 0 && server) {
      server->post_after(delay, [done, res = std::move(res)]() mutable { done(std::move(res)); });
    } else {
      done(std::move(res));
    }
  }

  // Applies a fault; true if it answered.
  bool apply_fault(const Fault& f, http::Responder& done, const std::string& id) {
    http::Response res;
    switch (f.kind) {
      case Fault::Kind::kHang:
        // Never answer in any useful time: the client's deadline must fire.
        if (server)
          server->post_after(std::chrono::minutes(10),
                             [done] { done(az_error(504, "Timeout", "hung")); });
        return true;
      case Fault::Kind::kSlow:
        res = running_body(id, "Running");
        res.fault.trickle = std::chrono::milliseconds(1000);
        break;
      case Fault::Kind::kReset:
        res = running_body(id, "Running");
        res.body += std::string(4096, ' ');
        res.fault.cut_after = 200;
        break;
      case Fault::Kind::kBadJson:
        res = http::json_response(200, "{\"id\": \"" + id + "\", \"status\": Runn");
        break;
      case Fault::Kind::kUnknownStatus:
        res = http::json_response(200, "{\"id\":\"" + id + "\",\"status\":\"Pondering\"}");
        break;
      case Fault::Kind::kStatus:
        res = az_error(f.status, f.status == 429 ? "TooManyRequests" : "SimulatedFault",
                       "simulated answer " + std::to_string(f.status));
        if (f.status == 404)
          res = az_error(404, "OperationNotFound", "The operation was not found.");
        break;
    }
    switch (f.after) {
      case Fault::After::kSeconds:
        res.set("Retry-After", std::to_string(f.after_value));
        break;
      case Fault::After::kDate:
        res.set("Retry-After", http_date(clock.now_ms() + f.after_value * 1000LL + 999));
        break;
      case Fault::After::kMillis:
        res.set("retry-after-ms", std::to_string(f.after_value));
        break;
      case Fault::After::kNone:
        break;
    }
    reply(done, std::move(res));
    return true;
  }

  http::Response running_body(const std::string& id, const char* status) {
    boost::json::object o{{"id", id}, {"status", status}};
    return http::json_response(200, boost::json::serialize(o));
  }

  // Why `analyzer` cannot analyze now, if it cannot: unknown (404), or being
  // created or failed (409: the resource exists but its state does not allow
  // the action, as Azure's REST guidelines answer such requests).
  std::optional<http::Response> refuse_analyzer(const std::string& analyzer) {
    AnalyzerState state = analyzer_registry.state(analyzer, clock.now_ms());
    if (state == AnalyzerState::kReady) return std::nullopt;
    if (state == AnalyzerState::kUnknown) {
      return az_error(404, "ModelNotFound",
                      "The requested analyzer '" + analyzer + "' was not found.");
    }
    const char* status = state == AnalyzerState::kCreating ? "creating" : "failed";
    boost::json::object err{
        {"code", "Conflict"},
        {"message", "The analyzer '" + analyzer + "' is not ready (status: " + status + ")."},
        {"innererror", boost::json::object{{"code", "ModelNotReady"}}}};
    return http::json_response(409, boost::json::serialize(boost::json::object{{"error", err}}));
  }

  void analyze(http::Request&& r, const std::string& analyzer, bool binary_route,
               http::Responder done, Flavor flavor = Flavor::kCu) {
    if (!authorized(r, flavor)) {
      MutexLock lock(mu);
      ++rejected;
      reply(done, az_error(401, "401",
                           "Access denied due to invalid subscription key or wrong API endpoint. "
                           "Make sure to provide a valid key for an active subscription and use "
                           "a correct regional API endpoint for your resource."));
      return;
    }
    Millis arrived = clock.now_ms();
    if (Throttle::Verdict v = throttle.admit(CallKind::kAnalyze, arrived); !v.admitted) {
      {
        MutexLock lock(mu);
        throttled_submits[fnv1a(analyzer + "|" + r.body)].push_back({arrived, v.retry_after_s});
      }
      reply(done, throttled_response(flavor, CallKind::kAnalyze, v));
      return;
    }
    std::string version = query_param(r, "api-version");
    if (!version_served(flavor, version)) {
      reply(done, az_error(400, "InvalidRequest",
                           "The api-version query parameter is missing or not supported."));
      return;
    }
    if (binary_route && version != kCuGa) {
      reply(done,
            az_error(404, "NotFound", "analyzeBinary is only served by api-version 2025-11-01"));
      return;
    }
    if (flavor != Flavor::kCu) {
      if (std::find(opt.analyzers.begin(), opt.analyzers.end(), analyzer) == opt.analyzers.end()) {
        reply(done, az_error(404, "ModelNotFound",
                             "The requested analyzer '" + analyzer + "' was not found."));
        return;
      }
    } else if (auto no = refuse_analyzer(analyzer)) {
      reply(done, std::move(*no));
      return;
    }
    auto input = read_input(r, flavor, version, binary_route);
    if (!input) {
      bool media = input.error().message.find("binary input") != std::string::npos;
      reply(done, az_error(media ? 415 : 400, media ? "UnsupportedMediaType" : "InvalidRequest",
                           input.error().message));
      return;
    }
    auto d = parse_directives(input.value(), opt.defaults);
    if (!d) {
      reply(done, az_error(400, "InvalidRequest", d.error().message));
      return;
    }
    std::string body_sha256 = sha256_hex(r.body);
    d->duration = opt.durations.resolve(*d, analyzer, document_key(input.value(), body_sha256));
    std::string base = request_base(r);
    MutexLock lock(mu);
    ++submits;
    // Submit faults apply to successive attempts of the same body.
    std::uint64_t body_hash = fnv1a(analyzer + "|" + r.body);
    std::size_t& attempt = submit_attempts[body_hash];
    if (attempt < d->submit_faults.size()) {
      Fault f = d->submit_faults[attempt++];
      apply_fault(f, done, "");
      return;
    }
    SimOp op;
    op.flavor = flavor;
    op.id = random_uuid();
    op.analyzer = analyzer;
    op.api_version = version;
    op.query = r.query;
    op.input = input.value();
    op.body_sha256 = std::move(body_sha256);
    op.created = clock.now_ms();
    op.d = d.value();
    if (auto refused = throttled_submits.find(body_hash); refused != throttled_submits.end()) {
      op.throttled_submits = std::move(refused->second);
      throttled_submits.erase(refused);
    }
    std::string location =
        (op.d.foreign_location ? std::string("http://foreign.invalid") : base) + status_path(op);
    boost::json::object body{{"id", op.id}};
    set_status(body, flavor, "NotStarted");
    http::Response res = http::json_response(202, boost::json::serialize(body));
    res.set("Operation-Location", location);
    if (flavor == Flavor::kDi) res.set("apim-request-id", op.id);
    ops.emplace(op.id, std::move(op));
    reply(done, std::move(res));
  }

  void result(http::Request&& r, const std::string& id, http::Responder done,
              Flavor flavor = Flavor::kCu) {
    if (!authorized(r, flavor)) {
      reply(done, az_error(401, "401", "Access denied due to invalid subscription key."));
      return;
    }
    Millis now = clock.now_ms();
    if (Throttle::Verdict v = throttle.admit(CallKind::kStatus, now); !v.admitted) {
      {
        MutexLock lock(mu);
        if (auto it = ops.find(id); it != ops.end() && it->second.flavor == flavor) {
          it->second.throttled_polls.push_back({now, v.retry_after_s});
        }
      }
      reply(done, throttled_response(flavor, CallKind::kStatus, v));
      return;
    }
    MutexLock lock(mu);
    auto it = ops.find(id);
    if (it == ops.end() || it->second.flavor != flavor ||
        now > it->second.created + it->second.d.duration.count() + opt.result_ttl.count()) {
      ++unknown_polls;
      reply(done, az_error(404, "OperationNotFound", "The operation was not found."));
      return;
    }
    SimOp& op = it->second;
    ++polls;
    ++op.polls;
    op.poll_times.push_back(now);
    if (op.inflight > 0) {
      ++op.overlaps;
      ++overlaps;
    }
    std::size_t index = static_cast<std::size_t>(op.polls - 1);
    if (index < op.d.poll_faults.size()) {
      Fault f = op.d.poll_faults[index];
      apply_fault(f, done, op.id);
      return;
    }
    Millis elapsed = now - op.created;
    http::Response res;
    if (elapsed >= op.d.duration.count()) {
      res = http::json_response(200, final_body(op));
    } else {
      boost::json::object o{{"id", op.id}};
      set_status(o, op.flavor, elapsed * 10 < op.d.duration.count() ? "NotStarted" : "Running");
      res = http::json_response(200, boost::json::serialize(o));
      if (op.d.retry_after_s >= 0) res.set("Retry-After", std::to_string(op.d.retry_after_s));
    }
    // Count this poll as in flight until it is answered, to detect overlaps.
    ++op.inflight;
    max_inflight = std::max(max_inflight, ++inflight);
    lock.unlock();
    http::Responder counted = [this, id, done](http::Response res) {
      {
        MutexLock l(mu);
        --inflight;
        if (auto it2 = ops.find(id); it2 != ops.end()) --it2->second.inflight;
      }
      done(std::move(res));
    };
    reply(counted, std::move(res));
  }
};

Simulator::Simulator(SimOptions options, const Clock& clock, std::unique_ptr<OidcIssuer> issuer)
    : impl_(std::make_unique<Impl>(std::move(options), clock, std::move(issuer))) {}
Simulator::~Simulator() = default;

void Simulator::attach(http::Server* server) { impl_->server = server; }

void Simulator::handle(http::Request&& req, http::Responder respond) {
  impl_->router.dispatch(std::move(req), std::move(respond));
}

}  // namespace lrogate::sim
