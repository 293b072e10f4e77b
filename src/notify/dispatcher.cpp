#include "notify/dispatcher.h"

#include <algorithm>
#include <optional>
#include <vector>

#include "base/log.h"
#include "base/metrics.h"
#include "notify/delivery_rules.h"
#include "notify/receiver_policy.h"
#include "notify/signature.h"

namespace lrogate::notify {

Dispatcher::Dispatcher(store::OperationStore& store, std::unique_ptr<http::Client> client,
                       const Clock& clock, Random& random, const WebhookSecrets& secrets,
                       WebhookConfig config, std::string owner, std::chrono::milliseconds lease)
    : store_(store),
      clock_(clock),
      random_(random),
      secrets_(secrets),
      config_(std::move(config)),
      owner_(std::move(owner)),
      lease_(lease),
      client_(std::move(client)) {}

Dispatcher::~Dispatcher() {
  stop();
  client_->shutdown();   // no answer arrives after this
  store_thread_.stop();  // what is queued runs: answers are recorded
}

void Dispatcher::start() {
  {
    MutexLock lock(mu_);
    started_ = true;
  }
  wake();
}

void Dispatcher::stop() {
  MutexLock lock(mu_);
  stopping_ = true;
}

void Dispatcher::wake() {
  {
    MutexLock lock(mu_);
    if (!started_ || stopping_ || tick_queued_) return;
    tick_queued_ = true;
  }
  if (!store_thread_.post([this] { tick(); })) {
    MutexLock lock(mu_);
    tick_queued_ = false;
  }
}

void Dispatcher::arm(Millis at) {
  Millis now = clock_.now_ms();
  {
    MutexLock lock(mu_);
    if (stopping_) return;
    if (timer_at_ != 0 && timer_at_ <= at && timer_at_ > now) return;  // an earlier one will
    timer_at_ = at;
  }
  client_->post_after(std::chrono::milliseconds(std::max<Millis>(at - now, 0)), [this, at] {
    {
      MutexLock lock(mu_);
      if (timer_at_ == at) timer_at_ = 0;
    }
    wake();
  });
}

void Dispatcher::tick() {
  int free = 0;
  std::vector<std::string> skip;
  {
    MutexLock lock(mu_);
    tick_queued_ = false;
    if (stopping_) return;
    free = config_.max_in_flight - in_flight_;
    for (const auto& [origin, n] : in_flight_by_origin_) {
      if (n >= config_.max_in_flight_per_url) skip.push_back(origin);
    }
  }
  Millis now = clock_.now_ms();
  // At most one receiver's share at a time: if every row claimed is one
  // receiver's, it fills its places and waits in its own line (below the
  // lease: each attempt ends within --webhook-timeout), and the next claim
  // passes it over. So one receiver never holds every place.
  int limit = std::min(free, config_.max_in_flight_per_url);
  bool more = false;
  if (limit > 0) {
    auto claimed = store_.claim_deliveries(owner_, now, now + lease_.count(), limit, skip);
    if (!claimed) {
      log::warn("cannot claim webhook deliveries", {{"error", claimed.error().message},
                                                    {"detail", claimed.error().detail}});
      return arm(now + kIdleRecheckMs);
    }
    more = static_cast<int>(claimed.value().size()) == limit;
    std::vector<store::Delivery> now_sent;
    {
      MutexLock lock(mu_);
      for (auto& d : claimed.value()) {
        ++in_flight_;
        std::string origin(ReceiverPolicy::origin(d.url));
        int& places = in_flight_by_origin_[origin];
        if (places < config_.max_in_flight_per_url) {
          ++places;
          now_sent.push_back(std::move(d));
        } else {
          queued_by_origin_[origin].push_back(std::move(d));
        }
      }
    }
    for (auto& d : now_sent) attempt(std::move(d));
  }
  if (more) return wake();  // more may be due: claim again at once
  // The next one due (a retry, another replica's lease ending), or a look
  // for what other replicas wrote, whichever comes first; an answer wakes
  // it sooner.
  Millis at = now + kIdleRecheckMs;
  if (auto next = store_.next_delivery_due(now); next && next.value() && *next.value() > now) {
    at = std::min(at, *next.value());
  }
  arm(at);
}

void Dispatcher::attempt(store::Delivery d) {
  const auto& keys = secrets_.keys(d.tenant);
  if (keys.empty()) {
    // Nothing to sign with: an unsigned event would teach receivers to
    // accept unsigned ones. It waits its schedule (the file may gain the
    // tenant's secret on a restart).
    http::ClientResult none;
    none.failure = http::FailureKind::kConnect;
    none.error = "no webhook secret for this tenant (--webhook-secrets-file)";
    return answered(std::move(d), std::move(none));
  }
  std::string timestamp = std::to_string(clock_.now_ms() / 1000);
  http::ClientRequest req;
  req.method = "POST";
  req.url = d.url;
  req.timeout = config_.timeout;
  // The answer's body is read and dropped; a receiver answering 2xx with
  // a page of its own is still delivered up to this size.
  req.max_body = 1u << 20;
  req.headers.push_back({"Content-Type", config_.cloudevents ? "application/cloudevents+json"
                                                              : "application/json"});
  req.headers.push_back({"User-Agent", "lrogate-webhooks/1"});
  req.headers.push_back({"webhook-id", d.id});
  req.headers.push_back({"webhook-timestamp", timestamp});
  req.headers.push_back({"webhook-signature", signature_header(keys, d.id, timestamp, d.body)});
  req.body = d.body;
  auto shared = std::make_shared<store::Delivery>(std::move(d));
  client_->send(std::move(req), [this, shared](http::ClientResult r) {
    answered(std::move(*shared), std::move(r));
  });
}

void Dispatcher::answered(store::Delivery d, http::ClientResult r) {
  Millis now = clock_.now_ms();
  store::DeliveryAttempt a = judge(r, d.attempts, now, config_.retry_schedule, random_.uniform());
  a.fence = d.fence;
  auto shared = std::make_shared<store::Delivery>(std::move(d));
  bool queued = store_thread_.post([this, shared, a = std::move(a)] {
    const store::Delivery& d = *shared;
    auto recorded = store_.record_delivery(d.id, owner_, a);
    const char* outcome = a.status == store::DeliveryStatus::kDelivered ? "delivered"
                          : a.status == store::DeliveryStatus::kPending ? "retry"
                                                                         : "failed";
    metrics::count_webhook_attempt(outcome);
    if (a.status == store::DeliveryStatus::kDelivered) {
      metrics::observe_webhook_delivered(static_cast<double>(a.now - d.created_at) / 1000.0);
    }
    if (!recorded) {
      log::warn("cannot record a webhook attempt", {{"delivery_id", d.id},
                                                    {"error", recorded.error().message}});
    } else if (!recorded.value()) {
      log::warn("a webhook attempt's lease was lost; another claim sends it again",
                {{"delivery_id", d.id}});
    }
    if (a.status != store::DeliveryStatus::kDelivered) {
      log::warn("webhook attempt failed", {{"delivery_id", d.id},
                                           {"operation_id", d.operation_id},
                                           {"outcome", outcome},
                                           {"attempts", d.attempts + 1},
                                           {"error", a.last_error}});
    }
    std::optional<store::Delivery> next;  // the receiver's next in its line
    {
      MutexLock lock(mu_);
      --in_flight_;
      std::string_view origin = ReceiverPolicy::origin(d.url);
      // At a stop the line is not sent: its leases end and another claim
      // sends it (after a 410 it is sent and answered 410 too: the store
      // leaves deliveries a claim holds to their holder).
      auto q = queued_by_origin_.find(origin);
      if (q != queued_by_origin_.end() && !stopping_) {
        next = std::move(q->second.front());
        q->second.pop_front();
        if (q->second.empty()) queued_by_origin_.erase(q);
      } else if (auto it = in_flight_by_origin_.find(origin);
                 it != in_flight_by_origin_.end() && --it->second <= 0) {
        in_flight_by_origin_.erase(it);
      }
    }
    if (next) attempt(std::move(*next));
    tick();
  });
  if (!queued) {
    MutexLock lock(mu_);
    --in_flight_;
  }
}

}  // namespace lrogate::notify
