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

namespace lrogate::sim {
namespace {

constexpr const char* kGa = "2025-11-01";
constexpr const char* kDiVersion = "2024-11-30";
constexpr const char* kScope = "https://cognitiveservices.azure.com/.default";
constexpr const char* kResource = "https://cognitiveservices.azure.com";

// Which API an operation was started through: its URLs and body shapes.
enum class Flavor { kCu, kDi, kGeneric };

std::uint64_t fnv1a(std::string_view s) {
  std::uint64_t h = 1469598103934665603ULL;
  for (unsigned char c : s) {
    h ^= c;
    h *= 1099511628211ULL;
  }
  return h;
}

std::string hex(std::uint64_t v) {
  char buf[17];
  std::snprintf(buf, sizeof buf, "%016llx", static_cast<unsigned long long>(v));
  return buf;
}

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

struct SimOp {
  Flavor flavor = Flavor::kCu;
  std::string id, analyzer, api_version, input;
  std::string body_sha256;  // of the submit body, so tests can check it came byte for byte
  Millis created = 0;
  Directives d;
  int polls = 0;
  int inflight = 0;
  int overlaps = 0;
  std::vector<Millis> poll_times;
};

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
  // Polls being answered, node-wide, and the most at once.
  int inflight GUARDED_BY(mu) = 0;
  int max_inflight GUARDED_BY(mu) = 0;
  // Token endpoints: tokens issued and their expiry; requests and how many
  // were being answered at once (the gateway refreshes one at a time).
  std::map<std::string, Millis, std::less<>> tokens GUARDED_BY(mu);
  long long token_requests GUARDED_BY(mu) = 0;
  long long tokens_issued GUARDED_BY(mu) = 0;
  long long bearer_accepted GUARDED_BY(mu) = 0;
  long long bearer_rejected GUARDED_BY(mu) = 0;
  int token_inflight GUARDED_BY(mu) = 0;
  int token_max_inflight GUARDED_BY(mu) = 0;
  std::unique_ptr<OidcIssuer> issuer;  // null: no OIDC routes
  AnalyzerRegistry analyzer_registry;  // custom analyzers and those of --analyzers
  RouteContext ctx;                    // for the routes of oidc_issuer.cpp and analyzers.cpp

  Impl(SimOptions o, const Clock& c, std::unique_ptr<OidcIssuer> oidc)
      : opt(std::move(o)),
        clock(c),
        issuer(std::move(oidc)),
        analyzer_registry(opt.analyzer_create_duration, opt.result_ttl) {
    for (const auto& id : opt.analyzers) analyzer_registry.add_ready(id, clock.now_ms());
    ctx.reply = [this](http::Responder& done, http::Response res) { reply(done, std::move(res)); };
    ctx.authorized = [this](const http::Request& r) { return authorized(r); };
    ctx.clock = &clock;
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
    router.add("POST", "/_sim/aad/{tenant}/oauth2/v2.0/token", "aad token",
               [this](http::Request&& r, const http::Params&, http::Responder done) {
                 token(std::move(r), TokenForm::kClientCredentials, std::move(done));
               });
    router.add("GET", "/_sim/msi/token", "msi token",
               [this](http::Request&& r, const http::Params&, http::Responder done) {
                 token(std::move(r), TokenForm::kIdentityEndpoint, std::move(done));
               });
    // Revokes every token issued so far (the upstream then answers 401 to them).
    router.add("DELETE", "/_sim/tokens", "revoke tokens",
               [this](http::Request&&, const http::Params&, http::Responder done) {
                 MutexLock lock(mu);
                 tokens.clear();
                 done(http::json_response(200, R"({"revoked":true})"));
               });
    router.add("GET", "/metadata/identity/oauth2/token", "imds token",
               [this](http::Request&& r, const http::Params&, http::Responder done) {
                 token(std::move(r), TokenForm::kImds, std::move(done));
               });
    router.add("GET", "/_sim/stats", "stats",
               [this](http::Request&& req, const http::Params&, http::Responder done) {
                 MutexLock lock(mu);
                 boost::json::object o{{"submits", submits},
                                       {"polls", polls},
                                       {"overlaps", overlaps},
                                       {"rejected", rejected},
                                       {"max_inflight", max_inflight},
                                       {"operations", ops.size()},
                                       {"token_requests", token_requests},
                                       {"tokens_issued", tokens_issued},
                                       {"token_max_inflight", token_max_inflight},
                                       {"bearer_accepted", bearer_accepted},
                                       {"bearer_rejected", bearer_rejected}};
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
                 boost::json::array times;
                 for (Millis t : it->second.poll_times) times.push_back(t - it->second.created);
                 boost::json::object o{{"id", it->second.id},
                                       {"created_ms", it->second.created},
                                       {"polls", it->second.polls},
                                       {"overlaps", it->second.overlaps},
                                       {"poll_offsets_ms", std::move(times)},
                                       {"checksum", checksum(it->second)},
                                       {"body_sha256", it->second.body_sha256}};
                 done(http::json_response(200, boost::json::serialize(o)));
               });
    router.add("GET", "/healthz", "health",
               [](http::Request&&, const http::Params&, http::Responder done) {
                 done(http::json_response(200, R"({"status":"ok"})"));
               });
    add_analyzer_routes(router, analyzer_registry, ctx);
    if (issuer) add_oidc_routes(router, *issuer, ctx);
  }

