// Dispatcher: delivers the webhook outbox (docs/design.md, "Completion
// webhooks"). It claims due deliveries from the store with a lease and a
// fence, like the poller claims polls, so one replica at a time attempts
// each; it POSTs each event signed (notify/signature.h) with its stable
// webhook-id, and records what the receiver answered (notify/
// delivery_rules.h). A replica killed mid-attempt leaves the delivery to
// whoever claims it when its lease ends: receivers dedupe by webhook-id.
//
// Threads: store calls run on the dispatcher's own store thread; requests
// on its own http::Client (its I/O thread; connections per receiver capped
// at max_in_flight_per_url; every address checked by the receiver policy).
// A slow or hanging receiver holds only its own URL's places, never a
// poller's or another receiver's. Owns both; the destructor stops the
// client first (no answer arrives after), then the store thread.
#pragma once

#include <deque>
#include <map>
#include <memory>
#include <string>

#include "base/clock.h"
#include "base/executor.h"
#include "base/random.h"
#include "base/thread_annotations.h"
#include "http/client.h"
#include "notify/secrets.h"
#include "notify/webhook_config.h"
#include "store/operation_store.h"

namespace lrogate::notify {

class Dispatcher {
 public:
  // `owner` names this replica's leases; `lease` is how long a claim holds
  // (the poller's --lease), longer than an attempt's timeout.
  Dispatcher(store::OperationStore& store, std::unique_ptr<http::Client> client,
             const Clock& clock, Random& random, const WebhookSecrets& secrets,
             WebhookConfig config, std::string owner, std::chrono::milliseconds lease);
  ~Dispatcher();
  Dispatcher(const Dispatcher&) = delete;
  Dispatcher& operator=(const Dispatcher&) = delete;

  // Starts claiming (and keeps checking every second for what other
  // replicas wrote). Any thread.
  void start();
  // A completion with an event, or a redelivery, was written: claim now.
  // Any thread; cheap when a claim is already queued.
  void wake();
  // Claims no more; attempts in flight are abandoned (their leases end and
  // another claim sends them again). Idempotent.
  void stop();

  // How often an idle dispatcher looks for deliveries other replicas wrote.
  static constexpr Millis kIdleRecheckMs = 1'000;

 private:
  void tick();  // on store_
  void attempt(store::Delivery d);
  void answered(store::Delivery d, http::ClientResult r);  // on the client's thread
  void arm(Millis at) EXCLUDES(mu_);

  store::OperationStore& store_;
  const Clock& clock_;
  Random& random_;
  const WebhookSecrets& secrets_;
  const WebhookConfig config_;
  const std::string owner_;
  const std::chrono::milliseconds lease_;

  Mutex mu_;
  int in_flight_ GUARDED_BY(mu_) = 0;
  // Per receiver (its origin, "scheme://host:port/", as the client counts
  // connections): its places taken (attempts awaiting an answer), and the
  // claimed deliveries waiting for one of them.
  std::map<std::string, int, std::less<>> in_flight_by_origin_ GUARDED_BY(mu_);
  std::map<std::string, std::deque<store::Delivery>, std::less<>> queued_by_origin_
      GUARDED_BY(mu_);
  bool tick_queued_ GUARDED_BY(mu_) = false;
  Millis timer_at_ GUARDED_BY(mu_) = 0;  // a timer will tick then; 0: none
  bool started_ GUARDED_BY(mu_) = false;
  bool stopping_ GUARDED_BY(mu_) = false;

  // Declared last: destroyed first (the client's thread, then the store
  // thread), while everything above still exists.
  BoundedExecutor store_thread_{1, 64};
  std::unique_ptr<http::Client> client_;
};

}  // namespace lrogate::notify
