#include "upstream/auth/credential.h"

#include <algorithm>
#include <boost/json/parse.hpp>
#include <boost/url/encode.hpp>
#include <boost/url/rfc/unreserved_chars.hpp>
#include <cctype>
#include <vector>

#include "base/log.h"
#include "base/metrics.h"
#include "base/strings.h"
#include "base/thread_annotations.h"

namespace lrogate::upstream {
namespace {

using Done = std::function<void(Result<http::Headers>)>;

std::string enc(std::string_view s) {
  return boost::urls::encode(s, boost::urls::unreserved_chars);
}

std::string printable(std::string_view s, std::size_t n) {
  std::string out;
  for (char c : s.substr(0, n)) out += std::isprint(static_cast<unsigned char>(c)) ? c : ' ';
  return out;
}

bool is_loopback_host(std::string_view host) {
  return host == "127.0.0.1" || host == "localhost" || host == "[::1]";
}

// A JSON number or a string of digits, as a count of seconds: a lifetime
// (expires_in) or an epoch time (expires_on). Anything negative or past
// 10^11 s (year 5138) is not a usable answer, and is refused before any
// arithmetic could overflow (the fuzzer found a 1e51 here).
std::optional<std::int64_t> seconds_of(const boost::json::value& v) {
  constexpr std::int64_t kMax = 100'000'000'000;
  std::optional<std::int64_t> n;
  if (v.is_int64()) {
    n = v.get_int64();
  } else if (v.is_uint64()) {
    n = v.get_uint64() <= static_cast<std::uint64_t>(kMax)
            ? static_cast<std::int64_t>(v.get_uint64())
            : kMax + 1;
  } else if (v.is_double()) {
    double d = v.get_double();
    n = d >= 0 && d <= static_cast<double>(kMax) ? static_cast<std::int64_t>(d) : -1;
  } else if (v.is_string()) {
    n = parse_digits(v.get_string(), 12);
  }
  if (!n || *n < 0 || *n > kMax) return std::nullopt;
  return n;
}

class KeyCredential final : public Credential {
 public:
  KeyCredential(std::string header, std::string key)
      : headers_{{std::move(header), std::move(key)}} {}
  void headers(Done done) override { done(headers_); }

 private:
  http::Headers headers_;
};

class TokenCredential final : public Credential {
 public:
  TokenCredential(AuthSettings s, http::Client& client, const Clock& clock)
      : s_(std::move(s)), client_(client), clock_(clock) {}

  void headers(Done done) override {
    MutexLock lock(mu_);
    Millis now = clock_.now_ms();
    if (!token_.value.empty() && now < usable_until_) {
      http::Headers h{{"authorization", "Bearer " + token_.value}};
      bool refresh = now >= refresh_at_ && !fetching_ && now >= retry_at_;
      if (refresh) fetching_ = true;
      lock.unlock();
      if (refresh) fetch();
      done(std::move(h));
      return;
    }
    if (!fetching_ && now < retry_at_) {
      Error e = last_error_;
      lock.unlock();
      done(std::move(e));
      return;
    }
    waiters_.push_back(std::move(done));
    bool start = !fetching_;
    fetching_ = true;
    lock.unlock();
    if (start) fetch();
  }

