#!/usr/bin/env bash
# Builds src/ (the part libraries and the lrogate binary, not the tests)
# with clang-14 and -Wthread-safety -Werror in build-tsa-clang/: a guarded
# member touched without its mutex, or a REQUIRES function called without
# it, fails here (src/base/thread_annotations.h). No optimization and no
# debug info: only the warnings matter. clang-14 is one of install-deps.sh's
# test packages (the fuzz build uses it too).
set -euo pipefail
cd "$(dirname "$0")/.."
BUILD_DIR="${BUILD_DIR:-build-tsa-clang}"
export CCACHE_BASEDIR="$PWD" CCACHE_NOHASHDIR=1
cmake -S . -B "$BUILD_DIR" -G Ninja -DCMAKE_CXX_COMPILER=clang++-14 -DCMAKE_BUILD_TYPE=None \
  -DBUILD_TESTING=OFF -DCMAKE_CXX_FLAGS="-Wthread-safety -Werror" >/dev/null
ninja -C "$BUILD_DIR" -j "$(nproc)" lrogate
echo "thread-safety analysis: no warnings"
