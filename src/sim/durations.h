// Durations: how long a simulated operation takes when its document says
// nothing (no sim_duration= directive), drawn per analyzer from a
// distribution given by `lrogate simulate --analyzer-duration NAME=SPEC`:
//   fixed:5s                 always 5 s
//   lognormal:120s:0.3       log-normal, median 120 s, σ of ln(duration) 0.3
//   bimodal:30s:300s:0.1     half of the documents log-normal around 30 s,
//                            half around 300 s, each with σ 0.1
// NAME `*` stands for every analyzer not named; an analyzer under no rule
// takes the simulator's --duration.
//
// A draw is a pure function of (analyzer, document, seed): no shared random
// source, so the same document on two simulators started with the same
// --seed takes the same time on both (what a side-by-side benchmark compares
// per document), and a test can predict it. The document is the URL the
// submit names, or for an uploaded body the sha256 of that body
// (document_key). Everything here is a pure function; DurationTable is
// immutable after construction and so safe to read from any thread.
#pragma once

#include <chrono>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "base/result.h"
#include "sim/directives.h"

namespace lrogate::sim {

struct DurationDist {
  enum class Kind { kFixed, kLogNormal, kBimodal };
  Kind kind = Kind::kFixed;
  std::chrono::milliseconds median{0};   // kFixed: the duration; kBimodal: the short mode
  std::chrono::milliseconds median2{0};  // kBimodal: the long mode
  double sigma = 0;                      // σ of ln(duration), in [0, kMaxSigma]
};

inline constexpr double kMaxSigma = 3.0;

// One --analyzer-duration value: NAME=SPEC.
struct AnalyzerDuration {
  std::string analyzer;  // "*": every analyzer not named by another rule
  DurationDist dist;
};

// SPEC as above; the error names what is wrong (kInvalidArgument).
Result<DurationDist> parse_duration_dist(std::string_view spec);
// NAME=SPEC.
Result<AnalyzerDuration> parse_analyzer_duration(std::string_view text);

// A uniform 64-bit hash of (analyzer, document, seed): FNV-1a over the three,
// separated so that no two triples share a text, then a splitmix64 finish
// so that neighbouring documents (doc-1, doc-2) land far apart.
std::uint64_t duration_hash(std::string_view analyzer, std::string_view document,
                            std::uint64_t seed);

// The duration `dist` gives the document of `hash`: a quantile of the
// distribution at uniforms derived from the hash; never negative, at most
// kMaxDuration (base/duration.h).
std::chrono::milliseconds draw_duration(const DurationDist& dist, std::uint64_t hash);

// The document a submit names, as the draw sees it: `input` (the URL, or the
// simulator's "data:…" name of inline data) or, for an uploaded body
// (input "binary:…"), the sha256 of that body.
std::string_view document_key(std::string_view input, std::string_view body_sha256);

// The rules of every --analyzer-duration, looked up by analyzer.
class DurationTable {
 public:
  DurationTable() = default;
  // Errors if two rules name the same analyzer (kInvalidArgument).
  static Result<DurationTable> create(std::vector<AnalyzerDuration> rules, std::uint64_t seed);

  // The duration of `document` on `analyzer`, or nullopt when no rule
  // covers the analyzer (the caller keeps its default).
  std::optional<std::chrono::milliseconds> duration(std::string_view analyzer,
                                                    std::string_view document) const;
  // What an operation with directives `d` takes: the document's own
  // sim_duration= when it gave one, else the rule's draw, else d.duration
  // (the simulator's --duration).
  std::chrono::milliseconds resolve(const Directives& d, std::string_view analyzer,
                                    std::string_view document) const;
  bool empty() const { return rules_.empty(); }

 private:
  std::vector<AnalyzerDuration> rules_;
  std::uint64_t seed_ = 0;
};

}  // namespace lrogate::sim
