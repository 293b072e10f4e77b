// Concurrent inserts on SQLite, with and without group commit
// (sqlite_store.cpp, insert()): T threads each insert new operations as fast
// as they can, as the store threads do under a burst of submits. Both
// variants run in the same process, one after the other, on a fresh file
// each. Run by bench/store_insert.sh.
#include <benchmark/benchmark.h>
#include <unistd.h>

#include <atomic>
#include <filesystem>
#include <iostream>
#include <mutex>

#include "store/sqlite/sqlite_store.h"

namespace {

using namespace lrogate;
using store::OperationStore;

OperationStore& store_for(bool group_commit) {
  static std::unique_ptr<OperationStore> stores[2];
  static std::once_flag once[2];
  std::call_once(once[group_commit], [group_commit] {
    auto dir = std::filesystem::temp_directory_path() /
               ("lrogate-bench-insert-" + std::to_string(::getpid()));
    std::filesystem::create_directories(dir);
    auto path = dir / (group_commit ? "grouped.db" : "single.db");
    auto r = store::sqlite::open(path.string(), {group_commit});
    if (!r) {
      std::cerr << "cannot open the store: " << r.error().message << "\n";
      std::exit(2);
    }
    stores[group_commit] = std::move(r).value();
  });
  return *stores[group_commit];
}

std::atomic<long> next_id{0};

void inserts(benchmark::State& state, bool group_commit) {
  OperationStore& st = store_for(group_commit);
  store::Operation op;
  op.analyzer_id = "prebuilt-layout";
  op.tenant = "default";
  op.status = store::Status::kNotStarted;
  op.created_at = op.updated_at = 1'700'000'000'000;
  op.next_poll_at = op.created_at + 1000;
  for (auto _ : state) {
    op.id = "op-" + std::to_string(next_id.fetch_add(1));
    op.upstream_url = "http://127.0.0.1:9/contentunderstanding/analyzerResults/" + op.id;
    if (auto r = st.insert(op); !r) state.SkipWithError(r.error().message.c_str());
  }
  state.SetItemsProcessed(state.iterations());
}

void grouped(benchmark::State& state) { inserts(state, true); }
void single(benchmark::State& state) { inserts(state, false); }

BENCHMARK(single)->ThreadRange(1, 8)->UseRealTime();
BENCHMARK(grouped)->ThreadRange(1, 8)->UseRealTime();

}  // namespace

BENCHMARK_MAIN();
