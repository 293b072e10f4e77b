// BudgetLedger: the store's side of the budget the replicas share
// (docs/design.md, "The budget shared by replicas"): asks for places of a
// slot (upstream/shared_budget.h) are taken from the shared store on a
// thread of its own, never on the I/O thread that asked, one at a time and
// in order. Old slots are forgotten every 10 s.
//
// Only for a store other processes share (OperationStore::exclusive() is
// false); with an exclusive store the process's own windows are the
// cluster's. Thread-safe. stop() (also the destructor) answers what is
// queued and joins the thread; asks after it are answered "none" at once.
#pragma once

#include <atomic>
#include <cstdint>
#include <functional>
#include <string>

#include "base/clock.h"
#include "base/executor.h"
#include "store/operation_store.h"

namespace lrogate::core {

class BudgetLedger {
 public:
  struct Ask {
    std::string resource;
    std::string budget;
    std::int64_t slot = 0;
    Millis ends_at = 0;  // the cluster's clock
    int want = 0;
    int cap = 0;
  };
  // How many places were taken (0..want), or -1: none could be asked; and
  // the first one's place in the slot.
  using Granted = std::function<void(int granted, int first)>;

  BudgetLedger(store::OperationStore& store, const Clock& clock);
  ~BudgetLedger() { stop(); }
  BudgetLedger(const BudgetLedger&) = delete;
  BudgetLedger& operator=(const BudgetLedger&) = delete;

  // Queues the ask; `done` runs on the ledger's thread, or at once on the
  // calling thread (-1, 0) when 1,000 asks already wait or it has stopped.
  void take(Ask ask, Granted done);
  void stop() { work_.stop(); }

  // How long a slot's row is kept after it ended, and how often old ones
  // are forgotten.
  static constexpr Millis kKeepMs = 60'000;
  static constexpr Millis kForgetEveryMs = 10'000;

 private:
  store::OperationStore& store_;
  const Clock& clock_;
  Millis forgotten_at_ = 0;         // only the ledger's thread touches it
  std::atomic<bool> warned_{false};  // a failing store is logged once until it answers again
  BoundedExecutor work_{1, 1000};    // last: stopped (joined) before the rest goes
};

}  // namespace lrogate::core
