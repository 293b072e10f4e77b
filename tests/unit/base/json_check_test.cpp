#include "base/json_check.h"

#include <gtest/gtest.h>

namespace lrogate::json {
namespace {

std::string code_of(std::string_view text, const CheckLimits& limits = {}) {
  auto e = check(text, limits);
  return e ? e->code : "ok";
}

TEST(JsonCheck, AcceptsJsonAndRefusesSyntax) {
  for (const char* good : {"{}", "[]", "0", "\"s\"", "null", R"({"a":[1,{"b":"\u00e9"}],"c":-0})",
                           "[1234567890123456789012345678901234567890]", "1e-999", " {} "}) {
    EXPECT_EQ(code_of(good), "ok") << good;
  }
  for (const char* bad : {"", "{", "{\"a\":}", "[1,]", "{} {}", "{\"a\":1}x", "// c\n{}", "nan"}) {
    EXPECT_EQ(code_of(bad), "InvalidJson") << bad;
  }
}

TEST(JsonCheck, RefusesDuplicateKeysEvenWhenEscaped) {
  EXPECT_EQ(code_of(R"({"a":1,"a":2})"), "DuplicateJsonKey");
  EXPECT_EQ(code_of(R"({"abc":1,"a\u0062c":2})"), "DuplicateJsonKey");
  EXPECT_EQ(code_of(R"({"x":{"a":1},"y":{"a":1}})"), "ok");  // other objects
  EXPECT_EQ(code_of(R"({"a":[{"a":1}],"b":{"a":{"a":1}}})"), "ok");
  EXPECT_EQ(code_of(R"({"a":[{"b":1}],"a":2})"), "DuplicateJsonKey");  // after a nested one
  // Past the small-vector size the hash set takes over.
  std::string wide = "{";
  for (int i = 0; i < 100; ++i) wide += "\"k" + std::to_string(i) + "\":1,";
  EXPECT_EQ(code_of(wide + "\"end\":1}"), "ok");
  EXPECT_EQ(code_of(wide + "\"k7\":1}"), "DuplicateJsonKey");
  auto e = check(R"({"secret-ish":1,"secret-ish":2})");
  ASSERT_TRUE(e);
  EXPECT_NE(e->message.find("\"secret-ish\""), std::string::npos);
}

TEST(JsonCheck, RefusesNumbersBeyondDouble) {
  EXPECT_EQ(code_of("1e999"), "JsonNumberOutOfRange");
  EXPECT_EQ(code_of(R"({"a":[-1e400]})"), "JsonNumberOutOfRange");
  EXPECT_EQ(code_of("1.7e308"), "ok");
  EXPECT_EQ(code_of("18446744073709551616"), "ok");  // past uint64: a double, in range
}

TEST(JsonCheck, DepthAndWidthLimits) {
  CheckLimits l;
  l.max_depth = 4;
  EXPECT_EQ(code_of("[[[[1]]]]", l), "ok");
  EXPECT_EQ(code_of("[[[[[1]]]]]", l), "JsonTooDeep");
  l = {};
  l.max_open_members = 3;
  EXPECT_EQ(code_of(R"({"a":1,"b":2,"c":3})", l), "ok");
  EXPECT_EQ(code_of(R"({"a":1,"b":2,"c":3,"d":4})", l), "JsonTooWide");
  EXPECT_EQ(code_of(R"({"a":{"x":1},"b":{"y":1},"c":{"z":1}})", l), "JsonTooWide");
  EXPECT_EQ(code_of("{\"" + std::string(70'000, 'k') + "\":1}"), "JsonKeyTooLong");
  // Closed objects are forgotten: many small objects in an array are fine.
  std::string many = "[";
  for (int i = 0; i < 1000; ++i) many += R"({"a":1,"b":2},)";
  EXPECT_EQ(code_of(many + "{}]", l), "ok");
}

TEST(JsonCheck, ManySmallElementsAreCheckedWithoutADocument) {
  // The amplification shape: a large body of tiny elements.
  std::string body = R"({"analyzerId":"a","input":{"url":"u","a":[)";
  for (int i = 0; i < 200000; ++i) body += R"({"x":[1]},)";
  body += "{}]}}";
  EXPECT_EQ(code_of(body), "ok");
}

TEST(JsonCheck, TopLevelMembersAreTheBytesAsSent) {
  std::string text =
      R"( { "analyzerId" : "a\"b", "in\u0070ut":{"n":1234567890123456789012345678901234567890,"z":-0,"f":0.1} , "arr":[1,"]}"],"t":true} )";
  ASSERT_FALSE(check(text));
  auto m = top_level_members(text);
  ASSERT_EQ(m.size(), 4u);
  EXPECT_EQ(m[0].key, "analyzerId");
  EXPECT_EQ(m[0].value, R"("a\"b")");
  EXPECT_EQ(m[1].key, "input");
  EXPECT_EQ(m[1].value, R"({"n":1234567890123456789012345678901234567890,"z":-0,"f":0.1})");
  EXPECT_EQ(m[2].value, R"([1,"]}"])");
  EXPECT_EQ(m[3].value, "true");
  EXPECT_TRUE(top_level_members("[1]").empty());
  EXPECT_TRUE(top_level_members("{}").empty());
}

}  // namespace
}  // namespace lrogate::json
