#include "base/metrics.h"

#include <prometheus/counter.h>
#include <prometheus/family.h>
#include <prometheus/gauge.h>
#include <prometheus/histogram.h>
#include <prometheus/registry.h>
#include <prometheus/text_serializer.h>

#include <memory>
#include <unordered_map>
#include <vector>

namespace lrogate::metrics {
namespace {

using prometheus::BuildCounter;
using prometheus::BuildGauge;
using prometheus::BuildHistogram;

const prometheus::Histogram::BucketBoundaries kLatency{
    0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10};
const prometheus::Histogram::BucketBoundaries kLag{0.01, 0.05, 0.1, 0.25, 0.5, 1, 2, 5, 10, 30, 60};
const prometheus::Histogram::BucketBoundaries kStore{
    0.00005, 0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.1, 1};

struct Metrics {
  std::shared_ptr<prometheus::Registry> registry = std::make_shared<prometheus::Registry>();
  prometheus::Family<prometheus::Counter>& requests =
      BuildCounter()
          .Name("lrogate_http_requests_total")
          .Help("HTTP requests by route, method and status")
          .Register(*registry);
  prometheus::Family<prometheus::Histogram>& latency =
      BuildHistogram()
          .Name("lrogate_http_request_duration_seconds")
          .Help("HTTP request latency by route")
          .Register(*registry);
  prometheus::Family<prometheus::Counter>& upstream =
      BuildCounter()
          .Name("lrogate_upstream_calls_total")
          .Help("Upstream calls by call and outcome")
          .Register(*registry);
  prometheus::Family<prometheus::Counter>& resource_calls =
      BuildCounter()
          .Name("lrogate_resource_calls_total")
          .Help("Upstream calls by pool resource, call and outcome")
          .Register(*registry);
  prometheus::Family<prometheus::Counter>& resource_429s =
      BuildCounter()
          .Name("lrogate_resource_throttled_total")
          .Help("Upstream calls a pool resource answered 429, by call")
          .Register(*registry);
  prometheus::Family<prometheus::Gauge>& breaker =
      BuildGauge()
          .Name("lrogate_resource_breaker")
          .Help("A pool resource's circuit breaker: 1 for its current state")
          .Register(*registry);
  prometheus::Family<prometheus::Gauge>& draining = BuildGauge()
                                                        .Name("lrogate_resource_draining")
                                                        .Help("1 while a pool resource drains")
                                                        .Register(*registry);
  prometheus::Family<prometheus::Gauge>& resource_inflight =
      BuildGauge()
          .Name("lrogate_resource_calls_in_flight")
          .Help("Calls awaiting a pool resource's answer")
          .Register(*registry);
  prometheus::Family<prometheus::Gauge>& budget =
      BuildGauge()
          .Name("lrogate_resource_budget_used_ratio")
          .Help("Share of a pool resource's limit used in the window ending now, by budget")
          .Register(*registry);
  prometheus::Family<prometheus::Counter>& shared_budget =
      BuildCounter()
          .Name("lrogate_resource_shared_budget_total")
          .Help("Places of a limit the replicas share, asked for and granted by the store, "
                "and asks that failed, by pool resource and budget")
          .Register(*registry);
  prometheus::Family<prometheus::Gauge>& open_by_resource =
      BuildGauge()
          .Name("lrogate_resource_open_operations")
          .Help("Operations not yet final, by the pool resource they are bound to")
          .Register(*registry);
  prometheus::Gauge& submit_queue = BuildGauge()
                                        .Name("lrogate_submit_queue")
                                        .Help("Submits waiting for a pool resource with room")
                                        .Register(*registry)
                                        .Add({});
  prometheus::Histogram& submit_queue_wait =
      BuildHistogram()
          .Name("lrogate_submit_queue_wait_seconds")
          .Help("How long a submit waited for a pool resource with room")
          .Register(*registry)
          .Add({}, prometheus::Histogram::BucketBoundaries{0.01, 0.05, 0.1, 0.25, 0.5, 1, 2, 5, 10,
                                                           30, 60});
  prometheus::Family<prometheus::Counter>& store_writes =
      BuildCounter()
          .Name("lrogate_store_writes_total")
          .Help("Operation rows written, by write (insert, claim, progress, transition, renew, "
                "finish, cancel), and webhook outbox rows (delivery)")
          .Register(*registry);
  prometheus::Counter& unchanged_polls =
      BuildCounter()
          .Name("lrogate_polls_unchanged_total")
          .Help("Upstream polls whose answer changed nothing (not final, the same status)")
          .Register(*registry)
          .Add({});
  prometheus::Family<prometheus::Counter>& webhook_attempts =
      BuildCounter()
          .Name("lrogate_webhook_attempts_total")
          .Help("Webhook delivery attempts by outcome: delivered, retry (tried again later), "
                "failed (given up or disabled)")
          .Register(*registry);
  // Usage counted by this process's completions that took effect
  // (docs/design.md, "Usage and quotas").
  prometheus::Family<prometheus::Counter>& usage_operations =
      BuildCounter()
          .Name("lrogate_usage_operations_total")
          .Help("Succeeded analyses counted to each tenant by this process")
          .Register(*registry);
  prometheus::Family<prometheus::Counter>& usage_pages =
      BuildCounter()
          .Name("lrogate_usage_pages_total")
          .Help("Document pages the upstream reported, per tenant, counted by this process")
          .Register(*registry);
  prometheus::Family<prometheus::Counter>& usage_tokens =
      BuildCounter()
          .Name("lrogate_usage_tokens_total")
          .Help("Model tokens the upstream reported, per tenant, counted by this process")
          .Register(*registry);
  prometheus::Family<prometheus::Counter>& usage_bytes =
      BuildCounter()
          .Name("lrogate_usage_bytes_total")
          .Help("Bytes of submitted documents (in) and stored results (out), per tenant")
          .Register(*registry);
  prometheus::Histogram& webhook_latency =
      BuildHistogram()
          .Name("lrogate_webhook_delivery_seconds")
          .Help("From an operation's final transition to its event delivered")
          .Register(*registry)
          .Add({}, kLag);
  prometheus::Histogram& poll_lag = BuildHistogram()
                                        .Name("lrogate_poll_lag_seconds")
                                        .Help("From a poll being due to its outcome being recorded")
                                        .Register(*registry)
                                        .Add({}, kLag);
  prometheus::Family<prometheus::Histogram>& store = BuildHistogram()
                                                         .Name("lrogate_store_duration_seconds")
                                                         .Help("Store call latency by operation")
                                                         .Register(*registry);
  prometheus::Gauge& inflight = BuildGauge()
                                    .Name("lrogate_inflight_polls")
                                    .Help("Upstream polls in flight")
                                    .Register(*registry)
                                    .Add({});
  prometheus::Gauge& waiters = BuildGauge()
                                   .Name("lrogate_long_poll_waiters")
                                   .Help("Clients waiting in a long-poll")
                                   .Register(*registry)
                                   .Add({});
  prometheus::Family<prometheus::Histogram>& polls_per_op =
      BuildHistogram()
          .Name("lrogate_polls_per_operation")
          .Help("Upstream polls an analysis took until it was seen succeeded, by analyzer")
          .Register(*registry);
  prometheus::Family<prometheus::Histogram>& lateness =
      BuildHistogram()
          .Name("lrogate_completion_lateness_seconds")
          .Help("How late the gateway may have seen an analysis succeed: from the last poll "
                "that found it running (or its submit) to the poll that found it done, by "
                "analyzer (the upstream finished within it)")
          .Register(*registry);
  prometheus::Family<prometheus::Gauge>& learned =
      BuildGauge()
          .Name("lrogate_learned_duration_seconds")
          .Help("Learned completion time of an analyzer at a pool resource, by quantile "
                "(docs/design.md, \"Learned poll schedules\")")
          .Register(*registry);
  prometheus::Family<prometheus::Gauge>& learned_samples =
      BuildGauge()
          .Name("lrogate_learned_duration_samples")
          .Help("Completions the learned durations of an analyzer at a pool resource weigh")
          .Register(*registry);
  prometheus::Family<prometheus::Gauge>& operations = BuildGauge()
                                                          .Name("lrogate_operations")
                                                          .Help("Operations in the store by status")
                                                          .Register(*registry);
};

Metrics& m() {
  static Metrics instance;
  return instance;
}

}  // namespace

// Family::Add builds a label map, hashes it and takes the family's lock on
// every call; the hot paths (every request, every store call) remember what
// it returned instead, per thread. A family's metrics live as long as it.
template <class T, class Make>
T& remembered(const std::string& key, Make make) {
  thread_local std::unordered_map<std::string, T*> seen;
  auto it = seen.find(key);
  if (it != seen.end()) return *it->second;
  T& metric = make();
  seen.emplace(key, &metric);
  return metric;
}

void observe_request(std::string_view route, std::string_view method, int status, double seconds) {
  // The same lookup as remembered(), without building a key: a thread sees a
  // few dozen (route, method, status) triples, compared in place.
  struct Seen {
    std::string route, method;
    int status;
    prometheus::Counter* count;
    prometheus::Histogram* latency;
  };
  thread_local std::vector<Seen> seen;
  for (const Seen& s : seen) {
    if (s.status == status && s.method == method && s.route == route) {
      s.count->Increment();
      s.latency->Observe(seconds);
      return;
    }
  }
  auto& x = m();
  std::string key("l|");
  key.append(route);
  prometheus::Histogram& latency =
      remembered<prometheus::Histogram>(key, [&]() -> prometheus::Histogram& {
        return x.latency.Add({{"route", std::string(route)}}, kLatency);
      });
  prometheus::Counter& count = x.requests.Add({{"route", std::string(route)},
                                               {"method", std::string(method)},
                                               {"status", std::to_string(status)}});
  seen.push_back({std::string(route), std::string(method), status, &count, &latency});
  count.Increment();
  latency.Observe(seconds);
}

void count_upstream_call(std::string_view call, std::string_view outcome) {
  m().upstream.Add({{"call", std::string(call)}, {"outcome", std::string(outcome)}}).Increment();
}

void count_resource_call(std::string_view resource, std::string_view call,
                         std::string_view outcome, bool throttled) {
  std::string key("r|");
  key.append(resource).append("|").append(call).append("|").append(outcome);
  remembered<prometheus::Counter>(key, [&]() -> prometheus::Counter& {
    return m().resource_calls.Add({{"resource", std::string(resource)},
                                   {"call", std::string(call)},
                                   {"outcome", std::string(outcome)}});
  }).Increment();
  if (throttled) {
    m().resource_429s.Add({{"resource", std::string(resource)}, {"call", std::string(call)}})
        .Increment();
  }
}

void set_resource_state(std::string_view resource, std::string_view breaker, bool draining,
                        int calls_in_flight) {
  auto& x = m();
  std::string r(resource);
  for (const char* s : {"closed", "half_open", "open"}) {
    x.breaker.Add({{"resource", r}, {"state", s}}).Set(breaker == s ? 1 : 0);
  }
  x.draining.Add({{"resource", r}}).Set(draining ? 1 : 0);
  x.resource_inflight.Add({{"resource", r}}).Set(calls_in_flight);
}

void count_shared_budget(std::string_view resource, std::string_view budget, int asked,
                         int granted, bool failed) {
  auto count = [&](const char* outcome, int n) {
    if (n <= 0) return;
    std::string key("b|");
    key.append(resource).append("|").append(budget).append("|").append(outcome);
    remembered<prometheus::Counter>(key, [&]() -> prometheus::Counter& {
      return m().shared_budget.Add({{"resource", std::string(resource)},
                                    {"budget", std::string(budget)},
                                    {"outcome", outcome}});
    }).Increment(n);
  };
  count("asked", asked);
  count("granted", granted);
  count("failed", failed ? 1 : 0);
}

void set_resource_budget(std::string_view resource, std::string_view budget, double used) {
  m().budget.Add({{"resource", std::string(resource)}, {"budget", std::string(budget)}}).Set(used);
}

void set_open_by_resource(const std::vector<std::pair<std::string, std::int64_t>>& open) {
  for (const auto& [resource, n] : open) {
    m().open_by_resource.Add({{"resource", resource}}).Set(static_cast<double>(n));
  }
}

void set_submit_queue(double waiting) { m().submit_queue.Set(waiting); }
void observe_submit_queue_wait(double seconds) { m().submit_queue_wait.Observe(seconds); }

void observe_poll_lag(double seconds) { m().poll_lag.Observe(seconds); }

void count_store_writes(std::string_view write, std::int64_t rows) {
  if (rows <= 0) return;
  std::string key("w|");
  key.append(write);
  remembered<prometheus::Counter>(key, [&]() -> prometheus::Counter& {
    return m().store_writes.Add({{"write", std::string(write)}});
  }).Increment(static_cast<double>(rows));
}

void count_unchanged_poll() { m().unchanged_polls.Increment(); }

void count_webhook_attempt(std::string_view outcome) {
  std::string key("w|");
  key.append(outcome);
  remembered<prometheus::Counter>(key, [&]() -> prometheus::Counter& {
    return m().webhook_attempts.Add({{"outcome", std::string(outcome)}});
  }).Increment();
}

void count_usage(std::string_view tenant, std::int64_t pages, std::int64_t tokens,
                 std::int64_t bytes_in, std::int64_t bytes_out) {
  // One lookup per family, remembered per thread like the others.
  auto counter = [&](char family, auto add) -> prometheus::Counter& {
    std::string key("u|");
    key[1] = family;
    key.append(tenant);
    return remembered<prometheus::Counter>(key, add);
  };
  const std::string t(tenant);
  counter('o', [&]() -> prometheus::Counter& {
    return m().usage_operations.Add({{"tenant", t}});
  }).Increment();
  counter('p', [&]() -> prometheus::Counter& {
    return m().usage_pages.Add({{"tenant", t}});
  }).Increment(static_cast<double>(pages));
  counter('t', [&]() -> prometheus::Counter& {
    return m().usage_tokens.Add({{"tenant", t}});
  }).Increment(static_cast<double>(tokens));
  counter('i', [&]() -> prometheus::Counter& {
    return m().usage_bytes.Add({{"tenant", t}, {"direction", "in"}});
  }).Increment(static_cast<double>(bytes_in));
  counter('x', [&]() -> prometheus::Counter& {
    return m().usage_bytes.Add({{"tenant", t}, {"direction", "out"}});
  }).Increment(static_cast<double>(bytes_out));
}

void observe_webhook_delivered(double seconds) { m().webhook_latency.Observe(seconds); }

void observe_store(std::string_view operation, double seconds) {
  std::string key("s|");
  key.append(operation);
  remembered<prometheus::Histogram>(key, [&]() -> prometheus::Histogram& {
    return m().store.Add({{"operation", std::string(operation)}}, kStore);
  }).Observe(seconds);
}

void observe_completion(std::string_view analyzer, int polls, double lateness_seconds) {
  static const prometheus::Histogram::BucketBoundaries kPolls{1, 2, 3, 4, 5, 6, 8, 10,
                                                              13, 16, 20, 30, 50, 100};
  std::string key("P|");
  key.append(analyzer);
  remembered<prometheus::Histogram>(key, [&]() -> prometheus::Histogram& {
    return m().polls_per_op.Add({{"analyzer", std::string(analyzer)}}, kPolls);
  }).Observe(polls);
  key[0] = 'L';
  remembered<prometheus::Histogram>(key, [&]() -> prometheus::Histogram& {
    return m().lateness.Add({{"analyzer", std::string(analyzer)}}, kLag);
  }).Observe(lateness_seconds);
}

void set_learned_durations(const std::vector<LearnedDuration>& learned) {
  auto& x = m();
  for (const auto& l : learned) {
    prometheus::Labels at{{"resource", l.resource}, {"analyzer", l.analyzer}};
    x.learned_samples.Add(at).Set(static_cast<double>(l.samples));
    at["quantile"] = "0.5";
    x.learned.Add(at).Set(l.median_seconds);
    at["quantile"] = "0.9";
    x.learned.Add(at).Set(l.p90_seconds);
  }
}

void set_inflight_polls(double n) { m().inflight.Set(n); }
void set_long_poll_waiters(double n) { m().waiters.Set(n); }

void set_operations(const std::vector<std::pair<std::string, int>>& by_status) {
  auto& x = m();
  for (const char* s : {"NotStarted", "Running", "Succeeded", "Failed", "Canceled"}) {
    int n = 0;
    for (const auto& [name, count] : by_status) {
      if (name == s) n = count;
    }
    x.operations.Add({{"status", s}}).Set(n);
  }
}

std::string render() { return prometheus::TextSerializer().Serialize(m().registry->Collect()); }

}  // namespace lrogate::metrics
