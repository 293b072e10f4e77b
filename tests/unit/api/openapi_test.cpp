// /openapi.json is kept true: every route the router knows is in the
// document, and every path and method of the document is a route.
#include <gtest/gtest.h>
#include <unistd.h>

#include <boost/json/parse.hpp>
#include <filesystem>
#include <set>

#include "api/routes.h"
#include "http/client.h"
#include "store/operation_store.h"
#include "upstream/caller.h"

namespace lrogate::api {
namespace {

std::string lower(std::string s) {
  for (auto& c : s) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return s;
}

TEST(OpenApi, DocumentAndRouterAgree) {
  auto path = std::filesystem::temp_directory_path() /
              ("lrogate-openapi-" + std::to_string(::getpid()) + ".db");
  std::filesystem::remove(path);
  auto store = store::open_store("sqlite:" + path.string());
  ASSERT_TRUE(store.ok());
  SystemClock clock;
  core::OperationService service(*store.value(), clock, {});
  auto client = http::Client::create({});
  ASSERT_TRUE(client.ok());
  upstream::ResourceSettings resource;
  resource.name = "default";
  resource.upstream.endpoint = "http://127.0.0.1:1";
  resource.auth.key = "unit-test-key";
  upstream::Pool pool(*client.value(), {}, clock);
  ASSERT_TRUE(pool.apply({{resource}}).ok());
  ApiContext ctx(
      service, pool, clock, {}, [] {}, nullptr);
  http::Router router = build_router(ctx);

  std::set<std::pair<std::string, std::string>> routes;
  for (const auto& r : router.routes()) routes.emplace(r.path, lower(r.method));

  auto doc = boost::json::parse(openapi_document());
  EXPECT_EQ(doc.at("openapi").as_string(), "3.1.0");
  std::set<std::pair<std::string, std::string>> documented;
  for (const auto& [p, item] : doc.at("paths").as_object()) {
    for (const auto& [method, op] : item.as_object()) {
      documented.emplace(std::string(p), std::string(method));
      EXPECT_TRUE(op.as_object().contains("responses")) << p << " " << method;
    }
  }
  EXPECT_EQ(routes, documented);
  client.value()->shutdown();
}

}  // namespace
}  // namespace lrogate::api
