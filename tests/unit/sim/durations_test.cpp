#include "sim/durations.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <string>
#include <vector>

#include "base/duration.h"
#include "sim/directives.h"

namespace lrogate::sim {
namespace {

using std::chrono::milliseconds;
using std::chrono::seconds;

std::string doc(int i) { return "https://docs.example/doc-" + std::to_string(i) + ".pdf"; }

// Durations (in ms) of n documents on `analyzer` under `dist`.
std::vector<double> draws(const DurationDist& dist, int n, std::uint64_t seed = 1,
                          std::string_view analyzer = "a") {
  std::vector<double> out;
  for (int i = 0; i < n; ++i) {
    out.push_back(
        static_cast<double>(draw_duration(dist, duration_hash(analyzer, doc(i), seed)).count()));
  }
  return out;
}

double median(std::vector<double> v) {
  std::sort(v.begin(), v.end());
  return v[v.size() / 2];
}

// σ of ln(x) around ln(m).
double log_spread(const std::vector<double>& v, double m) {
  double sum = 0;
  for (double x : v) sum += std::pow(std::log(x / m), 2);
  return std::sqrt(sum / static_cast<double>(v.size()));
}

TEST(Durations, ParsesTheThreeForms) {
  auto f = parse_duration_dist("fixed:5s");
  ASSERT_TRUE(f.ok()) << f.error().message;
  EXPECT_EQ(f->kind, DurationDist::Kind::kFixed);
  EXPECT_EQ(f->median, seconds(5));
  auto l = parse_duration_dist("lognormal:2m:0.3");
  ASSERT_TRUE(l.ok()) << l.error().message;
  EXPECT_EQ(l->kind, DurationDist::Kind::kLogNormal);
  EXPECT_EQ(l->median, seconds(120));
  EXPECT_DOUBLE_EQ(l->sigma, 0.3);
  auto b = parse_duration_dist("bimodal:30s:300s:0.1");
  ASSERT_TRUE(b.ok()) << b.error().message;
  EXPECT_EQ(b->kind, DurationDist::Kind::kBimodal);
  EXPECT_EQ(b->median, seconds(30));
  EXPECT_EQ(b->median2, seconds(300));
  EXPECT_DOUBLE_EQ(b->sigma, 0.1);
  auto r = parse_analyzer_duration("prebuilt-read=lognormal:120s:0.25");
  ASSERT_TRUE(r.ok()) << r.error().message;
  EXPECT_EQ(r->analyzer, "prebuilt-read");
  EXPECT_EQ(r->dist.median, seconds(120));
  EXPECT_EQ(parse_analyzer_duration("*=fixed:1s").value().analyzer, "*");
}

TEST(Durations, RefusesWhatIsNotASpec) {
  for (const char* spec :
       {"", "fixed", "fixed:5s:1", "lognormal:120s", "lognormal:120s:-1", "lognormal:120s:3.5",
        "lognormal:120s:0.", "lognormal:120s:.3x", "lognormal:x:0.3", "bimodal:30s:0.1",
        "bimodal:30s:300s:0.1:9", "normal:120s:0.3", "fixed:-5s"}) {
    auto d = parse_duration_dist(spec);
    EXPECT_FALSE(d.ok()) << "'" << spec << "' was accepted";
    if (!d.ok()) {
      EXPECT_EQ(d.error().code, ErrorCode::kInvalidArgument);
      EXPECT_NE(d.error().message.find("invalid analyzer duration"), std::string::npos);
    }
  }
  EXPECT_FALSE(parse_analyzer_duration("lognormal:120s:0.3").ok());  // no NAME=
  EXPECT_FALSE(parse_analyzer_duration("=fixed:5s").ok());
  EXPECT_FALSE(parse_analyzer_duration("a=fixed").ok());
}

TEST(Durations, LogNormalHasItsMedianAndSpread) {
  auto dist = parse_duration_dist("lognormal:120s:0.3").value();
  auto v = draws(dist, 20'000);
  double m = median(v);
  EXPECT_NEAR(m, 120'000, 120'000 * 0.02);
  EXPECT_NEAR(log_spread(v, 120'000), 0.3, 0.3 * 0.05);
  // About 68 % within one σ of the median (in ln).
  auto within = std::count_if(v.begin(), v.end(),
                              [](double x) { return std::abs(std::log(x / 120'000)) <= 0.3; });
  EXPECT_NEAR(static_cast<double>(within) / static_cast<double>(v.size()), 0.6827, 0.02);
}

TEST(Durations, BimodalPutsHalfAtEachMedian) {
  auto dist = parse_duration_dist("bimodal:30s:300s:0.1").value();
  auto v = draws(dist, 20'000);
  std::vector<double> short_mode, long_mode;
  for (double x : v) (x < 95'000 ? short_mode : long_mode).push_back(x);  // √(30·300) ≈ 95 s
  double share = static_cast<double>(short_mode.size()) / static_cast<double>(v.size());
  EXPECT_NEAR(share, 0.5, 0.02);
  EXPECT_NEAR(median(short_mode), 30'000, 30'000 * 0.02);
  EXPECT_NEAR(median(long_mode), 300'000, 300'000 * 0.02);
  EXPECT_NEAR(log_spread(short_mode, 30'000), 0.1, 0.01);
  EXPECT_NEAR(log_spread(long_mode, 300'000), 0.1, 0.01);
}

TEST(Durations, FixedAndZeroSpreadAreExact) {
  auto fixed = parse_duration_dist("fixed:5s").value();
  auto flat = parse_duration_dist("lognormal:7s:0").value();
  for (int i = 0; i < 100; ++i) {
    EXPECT_EQ(draw_duration(fixed, duration_hash("a", doc(i), 1)), seconds(5));
    EXPECT_EQ(draw_duration(flat, duration_hash("a", doc(i), 1)), seconds(7));
  }
}

TEST(Durations, TheSameDocumentTakesTheSameTime) {
  auto a = DurationTable::create({parse_analyzer_duration("a=lognormal:120s:0.3").value()}, 42);
  auto b = DurationTable::create({parse_analyzer_duration("a=lognormal:120s:0.3").value()}, 42);
  ASSERT_TRUE(a.ok() && b.ok());
  int differ_by_doc = 0;
  for (int i = 0; i < 100; ++i) {
    auto da = a->duration("a", doc(i));
    ASSERT_TRUE(da.has_value());
    EXPECT_EQ(da, a->duration("a", doc(i)));  // again on the same simulator
    EXPECT_EQ(da, b->duration("a", doc(i)));  // on another with the same seed
    if (da != a->duration("a", doc(i + 1))) ++differ_by_doc;
  }
  EXPECT_GT(differ_by_doc, 95);
  // Another seed, another analyzer: other draws.
  auto c = DurationTable::create({parse_analyzer_duration("a=lognormal:120s:0.3").value()}, 43);
  int differ_by_seed = 0;
  for (int i = 0; i < 100; ++i) {
    if (a->duration("a", doc(i)) != c->duration("a", doc(i))) ++differ_by_seed;
  }
  EXPECT_GT(differ_by_seed, 95);
  EXPECT_NE(duration_hash("a", doc(1), 1), duration_hash("b", doc(1), 1));
  EXPECT_NE(duration_hash("ab", "c", 1), duration_hash("a", "bc", 1));
}

TEST(Durations, NamedRuleThenStarThenNone) {
  auto t = DurationTable::create({parse_analyzer_duration("*=fixed:9s").value(),
                                  parse_analyzer_duration("read=fixed:2s").value()},
                                 1);
  ASSERT_TRUE(t.ok());
  EXPECT_EQ(t->duration("read", doc(1)), seconds(2));
  EXPECT_EQ(t->duration("layout", doc(1)), seconds(9));
  auto only = DurationTable::create({parse_analyzer_duration("read=fixed:2s").value()}, 1);
  EXPECT_EQ(only->duration("layout", doc(1)), std::nullopt);
  EXPECT_TRUE(DurationTable{}.empty());
  auto twice = DurationTable::create({parse_analyzer_duration("read=fixed:2s").value(),
                                      parse_analyzer_duration("read=fixed:3s").value()},
                                     1);
  EXPECT_FALSE(twice.ok());
}

TEST(Durations, DocumentKeyIsTheUrlOrTheBodysHash) {
  EXPECT_EQ(document_key(doc(3), "ab12"), doc(3));
  EXPECT_EQ(document_key("data:0123456789abcdef", "ab12"), "data:0123456789abcdef");
  EXPECT_EQ(document_key("binary:12:0123456789abcdef", "ab12"), "ab12");
}

// The simulator applies a rule only where the document gives no
// sim_duration=; directives mark when they did.
TEST(Durations, ADirectiveMarksItsDuration) {
  Directives defaults;
  auto with = parse_directives("https://d/a.pdf?sim_duration=3s", defaults);
  ASSERT_TRUE(with.ok());
  EXPECT_TRUE(with->duration_given);
  EXPECT_EQ(with->duration, seconds(3));
  auto without = parse_directives("https://d/a.pdf?page=1", defaults);
  ASSERT_TRUE(without.ok());
  EXPECT_FALSE(without->duration_given);
}

TEST(Durations, TheDocumentsDirectiveWinsOverTheRule) {
  auto t = DurationTable::create({parse_analyzer_duration("read=lognormal:120s:0.3").value()}, 1);
  ASSERT_TRUE(t.ok());
  Directives defaults;
  defaults.duration = seconds(5);
  auto given = parse_directives(doc(1) + "?sim_duration=3s", defaults).value();
  auto plain = parse_directives(doc(1), defaults).value();
  EXPECT_EQ(t->resolve(given, "read", doc(1)), seconds(3));
  EXPECT_EQ(t->resolve(plain, "read", doc(1)), t->duration("read", doc(1)));
  EXPECT_NE(t->resolve(plain, "read", doc(1)), seconds(5));
  EXPECT_EQ(t->resolve(plain, "layout", doc(1)), seconds(5));  // no rule: --duration
}

TEST(Durations, HugeSpreadStaysWithinTheLongestDuration) {
  auto dist = parse_duration_dist("lognormal:36500d:3").value();
  for (int i = 0; i < 1000; ++i) {
    auto d = draw_duration(dist, duration_hash("a", doc(i), 1));
    EXPECT_GE(d.count(), 0);
    EXPECT_LE(d, kMaxDuration);
  }
}

}  // namespace
}  // namespace lrogate::sim
