#include "base/ids.h"

#include <gtest/gtest.h>

namespace lrogate {
namespace {

TEST(Ids, AnalyzerIdFormat) {
  EXPECT_TRUE(valid_analyzer_id("prebuilt-documentAnalyzer"));
  EXPECT_TRUE(valid_analyzer_id("a"));
  EXPECT_TRUE(valid_analyzer_id("pro.v2_x-1"));
  EXPECT_TRUE(valid_analyzer_id(std::string(64, 'a')));
  EXPECT_FALSE(valid_analyzer_id(std::string(65, 'a')));
  EXPECT_FALSE(valid_analyzer_id(""));
  EXPECT_FALSE(valid_analyzer_id("-lead"));
  EXPECT_FALSE(valid_analyzer_id(".hidden"));
  EXPECT_FALSE(valid_analyzer_id("a/b"));
  EXPECT_FALSE(valid_analyzer_id("a%2Fb"));
  EXPECT_FALSE(valid_analyzer_id("a b"));
  EXPECT_FALSE(valid_analyzer_id("a:analyze"));
}

TEST(Ids, OperationIdFormat) {
  EXPECT_TRUE(valid_operation_id("3b1c4e0e-8f5a-4b6e-9a53-6c1f2e7d9a10"));
  EXPECT_TRUE(valid_operation_id(std::string(128, 'f')));
  EXPECT_FALSE(valid_operation_id(std::string(129, 'f')));
  EXPECT_FALSE(valid_operation_id(".."));
  EXPECT_FALSE(valid_operation_id("x?y"));
  EXPECT_FALSE(valid_operation_id(""));
}

TEST(Ids, RandomUuidIsAValidOperationIdAndUnique) {
  auto a = random_uuid(), b = random_uuid();
  EXPECT_EQ(a.size(), 36u);
  EXPECT_TRUE(valid_operation_id(a));
  EXPECT_NE(a, b);
  EXPECT_EQ(a[14], '4');
}

}  // namespace
}  // namespace lrogate
