#include "sim/analyzers.h"

#include <gtest/gtest.h>

namespace lrogate::sim {
namespace {

using std::chrono::milliseconds;

constexpr Millis kT = 1'700'000'000'000;

TEST(AnalyzerDirectives, ReadFromTheDescription) {
  Directives defaults;
  defaults.duration = milliseconds(2000);
  auto d = analyzer_directives("Receipts (sim_duration=5s, sim_outcome=Failed).", defaults);
  ASSERT_TRUE(d.ok()) << d.error().message;
  EXPECT_EQ(d->duration, milliseconds(5000));
  EXPECT_EQ(d->outcome, "Failed");
  d = analyzer_directives("plain words, no_sim_duration=9s", defaults);
  ASSERT_TRUE(d.ok());
  EXPECT_EQ(d->duration, milliseconds(2000));
  EXPECT_EQ(d->outcome, "Succeeded");
  EXPECT_FALSE(analyzer_directives("sim_poll_faults=500", defaults).ok());
  EXPECT_FALSE(analyzer_directives("sim_outcome=Canceled", defaults).ok());
  EXPECT_FALSE(analyzer_directives("sim_duration=soon", defaults).ok());
}

TEST(AnalyzerRegistry, CreatingThenReadyWithItsOperation) {
  AnalyzerRegistry reg(milliseconds(2000), milliseconds(60'000));
  boost::json::object body{{"description", "mine"}, {"status", "bogus"}, {"fieldSchema", {}}};
  auto c = reg.create("a1", body, false, kT);
  ASSERT_TRUE(c.ok());
  EXPECT_FALSE(c->replaced);
  EXPECT_EQ(c->analyzer.at("analyzerId"), "a1");
  EXPECT_EQ(c->analyzer.at("status"), "creating");
  EXPECT_EQ(c->analyzer.at("description"), "mine");
  EXPECT_TRUE(c->analyzer.contains("fieldSchema"));
  EXPECT_EQ(reg.state("a1", kT + 1999), AnalyzerState::kCreating);
  EXPECT_EQ(reg.operation("a1", c->operation_id, kT + 1)->at("status"), "Running");
  EXPECT_FALSE(reg.operation("other", c->operation_id, kT + 1).has_value());
  EXPECT_EQ(reg.state("a1", kT + 2000), AnalyzerState::kReady);
  auto op = reg.operation("a1", c->operation_id, kT + 2000);
  ASSERT_TRUE(op.has_value());
  EXPECT_EQ(op->at("status"), "Succeeded");
  EXPECT_EQ(op->at("result").as_object().at("status"), "ready");
  EXPECT_EQ(reg.get("a1", kT + 2000)->at("status"), "ready");
  // The operation expires after the ttl.
  EXPECT_FALSE(reg.operation("a1", c->operation_id, kT + 2000 + 60'001).has_value());
}

TEST(AnalyzerRegistry, FailedCreation) {
  AnalyzerRegistry reg(milliseconds(2000), milliseconds(60'000));
  auto c = reg.create("bad", {{"description", "sim_outcome=Failed sim_duration=0s"}}, false, kT);
  ASSERT_TRUE(c.ok());
  EXPECT_EQ(reg.state("bad", kT), AnalyzerState::kFailed);
  auto op = reg.operation("bad", c->operation_id, kT);
  EXPECT_EQ(op->at("status"), "Failed");
  EXPECT_TRUE(op->at("error").as_object().contains("code"));
  EXPECT_EQ(reg.get("bad", kT)->at("status"), "failed");
}

TEST(AnalyzerRegistry, ConflictReplaceAndDelete) {
  AnalyzerRegistry reg(milliseconds(0), milliseconds(60'000));
  reg.add_ready("pro-demo", kT);
  EXPECT_EQ(reg.state("pro-demo", kT), AnalyzerState::kReady);
  auto again = reg.create("pro-demo", {}, false, kT);
  ASSERT_FALSE(again.ok());
  EXPECT_EQ(again.error().code, ErrorCode::kConflict);
  auto replaced = reg.create("pro-demo", {}, true, kT);
  ASSERT_TRUE(replaced.ok());
  EXPECT_TRUE(replaced->replaced);
  EXPECT_TRUE(reg.remove("pro-demo"));
  EXPECT_FALSE(reg.remove("pro-demo"));
  EXPECT_EQ(reg.state("pro-demo", kT), AnalyzerState::kUnknown);
  EXPECT_FALSE(reg.get("pro-demo", kT).has_value());
  // Its creation operation stays readable.
  EXPECT_TRUE(reg.operation("pro-demo", replaced->operation_id, kT).has_value());
}

TEST(AnalyzerIds, FollowTheSpecPattern) {
  EXPECT_TRUE(valid_spec_analyzer_id("my.analyzer_1-x"));
  EXPECT_TRUE(valid_spec_analyzer_id(std::string(64, 'a')));
  EXPECT_FALSE(valid_spec_analyzer_id(std::string(65, 'a')));
  EXPECT_FALSE(valid_spec_analyzer_id(""));
  EXPECT_FALSE(valid_spec_analyzer_id("a:analyze"));
}

}  // namespace
}  // namespace lrogate::sim
