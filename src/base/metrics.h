// Process metrics in the Prometheus text format (prometheus-cpp's core
// registry and TextSerializer; /metrics is served by our own server).
// Every function is thread-safe and cheap enough for a hot path.
#pragma once

#include <chrono>
#include <cstdint>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace lrogate::metrics {

void observe_request(std::string_view route, std::string_view method, int status, double seconds);
// call: submit | poll | lookup; outcome: the answer's kind (accepted, status, transient, ...).
void count_upstream_call(std::string_view call, std::string_view outcome);
// The same per pool resource; `throttled`: the resource answered 429.
void count_resource_call(std::string_view resource, std::string_view call,
                         std::string_view outcome, bool throttled);
// A pool resource's state at a scrape: breaker (closed | half_open | open),
// draining, and for each budget (submits, polls, operations) the share of
// its limit used in the window ending now (only limited budgets).
void set_resource_state(std::string_view resource, std::string_view breaker, bool draining,
                        int calls_in_flight);
void set_resource_budget(std::string_view resource, std::string_view budget, double used);
// One ask of the budget the replicas share (upstream/shared_budget.h): the
// places asked for and granted; `failed`: the ledger could not answer.
void count_shared_budget(std::string_view resource, std::string_view budget, int asked,
                         int granted, bool failed);
// Operations not yet final, per pool resource (the store's count).
void set_open_by_resource(const std::vector<std::pair<std::string, std::int64_t>>& open);
// Submits waiting for a pool resource, and how long each waited.
void set_submit_queue(double waiting);
void observe_submit_queue_wait(double seconds);
// From the time a poll was due to the time its answer was recorded.
void observe_poll_lag(double seconds);
void observe_store(std::string_view operation, double seconds);
// Operation rows the store was asked to write and wrote, by write: insert
// (a submit), claim, progress (a poll that left the status as it was),
// transition (a progress write that changed it), renew (a lease extended),
// finish, cancel (docs/design.md, "Claiming and the loop": polls that change
// nothing are held in memory and cost only renewals); and delivery: the
// webhook outbox's rows the stores write (events written with a completion,
// claimed, attempts recorded, failed by a 410, redelivered), counted by the
// stores themselves.
void count_store_writes(std::string_view write, std::int64_t rows);
// An upstream poll whose answer changed nothing (not final, the status as
// the record has it).
void count_unchanged_poll();
// A webhook attempt's outcome ("delivered", "retry", "failed"), and for a
// delivered one the time since its operation's final transition.
void count_webhook_attempt(std::string_view outcome);
void observe_webhook_delivered(double seconds);
// A Succeeded analysis's usage, counted to its tenant once the store said
// its completion took effect (lrogate_usage_*_total{tenant}).
void count_usage(std::string_view tenant, std::int64_t pages, std::int64_t tokens,
                 std::int64_t bytes_in, std::int64_t bytes_out);
// An analysis seen succeeded: the upstream polls it took and how late it
// may have been seen (from the last poll that found it running).
void observe_completion(std::string_view analyzer, int polls, double lateness_seconds);
// The learned completion times per resource and analyzer (core/poll_history.h).
struct LearnedDuration {
  std::string resource;
  std::string analyzer;
  std::int64_t samples = 0;
  double median_seconds = 0;
  double p90_seconds = 0;
};
void set_learned_durations(const std::vector<LearnedDuration>& learned);
void set_inflight_polls(double n);
void set_long_poll_waiters(double n);
void set_operations(const std::vector<std::pair<std::string, int>>& by_status);

std::string render();

// Times a store call into observe_store when it goes out of scope.
class StoreTimer {
 public:
  explicit StoreTimer(std::string_view op) : op_(op), start_(std::chrono::steady_clock::now()) {}
  ~StoreTimer() {
    observe_store(op_,
                  std::chrono::duration<double>(std::chrono::steady_clock::now() - start_).count());
  }

 private:
  std::string_view op_;
  std::chrono::steady_clock::time_point start_;
};

}  // namespace lrogate::metrics
