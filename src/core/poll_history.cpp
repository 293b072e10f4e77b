#include "core/poll_history.h"

#include <algorithm>
#include <cmath>

namespace lrogate::core {
namespace {

// ln(8 h in seconds) / 62: bucket 63 starts at about 8 h.
const double kStep = std::log(8.0 * 3600.0) / 62.0;

}  // namespace

int duration_bucket(Millis d) {
  if (d < 1000) return 0;
  int b = 1 + static_cast<int>(std::floor(std::log(static_cast<double>(d) / 1000.0) / kStep));
  return std::clamp(b, 1, kDurationBuckets - 1);
}

Millis bucket_low(int b) {
  if (b <= 0) return 0;
  return static_cast<Millis>(std::llround(1000.0 * std::exp((b - 1) * kStep)));
}

Millis bucket_high(int b) {
  if (b <= 0) return 1000;
  return static_cast<Millis>(std::llround(1000.0 * std::exp(b * kStep)));
}

int size_band(std::optional<std::int64_t> bytes) {
  if (!bytes || *bytes < 0) return -1;
  std::int64_t unit = 64 * 1024;
  if (*bytes < unit) return 0;
  int band = 1;
  for (std::int64_t top = unit * 4; *bytes >= top && band < 15; top *= 4) ++band;
  return band;
}

void DurationSketch::add(int bucket, std::int64_t n) {
  counts[static_cast<std::size_t>(std::clamp(bucket, 0, kDurationBuckets - 1))] += n;
  total += n;
}

std::optional<Millis> DurationSketch::quantile(double q) const {
  if (total <= 0) return std::nullopt;
  double want = std::clamp(q, 0.0, 1.0) * static_cast<double>(total);
  double seen = 0;
  for (int b = 0; b < kDurationBuckets; ++b) {
    auto c = static_cast<double>(counts[static_cast<std::size_t>(b)]);
    if (c <= 0) continue;
    if (seen + c >= want) {
      double f = std::clamp((want - seen) / c, 0.0, 1.0);
      double lo = static_cast<double>(std::max<Millis>(bucket_low(b), 1));
      double hi = static_cast<double>(bucket_high(b));
      return static_cast<Millis>(std::llround(lo * std::pow(hi / lo, f)));
    }
    seen += c;
  }
  return bucket_high(kDurationBuckets - 1);
}

bool DurationSketch::has_mass(Millis from, Millis to) const {
  for (int b = 0; b < kDurationBuckets; ++b) {
    if (counts[static_cast<std::size_t>(b)] <= 0) continue;
    if (bucket_low(b) <= to && bucket_high(b) > from) return true;
  }
  return false;
}

Millis DurationSketch::lowest() const {
  for (int b = 0; b < kDurationBuckets; ++b) {
    if (counts[static_cast<std::size_t>(b)] > 0) return bucket_low(b);
  }
  return 0;
}

Millis DurationSketch::highest() const {
  for (int b = kDurationBuckets - 1; b >= 0; --b) {
    if (counts[static_cast<std::size_t>(b)] > 0) return bucket_high(b);
  }
  return 0;
}

std::optional<Millis> learned_poll_age(const DurationSketch& h, Millis age,
                                       const ScheduleShape& s) {
  if (h.total < std::max<std::int64_t>(s.min_samples, 1)) return std::nullopt;
  const Millis f = std::max<Millis>(s.first_poll_delay, 0);
  const Millis iv = std::max<Millis>(s.poll_interval, 1);
  const Millis earliest = age <= 0 ? f : age + iv / 2;
  // The fixed schedule's grid, f + k·iv; the first point at or after earliest.
  Millis k = earliest <= f ? 0 : (earliest - f + iv - 1) / iv;
  // The grid point at which the learned range ends: past it, the tail.
  const auto hi = static_cast<Millis>(static_cast<double>(h.highest()) * (1.0 + s.margin));
  const Millis tail_start = hi <= f ? f : f + (hi - f + iv - 1) / iv * iv;
  for (Millis t = f + k * iv; t < tail_start; t += iv) {
    // Kept when the history holds a completion the fixed schedule would
    // first see at t: one in (t − iv, t], widened by the margin both ways.
    auto from = static_cast<Millis>(static_cast<double>(std::max<Millis>(t - iv, 0)) *
                                    (1.0 - s.margin));
    auto to = static_cast<Millis>(static_cast<double>(t) * (1.0 + s.margin));
    if (h.has_mass(from, to)) return t;
  }
  if (earliest <= tail_start) return tail_start;
  // Past the range: the gap grows with how far past it the operation is.
  Millis gap = std::clamp<Millis>(age - tail_start, iv, std::max(iv, s.tail_cap));
  return age + gap;
}

std::shared_ptr<const DurationSketch> PollHistory::find(const DurationKey& key) const {
  MutexLock lock(mu_);
  if (auto it = by_band_.find(key); it != by_band_.end() && it->second->total >= min_samples_) {
    return it->second;
  }
  auto it = by_analyzer_.find({key.resource, key.analyzer});
  if (it != by_analyzer_.end() && it->second->total >= min_samples_) return it->second;
  return nullptr;
}

void PollHistory::add(const DurationKey& key, int bucket) {
  MutexLock lock(mu_);
  auto& slot = by_band_[key];
  auto next = slot ? std::make_shared<DurationSketch>(*slot) : std::make_shared<DurationSketch>();
  next->add(bucket);
  slot = std::move(next);
  rebuild_analyzer({key.resource, key.analyzer});
}

void PollHistory::replace(const std::vector<std::pair<DurationKey, DurationSketch>>& all) {
  MutexLock lock(mu_);
  by_band_.clear();
  by_analyzer_.clear();
  for (const auto& [key, sketch] : all) {
    by_band_[key] = std::make_shared<const DurationSketch>(sketch);
  }
  for (const auto& [key, sketch] : all) rebuild_analyzer({key.resource, key.analyzer});
}

void PollHistory::rebuild_analyzer(const AnalyzerKey& key) {
  auto merged = std::make_shared<DurationSketch>();
  for (auto it = by_band_.lower_bound(DurationKey{key.first, key.second, -1});
       it != by_band_.end() && it->first.resource == key.first && it->first.analyzer == key.second;
       ++it) {
    for (int b = 0; b < kDurationBuckets; ++b) {
      merged->add(b, it->second->counts[static_cast<std::size_t>(b)]);
    }
  }
  by_analyzer_[key] = std::move(merged);
}

std::vector<PollHistory::Learned> PollHistory::summary() const {
  MutexLock lock(mu_);
  std::vector<Learned> out;
  for (const auto& [key, sketch] : by_analyzer_) {
    if (sketch->total <= 0) continue;
    out.push_back({key.first, key.second, sketch->total, sketch->quantile(0.5).value_or(0),
                   sketch->quantile(0.9).value_or(0)});
  }
  return out;
}

}  // namespace lrogate::core
