#include <gtest/gtest.h>

#include "api/submit.h"

namespace lrogate::api {
namespace {

// A document's bytes may be matched by a later submit; a body that names a
// URL anywhere may not (what the URL serves can change).
TEST(ReusableBody, BytesAndInlineJsonAreReusableAUrlAnywhereIsNot) {
  EXPECT_TRUE(reusable_body("application/pdf", "%PDF-1.7 ..."));
  EXPECT_TRUE(reusable_body("application/octet-stream", ""));
  EXPECT_TRUE(reusable_body("application/json", R"({"base64Source":"JVBERi0="})"));
  EXPECT_TRUE(reusable_body("application/json", R"({"inputs":[{"data":"JVBERi0=","name":"a"}]})"));
  EXPECT_TRUE(reusable_body("application/json", R"({"note":"https://x.example/a.pdf"})"));
  for (const char* body :
       {R"({"url":"https://x.example/a.pdf"})", R"({"urlSource":"https://x.example/a.pdf"})",
        R"({"inputs":[{"data":"JVBERi0="},{"URL":"https://x.example/b.pdf"}]})",
        R"({"documentUrl":"https://x.example/a.pdf"})", R"([[{"a":{"UrlSource":"u"}}]])"}) {
    EXPECT_FALSE(reusable_body("application/json", body)) << body;
  }
  // Not JSON at all under a JSON type: not matched (the submit refuses it).
  EXPECT_FALSE(reusable_body("application/json", "{not json"));
  // A generic upstream's own URL member (--generic-url-field) counts too.
  EXPECT_TRUE(reusable_body("application/json", R"({"source":"https://x.example/a.pdf"})"));
  EXPECT_FALSE(
      reusable_body("application/json", R"({"source":"https://x.example/a.pdf"})", {"source"}));
  EXPECT_FALSE(reusable_body("application/json", R"({"a":[{"Source":"u"}]})", {"source"}));
}

}  // namespace
}  // namespace lrogate::api
