#!/usr/bin/env bash
# Forwarded writes against the consumer's reads: do writes sent to the consumer (forwarded to
# the producer, answered once applied here) slow /ping and GET image, and what does a
# forwarded PUT cost against a PUT straight to the producer? Real processes on loopback
# (producer, forwarding consumer on SQLite, the local broker), measured with ab (keep-alive).
# Prints one table: each figure with its peer from the same run (reads alone; a direct PUT),
# the consumer's peak RSS and CPU per forwarded write. About a minute.
#
# Usage: bench/forward_bench.sh [--port-base P] [--seconds S] [--writers N]
#   --port-base P   consumer P, producer P+1 (default 28380)
#   --seconds S     length of each throughput run (default 5)
#   --writers N     concurrent forwarded writers (default 16)
# Environment: LEAFSYNC_TEST_BOOTSTRAP (a running broker; else one is started on
# CHECK_KAFKA_PORT, default 29292), LEAFSYNC_BUILD_DIR (default build).
set -euo pipefail

XP_TAG=forward-bench
# shellcheck source=bench/experiment_lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/experiment_lib.sh"

port_base=28380 seconds=5 writers=16
while (($#)); do
    case $1 in
        --port-base) port_base=$2; shift 2 ;;
        --seconds) seconds=$2; shift 2 ;;
        --writers) writers=$2; shift 2 ;;
        -h | --help) sed -n '2,/^set -euo/{/^set -euo/d;s/^# \{0,1\}//;p}' "${BASH_SOURCE[0]}"; exit 0 ;;
        *) xp_die "unknown argument '$1'" ;;
    esac
done
XP_BOOTSTRAP=${LEAFSYNC_TEST_BOOTSTRAP:-}
consumer=$port_base producer=$((port_base + 1))
work=$(mktemp -d "${TMPDIR:-/tmp}/leafsync-forward-bench.XXXXXX")
trap 'xp_stop_all; rm -rf "$work"' EXIT
trap 'exit 130' INT TERM

xp_need ab apache2-utils
xp_need curl curl
xp_require_free_ports "$consumer" "$producer"
xp_ensure_binaries
xp_kafka_up "${CHECK_KAFKA_PORT:-29292}"
xp_pipeline_setup "$work" fwd "$consumer" "$producer"
xp_start producer "$work/producer.log" "$XP_BIN/leafsync-producer" serve --config "$work/producer.yaml"
xp_start consumer "$work/consumer.log" env "LEAFSYNC_PRODUCER_URL=http://127.0.0.1:$producer" \
    "$XP_BIN/leafsync-consumer" --config "$work/consumer.yaml"
consumer_pid=$XP_LAST_PID
xp_wait_http "http://127.0.0.1:$producer/readyz" 30 || xp_die "the producer did not get ready"
xp_wait_http "http://127.0.0.1:$consumer/readyz" 60 "$consumer_pid" || xp_die "the consumer did not get ready"

body=$work/image.json
echo '{"camera_id": 1, "gps_coordinates": [48.1, 16.2], "data": "ffd8ffe0"}' >"$body"
curl -fsS -X PUT -H 'Content-Type: application/json' --data @"$body" "http://127.0.0.1:$consumer/image-plant/potato/" >/dev/null \
    || xp_die "a forwarded PUT failed"

# ab's figures: requests per second, mean and 99th-percentile time per request (ms), non-2xx
# answers (ab's "failed" also counts answers of another length than the first: every PUT).
ab_run() {
    ab -k -q "$@" 2>&1 | awk '
        /^Requests per second:/ {rps=$4}
        /^Time per request:.*\(mean\)$/ {mean=$4}
        /^ *99%/ {p99=$2}
        /^Non-2xx responses:/ {non2xx=$3}
        END {printf "%s %s %s %d\n", rps, mean, p99, non2xx}'
}
put_args=(-T application/json -u "$body")
ticks() { awk '{print $14 + $15}' "/proc/$consumer_pid/stat"; }
hz=$(getconf CLK_TCK)

ping_url=http://127.0.0.1:$consumer/ping
get_url=http://127.0.0.1:$consumer/image-plant/potato/1
read -r ping_alone _ _ _ < <(ab_run -c 4 -t "$seconds" -n 10000000 "$ping_url")
read -r get_alone _ _ _ < <(ab_run -c 4 -t "$seconds" -n 10000000 "$get_url")
read -r _ direct_mean direct_p99 direct_bad < <(ab_run -c 1 -n 300 "${put_args[@]}" "http://127.0.0.1:$producer/image-plant/potato/")
before=$(ticks)
read -r _ fwd_mean fwd_p99 fwd_bad < <(ab_run -c 1 -n 300 "${put_args[@]}" "http://127.0.0.1:$consumer/image-plant/potato/")
cpu_per_write_ms=$(awk -v d=$(($(ticks) - before)) -v hz="$hz" 'BEGIN {printf "%.2f", d * 1000 / hz / 300}')

# The reads again while `writers` forwarded writes run for longer than both read runs.
ab -k -q -c "$writers" -t $((2 * seconds + 4)) -n 10000000 "${put_args[@]}" "http://127.0.0.1:$consumer/image-plant/potato/" \
    >"$work/writers.txt" 2>&1 &
writers_pid=$!
sleep 1
read -r ping_loaded _ ping_loaded_p99 _ < <(ab_run -c 4 -t "$seconds" -n 10000000 "$ping_url")
read -r get_loaded _ _ _ < <(ab_run -c 4 -t "$seconds" -n 10000000 "$get_url")
wait "$writers_pid" || true
writes_rps=$(awk '/^Requests per second:/ {print $4}' "$work/writers.txt")
rss_mb=$(awk '/^VmHWM:/ {printf "%.0f", $2 / 1024}' "/proc/$consumer_pid/status")

ratio() { awk -v a="$1" -v b="$2" 'BEGIN {printf "%.2f", (b > 0 ? a / b : 0)}'; }
printf '| measure | value | peer (same run) | ratio |\n|---|---|---|---|\n'
printf '| /ping req/s, %d forwarded writers running | %s | %s alone | %s |\n' "$writers" "$ping_loaded" "$ping_alone" "$(ratio "$ping_loaded" "$ping_alone")"
printf '| /ping p99 ms, writers running | %s | | |\n' "$ping_loaded_p99"
printf '| GET image req/s, writers running | %s | %s alone | %s |\n' "$get_loaded" "$get_alone" "$(ratio "$get_loaded" "$get_alone")"
printf '| forwarded PUT, one connection: mean ms (p99) | %s (%s) | direct PUT %s (%s) | %s |\n' "$fwd_mean" "$fwd_p99" "$direct_mean" "$direct_p99" "$(ratio "$fwd_mean" "$direct_mean")"
printf '| forwarded PUTs/s, %d writers | %s | | |\n' "$writers" "$writes_rps"
printf '| consumer CPU per forwarded PUT ms; peak RSS MB | %s; %s | | |\n' "$cpu_per_write_ms" "$rss_mb"
((direct_bad + fwd_bad == 0)) || xp_log "warning: $direct_bad direct and $fwd_bad forwarded PUTs failed"
