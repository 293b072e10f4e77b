// Progress writes on PostgreSQL: one UPDATE per operation (record_progress,
// what the store did before) against one UPDATE ... FROM unnest(...) per
// batch (record_progress_many), for the batch sizes the poller writes. Each
// iteration claims `n` due operations (not timed) and records their
// progress (timed). Run by bench/store_progress.sh against a throw-away
// server; the URL comes from LROGATE_BENCH_POSTGRES_URL.
#include <benchmark/benchmark.h>

#include <cstdlib>
#include <iostream>

#include "store/operation_store.h"

namespace {

using namespace lrogate;
using store::OperationStore;

OperationStore& the_store() {
  static std::unique_ptr<OperationStore> s = [] {
    const char* url = std::getenv("LROGATE_BENCH_POSTGRES_URL");
    if (!url) {
      std::cerr << "set LROGATE_BENCH_POSTGRES_URL (bench/store_progress.sh does)\n";
      std::exit(2);
    }
    auto r = store::open_store(url);
    if (!r) {
      std::cerr << "cannot open the store: " << r.error().message << "\n";
      std::exit(2);
    }
    // Enough due operations for the largest batch.
    for (int i = 0; i < 512; ++i) {
      store::Operation op;
      op.id = "bench-" + std::to_string(i);
      op.analyzer_id = "a";
      op.upstream_url = "http://127.0.0.1:1/r/" + op.id;
      op.status = store::Status::kRunning;
      op.next_poll_at = 0;
      (void)r.value()->insert(op);
    }
    return std::move(r).value();
  }();
  return *s;
}

Millis clock_ms = 1;

void progress(benchmark::State& state, bool batched) {
  OperationStore& st = the_store();
  const int n = static_cast<int>(state.range(0));
  for (auto _ : state) {
    state.PauseTiming();
    Millis now = ++clock_ms;
    auto claimed = st.claim_due("bench", now, now + 60'000, n, {}).value();
    std::vector<OperationStore::ProgressItem> items;
    for (const auto& op : claimed) {
      items.push_back({op.id, {store::Status::kRunning, now, 0, now, op.fence}});
    }
    if (static_cast<int>(items.size()) != n) state.SkipWithError("not enough due operations");
    state.ResumeTiming();
    if (batched) {
      benchmark::DoNotOptimize(st.record_progress_many("bench", items).value());
    } else {
      for (const auto& it : items) {
        benchmark::DoNotOptimize(st.record_progress(it.id, "bench", it.progress).value());
      }
    }
  }
  state.SetItemsProcessed(state.iterations() * n);
}

void OneStatementEach(benchmark::State& state) { progress(state, false); }
void OneStatementABatch(benchmark::State& state) { progress(state, true); }

BENCHMARK(OneStatementEach)->Arg(16)->Arg(64)->Arg(256)->Unit(benchmark::kMillisecond);
BENCHMARK(OneStatementABatch)->Arg(16)->Arg(64)->Arg(256)->Unit(benchmark::kMillisecond);

}  // namespace

BENCHMARK_MAIN();
