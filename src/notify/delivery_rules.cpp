#include "notify/delivery_rules.h"

#include <string>

namespace lrogate::notify {

store::DeliveryAttempt judge(const http::ClientResult& r, int attempts_before, Millis now,
                             const std::vector<std::chrono::milliseconds>& schedule,
                             double jitter) {
  store::DeliveryAttempt a;
  a.now = now;
  int status = r.response ? r.response->status : 0;
  a.last_status = status;
  if (status >= 200 && status < 300) {
    a.status = store::DeliveryStatus::kDelivered;
    return a;
  }
  if (status == 410) {
    a.status = store::DeliveryStatus::kFailed;
    a.disable_url = true;
    a.last_error = "the receiver answered 410 Gone: endpoint disabled";
    return a;
  }
  a.last_error = r.response ? "the receiver answered " + std::to_string(status)
                            : std::string(failure_name(r.failure)) + ": " + r.error;
  if (!r.response && r.failure == http::FailureKind::kConnect &&
      r.error == "the address is not allowed") {
    a.status = store::DeliveryStatus::kFailed;
    a.last_error = "the receiver's address is loopback, private, link-local or reserved";
    return a;
  }
  auto made = static_cast<std::size_t>(attempts_before) + 1;
  if (made > schedule.size()) {
    a.status = store::DeliveryStatus::kFailed;
    a.last_error = "gave up after " + std::to_string(made) + " attempts; the last: " + a.last_error;
    return a;
  }
  auto wait = static_cast<double>(schedule[made - 1].count());
  a.status = store::DeliveryStatus::kPending;
  a.next_attempt_at = now + static_cast<Millis>(wait * (0.8 + 0.4 * jitter));
  return a;
}

}  // namespace lrogate::notify
