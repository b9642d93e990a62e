#!/usr/bin/env bash
# bench/latency: leafsync's end-to-end latency at steady rates against the floor measured in the
# same run on the same broker and disk.
#
#   floor     leafsync-bench-latency-floor: a bare librdkafka produce → consume round trip
#             (idempotent producer, acks=all) at 1,000 messages/s, and one single-row commit in
#             a SQLite copy (Store::applyBatch of one create and its offset); floor = the sum of
#             the two at each quantile
#   leafsync  per rate: a fresh pipeline (topics, source, copy); `leafsync-producer load` writes
#             new images at that rate through the image-api's write path into the source and its
#             outbox, its own relay publishes them; a `leafsync-consumer` applies them to its copy.
#             Latency per event, exact: the copy's applied_ms minus the source_ts_ms the write
#             stamped (every event a create of a new id, so every row is one event)
#   idle      the consumer's CPU and Kafka wire bytes over --idle seconds, from 12 s after
#             everything is applied (its watermark refreshes slow down once all is calm)
#
# Usage: bench/latency.sh [options]
#   --rates LIST       comma-separated events per second (default 100,1000,10000)
#   --duration S       seconds of measured load per rate (default 10)
#   --warmup S         seconds of load before it, left out of the figures (default 2)
#   --image-bytes B    bytes per image (default 1024)
#   --idle S           seconds of the idle measurement (default 10; 0: none)
#   --bootstrap H:P    Kafka broker (default: $LEAFSYNC_TEST_BOOTSTRAP, else our own on --kafka-port)
#   --kafka-port P     port of our own broker when none is given (default 29094)
#   --port-base P      consumer's HTTP port (default 28180)
#   --out DIR          results (default var/latency/<UTC time>): table.md, per-rate samples and logs
#   --apply-set K=V    an extra key of the consumer's apply: section (repeatable), e.g. linger_ms=20
#   --kafka-set K=V    a librdkafka property of both services (repeatable), e.g. fetch.wait.max.ms=500
#                      (the runs' kafka.json has the tests' fetch.wait.max.ms=50, statistics.interval.ms=1000)
#   --perf             `perf record -g` of the consumer over each rate's load: rate-N/perf.data
#                      (read it with `perf report -i rate-N/perf.data --sort comm,dso,sym`)
# Prints one table: p50/p99/p99.9/max per rate and their ratio to the floor, CPU seconds per 1,000
# events of consumer and producer, peak RSS of each.
#
# Environment: LEAFSYNC_BUILD_DIR (default build), LEAFSYNC_TEST_BOOTSTRAP.
set -euo pipefail

XP_TAG=latency
# shellcheck source=bench/experiment_lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/experiment_lib.sh"

usage() { sed -n '2,/^set -euo/{/^set -euo/d;s/^# \{0,1\}//;p}' "${BASH_SOURCE[0]}"; }

rates=100,1000,10000 duration=10 warmup=2 image_bytes=1024 idle=10 kafka_port=29094 port_base=28180 out="" perf=0
apply_set=() kafka_set=()
XP_BOOTSTRAP=${LEAFSYNC_TEST_BOOTSTRAP:-}
while (($#)); do
    case $1 in
        --rates) rates=$2; shift 2 ;;
        --duration) duration=$2; shift 2 ;;
        --warmup) warmup=$2; shift 2 ;;
        --image-bytes) image_bytes=$2; shift 2 ;;
        --idle) idle=$2; shift 2 ;;
        --bootstrap) XP_BOOTSTRAP=$2; shift 2 ;;
        --kafka-port) kafka_port=$2; shift 2 ;;
        --port-base) port_base=$2; shift 2 ;;
        --out) out=$2; shift 2 ;;
        --apply-set) apply_set+=("$2"); shift 2 ;;
        --kafka-set) kafka_set+=("$2"); shift 2 ;;
        --perf) perf=1; shift ;;
        -h | --help) usage; exit 0 ;;
        *) usage >&2; xp_die "unknown argument '$1'" ;;
    esac
done
IFS=, read -r -a rate_list <<<"$rates"
[[ -n $out ]] || out=$XP_ROOT/var/latency/$(date -u +%Y%m%dT%H%M%SZ)
mkdir -p "$out"
out=$(cd "$out" && pwd)

trap 'xp_stop_all' EXIT
trap 'exit 130' INT TERM

