#include "http/router.h"

#include <gtest/gtest.h>

namespace lrogate::http {
namespace {

TEST(Router, MatchesTemplatesWithSuffixes) {
  Params p;
  EXPECT_TRUE(Router::match("/pro-mode/content-analyzers/{analyzerId}:analyze",
                            "/pro-mode/content-analyzers/pro-demo:analyze", &p));
  EXPECT_EQ(p["analyzerId"], "pro-demo");
  EXPECT_FALSE(Router::match("/a/{id}:analyze", "/a/x:analyzeBinary", &p));
  EXPECT_FALSE(Router::match("/a/{id}:analyze", "/a/:analyze", &p));
  EXPECT_TRUE(Router::match("/r/{a}/results/{b}", "/r/x/results/y", &p));
  EXPECT_EQ(p["b"], "y");
  EXPECT_FALSE(Router::match("/r/{a}/results/{b}", "/r/x/results/y/z", &p));
  EXPECT_FALSE(Router::match("/r/{a}", "/r/", &p));
  // ':' is the action separator, never inside a value.
  EXPECT_FALSE(Router::match("/a/{id}", "/a/x:analyze", &p));
  EXPECT_FALSE(Router::match("/a/{id}:analyze", "/a/x:y:analyze", &p));
  EXPECT_TRUE(Router::match("/a/{id}", "/a/x.y_z-1", &p));
}

TEST(Router, UnknownRouteIs404AndWrongMethodIs405WithAllow) {
  Router r;
  r.add("GET", "/operations/{id}", "",
        [](Request&&, const Params&, Responder res) { res(json_response(200, "{}")); });
  Response got;
  auto capture = [&](Response x) { got = std::move(x); };
  Request a;
  a.method = "GET";
  a.path = "/nope";
  r.dispatch(std::move(a), capture);
  EXPECT_EQ(got.status, 404);
  EXPECT_NE(got.body.find("\"error\""), std::string::npos);
  Request b;
  b.method = "PUT";
  b.path = "/operations/x";
  r.dispatch(std::move(b), capture);
  EXPECT_EQ(got.status, 405);
  EXPECT_EQ(find_header(got.headers, "allow"), "GET");
  Request c;
  c.method = "GET";
  c.path = "/operations/x";
  r.dispatch(std::move(c), capture);
  EXPECT_EQ(got.status, 200);
}

TEST(Router, TheGuardRunsBeforeA404Or405) {
  Router r;
  r.add("GET", "/operations/{id}", "",
        [](Request&&, const Params&, Responder res) { res(json_response(200, "{}")); });
  std::vector<const Route*> seen;
  r.set_guard([&](Request&, const Route* route) -> std::optional<Response> {
    seen.push_back(route);
    return json_response(401, "{}");
  });
  Response got;
  for (const char* m : {"GET", "PUT"}) {
    Request q;
    q.method = m;
    q.path = std::string(m) == "GET" ? "/nope" : "/operations/x";
    r.dispatch(std::move(q), [&](Response x) { got = std::move(x); });
    EXPECT_EQ(got.status, 401) << m;
  }
  ASSERT_EQ(seen.size(), 2u);
  EXPECT_EQ(seen[0], nullptr);
  EXPECT_EQ(seen[1], nullptr);
}

// CORS hooks that record their calls: a preflight is 204, decorate adds one header.
struct CorsProbe {
  std::vector<std::string> preflights;  // the methods the router passed
  std::vector<std::string> decorated;   // the origins
  CrossOrigin hooks() {
    return {[this](const Request&, std::string_view methods) -> std::optional<Response> {
              preflights.emplace_back(methods);
              Response r;
              r.status = 204;
              return r;
            },
            [this](std::string_view origin, Response& res) {
              decorated.emplace_back(origin);
              res.set("Access-Control-Allow-Origin", std::string(origin));
            }};
  }
};

Request cors_request(std::string method, std::string path, bool preflight) {
  Request q;
  q.method = std::move(method);
  q.path = std::move(path);
  q.headers.push_back({"origin", "https://app.example"});
  if (preflight) q.headers.push_back({"access-control-request-method", "DELETE"});
  return q;
}

TEST(Router, APreflightIsAnsweredBeforeTheGuardAndNeverReachesAHandler) {
  Router r;
  int handled = 0;
  auto handler = [&](Request&&, const Params&, Responder res) {
    ++handled;
    res(json_response(200, "{}"));
  };
  r.add("GET", "/operations/{id}", "", handler);
  r.add("DELETE", "/operations/{id}", "", handler);
  r.add("GET", "/operations", "", handler);
  int guarded = 0;
  r.set_guard([&](Request&, const Route*) -> std::optional<Response> {
    ++guarded;
    return json_response(401, "{}");
  });
  CorsProbe probe;
  r.set_cross_origin(probe.hooks());
  Response got;
  r.dispatch(cors_request("OPTIONS", "/operations/x", true),
             [&](Response x) { got = std::move(x); });
  EXPECT_EQ(got.status, 204);
  EXPECT_EQ(guarded, 0);
  EXPECT_EQ(handled, 0);
  ASSERT_EQ(probe.preflights.size(), 1u);
  EXPECT_EQ(probe.preflights[0], "GET, DELETE");
  EXPECT_TRUE(probe.decorated.empty());  // a preflight's answer is sent as is
  EXPECT_EQ(find_header(got.headers, "access-control-allow-origin"), "");

  // Not a preflight: OPTIONS without Access-Control-Request-Method, or
  // without Origin, goes to the guard like any request.
  r.dispatch(cors_request("OPTIONS", "/operations/x", false),
             [&](Response x) { got = std::move(x); });
  EXPECT_EQ(got.status, 401);
  Request plain;
  plain.method = "OPTIONS";
  plain.path = "/operations/x";
  plain.headers.push_back({"access-control-request-method", "GET"});
  r.dispatch(std::move(plain), [&](Response x) { got = std::move(x); });
  EXPECT_EQ(got.status, 401);
  // A preflight to a path no route serves is dispatched like any request.
  r.dispatch(cors_request("OPTIONS", "/nope", true), [&](Response x) { got = std::move(x); });
  EXPECT_EQ(got.status, 401);
  EXPECT_EQ(guarded, 3);
  EXPECT_EQ(probe.preflights.size(), 1u);
}

TEST(Router, ThePreflightHookMayDecline) {
  Router r;
  r.add("GET", "/a", "",
        [](Request&&, const Params&, Responder res) { res(json_response(200, "{}")); });
  r.set_cross_origin({[](const Request&, std::string_view) { return std::optional<Response>(); },
                      [](std::string_view, Response& res) { res.set("X-Decorated", "1"); }});
  Response got;
  r.dispatch(cors_request("OPTIONS", "/a", true), [&](Response x) { got = std::move(x); });
  EXPECT_EQ(got.status, 405);
  EXPECT_EQ(find_header(got.headers, "x-decorated"), "1");
}

TEST(Router, DecorateRunsOnEveryAnswerToARequestWithAnOrigin) {
  Router r;
  r.add("GET", "/operations/{id}", "",
        [](Request&&, const Params&, Responder res) { res(json_response(200, "{}")); });
  Responder later;  // answered after dispatch returned, as a long poll is
  r.add("POST", "/async", "",
        [&](Request&&, const Params&, Responder res) { later = std::move(res); });
  bool refuse = false;
  r.set_guard([&](Request&, const Route*) -> std::optional<Response> {
    if (refuse) return json_response(401, "{}");
    return std::nullopt;
  });
  CorsProbe probe;
  r.set_cross_origin(probe.hooks());
  auto status_and_acao = [&](Request q) {
    Response got;
    r.dispatch(std::move(q), [&](Response x) { got = std::move(x); });
    return std::make_pair(got.status,
                          std::string(find_header(got.headers, "access-control-allow-origin")));
  };
  using P = std::pair<int, std::string>;
  EXPECT_EQ(status_and_acao(cors_request("GET", "/operations/x", false)),
            P(200, "https://app.example"));
  Response async;
  r.dispatch(cors_request("POST", "/async", false), [&](Response x) { async = std::move(x); });
  ASSERT_TRUE(later);
  later(json_response(202, "{}"));
  EXPECT_EQ(async.status, 202);
  EXPECT_EQ(find_header(async.headers, "access-control-allow-origin"), "https://app.example");
  EXPECT_EQ(status_and_acao(cors_request("GET", "/nope", false)), P(404, "https://app.example"));
  EXPECT_EQ(status_and_acao(cors_request("PUT", "/operations/x", false)),
            P(405, "https://app.example"));
  refuse = true;
  EXPECT_EQ(status_and_acao(cors_request("GET", "/operations/x", false)),
            P(401, "https://app.example"));
  EXPECT_EQ(probe.decorated.size(), 5u);
  // Without an Origin, decorate is not called.
  Request bare;
  bare.method = "GET";
  bare.path = "/operations/x";
  EXPECT_EQ(status_and_acao(std::move(bare)), P(401, ""));
  EXPECT_EQ(probe.decorated.size(), 5u);
}

TEST(Router, WithoutCrossOriginHooksOptionsIsAMethodLikeAnyOther) {
  Router r;
  r.add("GET", "/a", "",
        [](Request&&, const Params&, Responder res) { res(json_response(200, "{}")); });
  Response got;
  r.dispatch(cors_request("OPTIONS", "/a", true), [&](Response x) { got = std::move(x); });
  EXPECT_EQ(got.status, 405);
  EXPECT_EQ(find_header(got.headers, "allow"), "GET");
  EXPECT_EQ(find_header(got.headers, "access-control-allow-origin"), "");
}

TEST(Router, MethodLabelsAreAClosedSet) {
  EXPECT_EQ(method_label("GET"), "GET");
  EXPECT_EQ(method_label("OPTIONS"), "OPTIONS");
  EXPECT_EQ(method_label("M123"), "other");
  EXPECT_EQ(method_label("get"), "other");  // methods are case-sensitive
  EXPECT_EQ(method_label(""), "other");
}

TEST(Router, BodyLimitsPerRoute) {
  Router r;
  auto ok = [](Request&&, const Params&, Responder res) { res(json_response(200, "{}")); };
  r.add("POST", "/a/{id}:analyze", "", ok);
  r.add("POST", "/operations", "", ok);
  r.limit_body("POST", "/a/{id}:analyze", 64u << 20);
  r.set_default_body_limit(1u << 20);
  EXPECT_EQ(r.body_limit("POST", "/a/x:analyze"), 64u << 20);
  EXPECT_EQ(r.body_limit("POST", "/operations"), 1u << 20);
  EXPECT_EQ(r.body_limit("PUT", "/a/x:analyze"), 1u << 20);
  EXPECT_EQ(r.body_limit("POST", "/unknown"), 1u << 20);
}

TEST(Router, QueryParsing) {
  auto q = parse_query("api-version=2025&x=a%20b&empty=");
  ASSERT_EQ(q.size(), 3u);
  EXPECT_EQ(q[1].second, "a b");
}

TEST(Router, ValidatesCorrelationHeaders) {
  EXPECT_TRUE(valid_client_request_id("a"));
  EXPECT_TRUE(valid_client_request_id("Run-1.2_3:x"));
  EXPECT_TRUE(valid_client_request_id(std::string(128, 'x')));
  EXPECT_FALSE(valid_client_request_id(""));
  EXPECT_FALSE(valid_client_request_id(std::string(129, 'x')));
  EXPECT_FALSE(valid_client_request_id("a b"));
  EXPECT_FALSE(valid_client_request_id("a\rb"));
  EXPECT_FALSE(valid_client_request_id("a\"b"));
  const std::string trace(32, 'a'), parent(16, 'b');
  EXPECT_TRUE(valid_traceparent("00-" + trace + "-" + parent + "-01"));
  EXPECT_FALSE(valid_traceparent("01-" + trace + "-" + parent + "-01"));
  EXPECT_FALSE(valid_traceparent("00-" + std::string(32, '0') + "-" + parent + "-01"));
  EXPECT_FALSE(valid_traceparent("00-" + trace + "-" + std::string(16, '0') + "-01"));
  EXPECT_FALSE(valid_traceparent("00-" + std::string(32, 'A') + "-" + parent + "-01"));
  EXPECT_FALSE(valid_traceparent("00-" + trace + "-" + parent + "-0g"));
  EXPECT_FALSE(valid_traceparent("00-" + trace + "-" + parent + "-01-"));
  EXPECT_FALSE(valid_traceparent("00_" + trace + "-" + parent + "-01"));
}

TEST(Router, EveryAnswerCarriesARequestIdAndEchoesAValidClientId) {
  Router r;
  Request seen;
  r.add("GET", "/ok", "", [&](Request&& q, const Params&, Responder res) {
    seen = q;
    res(json_response(200, "{}"));
  });
  r.set_guard([](Request& q, const Route*) -> std::optional<Response> {
    if (q.path == "/refused") return json_response(401, "{}");
    return std::nullopt;
  });
  const std::string tp = "00-" + std::string(32, 'a') + "-" + std::string(16, 'b') + "-01";
  auto send = [&](std::string path, Headers h) {
    Request q;
    q.method = "GET";
    q.path = std::move(path);
    q.headers = std::move(h);
    Response got;
    r.dispatch(std::move(q), [&](Response x) { got = std::move(x); });
    return got;
  };
  Response ok = send("/ok", {{"x-ms-client-request-id", "run-7"}, {"traceparent", tp}});
  EXPECT_EQ(ok.status, 200);
  EXPECT_EQ(find_header(ok.headers, "x-ms-client-request-id"), "run-7");
  EXPECT_EQ(find_header(ok.headers, "x-ms-request-id"), seen.request_id);
  EXPECT_EQ(seen.request_id.size(), 36u);
  EXPECT_EQ(seen.client_request_id, "run-7");
  EXPECT_EQ(seen.traceparent, tp);

  Response junk = send("/ok", {{"x-ms-client-request-id", "a b"}, {"traceparent", "00-zz"}});
  EXPECT_EQ(find_header(junk.headers, "x-ms-client-request-id"), "");
  EXPECT_EQ(seen.client_request_id, "");
  EXPECT_EQ(seen.traceparent, "");
  EXPECT_NE(find_header(junk.headers, "x-ms-request-id"),
            find_header(ok.headers, "x-ms-request-id"));

  for (const char* path : {"/refused", "/nope"}) {
    Response res = send(path, {{"x-ms-client-request-id", "c1"}});
    EXPECT_EQ(find_header(res.headers, "x-ms-request-id").size(), 36u) << path;
    EXPECT_EQ(find_header(res.headers, "x-ms-client-request-id"), "c1") << path;
  }
}

}  // namespace
}  // namespace lrogate::http
