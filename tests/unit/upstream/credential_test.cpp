// Credentials: settings checks, token answers, refresh timing, one refresh
// at a time, backoff after failures, no secret in any reason. A fake
// http::Client answers token requests when the test says so.
#include "upstream/auth/credential.h"

#include <gtest/gtest.h>

#include <deque>

namespace lrogate::upstream {
namespace {

class FakeClient final : public http::Client {
 public:
  void send(http::ClientRequest req, std::function<void(http::ClientResult)> done) override {
    requests.push_back(std::move(req));
    pending.push_back(std::move(done));
  }
  void post_after(std::chrono::milliseconds, std::function<void()> fn) override { fn(); }
  void post(std::function<void()> fn) override { fn(); }
  void shutdown() override {}

  void answer(int status, std::string body) {
    http::ClientResult r;
    r.response.emplace();
    r.response->status = status;
    r.response->body = std::move(body);
    auto done = std::move(pending.front());
    pending.pop_front();
    done(std::move(r));
  }

  std::vector<http::ClientRequest> requests;
  std::deque<std::function<void(http::ClientResult)>> pending;
};

AuthSettings app() {
  AuthSettings s;
  s.mode = "client-credentials";
  s.authority = "https://login.example/";
  s.tenant_id = "contoso.onmicrosoft.com";
  s.client_id = "00000000-0000-0000-0000-000000000001";
  s.client_secret = "s3cr3t+/=value";
  return s;
}

struct Got {
  int calls = 0;
  http::Headers headers;
  std::optional<Error> error;
};

void ask(Credential& c, Got* g) {
  c.headers([g](Result<http::Headers> h) {
    ++g->calls;
    g->headers.clear();
    g->error.reset();
    if (h) {
      g->headers = std::move(h).value();
    } else {
      g->error = h.error();
    }
  });
}

TEST(Credential, KeyHeader) {
  FakeClient client;
  ManualClock clock;
  AuthSettings s;
  s.key = "K";
  s.key_header = "Api-Key";
  auto c = make_credential(s, client, clock).value();
  Got g;
  ask(*c, &g);
  EXPECT_EQ(g.calls, 1);
  EXPECT_EQ(http::find_header(g.headers, "api-key"), "K");
  EXPECT_TRUE(client.requests.empty());
}

TEST(Credential, SettingsAreChecked) {
  FakeClient client;
  ManualClock clock;
  AuthSettings s;
  EXPECT_FALSE(make_credential(s, client, clock).ok());  // key mode without a key
  s = app();
  s.client_secret.clear();
  EXPECT_FALSE(make_credential(s, client, clock).ok());
  s = app();
  s.authority = "http://login.example";  // a secret over plain http
  EXPECT_FALSE(make_credential(s, client, clock).ok());
  s.authority = "http://127.0.0.1:8";
  EXPECT_TRUE(make_credential(s, client, clock).ok());
  s = app();
  s.tenant_id = "a/b";
  EXPECT_FALSE(make_credential(s, client, clock).ok());
  s = AuthSettings{};
  s.mode = "managed-identity";
  s.identity_endpoint = "http://127.0.0.1:1/msi";
  EXPECT_FALSE(make_credential(s, client, clock).ok());  // no IDENTITY_HEADER
  s.identity_header = "h";
  EXPECT_TRUE(make_credential(s, client, clock).ok());
}

TEST(Credential, ClientCredentialsRequestAndCache) {
  FakeClient client;
  ManualClock clock;
  auto c = make_credential(app(), client, clock).value();
  Got a, b;
  ask(*c, &a);
  ask(*c, &b);
  ASSERT_EQ(client.requests.size(), 1u);  // one fetch for both waiters
  const auto& r = client.requests[0];
  EXPECT_EQ(r.method, "POST");
  EXPECT_EQ(r.url, "https://login.example/contoso.onmicrosoft.com/oauth2/v2.0/token");
  EXPECT_EQ(r.body,
            "grant_type=client_credentials&client_id=00000000-0000-0000-0000-000000000001"
            "&client_secret=s3cr3t%2B%2F%3Dvalue"
            "&scope=https%3A%2F%2Fcognitiveservices.azure.com%2F.default");
  client.answer(200, R"({"token_type":"Bearer","expires_in":3600,"access_token":"T1"})");
  EXPECT_EQ(a.calls, 1);
  EXPECT_EQ(b.calls, 1);
  EXPECT_EQ(http::find_header(a.headers, "authorization"), "Bearer T1");
  Got c2;
  clock.advance(30 * 60'000 - 1000);  // before refresh time (expiry - 5 min... and half life)
  ask(*c, &c2);
  EXPECT_EQ(client.requests.size(), 1u);
  EXPECT_EQ(http::find_header(c2.headers, "authorization"), "Bearer T1");
}

TEST(Credential, RefreshesEarlyOnceAndKeepsTheOldTokenMeanwhile) {
  FakeClient client;
  ManualClock clock;
  auto c = make_credential(app(), client, clock).value();
  Got g;
  ask(*c, &g);
  client.answer(200, R"({"expires_in":"600","access_token":"T1"})");
  clock.advance(301'000);  // past half of 10 minutes
  Got x, y;
  ask(*c, &x);
  ask(*c, &y);
  EXPECT_EQ(client.requests.size(), 2u);  // one refresh, not two
  EXPECT_EQ(http::find_header(x.headers, "authorization"), "Bearer T1");
  EXPECT_EQ(http::find_header(y.headers, "authorization"), "Bearer T1");
  client.answer(200, R"({"expires_in":600,"access_token":"T2"})");
  Got z;
  ask(*c, &z);
  EXPECT_EQ(http::find_header(z.headers, "authorization"), "Bearer T2");
}

TEST(Credential, FailuresBackOffAndNeverCarryTheSecret) {
  FakeClient client;
  ManualClock clock;
  auto c = make_credential(app(), client, clock).value();
  Got g;
  ask(*c, &g);
  client.answer(401,
                R"({"error":"invalid_client","error_description":"AADSTS7000215: Invalid client )"
                R"(secret provided: s3cr3t+/=value\r\nTrace ID: x","error_codes":[7000215]})");
  ASSERT_TRUE(g.error.has_value());
  EXPECT_EQ(g.error->code, ErrorCode::kUnauthenticated);
  EXPECT_NE(g.error->message.find("invalid_client (AADSTS7000215): Invalid client secret"),
            std::string::npos);
  EXPECT_EQ(g.error->message.find("s3cr3t"), std::string::npos);
  EXPECT_EQ(g.error->message.find("Trace ID"), std::string::npos);
  // Within the backoff no new request goes out; the same reason comes back.
  Got h;
  ask(*c, &h);
  EXPECT_EQ(client.requests.size(), 1u);
  ASSERT_TRUE(h.error.has_value());
  clock.advance(1000);
  Got i;
  ask(*c, &i);
  EXPECT_EQ(client.requests.size(), 2u);
  client.answer(503, "busy");
  ASSERT_TRUE(i.error.has_value());
  EXPECT_EQ(i.error->code, ErrorCode::kUnavailable);
  clock.advance(1500);  // the second backoff is 2 s
  Got j;
  ask(*c, &j);
  EXPECT_EQ(client.requests.size(), 2u);
  clock.advance(600);
  ask(*c, &j);
  EXPECT_EQ(client.requests.size(), 3u);
  client.answer(200, R"({"expires_in":3600,"access_token":"T3"})");
  EXPECT_EQ(http::find_header(j.headers, "authorization"), "Bearer T3");
}

TEST(Credential, ATokenTheUpstreamRefusesIsReplacedAtMostEvery30s) {
  FakeClient client;
  ManualClock clock;
  auto c = make_credential(app(), client, clock).value();
  Got g;
  ask(*c, &g);
  client.answer(200, R"({"expires_in":3600,"access_token":"T1"})");
  c->rejected();
  Got a;
  ask(*c, &a);  // still served the old token, while a new one is fetched
  EXPECT_EQ(http::find_header(a.headers, "authorization"), "Bearer T1");
  ASSERT_EQ(client.requests.size(), 2u);
  client.answer(200, R"({"expires_in":3600,"access_token":"T2"})");
  c->rejected();  // again at once: not another refresh
  Got b;
  ask(*c, &b);
  EXPECT_EQ(client.requests.size(), 2u);
  EXPECT_EQ(http::find_header(b.headers, "authorization"), "Bearer T2");
  clock.advance(30'000);
  c->rejected();
  ask(*c, &b);
  EXPECT_EQ(client.requests.size(), 3u);
}

TEST(Credential, ManagedIdentityForms) {
  FakeClient client;
  ManualClock clock;
  AuthSettings s;
  s.mode = "managed-identity";
  s.identity_endpoint = "http://127.0.0.1:7/msi/token";
  s.identity_header = "IH";
  s.client_id = "abc";
  auto c = make_credential(s, client, clock).value();
  Got g;
  ask(*c, &g);
  EXPECT_EQ(client.requests[0].url,
            "http://127.0.0.1:7/msi/token?api-version=2019-08-01"
            "&resource=https%3A%2F%2Fcognitiveservices.azure.com&client_id=abc");
  EXPECT_EQ(http::find_header(client.requests[0].headers, "x-identity-header"), "IH");
  // App Service answers expires_on as a string of epoch seconds.
  client.answer(200, R"({"access_token":"M1","expires_on":")" +
                         std::to_string(clock.now_ms() / 1000 + 3600) + R"("})");
  EXPECT_EQ(http::find_header(g.headers, "authorization"), "Bearer M1");