xp_need /usr/bin/time time
((perf == 0)) || xp_need perf perf
xp_ensure_binaries
[[ -x $XP_BIN/leafsync-bench-latency-floor ]] \
    || cmake --build "$XP_BUILD_DIR" --target leafsync-bench-latency-floor >&2 || xp_die "build failed"
xp_kafka_up "$kafka_port"
xp_require_free_ports "$port_base"

# The process's user+system CPU seconds so far (/proc/PID/stat fields 14 and 15).
cpu_seconds() {
    awk -v hz="$(getconf CLK_TCK)" '{ sub(/^.*\) /, ""); printf "%.3f\n", ($12 + $13) / hz }' "/proc/$1/stat"
}
# Per thread of the process: "tid name cpu_ticks" (threads are named by librdkafka: rdk:main,
# rdk:broker<id>, …; ours ls:consumer, ls:apply; the HTTP threads keep the binary's name), for
# the load's and the idle window's breakdowns.
thread_ticks() {
    local t
    for t in /proc/"$1"/task/*; do
        printf '%s %s %s\n' "${t##*/}" "$(tr ' ' '_' <"$t/comm")" \
            "$(awk '{ sub(/^.*\) /, ""); print $12 + $13 }' "$t/stat" 2>/dev/null || echo 0)"
    done
}
# The consumer's Kafka wire bytes so far, both directions, every client (librdkafka's
# statistics, every statistics.interval.ms: 1 s in the runs' kafka.json).
wire_bytes() {
    curl -fsS "http://127.0.0.1:$1/metrics" | awk '/^leafsync_wire_bytes_total/ { s += $NF } END { printf "%.0f\n", s }'
}
peak_rss_kib() { awk '/^VmHWM:/ {print $2}' "/proc/$1/status"; }
# thread_share T0 T1 SECONDS: the CPU between two thread_ticks files per thread name, busiest
# first, as a share of a core.
thread_share() {
    awk -v hz="$(getconf CLK_TCK)" -v s="$3" 'NR == FNR { t0[$1] = $3; next }
        { cpu[$2] += $3 - t0[$1]; n[$2]++ }
        END { for (k in cpu) printf "%-20s %3d threads %7.3f %% of a core\n", k, n[k], 100 * cpu[k] / hz / s }' \
        "$1" "$2" | sort -k4 -nr
}
copy_rows() {  # rows in the copy's three plant tables
    sqlite3 -readonly "$1" "SELECT (SELECT count(*) FROM image_potato) + (SELECT count(*) FROM image_tomato)
                             + (SELECT count(*) FROM image_pepper)" 2>/dev/null || echo 0
}

xp_log "floor: librdkafka round trip at 1000/s for $duration s, single-row SQLite commits"
"$XP_BIN/leafsync-bench-latency-floor" --bootstrap "$XP_BOOTSTRAP" --rate 1000 --duration "$duration" \
    >"$out/floor.txt" 2>"$out/floor.log" || xp_die "the floor failed: $(cat "$out/floor.log")"

