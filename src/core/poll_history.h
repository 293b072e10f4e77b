// What the gateway has learned of how long operations take, and the poll
// schedule it draws from that (docs/design.md, "Learned poll schedules").
//
// Per pool resource, analyzer and document size band, a histogram of recent
// completion times on log-spaced buckets (DurationSketch). The store keeps
// the counts (store::OperationStore::add_duration), so replicas and restarts
// share them; PollHistory is this process's copy, refreshed from the store
// and added to as this process sees operations finish.
//
// The schedule (learned_poll_age) keeps the fixed schedule's grid — the
// first poll at first_poll_delay, then one every poll_interval — and drops
// the points at which the history says nothing finishes: a point t is kept
// when the history holds a completion in (t − interval, t], widened by a
// margin. So an operation whose duration lies in the history's range is
// seen done no later than the fixed schedule would see it, with fewer calls.
// Past the history's longest (plus the margin) the gap grows with the age,
// up to tail_cap. With too few samples there is no learned schedule: the
// fixed one runs, as with --poll-schedule fixed.
#pragma once

#include <array>
#include <chrono>
#include <cstdint>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "base/clock.h"
#include "base/thread_annotations.h"
#include "store/operation_store.h"

namespace lrogate::core {

// The store keeps the counts per key and bucket (store/operation_store.h).
using store::DurationKey;
using store::kDurationBuckets;

// The bucket a completion time falls in: bucket 0 holds [0, 1 s); bucket b
// (1..63) holds [e^((b-1)·k), e^(b·k)) seconds, k chosen so that bucket 63
// starts near 8 h (each bucket ≈ 18 % wide). Longer lands in bucket 63.
int duration_bucket(Millis d);
// The bucket's bounds in ms; the last bucket's upper bound is its lower
// bound's ratio further (a bound for the schedule, not a limit).
Millis bucket_low(int bucket);
Millis bucket_high(int bucket);

// The size band of a document of `bytes` (the submit's body when it is the
// document): 0 below 64 KiB, then one band per factor of 4, up to 15; -1
// when the submit does not tell (a URL input).
int size_band(std::optional<std::int64_t> bytes);

struct DurationSketch {
  std::array<std::int64_t, kDurationBuckets> counts{};
  std::int64_t total = 0;

  void add(int bucket, std::int64_t n = 1);
  // The q-quantile (0..1), interpolated on the log scale within its bucket;
  // nullopt when empty.
  std::optional<Millis> quantile(double q) const;
  // Whether a completion in [from, to] may be in the counts (a bucket that
  // overlaps the range holds one).
  bool has_mass(Millis from, Millis to) const;
  // The lowest bucket's low bound and the highest one's high bound.
  Millis lowest() const;
  Millis highest() const;
};

struct ScheduleShape {
  Millis first_poll_delay = 1'000;  // the fixed schedule's first poll
  Millis poll_interval = 10'000;    // and its step
  Millis tail_cap = 60'000;         // the longest gap past the history's range
  double margin = 0.15;             // a completion's possible error, relative
  std::int64_t min_samples = 20;    // fewer: no learned schedule
};

// The age (ms since the operation was created) at which to poll next, for
// an operation the last poll found running at age `age` (0 at the submit:
// the first poll), given what `history` holds; never sooner than half an
// interval after `age` (the first poll: than first_poll_delay). nullopt when
// the history holds fewer than min_samples: poll on the fixed schedule.
std::optional<Millis> learned_poll_age(const DurationSketch& history, Millis age,
                                       const ScheduleShape& shape);


// This process's copy of the learned durations. Thread-safe; reads are a
// map lookup and a shared_ptr copy under a mutex (the submit path and the
// poller's answers both read it).
class PollHistory {
 public:
  explicit PollHistory(std::int64_t min_samples = 20) : min_samples_(min_samples) {}

  // The sketch an operation's schedule follows: its band's when that has
  // min_samples, else its analyzer's at that resource over all bands, else
  // null (cold: the fixed schedule).
  std::shared_ptr<const DurationSketch> find(const DurationKey& key) const;
  // One completion seen by this process (the store write is the caller's).
  void add(const DurationKey& key, int bucket);
  // Everything, as the store holds it now (replaces this copy, which then
  // also holds the other replicas' completions).
  void replace(const std::vector<std::pair<DurationKey, DurationSketch>>& all);

  struct Learned {
    std::string resource;
    std::string analyzer;
    std::int64_t samples = 0;
    Millis median = 0;
    Millis p90 = 0;
  };
  // Per resource and analyzer (all bands), for /metrics and the dashboard.
  std::vector<Learned> summary() const;

 private:
  using AnalyzerKey = std::pair<std::string, std::string>;
  void rebuild_analyzer(const AnalyzerKey& key) REQUIRES(mu_);

  const std::int64_t min_samples_;
  mutable Mutex mu_;
  std::map<DurationKey, std::shared_ptr<const DurationSketch>> by_band_ GUARDED_BY(mu_);
  std::map<AnalyzerKey, std::shared_ptr<const DurationSketch>> by_analyzer_ GUARDED_BY(mu_);
};

}  // namespace lrogate::core