  static std::string checksum(const SimOp& op) { return hex(fnv1a(op.analyzer + "|" + op.input)); }

  // The key (in the flavor's header) or a bearer token this simulator issued
  // and that has not expired. Takes the lock.
  bool authorized(const http::Request& r, Flavor f = Flavor::kCu) EXCLUDES(mu) {
    std::string_view header = f == Flavor::kGeneric ? "x-api-key" : "ocp-apim-subscription-key";
    if (!opt.key.empty() && r.header(header) == opt.key) return true;
    std::string_view auth = r.header("authorization");
    if (auth.substr(0, 7) != "Bearer ") return false;
    MutexLock lock(mu);
    auto it = tokens.find(auth.substr(7));
    if (it == tokens.end() || clock.now_ms() >= it->second) {
      ++bearer_rejected;
      return false;
    }
    ++bearer_accepted;
    return true;
  }

  enum class TokenForm { kClientCredentials, kIdentityEndpoint, kImds };

  static http::Response aad_error(int status, std::string_view error, int aadsts,
                                  std::string_view description) {
    boost::json::object o{
        {"error", error},
        {"error_description", "AADSTS" + std::to_string(aadsts) + ": " + std::string(description) +
                                  "\r\nTrace ID: " + random_uuid()},
        {"error_codes", boost::json::array{aadsts}},
        {"timestamp", json::iso8601(0)}};
    return http::json_response(status, boost::json::serialize(o));
  }

  // Issues a token after checking the request as Entra ID (or the managed
  // identity endpoints) would.
  void token(http::Request&& r, TokenForm form, http::Responder done) {
    MutexLock lock(mu);
    ++token_requests;
    std::size_t index = static_cast<std::size_t>(token_requests - 1);
    token_max_inflight = std::max(token_max_inflight, ++token_inflight);
    lock.unlock();
    http::Responder counted = [this, done](http::Response res) {
      {
        MutexLock l(mu);
        --token_inflight;
      }
      done(std::move(res));
    };
    if (index < opt.token_faults.size()) {
      int st = opt.token_faults[index].status;
      reply(counted,
            aad_error(st, "temporarily_unavailable", 50001, "The service is temporarily busy."),
            opt.token_delay);
      return;
    }
    std::map<std::string, std::string> q;
    for (auto& [k, v] :
         http::parse_query(form == TokenForm::kClientCredentials ? r.body : r.query)) {
      q[k] = v;
    }
    std::optional<http::Response> refusal;
    if (form == TokenForm::kClientCredentials) {
      if (q["grant_type"] != "client_credentials") {
        refusal = aad_error(400, "unsupported_grant_type", 70003,
                            "The app requested an unsupported grant type.");
      } else if (q["client_id"].empty()) {
        refusal = aad_error(400, "invalid_request", 900144,
                            "The request body must contain the following parameter: client_id.");
      } else if (opt.client_secret.empty() || q["client_secret"] != opt.client_secret) {
        refusal = aad_error(401, "invalid_client", 7000215,
                            "Invalid client secret provided. Ensure the secret being sent in the "
                            "request is the client secret value, not the client secret ID.");
      } else if (q["scope"] != kScope) {
        refusal =
            aad_error(400, "invalid_scope", 70011, "The provided value for scope is not valid.");
      }
    } else if (form == TokenForm::kIdentityEndpoint) {
      if (opt.identity_header.empty() || r.header("x-identity-header") != opt.identity_header) {
        refusal = az_error(401, "Unauthorized", "X-IDENTITY-HEADER is missing or wrong.");
      } else if (q["api-version"] != "2019-08-01" || q["resource"] != kResource) {
        refusal =
            az_error(400, "BadRequest", "api-version 2019-08-01 and a known resource needed.");
      }
    } else {
      if (r.header("metadata") != "true") {
        refusal = http::json_response(
            400,
            R"({"error":"invalid_request","error_description":"Required metadata header not specified"})");
      } else if (q["api-version"] != "2018-02-01" || q["resource"] != kResource) {
        refusal = http::json_response(
            400, R"({"error":"invalid_resource","error_description":"unknown resource"})");
      }
    }
    if (refusal) {
      reply(counted, std::move(*refusal), opt.token_delay);
      return;
    }
    std::string value = "sim-token-" + random_uuid();
    Millis now = clock.now_ms();
    Millis life = std::max<Millis>(opt.token_lifetime.count(), 1000);
    Millis expires = now + life;
    {
      MutexLock l(mu);
      ++tokens_issued;
      // Forget long-expired tokens so the map stays small.
      for (auto it = tokens.begin(); it != tokens.end();) {
        it = it->second + 60'000 < now ? tokens.erase(it) : std::next(it);
      }
      tokens[value] = expires;
    }
    boost::json::object o{{"access_token", value}, {"token_type", "Bearer"}};
    if (form == TokenForm::kClientCredentials) {
      o["expires_in"] = life / 1000;
      o["ext_expires_in"] = life / 1000;
    } else {
      o["expires_on"] = std::to_string(expires / 1000);
      o["resource"] = kResource;
      if (form == TokenForm::kImds) o["expires_in"] = std::to_string(life / 1000);
    }
    reply(counted, http::json_response(200, boost::json::serialize(o)), opt.token_delay);
  }

