// The budget the replicas share: slots, their caps, asks of a ledger that
// several SharedWindows ("replicas") share, as the PostgreSQL store's
// take_budget judges them (one ask after another, each up to the cap).
#include "upstream/shared_budget.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <deque>
#include <map>
#include <mutex>
#include <vector>

namespace lrogate::upstream {
namespace {

// What the store does: per slot, what the replicas took, up to the cap.
// Synchronous (answers before it returns) unless `deferred`: then answers
// wait until answer_all().
class FakeLedger {
 public:
  BudgetLedger ledger() {
    return [this](BudgetAsk a, std::function<void(int, int)> granted) {
      std::unique_lock lock(mu_);
      ++asks_;
      if (failing_) {
        lock.unlock();
        granted(-1, 0);
        return;
      }
      auto answer = [this, a, granted] {
        int n, first;
        {
          std::lock_guard l(mu_);
          int& taken = taken_[{a.resource + "/" + a.budget, a.slot}];
          n = std::max(0, std::min(taken + a.want, a.cap) - taken);
          first = taken;
          taken += n;
        }
        granted(n, first);
      };
      if (deferred_) {
        pending_.push_back(answer);
        return;
      }
      lock.unlock();
      answer();
    };
  }
  void answer_all() {
    std::deque<std::function<void()>> p;
    {
      std::lock_guard l(mu_);
      p.swap(pending_);
    }
    for (auto& f : p) f();
  }
  int taken(std::int64_t slot, const std::string& key = "r/submits") {
    std::lock_guard l(mu_);
    return taken_[{key, slot}];
  }
  void drop_all() {
    std::lock_guard l(mu_);
    pending_.clear();
  }
  int asks() {
    std::lock_guard l(mu_);
    return asks_;
  }
  void set_deferred(bool d) { deferred_ = d; }
  void set_failing(bool f) { failing_ = f; }

