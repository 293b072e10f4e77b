#include "sim/tokens.h"

#include <algorithm>
#include <boost/json/array.hpp>
#include <boost/json/serialize.hpp>
#include <optional>

#include "base/ids.h"
#include "base/json_util.h"

namespace lrogate::sim {
namespace {

constexpr const char* kScope = "https://cognitiveservices.azure.com/.default";
constexpr const char* kResource = "https://cognitiveservices.azure.com";

http::Response aad_error(int status, std::string_view error, int aadsts,
                         std::string_view description) {
  boost::json::object o{
      {"error", error},
      {"error_description", "AADSTS" + std::to_string(aadsts) + ": " + std::string(description) +
                                "\r\nTrace ID: " + random_uuid()},
      {"error_codes", boost::json::array{aadsts}},
      {"timestamp", json::iso8601(0)}};
  return http::json_response(status, boost::json::serialize(o));
}

http::Response az_error(int status, std::string_view code, std::string_view message) {
  return http::json_response(status, json::error_body(code, message));
}

// Why Entra ID (or the managed identity endpoint) would refuse `r`, if it
// would. `q`: the request's parameters (form body or query).
std::optional<http::Response> refusal(const http::Request& r, TokenIssuer::Form form,
                                      std::map<std::string, std::string>& q,
                                      const TokenOptions& opt) {
  using Form = TokenIssuer::Form;
  if (form == Form::kClientCredentials) {
    if (q["grant_type"] != "client_credentials") {
      return aad_error(400, "unsupported_grant_type", 70003,
                       "The app requested an unsupported grant type.");
    }
    if (q["client_id"].empty()) {
      return aad_error(400, "invalid_request", 900144,
                       "The request body must contain the following parameter: client_id.");
    }
    if (opt.client_secret.empty() || q["client_secret"] != opt.client_secret) {
      return aad_error(401, "invalid_client", 7000215,
                       "Invalid client secret provided. Ensure the secret being sent in the "
                       "request is the client secret value, not the client secret ID.");
    }
    if (q["scope"] != kScope) {
      return aad_error(400, "invalid_scope", 70011, "The provided value for scope is not valid.");
    }
    return std::nullopt;
  }
  if (form == Form::kIdentityEndpoint) {
    if (opt.identity_header.empty() || r.header("x-identity-header") != opt.identity_header) {
      return az_error(401, "Unauthorized", "X-IDENTITY-HEADER is missing or wrong.");
    }
    if (q["api-version"] != "2019-08-01" || q["resource"] != kResource) {
      return az_error(400, "BadRequest", "api-version 2019-08-01 and a known resource needed.");
    }
    return std::nullopt;
  }
  if (r.header("metadata") != "true") {
    return http::json_response(
        400,
        R"({"error":"invalid_request","error_description":"Required metadata header not specified"})");
  }
  if (q["api-version"] != "2018-02-01" || q["resource"] != kResource) {
    return http::json_response(
        400, R"({"error":"invalid_resource","error_description":"unknown resource"})");
  }
  return std::nullopt;
}

}  // namespace

TokenIssuer::TokenIssuer(TokenOptions options, const Clock& clock)
    : opt_(std::move(options)), clock_(clock) {}

bool TokenIssuer::accepts(std::string_view authorization) {
  if (authorization.substr(0, 7) != "Bearer ") return false;
  MutexLock lock(mu_);
  auto it = tokens_.find(authorization.substr(7));
  if (it == tokens_.end() || clock_.now_ms() >= it->second) {
    ++bearer_rejected_;
    return false;
  }
  ++bearer_accepted_;
  return true;
}

void TokenIssuer::revoke_all() {
  MutexLock lock(mu_);
  tokens_.clear();
}

void TokenIssuer::add_stats(boost::json::object& o) const {
  MutexLock lock(mu_);
  o["token_requests"] = requests_;
  o["tokens_issued"] = issued_;
  o["token_max_inflight"] = max_inflight_;
  o["bearer_accepted"] = bearer_accepted_;
  o["bearer_rejected"] = bearer_rejected_;
}

void TokenIssuer::issue(const http::Request& r, Form form, http::Responder done,
                        const RouteContext& ctx) {
  MutexLock lock(mu_);
  ++requests_;
  std::size_t index = static_cast<std::size_t>(requests_ - 1);
  max_inflight_ = std::max(max_inflight_, ++inflight_);
  lock.unlock();
  http::Responder counted = [this, done](http::Response res) {
    {
      MutexLock l(mu_);
      --inflight_;
    }
    done(std::move(res));
  };
  if (index < opt_.faults.size()) {
    ctx.reply_after(counted,
                    aad_error(opt_.faults[index].status, "temporarily_unavailable", 50001,
                              "The service is temporarily busy."),
                    opt_.delay);
    return;
  }
  std::map<std::string, std::string> q;
  for (auto& [k, v] : http::parse_query(form == Form::kClientCredentials ? r.body : r.query)) {
    q[k] = v;
  }
  if (auto no = refusal(r, form, q, opt_)) {
    ctx.reply_after(counted, std::move(*no), opt_.delay);
    return;
  }
  std::string value = "sim-token-" + random_uuid();
  Millis now = clock_.now_ms();
  Millis life = std::max<Millis>(opt_.lifetime.count(), 1000);
  Millis expires = now + life;
  {
    MutexLock l(mu_);
    ++issued_;
    // Forget long-expired tokens so the map stays small.
    for (auto it = tokens_.begin(); it != tokens_.end();) {
      it = it->second + 60'000 < now ? tokens_.erase(it) : std::next(it);
    }
    tokens_[value] = expires;
  }
  boost::json::object o{{"access_token", value}, {"token_type", "Bearer"}};
  if (form == Form::kClientCredentials) {
    o["expires_in"] = life / 1000;
    o["ext_expires_in"] = life / 1000;
  } else {
    o["expires_on"] = std::to_string(expires / 1000);
    o["resource"] = kResource;
    if (form == Form::kImds) o["expires_in"] = std::to_string(life / 1000);
  }
  ctx.reply_after(counted, http::json_response(200, boost::json::serialize(o)), opt_.delay);
}

void add_token_routes(http::Router& router, TokenIssuer& issuer, const RouteContext& ctx) {
  using Form = TokenIssuer::Form;
  auto route = [&](const char* method, const char* path, const char* name, Form form) {
    router.add(method, path, name,
               [&issuer, &ctx, form](http::Request&& r, const http::Params&, http::Responder done) {
                 issuer.issue(r, form, std::move(done), ctx);
               });
  };
  route("POST", "/_sim/aad/{tenant}/oauth2/v2.0/token", "aad token", Form::kClientCredentials);
  route("GET", "/_sim/msi/token", "msi token", Form::kIdentityEndpoint);
  route("GET", "/metadata/identity/oauth2/token", "imds token", Form::kImds);
  router.add("DELETE", "/_sim/tokens", "revoke tokens",
             [&issuer](http::Request&&, const http::Params&, http::Responder done) {
               issuer.revoke_all();
               done(http::json_response(200, R"({"revoked":true})"));
             });
}

}  // namespace lrogate::sim
