#!/usr/bin/env bash
# The test command: installs what is missing, builds, runs every test
# (unit tests with ctest, integration tests with pytest against real
# processes on 127.0.0.1). .ci/run calls exactly this.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/install-deps.sh --test
bash scripts/build.sh
# Clang's thread-safety analysis over src/ (GUARDED_BY, REQUIRES, ...).
bash scripts/thread-safety.sh
# One throw-away PostgreSQL server for the whole run (the store contract
# suite and the replica tests make their own databases on it; the outage
# test starts a server of its own).
pgdir="$(mktemp -d /tmp/lrogate-pg.XXXXXX)"
trap 'bash scripts/pg-test-server.sh stop "$pgdir" || true; rm -rf "$pgdir"' EXIT
LROGATE_TEST_POSTGRES_URL="$(bash scripts/pg-test-server.sh start "$pgdir")"
export LROGATE_TEST_POSTGRES_URL
echo "== unit tests"
(cd build && ctest --output-on-failure -j 2)
echo "== integration tests"
# Debian's interpreter, where python3-pytest lives (PATH may offer another).
PYTEST=(/usr/bin/python3 -m pytest -q -n 2 -p no:cacheprovider tests/integration)
# The dashboard's browser test must run here, not skip.
export LROGATE_REQUIRE_BROWSER=1
LROGATE_REPORT_DIR="$PWD/build/reports" LROGATE_BIN="$PWD/build/lrogate" "${PYTEST[@]}"
echo "crash cycles: $(cat build/reports/crash-cycles.json 2>/dev/null || echo 'no report')"

echo "== the same tests under AddressSanitizer + UndefinedBehaviorSanitizer"
BUILD_DIR=build-asan BUILD_TYPE=Debug EXTRA_CMAKE_ARGS="-DLROGATE_SANITIZE=ON" bash scripts/build.sh
reports="$(mktemp -d)"
export ASAN_OPTIONS="log_path=$reports/asan:detect_leaks=1:abort_on_error=0"
export UBSAN_OPTIONS="log_path=$reports/ubsan:print_stacktrace=1"
status=0
(cd build-asan && ctest --output-on-failure -j 2) || status=1
LROGATE_BIN="$PWD/build-asan/lrogate" "${PYTEST[@]}" || status=1
if compgen -G "$reports/*" >/dev/null; then
  echo "sanitizer reports:" >&2
  cat "$reports"/* >&2
  status=1
fi
unset ASAN_OPTIONS UBSAN_OPTIONS
if [[ $status -ne 0 ]]; then exit 1; fi
echo "sanitizers: no reports"

echo "== fuzzing (libFuzzer, about a minute a target)"
bash scripts/fuzz.sh