  AuthSettings imds;
  imds.mode = "managed-identity";
  imds.imds_endpoint = "http://127.0.0.1:8/";
  auto d = make_credential(imds, client, clock).value();
  Got h;
  ask(*d, &h);
  EXPECT_EQ(client.requests[1].url,
            "http://127.0.0.1:8/metadata/identity/oauth2/token?api-version=2018-02-01"
            "&resource=https%3A%2F%2Fcognitiveservices.azure.com");
  EXPECT_EQ(http::find_header(client.requests[1].headers, "metadata"), "true");
}

TEST(TokenAnswer, Parsed) {
  auto t = parse_token_answer(R"({"access_token":"a","expires_in":10})", 1000);
  ASSERT_TRUE(t);
  EXPECT_EQ(t->value, "a");
  EXPECT_EQ(t->expires_at, 11'000);
  EXPECT_FALSE(parse_token_answer(R"({"access_token":"","expires_in":10})", 0));
  EXPECT_FALSE(parse_token_answer(R"({"access_token":"a"})", 0));
  EXPECT_FALSE(parse_token_answer(R"({"access_token":"a","expires_on":"1"})", 5000));
  EXPECT_FALSE(parse_token_answer("not json", 0));
  // Absurd numbers are refused, never overflowed (a fuzzer's find).
  EXPECT_FALSE(parse_token_answer(R"({"access_token":"b","expires_in":1e51})", 0));
  EXPECT_FALSE(parse_token_answer(R"({"access_token":"b","expires_in":-5})", 0));
  EXPECT_FALSE(parse_token_answer(R"({"access_token":"b","expires_in":18446744073709551615})", 0));
  EXPECT_FALSE(parse_token_answer(R"({"access_token":"b","expires_on":9223372036854775807})", 0));
  t = parse_token_answer(R"({"access_token":"b","expires_in":3599.5})", 0);
  ASSERT_TRUE(t);
  EXPECT_EQ(t->expires_at, 3'599'000);
  EXPECT_EQ(token_error_reason(500, "<html>"), "HTTP 500");
  EXPECT_EQ(token_error_reason(400, R"({"error":{"code":"BadRequest","message":"no identity"}})"),
            "HTTP 400 BadRequest: no identity");
}

}  // namespace
}  // namespace lrogate::upstream
