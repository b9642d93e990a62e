#!/usr/bin/env bash
# Configures and builds leafsync into build/ (or $1 with extra CMake arguments after it).
# The one build command: the test command, the demo and the container build all call it.
set -euo pipefail
cd "$(dirname "$0")/.."
dir=${1:-build}
shift || true
cmake -S . -B "$dir" -G Ninja -DCMAKE_BUILD_TYPE="${CMAKE_BUILD_TYPE:-RelWithDebInfo}" "$@" >/dev/null
cmake --build "$dir"
