#!/usr/bin/env bash
# Fuzzes the two codecs (the native event format and Debezium's envelopes) with libFuzzer: builds
# tests/fuzz with clang into build-fuzz/ (AddressSanitizer + UndefinedBehaviorSanitizer), then runs
# each target for SECONDS from its corpus. A target fails on a crash, a sanitizer report, an
# exception, or a broken invariant (see tests/fuzz/*Fuzz.cpp): the input that did it is written
# to build-fuzz/findings/ and its path printed; replay it with `build-fuzz/bin/leafsync-fuzz-NAME FILE`.
# The corpus grows in build-fuzz/corpus-NAME/ across runs, seeded from tests/fuzz/corpus/NAME/.
#
# Usage: scripts/fuzz.sh [SECONDS]     (per target; default 60)
# Exit codes: 0 nothing found, 1 a finding or a failed build, 2 usage.
set -euo pipefail
cd "$(dirname "$0")/.."

usage() { sed -n '2,/^set -euo/{/^set -euo/d;s/^# \{0,1\}//;p;}' "$0"; }
case ${1:-} in -h | --help) usage; exit 0 ;; esac
seconds=${1:-60}
[[ $seconds =~ ^[0-9]+$ ]] || { usage >&2; exit 2; }
command -v clang++ >/dev/null || { echo "fuzz.sh: clang++ missing: scripts/install-deps.sh installs it" >&2; exit 1; }

launcher=()
if command -v ccache >/dev/null; then launcher=(-DCMAKE_CXX_COMPILER_LAUNCHER=ccache); fi
cmake -S . -B build-fuzz -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo -DCMAKE_CXX_COMPILER=clang++ \
  -DLEAFSYNC_FUZZ=ON "${launcher[@]}" >/dev/null
cmake --build build-fuzz >/dev/null
mkdir -p build-fuzz/findings

status=0
for name in event debezium; do
  case $name in event) seeds=tests/fuzz/corpus/native ;; *) seeds=tests/fuzz/corpus/$name ;; esac
  corpus=build-fuzz/corpus-$name
  mkdir -p "$corpus"
  log=build-fuzz/fuzz-$name.log
  # -max_len: a Kafka message is larger, but the codecs' paths are all reached well below it.
  if build-fuzz/bin/leafsync-fuzz-$name -max_total_time="$seconds" -max_len=65536 -timeout=10 \
    -rss_limit_mb=1024 -print_final_stats=1 -artifact_prefix=build-fuzz/findings/$name- \
    "$corpus" "$seeds" >"$log" 2>&1; then
    echo "fuzz.sh: $name: $(grep -m1 -o 'Done [0-9]* runs in [0-9]* second(s)' "$log"), corpus $(find "$corpus" -type f | wc -l) inputs, $(grep -o 'cov: [0-9]*' "$log" | tail -n 1 | tr -d ' ') edges: nothing found"
  else
    status=1
    tail -n 30 "$log" >&2
    echo "fuzz.sh: $name: FINDING, input in $(grep -o "build-fuzz/findings/$name-[^ ]*" "$log" | tail -n 1) (log $log)" >&2
  fi
done
exit "$status"
