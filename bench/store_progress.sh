#!/usr/bin/env bash
# Progress writes on PostgreSQL, one statement each vs one per batch
# (bench/store_progress.cpp): starts a throw-away server on loopback, builds
# the benchmark (Google Benchmark, libbenchmark-dev) and runs it 3 times.
set -euo pipefail
cd "$(dirname "$0")/.."
EXTRA_CMAKE_ARGS="-DLROGATE_BENCH=ON" bash scripts/build.sh >/dev/null
dir="$(mktemp -d /tmp/lrogate-bench-pg.XXXXXX)"
trap 'bash scripts/pg-test-server.sh stop "$dir" || true; rm -rf "$dir"' EXIT
url="$(bash scripts/pg-test-server.sh start "$dir")"
LROGATE_BENCH_POSTGRES_URL="$url" build/store_progress_bench --benchmark_repetitions=3 \
  --benchmark_report_aggregates_only=true "$@"
