#!/usr/bin/env bash
# Installs the Debian packages lrogate needs to build, run and test — only
# those missing. Debian bookworm. Never libboost-dev/libboost-all-dev (Boost
# 1.74, no Boost.JSON/URL, conflicts with 1.81).
set -euo pipefail

BUILD_PACKAGES=(
  g++ cmake ninja-build pkg-config ccache ca-certificates
  libboost1.81-dev libboost-json1.81-dev libboost-url1.81-dev
  libssl-dev libsqlite3-dev libpq-dev libspdlog-dev libfmt-dev libcli11-dev prometheus-cpp-dev
  libcjose-dev libjansson-dev libtomlplusplus-dev
)
TEST_PACKAGES=(
  libgtest-dev libgmock-dev openssl curl
  python3 python3-pytest python3-pytest-xdist
  clang-14 libclang-rt-14-dev
  postgresql faketime
  chromium
)

# The benchmarks' references: wrk, nginx, and what the original design runs on.
BENCH_PACKAGES=(wrk nginx-light python3 python3-fastapi python3-uvicorn python3-httpx
  libbenchmark-dev postgresql libjemalloc2)

want=("${BUILD_PACKAGES[@]}")
if [[ "${1:-}" == "--test" ]]; then
  want+=("${TEST_PACKAGES[@]}")
  # The dashboard's browser test runs on Node.js; Debian's will do where the
  # machine has none of its own.
  if ! command -v node >/dev/null || ! command -v npm >/dev/null; then want+=(nodejs npm); fi
fi
if [[ "${1:-}" == "--bench" ]]; then want+=("${BENCH_PACKAGES[@]}"); fi
if [[ "${1:-}" == "--run" ]]; then want+=(curl); fi

missing=()
for p in "${want[@]}"; do
  if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed"; then
    missing+=("$p")
  fi
done
if ((${#missing[@]})); then
  echo "installing: ${missing[*]}" >&2
  SUDO=""
  if [[ $(id -u) -ne 0 ]]; then SUDO="sudo"; fi
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}" >&2
fi

# The browser test's driver: playwright-core from npm, pinned by
# tests/ui/package-lock.json. It drives Debian's /usr/bin/chromium and never
# downloads a browser of its own.
if [[ "${1:-}" == "--test" ]]; then
  ui="$(dirname "$0")/../tests/ui"
  if [[ ! -d "$ui/node_modules/playwright-core" || ! -d "$ui/node_modules/@azure-rest/ai-document-intelligence" || "$ui/package-lock.json" -nt "$ui/node_modules" ]]; then
    echo "installing tests/ui npm packages" >&2
    PLAYWRIGHT_SKIP_BROWSER_DOWNLOAD=1 npm ci --prefix "$ui" --no-audit --no-fund --loglevel=error >&2
  fi
fi
