#include "poller/schedule.h"

#include <algorithm>

#include "base/duration.h"
#include "upstream/caller.h"

namespace lrogate::poller {
namespace {

core::Status to_status(upstream::Phase p) {
  switch (p) {
    case upstream::Phase::kNotStarted:
      return core::Status::kNotStarted;
    case upstream::Phase::kSucceeded:
      return core::Status::kSucceeded;
    case upstream::Phase::kFailed:
      return core::Status::kFailed;
    case upstream::Phase::kCanceled:
      return core::Status::kCanceled;
    default:
      return core::Status::kRunning;
  }
}

Decision fail(std::string code, std::string message) {
  Decision d;
  d.finish = true;
  d.status = core::Status::kFailed;
  d.error_code = std::move(code);
  d.error_message = std::move(message);
  return d;
}

}  // namespace

Decision decide(const core::Operation& op, const upstream::PollAnswer& a, const ScheduleConfig& cfg,
                Millis now, double u, const core::DurationSketch* history) {
  using K = upstream::PollAnswer::Kind;
  if (a.kind == K::kStatus) {
    core::Status s = to_status(a.phase);
    if (core::is_terminal(s)) {
      Decision d;
      d.finish = true;
      d.status = s;
      if (s == core::Status::kFailed) {
        d.error_code = a.error_code.empty() ? "AnalysisFailed" : a.error_code;
        d.error_message =
            a.error_message.empty() ? "the upstream reported the analysis failed" : a.error_message;
      } else if (s == core::Status::kCanceled) {
        d.error_code = "Canceled";
        d.error_message = "the upstream canceled the analysis";
      }
      return d;
    }
  }
  if (a.kind == K::kVanished) {
    return fail("Expired",
                "the upstream no longer knows this operation (404 after it was accepted)");
  }
  if (a.kind == K::kPermanent) return fail(a.error_code, a.error_message);

  Millis deadline = op.created_at + cfg.max_wait.count();
  if (now >= deadline) {
    return fail("Timeout", "the analysis did not finish within " + format_duration(cfg.max_wait) +
                               " (--max-wait)");
  }
  Decision d;
  std::chrono::milliseconds wait;
  if (a.kind == K::kStatus) {
    d.status = to_status(a.phase);
    d.attempts = 0;
    wait = cfg.poll_interval;
    if (op.kind == core::Kind::kAnalyzerCreation) {
      // An analyze may be waiting for it: 1 s, 2 s, 4 s, … up to the interval.
      std::chrono::milliseconds quick(1000LL << std::min(op.poll_count, 16));
      wait = std::min(wait, quick);
    } else if (cfg.learned && history) {
      core::ScheduleShape shape;
      shape.first_poll_delay = cfg.first_poll_delay.count();
      shape.poll_interval = cfg.poll_interval.count();
      shape.tail_cap = cfg.backoff_cap.count();
      if (auto at = core::learned_poll_age(*history, now - op.created_at, shape)) {
        wait = std::chrono::milliseconds(std::max<Millis>(op.created_at + *at - now, 0));
      }
    }
  } else {
    d.status = op.status;
    d.attempts = op.attempts + 1;
    wait = upstream::backoff_delay(op.attempts, cfg.backoff_base, cfg.backoff_cap, u);
  }
  if (a.retry_after) wait = std::max(wait, *a.retry_after);
  d.next_poll_at = std::min(now + wait.count(), deadline);
  return d;
}

}  // namespace lrogate::poller
