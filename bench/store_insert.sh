#!/usr/bin/env bash
# Concurrent inserts on SQLite with and without group commit
# (bench/store_insert.cpp): builds the benchmark (Google Benchmark,
# libbenchmark-dev) and runs it 5 times, medians reported.
set -euo pipefail
cd "$(dirname "$0")/.."
EXTRA_CMAKE_ARGS="-DLROGATE_BENCH=ON" bash scripts/build.sh >/dev/null
build/store_insert_bench --benchmark_repetitions=5 --benchmark_report_aggregates_only=true \
  --benchmark_min_time=0.5 "$@"
