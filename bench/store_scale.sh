#!/usr/bin/env bash
# The store's costs at 10k, 100k and 1M stored operations on both backends
# (bench/store_scale.cpp): builds the benchmark (Google Benchmark,
# libbenchmark-dev), starts a throw-away PostgreSQL server on loopback and
# runs SQLite then PostgreSQL. With --reference-bin PATH (a store_scale_bench
# built from another commit) each backend is run by that build first, then
# by this one, on the same server: the ratio is from one run.
#   bench/store_scale.sh [--reference-bin PATH] [benchmark flags...]
# LROGATE_BENCH_BACKENDS="sqlite" (or "postgresql") runs one backend only.
set -euo pipefail
cd "$(dirname "$0")/.."
ref=""
if [[ "${1:-}" == "--reference-bin" ]]; then
  ref="${2:?--reference-bin needs a path}"
  [[ -x "$ref" ]] || { echo "store_scale.sh: $ref is not an executable" >&2; exit 2; }
  shift 2
fi
EXTRA_CMAKE_ARGS="-DLROGATE_BENCH=ON" bash scripts/build.sh >/dev/null
dir="$(mktemp -d /tmp/lrogate-bench-pg.XXXXXX)"
trap 'bash scripts/pg-test-server.sh stop "$dir" || true; rm -rf "$dir"' EXIT
url="$(bash scripts/pg-test-server.sh start "$dir")"
bins=()
[[ -n "$ref" ]] && bins+=("$ref")
bins+=("$PWD/build/store_scale_bench")
for backend in ${LROGATE_BENCH_BACKENDS:-sqlite postgresql}; do
  for bin in "${bins[@]}"; do
    echo "== $backend: $bin"
    LROGATE_BENCH_BACKEND="$backend" LROGATE_BENCH_POSTGRES_URL="$url" "$bin" \
      --benchmark_repetitions=3 --benchmark_report_aggregates_only=true "$@"
  done
done
