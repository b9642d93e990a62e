#!/usr/bin/env bash
# Builds leafsync-bench-apply, makes sure the local Kafka broker is up, and runs the bench
# RUNS times (default 3), printing each run's table.
#
# Usage: bench/run.sh [RUNS] [-- BENCH-ARGS...]
#   e.g. bench/run.sh 3 -- --events 100000 --no-mix
# Environment: BUILD_DIR (default build), LEAFSYNC_BOOTSTRAP_SERVERS (default 127.0.0.1:9092;
# only 127.0.0.1:9092 is started by this script).
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
BUILD_DIR=${BUILD_DIR:-$ROOT/build}
RUNS=3
if [[ $# -gt 0 && $1 != -- ]]; then
    RUNS=$1
    shift
fi
[[ $# -gt 0 && $1 == -- ]] && shift
[[ $RUNS =~ ^[1-9][0-9]*$ ]] || { echo "bench/run.sh: RUNS must be a positive integer" >&2; exit 2; }

if [[ ! -f $BUILD_DIR/build.ninja && ! -f $BUILD_DIR/Makefile ]]; then
    cmake -S "$ROOT" -B "$BUILD_DIR" -G Ninja >&2
fi
cmake --build "$BUILD_DIR" --target leafsync-bench-apply >&2

if [[ -z ${LEAFSYNC_BOOTSTRAP_SERVERS:-} || ${LEAFSYNC_BOOTSTRAP_SERVERS} == 127.0.0.1:9092 ]]; then
    "$ROOT/scripts/kafka.sh" status >/dev/null 2>&1 || "$ROOT/scripts/kafka.sh" start >&2
fi

for ((i = 1; i <= RUNS; i++)); do
    echo "=== run $i of $RUNS ($(date -u +%FT%TZ), load $(cut -d' ' -f1-3 /proc/loadavg))"
    "$BUILD_DIR/bin/leafsync-bench-apply" "$@"
    echo
done
