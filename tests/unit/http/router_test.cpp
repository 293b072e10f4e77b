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

}  // namespace
}  // namespace lrogate::http
