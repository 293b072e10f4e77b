// SharedWindow: one limit of one pool resource (its submits/s, polls/s or
// operations a minute) held by every replica together, through a ledger
// they share: the PostgreSQL store (docs/design.md, "The budget shared by
// replicas"; issue 15 item 4).
//
// The limit's window W (with the pool's slack: 1,020 ms for a rate a
// second) is cut into kSlotsPerWindow slots on the cluster's clock (slot k:
// [k·s, (k+1)·s), s = W/5). The cluster's calls of the limit are one
// sequence spaced evenly: call g is due at g·W/N, and slot k holds the
// places due within it (cap(k): a fifth of N, rounded so that any five
// slots in a row hold exactly N). A replica takes places of a slot from the
// ledger a few at a time (a slice: a third of the slot, at least one), each
// with its order in the slot, and spends a place no earlier than it is due
// and at most kLateMs later (then it lapses). It asks when a call wants a place and
// it has none; with calls beyond one a slot, it keeps one in hand and asks
// ahead for the next slot near a slot's end. What is not spent lapses with
// its slot: a replica that dies holding places holds up nothing longer than
// one slot. Every call goes within kLateMs of its time, so no window of the
// limit's own length (W less the slack) holds more than N, as long as the
// replicas' clocks agree and a call reaches the resource within the slack. The resource's own sliding window
// (base/sliding_window.h) still holds each replica to the limit on its own.
//
// Thread-safe. The ledger is called with no lock of this class held (it
// may answer before it returns); its answer may come on any thread.
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "base/clock.h"
#include "base/thread_annotations.h"

namespace lrogate::upstream {

// One ask of the ledger: up to `want` places of `slot`, which holds `cap`
// for the cluster and ends at `ends_at` (the cluster's clock, ms).
struct BudgetAsk {
  std::string resource;
  std::string budget;  // "submits", "polls", "operations"
  std::int64_t slot = 0;
  Millis ends_at = 0;
  int want = 0;
  int cap = 0;
};
// Sends an ask; `granted` gets how many places were taken (0..want), or a
// negative number when the ledger could not answer (its store failed, its
// queue is full): none; and the first one's order in the slot (the places
// are first..first+granted-1).
using BudgetLedger =
    std::function<void(BudgetAsk ask, std::function<void(int granted, int first)> granted)>;

inline constexpr int kSlotsPerWindow = 5;

class SharedWindow {
 public:
  // `limit` calls in any `window_ms` (> 0 both).
  SharedWindow(std::string resource, std::string budget, int limit, Millis window_ms,
               BudgetLedger ledger);
  SharedWindow(const SharedWindow&) = delete;
  SharedWindow& operator=(const SharedWindow&) = delete;

  // now when a place of now's slot is in hand; otherwise when to look
  // again: soon while an ask is out (or was just sent), the next slot's
  // start when this one has no more. Takes nothing.
  Millis ready_at(Millis now);
  // Spends a place in hand (ready_at(now) <= now just before, under the
  // caller's lock that also serialises take()).
  void take(Millis now);

  // What slot `slot` holds for the cluster: the limit's fifths, rounded so
  // that any kSlotsPerWindow slots in a row hold exactly `limit`.
  static int cap(std::int64_t slot, int limit);
  Millis slot_ms() const { return slot_ms_; }
  // How soon to look again while an ask is out.
  static constexpr Millis kAskWaitMs = 2;
  // A place is spent no earlier than it is due and at most this much later;
  // after, it lapses. With the window W held 20 ms longer than the limit
  // says (the pool's kWindowSlackMs), calls spent so keep any window of W
  // within the limit: keep the two equal.
  static constexpr Millis kLateMs = 20;
  // An ask unanswered this long is given up and made again.
  static constexpr Millis kAskGiveUpMs = 1000;

 private:
  struct State {
    Mutex mu;
    std::int64_t slot GUARDED_BY(mu) = -1;  // the slot `held` is of
    std::vector<int> places GUARDED_BY(mu);  // in hand for it (their order in the slot), sorted
    int used GUARDED_BY(mu) = 0;            // spent in it
    bool spent GUARDED_BY(mu) = false;      // the ledger has no more of it for us
    std::int64_t ahead_slot GUARDED_BY(mu) = -1;  // asked ahead: the next slot
    std::vector<int> ahead_places GUARDED_BY(mu);
    bool ahead_spent GUARDED_BY(mu) = false;
    bool asking GUARDED_BY(mu) = false;  // one ask out at a time
    std::int64_t asking_slot GUARDED_BY(mu) = -1;
    Millis asked_at GUARDED_BY(mu) = 0;
    std::uint64_t ask_seq GUARDED_BY(mu) = 0;  // the ask out; an answer of another is ignored
  };
  // Moves the state to now's slot: what was asked ahead for it is in hand,
  // the rest lapses.
  void roll(State& st, Millis now) REQUIRES(st.mu);
  // Rolls the state to now's slot and decides whether to ask now (for
  // now's slot, or ahead for the next): the ask, marked out, or none.
  // `wanted`: a call wants a place now.
  std::optional<BudgetAsk> plan(State& st, Millis now, bool wanted) REQUIRES(st.mu);
  void send(BudgetAsk ask);
  // When place `place` of slot `slot` is due (the cluster's clock).
  Millis due(std::int64_t slot, int place) const;
  // What ready_at answers in the state as it is.
  Millis when(State& st, Millis now) const REQUIRES(st.mu);

  const std::string resource_;
  const std::string budget_;
  const int limit_;
  const Millis slot_ms_;
  const Millis lead_ms_;  // how long before a slot's end the next is asked for
  const BudgetLedger ledger_;
  const std::shared_ptr<State> state_;  // shared with the ledger's answers
};

}  // namespace lrogate::upstream