  std::string api_version(const http::Request& r) const {
    for (auto& [k, v] : http::parse_query(r.query)) {
      if (k == "api-version") return v;
    }
    return {};
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

  // The names a flavor gives the phases: notStarted/running for Document
  // Intelligence, queued/working for the generic API.
  static std::string phase_word(Flavor f, std::string_view azure_name) {
    if (f == Flavor::kCu) return std::string(azure_name);
    if (f == Flavor::kDi) {
      std::string w(azure_name);
      w[0] = static_cast<char>(std::tolower(static_cast<unsigned char>(w[0])));
      return w;
    }
    if (azure_name == "NotStarted") return "queued";
    if (azure_name == "Running") return "working";
    if (azure_name == "Succeeded") return "done";
    if (azure_name == "Failed") return "error";
    return "stopped";
  }

  // The status field of a flavor's body.
  static void set_status(boost::json::object& o, Flavor f, std::string_view azure_name) {
    if (f == Flavor::kGeneric) {
      o["job"] = boost::json::object{{"state", phase_word(f, azure_name)}};
    } else {
      o["status"] = phase_word(f, azure_name);
    }
  }

  // The document an analyze request names, or the reason it names none.
  Result<std::string> read_input(const http::Request& r, Flavor flavor, const std::string& version,
                                 bool binary_route) {
    auto invalid = [](std::string m) { return make_error(ErrorCode::kInvalidArgument, m); };
    std::string ct(r.header("content-type"));
    bool is_json = ct.rfind("application/json", 0) == 0;
    if (!is_json || binary_route) {
      if (flavor == Flavor::kGeneric) return invalid("The request body must be JSON.");
      if (flavor == Flavor::kCu && !binary_route && version == kGa) {
        return invalid("api-version 2025-11-01 takes binary input on :analyzeBinary");
      }
      return "binary:" + std::to_string(r.body.size()) + ":" + hex(fnv1a(r.body));
    }
    auto v = json::parse(r.body);
    if (!v || !v->is_object()) return invalid("The request body is not valid JSON.");
    const auto& obj = v->as_object();
    if (flavor == Flavor::kDi) {
      if (auto u = json::get_string(obj, "urlSource")) return *u;
      if (auto b = json::get_string(obj, "base64Source")) return "data:" + hex(fnv1a(*b));
      return invalid("The request must have urlSource or base64Source.");
    }
    if (flavor == Flavor::kGeneric) {
      if (auto u = json::get_string(obj, "source")) return *u;
      return invalid("The request must have source.");
    }
    std::string input;
    if (version != kGa) {
      if (auto u = json::get_string(obj, "url")) input = *u;
    }
    if (auto it = obj.find("inputs"); input.empty() && it != obj.end() && it->value().is_array() &&
                                      !it->value().as_array().empty() &&
                                      it->value().as_array()[0].is_object()) {
      const auto& first = it->value().as_array()[0].as_object();
      if (auto u = json::get_string(first, "url"))
        input = *u;
      else if (auto d = json::get_string(first, "data"))
        input = "data:" + hex(fnv1a(*d));
    }
    if (input.empty()) {
      return invalid(version == kGa ? "The request must have inputs[0].url or inputs[0].data."
                                    : "The request must have url or inputs[0].url.");
    }
    return input;
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
    std::string version = api_version(r);
    bool version_ok = flavor == Flavor::kGeneric ||
                      (flavor == Flavor::kDi && version == kDiVersion) ||
                      (flavor == Flavor::kCu && cu_version_served(version));
    if (!version_ok) {
      reply(done, az_error(400, "InvalidRequest",
                           "The api-version query parameter is missing or not supported."));
      return;
    }
    if (binary_route && version != kGa) {
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
    std::string host(r.header("host"));
    std::string base = std::string(r.tls ? "https://" : "http://") + host;
    MutexLock lock(mu);
    ++submits;
    // Submit faults apply to successive attempts of the same body.
    std::size_t& attempt = submit_attempts[fnv1a(analyzer + "|" + r.body)];
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
    op.input = input.value();
    op.body_sha256 = sha256_hex(r.body);
    op.created = clock.now_ms();
    op.d = d.value();
    std::string path =
        flavor == Flavor::kCu
            ? "/contentunderstanding/analyzerResults/" + op.id + "?api-version=" + version
        : flavor == Flavor::kDi ? "/documentintelligence/documentModels/" + analyzer +
                                      "/analyzeResults/" + op.id + "?api-version=" + version
                                : "/generic/jobs/" + analyzer + "/" + op.id;
    std::string location =
        (op.d.foreign_location ? std::string("http://foreign.invalid") : base) + path;
    boost::json::object body{{"id", op.id}};
    set_status(body, flavor, "NotStarted");
    http::Response res = http::json_response(202, boost::json::serialize(body));
    res.set("Operation-Location", location);
    if (flavor == Flavor::kDi) res.set("apim-request-id", op.id);
    ops.emplace(op.id, std::move(op));
    reply(done, std::move(res));
  }

  std::string final_body(const SimOp& op) {
    boost::json::object o{{"id", op.id}};
    set_status(o, op.flavor, op.d.outcome);
    if (op.flavor == Flavor::kDi) {
      o["createdDateTime"] = json::iso8601(op.created);
      o["lastUpdatedDateTime"] = json::iso8601(op.created + op.d.duration.count());
    }
    if (op.d.outcome == "Failed") {
      o[op.flavor == Flavor::kGeneric ? "problem" : "error"] = boost::json::object{
          {"code", "InvalidContent"},
          {"message", "The document could not be analyzed (simulated failure)."}};
      return boost::json::serialize(o);
    }
    if (op.d.outcome == "Canceled") return boost::json::serialize(o);
    std::string sum = checksum(op);
    int pages = static_cast<int>(fnv1a(op.input) % 20) + 1;
    std::string markdown = "# Analysis of " + op.input + "\n\nChecksum " + sum + ".\n";
    if (op.d.result_bytes > markdown.size()) {
      std::string filler = "Lorem ipsum dolor sit amet, consectetur adipiscing elit. ";
      while (markdown.size() < op.d.result_bytes) markdown += filler;
      markdown.resize(op.d.result_bytes);
    }
    boost::json::object fields{{"Source", {{"type", "string"}, {"valueString", op.input}}},
                               {"Checksum", {{"type", "string"}, {"valueString", sum}}},
                               {"PageCount", {{"type", "integer"}, {"valueInteger", pages}}}};
    boost::json::object content{{"kind", "document"},
                                {"markdown", markdown},
                                {"fields", std::move(fields)},
                                {"startPageNumber", 1},
                                {"endPageNumber", pages}};
    boost::json::object result{{"analyzerId", op.analyzer},
                               {"apiVersion", op.api_version},
                               {"createdAt", json::iso8601(op.created)},
                               {"warnings", boost::json::array{}},
                               {"contents", boost::json::array{std::move(content)}}};
    if (op.flavor == Flavor::kDi) {
      boost::json::array page_list;
      for (int i = 1; i <= pages; ++i) {
        page_list.push_back(boost::json::object{{"pageNumber", i},
                                                {"width", 8.5},
                                                {"height", 11},
                                                {"unit", "inch"},
                                                {"words", boost::json::array{}}});
      }
      o["analyzeResult"] = boost::json::object{{"apiVersion", op.api_version},
                                               {"modelId", op.analyzer},
                                               {"stringIndexType", "textElements"},
                                               {"content", markdown},
                                               {"pages", std::move(page_list)}};
      return boost::json::serialize(o);
    }
    if (op.flavor == Flavor::kGeneric) {
      o["output"] = std::move(result);
      return boost::json::serialize(o);
    }
    o["result"] = std::move(result);
    o["usage"] = boost::json::object{{"documentPages", pages}};
    return boost::json::serialize(o);
  }

  void result(http::Request&& r, const std::string& id, http::Responder done,
              Flavor flavor = Flavor::kCu) {
    if (!authorized(r, flavor)) {
      reply(done, az_error(401, "401", "Access denied due to invalid subscription key."));
      return;
    }
    MutexLock lock(mu);
    auto it = ops.find(id);
    Millis now = clock.now_ms();
    if (it == ops.end() || it->second.flavor != flavor ||
        now > it->second.created + it->second.d.duration.count() + opt.result_ttl.count()) {
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
