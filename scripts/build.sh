#!/usr/bin/env bash
# Configures and builds leafsync into build/ (or $1 with extra CMake arguments after it).
# The one build command: the test command, the demo and the container build all call it.
set -euo pipefail
cd "$(dirname "$0")/.."
dir=${1:-build}
shift || true
launcher=()
# ccache is optional; where a machine has it, clones, worktrees and rebuilds share compiled
# objects: paths are made relative to the checkout and the build directory is left out of the
# hash, so a fresh clone anywhere hits the objects another checkout compiled.
if command -v ccache >/dev/null; then
    launcher=(-DCMAKE_CXX_COMPILER_LAUNCHER=ccache -DCMAKE_C_COMPILER_LAUNCHER=ccache)
    export CCACHE_BASEDIR=${CCACHE_BASEDIR:-$PWD} CCACHE_NOHASHDIR=${CCACHE_NOHASHDIR:-1}
fi
cmake -S . -B "$dir" -G Ninja -DCMAKE_BUILD_TYPE="${CMAKE_BUILD_TYPE:-RelWithDebInfo}" "${launcher[@]}" "$@" >/dev/null
cmake --build "$dir"
