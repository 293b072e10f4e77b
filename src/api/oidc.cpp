#include "api/oidc.h"

#include "base/log.h"
#include "base/metrics.h"
#include "base/sha256.h"

namespace lrogate::api {
namespace {

constexpr std::size_t kMaxCached = 10'000;
constexpr std::size_t kMaxDocument = 1u << 20;

}  // namespace

OidcVerifier::OidcVerifier(OidcSettings settings, http::Client& client, const Clock& clock)
    : settings_(std::move(settings)), client_(client), clock_(clock) {
  rules_.issuers.push_back(settings_.issuer);
  for (const auto& i : settings_.extra_issuers) rules_.issuers.push_back(i);
  rules_.audiences = settings_.audiences;
  rules_.clock_skew_s = settings_.clock_skew.count();
  rules_.required_scope = settings_.required_scope;
  rules_.required_role = settings_.required_role;
}

void OidcVerifier::start() {
  fetch();
  schedule();
}

void OidcVerifier::schedule() {
  // A timer on the client's thread: it ends with the client.
  client_.post_after(settings_.refresh, [this] {
    fetch();
    schedule();
  });
}

std::size_t OidcVerifier::keys_held() const {
  ReaderLock lock(keys_mu_);
  return keys_ ? keys_->size() : 0;
}

void OidcVerifier::get(std::string url, std::function<void(Result<std::string>)> done) {
  http::ClientRequest req;
  req.method = "GET";
  req.url = std::move(url);
  req.timeout = settings_.timeout;
  req.max_body = kMaxDocument;
  req.headers.push_back({"accept", "application/json"});
  client_.send(std::move(req), [done = std::move(done)](http::ClientResult r) {
    if (!r.response) return done(make_error(ErrorCode::kUnavailable, r.error));
    if (r.response->status != 200) {
      return done(make_error(ErrorCode::kUnavailable,
                             "the issuer answered " + std::to_string(r.response->status)));
    }
    done(std::move(r.response->body));
  });
}

void OidcVerifier::fetch() {
  if (fetching_.exchange(true)) return;
  last_fetch_ = clock_.now_ms();
  // OIDC Discovery §4: a trailing slash of the issuer is dropped before the path.
  std::string base = settings_.issuer;
  if (!base.empty() && base.back() == '/') base.pop_back();
  get(base + "/.well-known/openid-configuration", [this](Result<std::string> doc) {
    if (!doc) return fetched(doc.error());
    auto uri = parse_discovery(doc.value(), settings_.issuer);
    if (!uri) return fetched(uri.error());
    // The keys come only from an https URL (or loopback, for local issuers).
    auto origin = http::http_origin(uri.value());
    bool loopback = origin && (origin->host == "127.0.0.1" || origin->host == "localhost" ||
                               origin->host == "[::1]");
    if (!origin || (origin->scheme != "https" && !loopback)) {
      return fetched(make_error(ErrorCode::kInvalidArgument, "the jwks_uri is not an https URL"));
    }
    get(uri.value(), [this](Result<std::string> jwks) {
      if (!jwks) return fetched(jwks.error());
      fetched(parse_jwks(jwks.value()));
    });
  });
}

void OidcVerifier::fetched(Result<KeySet> keys) {
  if (keys) {
    auto held = std::make_shared<const KeySet>(std::move(keys).value());
    log::info("oidc signing keys fetched", {{"issuer", settings_.issuer}, {"keys", held->size()}});
    WriterLock lock(keys_mu_);
    keys_ = std::move(held);
    last_error_.clear();
  } else {
    log::warn("oidc signing keys not fetched; the keys held stay",
              {{"issuer", settings_.issuer}, {"error", keys.error().message}});
    {
      WriterLock lock(keys_mu_);
      last_error_ = keys.error().message;
    }
    // Sooner than the next refresh: the keys held (if any) may be old.
    client_.post_after(settings_.min_refetch, [this] { fetch(); });
  }
  metrics::count_upstream_call("oidc_keys", keys ? "ok" : "unavailable");
  fetching_ = false;
}

VerifiedToken OidcVerifier::verify(std::string_view token) {
  std::string key = sha256_digest(token);
  std::int64_t now_s = clock_.now_ms() / 1000;
  {
    MutexLock lock(cache_mu_);
    auto it = cache_.find(key);
    if (it != cache_.end()) {
      if (now_s <= it->second->expires_at + rules_.clock_skew_s) return it->second;
      cache_.erase(it);
    }
  }
  std::shared_ptr<const KeySet> keys;
  std::string why_none;
  {
    ReaderLock lock(keys_mu_);
    keys = keys_;
    why_none = last_error_;
  }
  if (!keys) {
    return make_error(ErrorCode::kNotFound,
                      "the issuer's signing keys are not available yet" +
                          (why_none.empty() ? std::string() : ": " + why_none));
  }
  auto r = verify_jwt(token, *keys, rules_, now_s, settings_.group_claim);
  if (!r) {
    Error e = r.error();
    if (e.code == ErrorCode::kNotFound) {
      // Maybe rotated: fetch again, at most once per min_refetch.
      if (clock_.now_ms() - last_fetch_.load() >= settings_.min_refetch.count()) {
        client_.post([this] { fetch(); });
      }
      if (!why_none.empty()) e.message += " (the keys could not be refreshed: " + why_none + ")";
    }
    return e;
  }
  auto claims = std::make_shared<const JwtClaims>(std::move(r).value());
  MutexLock lock(cache_mu_);
  if (cache_.size() >= kMaxCached) {
    for (auto it = cache_.begin(); it != cache_.end();) {
      it = now_s > it->second->expires_at + rules_.clock_skew_s ? cache_.erase(it) : std::next(it);
    }
    if (cache_.size() >= kMaxCached) cache_.clear();
  }
  cache_.emplace(std::move(key), claims);
  return claims;
}

}  // namespace lrogate::api
