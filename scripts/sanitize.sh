#!/usr/bin/env bash
# Builds the C++ core and tests with AddressSanitizer, UndefinedBehaviorSanitizer and LeakSanitizer
# and runs the C++ tests: use-after-free, overflow, leaks and undefined behaviour fail the run.
set -euo pipefail
cd "$(dirname "$0")/.."
export CCACHE_BASEDIR="$PWD"
BUILD=build/sanitize
cmake -S . -B "$BUILD" -G Ninja -DCMAKE_BUILD_TYPE=Debug -DKILN_BUILD_PYTHON=OFF -DKILN_BUILD_EXAMPLES=OFF \
  -DCMAKE_CXX_FLAGS="-fsanitize=address,undefined -fno-sanitize-recover=undefined -fno-omit-frame-pointer -O1" \
  -DCMAKE_EXE_LINKER_FLAGS="-fsanitize=address,undefined" >/dev/null
cmake --build "$BUILD" -j2
ASAN_OPTIONS=detect_leaks=1 "$BUILD"/kiln_tests --gtest_brief=1
