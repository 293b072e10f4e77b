#include "upstream/shared_budget.h"

#include <algorithm>

#include "base/metrics.h"

namespace lrogate::upstream {


namespace {

// A slice: what one ask wants, a third of the slot (at least one), so that
// the replicas that ask first do not take a whole slot the others need.
int slice(int cap) { return std::max(1, (cap + 2) / 3); }

}  // namespace

SharedWindow::SharedWindow(std::string resource, std::string budget, int limit, Millis window_ms,
                           BudgetLedger ledger)
    : resource_(std::move(resource)),
      budget_(std::move(budget)),
      limit_(std::max(1, limit)),
      slot_ms_(std::max<Millis>(1, window_ms / kSlotsPerWindow)),
      lead_ms_(std::min<Millis>(25, slot_ms_ / 4)),
      ledger_(std::move(ledger)),
      state_(std::make_shared<State>()) {}

// The calls of all slots, in order, are spaced evenly: call g of the
// cluster's sequence is due at g·W/N, and slot k holds the calls due within
// it, g from ⌈k·N/5⌉ to ⌈(k+1)·N/5⌉ − 1.
static std::int64_t first_of(std::int64_t slot, int limit) {
  return (slot * limit + kSlotsPerWindow - 1) / kSlotsPerWindow;
}

int SharedWindow::cap(std::int64_t slot, int limit) {
  return static_cast<int>(first_of(slot + 1, limit) - first_of(slot, limit));
}

Millis SharedWindow::due(std::int64_t slot, int place) const {
  std::int64_t g = first_of(slot, limit_) + place;
  return g * slot_ms_ * kSlotsPerWindow / limit_;
}

void SharedWindow::roll(State& st, Millis now) {
  const std::int64_t slot = now / slot_ms_;
  // Places whose time went by unspent lapse (see kLateMs).
  auto late = [&](int place) { return due(slot, place) + kLateMs < now; };
  if (slot == st.slot) {
    st.places.erase(st.places.begin(),
                    std::find_if_not(st.places.begin(), st.places.end(), late));
  }
  if (slot != st.slot) {
    // A new slot: what was asked ahead for it is in hand; the rest lapsed.
    bool ahead = st.ahead_slot == slot;
    st.places.clear();
    if (ahead) st.places.swap(st.ahead_places);
    st.spent = ahead ? st.ahead_spent : false;
    st.used = 0;
    st.slot = slot;
    st.ahead_slot = -1;
    st.ahead_places.clear();
    st.ahead_spent = false;
    if (cap(slot, limit_) == 0) st.spent = true;
    st.places.erase(st.places.begin(),
                    std::find_if_not(st.places.begin(), st.places.end(), late));
  }
}

std::optional<BudgetAsk> SharedWindow::plan(State& st, Millis now, bool wanted) {
  roll(st, now);
  const std::int64_t slot = st.slot;
  if (st.asking && now - st.asked_at >= kAskGiveUpMs) {
    // No answer (a store that hangs, a lost task): given up, so the window
    // asks again; the answer, if it comes, is ignored (its places lapse).
    st.asking = false;
    ++st.ask_seq;
  }
  if (st.asking) return std::nullopt;
  std::optional<std::int64_t> k;
  const Millis slot_end = (slot + 1) * slot_ms_;
  // Demand beyond one call a slot: more than one spent in it, or a call
  // that waits for a slot with no more places. Only then is a place kept
  // in hand, or the next slot asked for ahead: a replica with a call now
  // and then takes no place it will not use.
  const bool busy = st.used >= 2 || (wanted && st.spent);
  if (st.places.empty() && !st.spent && (wanted || st.used >= 2)) {
    // Now's slot: a call wants a place and none is in hand, or calls spend
    // them (one kept in hand).
    k = slot;
  } else if (busy && now >= slot_end - lead_ms_ && st.ahead_slot != slot + 1 &&
             cap(slot + 1, limit_) > 0) {
    // Ahead: near the end of a slot that calls used (or wanted more of),
    // so the next one's first calls find places in hand.
    k = slot + 1;
  }
  if (!k) return std::nullopt;
  st.asking = true;
  st.asking_slot = *k;
  st.asked_at = now;
  ++st.ask_seq;
  int c = cap(*k, limit_);
  return BudgetAsk{resource_, budget_, *k, (*k + 1) * slot_ms_, slice(c), c};
}

void SharedWindow::send(BudgetAsk ask) {
  std::weak_ptr<State> weak = state_;
  const std::int64_t slot = ask.slot;
  const int want = ask.want;
  std::uint64_t seq;
  {
    State& st = *state_;
    MutexLock lock(st.mu);
    seq = st.ask_seq;
  }
  std::string resource = resource_;
  std::string budget = budget_;
  ledger_(std::move(ask), [weak, slot, want, seq, resource, budget](int granted, int first) {
    metrics::count_shared_budget(resource, budget, want, std::max(granted, 0), granted < 0);
    auto st = weak.lock();
    if (!st) return;
    MutexLock lock(st->mu);
    if (seq != st->ask_seq) return;  // an ask given up
    st->asking = false;
    int n = std::max(granted, 0);
    bool spent = granted < want;  // short (or failed): the slot has no more for us
    auto add = [&](std::vector<int>& places) {
      for (int i = 0; i < n; ++i) places.push_back(first + i);
      std::sort(places.begin(), places.end());
    };
    if (slot == st->slot) {
      add(st->places);
      st->spent = st->spent || spent;
    } else if (slot > st->slot) {  // ahead
      st->ahead_slot = slot;
      add(st->ahead_places);
      st->ahead_spent = st->ahead_spent || spent;
    }
    // An older slot's places lapsed with it.
  });
}

Millis SharedWindow::when(State& st, Millis now) const {
  // A place in hand: when it is due (spent no earlier, so the cluster's
  // calls keep their spacing).
  if (!st.places.empty()) return std::max(now, due(st.slot, st.places.front()));
  if (!st.spent) return now + kAskWaitMs;  // asked: the answer is a round trip away
  // Nothing more in this slot: the next one, or a little before its start
  // to ask ahead for it when that is not done yet.
  const Millis slot_end = (st.slot + 1) * slot_ms_;
  bool ahead_asked = st.ahead_slot == st.slot + 1 || (st.asking && st.asking_slot > st.slot);
  return ahead_asked || now >= slot_end - lead_ms_ ? slot_end : slot_end - lead_ms_;
}

Millis SharedWindow::ready_at(Millis now) {
  std::optional<BudgetAsk> ask;
  {
    State& st = *state_;
    MutexLock lock(st.mu);
    // A time before the slot the window is in (read before another call
    // moved it on, or the cluster clock stepped back): never back to an
    // older slot, whose places would then be spent after it ended; wait
    // for the window's slot instead.
    if (now / slot_ms_ < st.slot) return st.slot * slot_ms_;
    ask = plan(st, now, /*wanted=*/true);
    if (!ask) return when(st, now);
  }
  send(std::move(*ask));
  State& st = *state_;
  MutexLock lock(st.mu);
  return when(st, now);  // the ledger may have answered already
}

void SharedWindow::take(Millis now) {
  std::optional<BudgetAsk> ask;
  {
    State& st = *state_;
    MutexLock lock(st.mu);
    now = std::max(now, st.slot * slot_ms_);  // never back (see ready_at)
    roll(st, now);
    if (!st.places.empty()) st.places.erase(st.places.begin());
    ++st.used;
    ask = plan(st, now, /*wanted=*/false);
  }
  if (ask) send(std::move(*ask));
}

}  // namespace lrogate::upstream