  void rejected() override {
    MutexLock lock(mu_);
    Millis now = clock_.now_ms();
    if (token_.value.empty() || now < last_rejection_refresh_ + 30'000) return;
    last_rejection_refresh_ = now;
    refresh_at_ = std::min(refresh_at_, now);  // the next call starts a refresh
    log::warn("the upstream refused the gateway's token; refreshing it early", {{"auth", s_.mode}});
  }

 private:
  http::ClientRequest token_request() const {
    http::ClientRequest r;
    r.timeout = s_.timeout;
    r.max_body = 64u << 10;
    std::string resource = s_.scope;
    if (resource.size() > 9 && resource.compare(resource.size() - 9, 9, "/.default") == 0) {
      resource.resize(resource.size() - 9);
    }
    if (s_.mode == "client-credentials") {
      r.method = "POST";
      r.url = s_.authority + "/" + s_.tenant_id + "/oauth2/v2.0/token";
      r.headers = {{"content-type", "application/x-www-form-urlencoded"}};
      r.body = "grant_type=client_credentials&client_id=" + enc(s_.client_id) +
               "&client_secret=" + enc(s_.client_secret) + "&scope=" + enc(s_.scope);
    } else if (!s_.identity_endpoint.empty()) {
      // App Service, Container Apps, Functions (api-version 2019-08-01).
      r.url = s_.identity_endpoint +
              (s_.identity_endpoint.find('?') == std::string::npos ? "?" : "&") +
              "api-version=2019-08-01&resource=" + enc(resource);
      if (!s_.client_id.empty()) r.url += "&client_id=" + enc(s_.client_id);
      r.headers = {{"x-identity-header", s_.identity_header}};
    } else {
      // The Instance Metadata Service of VMs and AKS nodes.
      r.url = s_.imds_endpoint +
              "/metadata/identity/oauth2/token?api-version=2018-02-01&resource=" + enc(resource);
      if (!s_.client_id.empty()) r.url += "&client_id=" + enc(s_.client_id);
      r.headers = {{"metadata", "true"}};
    }
    return r;
  }

  void fetch() {
    client_.send(token_request(), [this](http::ClientResult r) { on_answer(std::move(r)); });
  }

  // A reason never carries the secret, even if an authority echoed it.
  std::string scrub(std::string reason) const {
    for (const std::string* secret : {&s_.client_secret, &s_.identity_header}) {
      if (secret->empty()) continue;
      for (auto pos = reason.find(*secret); pos != std::string::npos; pos = reason.find(*secret)) {
        reason.replace(pos, secret->size(), "[redacted]");
      }
    }
    return reason;
  }

  void on_answer(http::ClientResult r) {
    Millis now = clock_.now_ms();
    Token t;
    Error err{ErrorCode::kUnavailable, {}, {}};
    bool ok = false;
    if (!r.response) {
      err.message = std::string("the token authority could not be reached: ") + r.error;
    } else if (r.response->status != 200) {
      int st = r.response->status;
      // 400/401/403 name the gateway's own settings (client, secret, tenant,
      // identity); 408/429/5xx are the authority's trouble.
      bool refused = st == 400 || st == 401 || st == 403 || st == 404;
      if (refused) err.code = ErrorCode::kUnauthenticated;
      err.message = "the token authority " +
                    std::string(refused ? "refused the gateway's credentials: "
                                        : "could not issue a token: ") +
                    scrub(token_error_reason(st, r.response->body));
    } else if (auto parsed = parse_token_answer(r.response->body, now); !parsed) {
      err.message = "the token authority's answer has no usable access_token/expiry";
    } else {
      t = std::move(*parsed);
      ok = true;
    }
    std::vector<Done> waiters;
    http::Headers h;
    Millis retry_in = 0;
    {
      MutexLock lock(mu_);
      fetching_ = false;
      waiters.swap(waiters_);
      if (ok) {
        Millis life = std::max<Millis>(t.expires_at - now, 0);
        token_ = t;
        refresh_at_ = t.expires_at - std::min<Millis>(300'000, life / 2);
        usable_until_ = t.expires_at - std::min<Millis>(30'000, life / 10);
        failures_ = 0;
        retry_at_ = 0;
        h = {{"authorization", "Bearer " + token_.value}};
      } else {
        retry_in = std::min<Millis>(30'000, 1000LL << std::min(failures_, 5));
        ++failures_;
        retry_at_ = now + retry_in;
        last_error_ = err;
      }
    }
    if (ok) {
      metrics::count_upstream_call("token", "ok");
      log::info("upstream token obtained",
                {{"auth", s_.mode}, {"expires_in_s", (t.expires_at - now) / 1000}});
      for (auto& w : waiters) w(h);
      return;
    }
    bool refused = err.code == ErrorCode::kUnauthenticated;
    metrics::count_upstream_call("token", refused ? "refused" : "unavailable");
    log::warn("upstream token refresh failed",
              {{"auth", s_.mode}, {"reason", err.message}, {"retry_in_ms", retry_in}});
    for (auto& w : waiters) w(err);
  }

  const AuthSettings s_;
  http::Client& client_;
  const Clock& clock_;
  Mutex mu_;
  Token token_ GUARDED_BY(mu_);
  Millis refresh_at_ GUARDED_BY(mu_) = 0;
  Millis usable_until_ GUARDED_BY(mu_) = 0;
  Millis retry_at_ GUARDED_BY(mu_) = 0;
  Millis last_rejection_refresh_ GUARDED_BY(mu_) = -30'000;
  int failures_ GUARDED_BY(mu_) = 0;
  bool fetching_ GUARDED_BY(mu_) = false;  // one token request at a time
  Error last_error_ GUARDED_BY(mu_);
  std::vector<Done> waiters_ GUARDED_BY(mu_);
};

Error bad(std::string message) {
  return make_error(ErrorCode::kInvalidArgument, std::move(message));
}

bool plain_id(std::string_view s) {
  return !s.empty() && s.size() <= 128 && std::all_of(s.begin(), s.end(), [](char c) {
    return std::isalnum(static_cast<unsigned char>(c)) || c == '-' || c == '.' || c == '_';
  });
}

// An absolute http(s) URL without query; plain http only on loopback (or
// when allowed, for IMDS and the local identity endpoint).
std::optional<std::string> check_url(std::string url, bool http_anywhere) {
  while (!url.empty() && url.back() == '/') url.pop_back();
  auto o = http::http_origin(url);
  if (!o) return std::nullopt;
  if (o->scheme == "https" || http_anywhere || is_loopback_host(o->host)) return url;
  return std::nullopt;
}

}  // namespace

std::optional<Token> parse_token_answer(std::string_view body, Millis now) {
  boost::system::error_code ec;
  auto v = boost::json::parse(body, ec);
  if (ec || !v.is_object()) return std::nullopt;
  const auto& o = v.get_object();
  auto tok = o.find("access_token");
  if (tok == o.end() || !tok->value().is_string() || tok->value().get_string().empty()) {
    return std::nullopt;
  }
  std::optional<std::int64_t> at;
  if (auto in = o.find("expires_in"); in != o.end()) {
    if (auto s = seconds_of(in->value())) at = now + *s * 1000;
  }
  if (auto on = o.find("expires_on"); !at && on != o.end()) {
    if (auto s = seconds_of(on->value())) at = *s * 1000;
  }
  if (!at || *at <= now) return std::nullopt;
  return Token{std::string(tok->value().get_string()), *at};
}

std::string token_error_reason(int status, std::string_view body) {
  std::string reason = "HTTP " + std::to_string(status);
  boost::system::error_code ec;
  auto v = boost::json::parse(body, ec);
  if (ec || !v.is_object()) return reason;
  const auto& o = v.get_object();
  std::string code, description;
  if (auto e = o.find("error"); e != o.end()) {
    if (e->value().is_string()) {
      code = e->value().get_string();
    } else if (e->value().is_object()) {  // {"error":{"code","message"}} (identity endpoints)
      const auto& eo = e->value().get_object();
      if (auto c = eo.find("code"); c != eo.end() && c->value().is_string()) {
        code = c->value().get_string();
      }
      if (auto m = eo.find("message"); m != eo.end() && m->value().is_string()) {
        description = m->value().get_string();
      }
    }
  }
  if (auto d = o.find("error_description"); d != o.end() && d->value().is_string()) {
    description = d->value().get_string();
  }
  if (!code.empty()) reason += " " + printable(code, 64);
  if (auto c = o.find("error_codes"); c != o.end() && c->value().is_array() &&
                                      !c->value().get_array().empty() &&
                                      c->value().get_array()[0].is_int64()) {
    reason += " (AADSTS" + std::to_string(c->value().get_array()[0].get_int64()) + ")";
  }
  // The first line only: AAD appends trace and correlation ids. Its
  // "AADSTS<n>: " prefix repeats the number already given.
  description = description.substr(0, description.find_first_of("\r\n"));
  if (description.rfind("AADSTS", 0) == 0) {
    auto colon = description.find(": ");
    if (colon != std::string::npos && colon < 16) description.erase(0, colon + 2);
  }
  if (!description.empty()) reason += ": " + printable(description, 200);
  return reason;
}

Result<std::unique_ptr<Credential>> make_credential(const AuthSettings& settings,
                                                    http::Client& client, const Clock& clock) {
  AuthSettings s = settings;
  if (s.mode == "key") {
    if (s.key.empty()) return bad("no upstream key: set AZURE_CU_KEY or --upstream-key");
    if (s.key_header.empty()) return bad("--upstream-key-header must not be empty");
    return std::unique_ptr<Credential>(new KeyCredential(to_lower(s.key_header), s.key));
  }
  if (s.scope.empty()) return bad("--token-scope must not be empty");
  if (s.mode == "client-credentials") {
    auto a = check_url(s.authority, false);
    if (!a) return bad("--authority must be an https URL (plain http only on loopback)");
    s.authority = *a;
    if (!plain_id(s.tenant_id)) {
      return bad("client-credentials needs a tenant: set AZURE_TENANT_ID or --tenant-id");
    }
    if (!plain_id(s.client_id)) {
      return bad("client-credentials needs an app id: set AZURE_CLIENT_ID or --client-id");
    }
    if (s.client_secret.empty()) {
      return bad("client-credentials needs a secret: set AZURE_CLIENT_SECRET");
    }
  } else if (s.mode == "managed-identity") {
    if (!s.client_id.empty() && !plain_id(s.client_id)) return bad("--client-id is not an id");
    if (!s.identity_endpoint.empty()) {
      auto e = check_url(s.identity_endpoint, true);
      if (!e) return bad("IDENTITY_ENDPOINT must be an absolute http(s) URL");
      s.identity_endpoint = *e;
      if (s.identity_header.empty()) return bad("IDENTITY_ENDPOINT is set without IDENTITY_HEADER");
    } else {
      auto e = check_url(s.imds_endpoint, true);
      if (!e) return bad("--imds-endpoint must be an absolute http(s) URL");
      s.imds_endpoint = *e;
    }
  } else {
    return bad("--upstream-auth must be key, client-credentials or managed-identity");
  }
  return std::unique_ptr<Credential>(new TokenCredential(std::move(s), client, clock));
}

}  // namespace lrogate::upstream