 private:
  std::mutex mu_;
  std::map<std::pair<std::string, std::int64_t>, int> taken_;
  std::deque<std::function<void()>> pending_;
  int asks_ = 0;
  bool deferred_ = false;
  bool failing_ = false;
};

TEST(SharedWindow, AnyFiveSlotsInARowHoldExactlyTheLimit) {
  for (int limit : {1, 2, 3, 7, 15, 50, 3000}) {
    for (std::int64_t start : {0LL, 1LL, 4LL, 1'000'003LL, 8'650'000'000LL}) {
      int sum = 0;
      for (int k = 0; k < kSlotsPerWindow; ++k) {
        int c = SharedWindow::cap(start + k, limit);
        EXPECT_GE(c, 0);
        EXPECT_LE(c, (limit + kSlotsPerWindow - 1) / kSlotsPerWindow);
        sum += c;
      }
      EXPECT_EQ(sum, limit) << "limit " << limit << " from slot " << start;
    }
  }
}

TEST(SharedWindow, OneReplicaSpendsItsSlotsPlacesAndWaitsForTheNext) {
  FakeLedger fake;
  SharedWindow w("r", "submits", 15, 1000, fake.ledger());
  ASSERT_EQ(w.slot_ms(), 200);
  // Slot 50's places: calls 150, 151 and 152 of the cluster's sequence,
  // due every 1000/15 ms: each goes when it is due, not before.
  std::vector<Millis> sent;
  for (Millis now = 10'000; now < 10'175; ++now) {
    Millis at = w.ready_at(now);
    if (at <= now) {
      w.take(now);
      sent.push_back(now);
    } else if (!sent.empty() && sent.size() < 3) {
      EXPECT_EQ(at, 10'000 + static_cast<Millis>(sent.size()) * 1000 / 15);
    }
  }
  EXPECT_EQ(sent, (std::vector<Millis>{10'000, 10'066, 10'133}));  // 15 a second: 3 in each fifth
  EXPECT_EQ(fake.taken(50), 3);
  // The slot has no more: wait until a little before its end (to ask ahead),
  // then for the next slot.
  Millis again = w.ready_at(10'134);
  EXPECT_EQ(again, 10'200 - 25);
  EXPECT_EQ(w.ready_at(again), 10'200);
  EXPECT_LE(w.ready_at(10'200), 10'200);
}

TEST(SharedWindow, WhileAnAskIsOutCallsLookAgainSoon) {
  FakeLedger fake;
  fake.set_deferred(true);
  SharedWindow w("r", "submits", 15, 1000, fake.ledger());
  EXPECT_EQ(w.ready_at(10'000), 10'000 + SharedWindow::kAskWaitMs);
  EXPECT_EQ(w.ready_at(10'001), 10'001 + SharedWindow::kAskWaitMs);
  EXPECT_EQ(fake.asks(), 1);  // one ask out at a time
  fake.answer_all();
  EXPECT_EQ(w.ready_at(10'002), 10'002);
}

TEST(SharedWindow, AFailingLedgerGivesNoPlaceAndIsAskedAgainInTheNextSlot) {
  FakeLedger fake;
  fake.set_failing(true);
  SharedWindow w("r", "submits", 15, 1000, fake.ledger());
  EXPECT_GT(w.ready_at(10'000), 10'000);
  EXPECT_GT(w.ready_at(10'050), 10'050);
  EXPECT_EQ(fake.asks(), 1);
  fake.set_failing(false);
  EXPECT_EQ(w.ready_at(10'200), 10'200);
}

TEST(SharedWindow, PlacesNotSpentLapseWithTheirSlot) {
  FakeLedger fake;
  fake.set_deferred(true);
  SharedWindow w("r", "submits", 15, 1000, fake.ledger());
  (void)w.ready_at(10'000);
  fake.answer_all();
  ASSERT_EQ(w.ready_at(10'001), 10'001);  // one place in hand for slot 50
  // The slot ends unspent: the place is not kept for the next one.
  (void)w.ready_at(10'400);
  EXPECT_EQ(fake.taken(52), 0);  // asked, not answered yet
  EXPECT_GT(w.ready_at(10'401), 10'401);
}

// Three replicas, each with more calls than the limit, over 20 s at 1 ms
// steps, each asking in turn: no window of 1 s ever holds more than the
// limit plus one slot's cap, and together they use the limit nearly whole.
TEST(SharedWindow, ThreeReplicasTogetherStayWithinTheLimitPlusOneSlot) {
  FakeLedger fake;
  const int limit = 15;
  std::vector<std::unique_ptr<SharedWindow>> replicas;
  for (int i = 0; i < 3; ++i) {
    replicas.push_back(std::make_unique<SharedWindow>("r", "submits", limit, 1000, fake.ledger()));
  }
  std::vector<Millis> sent;
  std::vector<int> per_replica(3);
  const Millis start = 100'000, end = 120'000;
  for (Millis now = start; now < end; ++now) {
    for (int i = 0; i < 3; ++i) {
      // A replica sends at most one call a millisecond (its own window
      // would space them further).
      auto& w = replicas[(i + now) % 3];
      if (w->ready_at(now) <= now) {
        w->take(now);
        sent.push_back(now);
        ++per_replica[(i + now) % 3];
      }
    }
  }
  std::size_t most = 0;
  for (std::size_t a = 0, b = 0; a < sent.size(); ++a) {
    while (b < sent.size() && sent[b] < sent[a] + 1000) ++b;
    most = std::max(most, b - a);
  }
  // Each call goes when it is due: no window holds more than the limit.
  EXPECT_LE(most, static_cast<std::size_t>(limit));
  // Over 20 s the cluster may send 20 × 15 = 300; what lapsed unspent
  // (places asked just before nobody needed them) is little.
  EXPECT_LE(sent.size(), 300u);
  EXPECT_GE(sent.size(), 290u);
  for (int n : per_replica) EXPECT_GT(n, 50);  // each got a share
}

TEST(SharedWindow, AReplicaThatStopsHoldsUpTheOthersForOneSlotAtMost) {
  FakeLedger fake;
  SharedWindow a("r", "submits", 15, 1000, fake.ledger());
  SharedWindow b("r", "submits", 15, 1000, fake.ledger());
  // a takes what slot 50 has (and asks ahead for slot 51), then "dies".
  Millis now = 10'190;
  while (a.ready_at(now) <= now) a.take(now);
  (void)a.ready_at(now);
  EXPECT_GT(b.ready_at(now), now);  // nothing left in slot 50 for b
  // From slot 52 on, nothing a held counts any more: b has the whole cap.
  int sent = 0;
  for (Millis t = 10'400; t < 10'600; ++t) {
    if (b.ready_at(t) <= t) {
      b.take(t);
      ++sent;
    }
  }
  EXPECT_EQ(sent, SharedWindow::cap(52, 15));
}


// A call whose `now` was read just before a slot's
// boundary but that reaches the window after another call already rolled it
// to the next slot (two poll shards, or the cluster clock stepping back) must
// not roll the window back: that drops the places in hand for the newer
// slot and asks the ledger again for the older one, whose leftovers are then
// spent after it ended.
TEST(SharedWindow, AnOlderNowDoesNotRollTheWindowBack) {
  FakeLedger fake;
  SharedWindow w("r", "polls", 15, 1000, fake.ledger());
  ASSERT_EQ(w.ready_at(10'200), 10'200);  // slot 51: a slice (1 of 3) in hand
  EXPECT_EQ(fake.taken(51, "r/polls"), 1);
  // A late call with now = 10'199 (slot 50).
  (void)w.ready_at(10'199);
  EXPECT_EQ(fake.taken(50, "r/polls"), 0) << "asked the ledger for a slot that is over";
  // Back at slot 51: the place taken for it is still in hand, no second ask.
  EXPECT_EQ(w.ready_at(10'201), 10'201);
  EXPECT_EQ(fake.taken(51, "r/polls"), 1) << "slot 51's place was dropped and asked again";
}

// An ask out for now's slot that is answered only
// after the window rolled on is dropped (right), but if the answer never
// comes (a ledger that loses a task) `asking` stays true forever and the
// window answers "look again in 2 ms" for good, every slot.
TEST(SharedWindow, AnUnansweredAskIsGivenUp) {
  FakeLedger fake;
  fake.set_deferred(true);
  SharedWindow w("r", "submits", 15, 1000, fake.ledger());
  (void)w.ready_at(10'000);
  fake.drop_all();  // the answer is lost
  // Seconds later, the window still waits for it and never asks again.
  (void)w.ready_at(15'000);
  EXPECT_GT(fake.asks(), 1) << "no ask after a lost answer: asking stuck";
}

}  // namespace
}  // namespace lrogate::upstream