for rate in "${rate_list[@]}"; do
    dir=$out/rate-$rate
    rm -rf "$dir"
    mkdir -p "$dir"
    xp_pipeline_setup "$dir" "lat$rate" "$port_base" 0
    for kv in "${apply_set[@]}"; do
        sed -i "s/^apply: {/apply: {${kv%%=*}: ${kv#*=}, /" "$dir/consumer.yaml"
    done
    for kv in "${kafka_set[@]}"; do
        jq --arg k "${kv%%=*}" --arg v "${kv#*=}" '.[$k] = $v' "$dir/kafka.json" >"$dir/kafka.json.new"
        mv "$dir/kafka.json.new" "$dir/kafka.json"
    done
    sed -i 's/^log_level: info/log_level: warn/' "$dir/consumer.yaml" "$dir/producer.yaml"
    xp_start consumer "$dir/consumer.log" "$XP_BIN/leafsync-consumer" --config "$dir/consumer.yaml"
    consumer_pid=$XP_LAST_PID
    xp_wait_http "http://127.0.0.1:$port_base/readyz" 60 "$consumer_pid" || xp_die "the consumer did not get ready"
    sleep 1
    # The load runs --warmup seconds longer; the report leaves out the events of its first
    # --warmup seconds (the relay's producer connecting and acquiring its idempotence id).
    expected=$(awk -v r="$rate" -v d="$duration" -v w="$warmup" 'BEGIN { printf "%d", r * (d + w) }')
    cpu0=$(cpu_seconds "$consumer_pid")
    thread_ticks "$consumer_pid" >"$dir/load_threads.0"
    load_started=$SECONDS
    perf_pid=""
    if ((perf)); then
        perf record -g -q -o "$dir/perf.data" -p "$consumer_pid" 2>"$dir/perf.log" &
        perf_pid=$!
    fi
    xp_log "rate $rate/s: $expected creates of $image_bytes B"
    /usr/bin/time -f '%U %S %M' -o "$dir/producer.time" "$XP_BIN/leafsync-producer" load --config "$dir/producer.yaml" \
        --rate "$rate" --duration "$((duration + warmup))" --mix 100:0:0 --image-bytes "$image_bytes" --seed "$rate" \
        >"$dir/load.out" 2>"$dir/load.log" || xp_die "the load failed: $(tail -3 "$dir/load.log")"
    deadline=$((SECONDS + 120))
    while (($(copy_rows "$dir/consumer_plant_db.sqlite") < expected)); do
        ((SECONDS < deadline)) || xp_die "rate $rate: the copy holds $(copy_rows "$dir/consumer_plant_db.sqlite") of $expected rows after 120 s"
        kill -0 "$consumer_pid" 2>/dev/null || xp_die "the consumer exited (see $dir/consumer.log)"
        sleep 0.1
    done
    cpu1=$(cpu_seconds "$consumer_pid")
    thread_ticks "$consumer_pid" >"$dir/load_threads.1"
    if [[ -n $perf_pid ]]; then
        kill -INT "$perf_pid" 2>/dev/null || true
        wait "$perf_pid" 2>/dev/null || true
    fi
    # Where the consumer's CPU of the load went, per thread name.
    thread_share "$dir/load_threads.0" "$dir/load_threads.1" "$((SECONDS - load_started))" >"$dir/consumer.load_threads"
    idle_cpu="" idle_wire=""
    if [[ $rate == "${rate_list[-1]}" ]] && ((idle > 0)); then
        # Past the consumer's busy refreshes after its last commit (GroupConsumer::kSettle).
        sleep 12
        i0=$(cpu_seconds "$consumer_pid")
        w0=$(wire_bytes "$port_base")
        thread_ticks "$consumer_pid" >"$dir/idle_threads.0"
        sleep "$idle"
        idle_cpu=$(awk -v a="$i0" -v b="$(cpu_seconds "$consumer_pid")" -v s="$idle" 'BEGIN { printf "%.4f", (b - a) / s }')
        idle_wire=$(awk -v a="$w0" -v b="$(wire_bytes "$port_base")" -v s="$idle" 'BEGIN { printf "%.0f", (b - a) / s }')
        thread_ticks "$consumer_pid" >"$dir/idle_threads.1"
        # Share of a core per thread name over the idle window, busiest first.
        thread_share "$dir/idle_threads.0" "$dir/idle_threads.1" "$idle" >"$dir/consumer.idle_threads"
        awk '/^Threads:/ {print $2}' "/proc/$consumer_pid/status" >"$dir/consumer.threads"
    fi
    read -r pu ps prss <"$dir/producer.time"
    {
        echo "rate=$rate"
        echo "events=$expected"
        echo "consumer_cpu_s=$(awk -v a="$cpu0" -v b="$cpu1" 'BEGIN { printf "%.3f", b - a }')"
        echo "consumer_rss_kib=$(peak_rss_kib "$consumer_pid")"
        echo "producer_cpu_s=$(awk -v a="$pu" -v b="$ps" 'BEGIN { printf "%.3f", a + b }')"
        echo "producer_rss_kib=$prss"
        echo "idle_cpu_fraction=$idle_cpu"
        echo "idle_wire_bytes_per_s=${idle_wire:-}"
        echo "load=$(cut -d' ' -f1 /proc/loadavg)"
    } >"$dir/figures.txt"
    sqlite3 -readonly -csv "$dir/consumer_plant_db.sqlite" \
        "SELECT source_ts_ms, applied_ms FROM image_potato UNION ALL SELECT source_ts_ms, applied_ms FROM image_tomato
         UNION ALL SELECT source_ts_ms, applied_ms FROM image_pepper" >"$dir/latency_ms.csv"
    own_broker=$XP_STARTED_KAFKA XP_STARTED_KAFKA=""  # the broker serves the next rate too
    xp_stop_all
    XP_STARTED_KAFKA=$own_broker
    rm -f "$dir"/*.sqlite "$dir"/*.sqlite-wal "$dir"/*.sqlite-shm
done

python3 "$XP_ROOT/bench/latency_report.py" "$out" "$warmup" "${rate_list[@]}" | tee "$out/table.md"
