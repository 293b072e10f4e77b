#!/usr/bin/env bash
# Configures and builds lrogate (and its unit tests) in build/ with ccache.
set -euo pipefail
cd "$(dirname "$0")/.."
BUILD_DIR="${BUILD_DIR:-build}"
# Cache hits across clones in other folders (CI clones afresh).
export CCACHE_BASEDIR="$PWD" CCACHE_NOHASHDIR=1
# shellcheck disable=SC2086  # EXTRA_CMAKE_ARGS is a list of -D flags
cmake -S . -B "$BUILD_DIR" -G Ninja -DCMAKE_BUILD_TYPE="${BUILD_TYPE:-RelWithDebInfo}" \
  -DBUILD_TESTING="${BUILD_TESTING:-ON}" ${EXTRA_CMAKE_ARGS:-} >/dev/null
ninja -C "$BUILD_DIR" -j "$(nproc)"
