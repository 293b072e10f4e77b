#!/usr/bin/env bash
# Builds the libFuzzer targets with clang and runs each for FUZZ_SECONDS
# (default 60) from the seeds in tests/fuzz/corpus/<target>/. New inputs go
# to a scratch copy; a crashing input is kept in tests/fuzz/corpus/crashes/.
set -euo pipefail
cd "$(dirname "$0")/.."
export CCACHE_BASEDIR="$PWD" CCACHE_NOHASHDIR=1
cmake -S tests/fuzz -B build-fuzz -G Ninja -DCMAKE_CXX_COMPILER=clang++-14 >/dev/null
ninja -C build-fuzz
mkdir -p tests/fuzz/corpus/crashes
scratch="$(mktemp -d)"
trap 'rm -rf "$scratch"' EXIT
summary=()
for target in router status_parser duration api_keys framing json_check jwt; do
  mkdir -p "$scratch/$target"
  log="$scratch/$target.log"
  if ! ASAN_OPTIONS=detect_leaks=1 "build-fuzz/fuzz_$target" -max_total_time="${FUZZ_SECONDS:-60}" \
      -print_final_stats=1 -artifact_prefix="tests/fuzz/corpus/crashes/$target-" \
      "$scratch/$target" "tests/fuzz/corpus/$target" >"$log" 2>&1; then
    tail -40 "$log" >&2
    echo "fuzz_$target found a crash; the input is in tests/fuzz/corpus/crashes/" >&2
    exit 1
  fi
  runs=$(grep -o 'stat::number_of_executed_units: *[0-9]*' "$log" | grep -o '[0-9]*$' || echo "?")
  summary+=("fuzz_$target: $runs executions, no crash")
done
printf '%s\n' "${summary[@]}"
