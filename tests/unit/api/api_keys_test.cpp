#include "api/api_keys.h"

#include <gtest/gtest.h>

namespace lrogate::api {
namespace {

// sha256("tenant-b-secret-key")
constexpr const char* kHashB = "2d4f8a30de81d5b1c1e1e7f2aef7b8b9a5e7d5a0f83cf1a4d8b3c3e6c09e2a11";

TEST(ApiKeys, ParsesPlainAndHashedEntriesCommentsAndBlankLines) {
  auto r = parse_api_keys(std::string("# keys\n\nteam-a:alpha-secret-1\r\n  team-b:sha256:") +
                          kHashB + "\n");
  ASSERT_TRUE(r.ok()) << r.error().message;
  ASSERT_EQ(r->size(), 2u);
  EXPECT_EQ((*r)[0].tenant, "team-a");
  EXPECT_EQ((*r)[0].digest.size(), 32u);
  EXPECT_EQ((*r)[1].tenant, "team-b");
}

TEST(ApiKeys, OneKeyForTwoEntriesIsRefusedNamingTheLines) {
  auto r = parse_api_keys("a:shared-key-123\n# c\nb:shared-key-123\n");
  ASSERT_FALSE(r.ok());
  EXPECT_NE(r.error().message.find("line 3"), std::string::npos) << r.error().message;
  EXPECT_NE(r.error().message.find("line 1"), std::string::npos);
  EXPECT_NE(r.error().message.find("another tenant"), std::string::npos);
  EXPECT_EQ(r.error().message.find("shared-key-123"), std::string::npos);
  // The same key as plain text and as its digest is the same key.
  // sha256("alpha-secret-1")
  auto h = parse_api_keys(
      "a:alpha-secret-1\nb:sha256:"
      "278782a61c2749de80c1b6ea633cf9b7ca44804dfba8c190488bd1e6e7a2834c\n");
  ASSERT_FALSE(h.ok());
  EXPECT_NE(h.error().message.find("line 2: gives the key of line 1"), std::string::npos)
      << h.error().message;
  auto same = parse_api_keys("a:alpha-secret-1\na:alpha-secret-1\n");
  ASSERT_FALSE(same.ok());
  EXPECT_NE(same.error().message.find("repeats the key of line 1"), std::string::npos);
}

TEST(ApiKeys, ErrorsNameTheLineNeverTheKey) {
  for (const char* bad : {"no-colon-here", ":emptytenant1", "bad tenant:key12345", "t:short",
                          "t:sha256:abc", "t:has space in it"}) {
    auto r = parse_api_keys(std::string("ok:good-key-123\n") + bad);
    ASSERT_FALSE(r.ok()) << bad;
    EXPECT_NE(r.error().message.find("line 2"), std::string::npos);
    EXPECT_EQ(r.error().message.find("key12345"), std::string::npos);
    EXPECT_EQ(r.error().message.find("space in it"), std::string::npos);
  }
}

TEST(ApiKeys, KeyRingAuthenticatesToTheTenant) {
  KeyRing ring;
  EXPECT_FALSE(ring.enabled());
  ring.replace(parse_api_keys("a:alpha-secret-1\nb:beta-secret-22\n").value());
  EXPECT_TRUE(ring.enabled());
  EXPECT_EQ(ring.authenticate("alpha-secret-1"), "a");
  EXPECT_EQ(ring.authenticate("beta-secret-22"), "b");
  EXPECT_FALSE(ring.authenticate("alpha-secret-").has_value());
  EXPECT_FALSE(ring.authenticate("").has_value());
}

TEST(ApiKeys, PresentedKeyFromAnyOfTheThreeHeaders) {
  EXPECT_EQ(presented_key("Bearer k1", "", ""), "k1");
  EXPECT_EQ(presented_key("bearer  k1", "", ""), "k1");
  EXPECT_EQ(presented_key("", "k2", ""), "k2");
  EXPECT_EQ(presented_key("", "", "k3"), "k3");
  EXPECT_EQ(presented_key("", "", "", "k4"), "k4");
  EXPECT_EQ(presented_key("Basic abc", "", ""), "");
}

}  // namespace
}  // namespace lrogate::api
