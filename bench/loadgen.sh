#!/usr/bin/env bash
# Builds bench/loadgen.cpp (the open-loop load generator of bench 3) with
# g++ -O2 into $BUILD_DIR/loadgen (default build/, beside lrogate), only when
# the source is newer than the binary, and prints the binary's path. Needs
# Debian's Boost 1.81 headers, as the project does.
set -euo pipefail
cd "$(dirname "$0")/.."
BUILD_DIR="${BUILD_DIR:-build}"
out="$BUILD_DIR/loadgen"
if [[ ! -x "$out" || bench/loadgen.cpp -nt "$out" ]]; then
  mkdir -p "$BUILD_DIR"
  # Into a temporary name first: a benchmark running the old binary keeps it.
  ${CXX:-g++} -std=c++20 -O2 -g -Wall -Wextra -Werror -pthread \
    -DBOOST_ASIO_NO_DEPRECATED \
    bench/loadgen.cpp -o "$out.tmp.$$"
  mv -f "$out.tmp.$$" "$out"
fi
echo "$out"
