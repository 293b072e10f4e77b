#!/usr/bin/env bash
# The test command: installs what is missing, builds, runs every test
# (unit tests with ctest, integration tests with pytest against real
# processes on 127.0.0.1). .ci/run calls exactly this.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/install-deps.sh --test
bash scripts/build.sh
echo "== unit tests"
(cd build && ctest --output-on-failure -j 2)
echo "== integration tests"
# Debian's interpreter, where python3-pytest lives (PATH may offer another).
LROGATE_BIN="$PWD/build/lrogate" /usr/bin/python3 -m pytest -q -n 2 -p no:cacheprovider tests/integration
