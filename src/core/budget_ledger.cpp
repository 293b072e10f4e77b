#include "core/budget_ledger.h"

#include "base/log.h"

namespace lrogate::core {

BudgetLedger::BudgetLedger(store::OperationStore& store, const Clock& clock)
    : store_(store), clock_(clock) {}

void BudgetLedger::take(Ask ask, Granted done) {
  auto shared_done = std::make_shared<Granted>(std::move(done));
  bool queued = work_.try_post([this, ask = std::move(ask), shared_done] {
    store::OperationStore::BudgetAsk a{ask.resource, ask.budget, ask.slot,
                                       ask.ends_at,  ask.want,   ask.cap};
    auto r = store_.take_budget(a);
    if (!r) {
      // Without the ledger no place is taken: the resource waits (its
      // calls are answered as at their limit) rather than go over it.
      if (!warned_.exchange(true)) {
        log::warn("cannot take the shared upstream budget; calls wait for it",
                  {{"resource", ask.resource},
                   {"budget", ask.budget},
                   {"error", r.error().message},
                   {"detail", r.error().detail}});
      }
    } else if (warned_.exchange(false)) {
      log::info("the shared upstream budget answers again", {{"resource", ask.resource}});
    }
    (*shared_done)(r ? r->granted : -1, r ? r->first : 0);
    Millis now = clock_.now_ms();
    if (now - forgotten_at_ >= kForgetEveryMs) {
      forgotten_at_ = now;
      (void)store_.forget_budget(now - kKeepMs);
    }
  });
  if (!queued) (*shared_done)(-1, 0);
}

}  // namespace lrogate::core
