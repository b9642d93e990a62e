#!/usr/bin/env bash
# bench/experiment.sh --sweep: when does the stream pay off, and by how much? Short real runs of
# bench/experiment.sh over a grid of image size × change rate × mix measure the per-event cost of
# the stream (Kafka wire bytes, compressed, both clients, both directions, per second of load)
# and the per-row cost of both batch strategies; bench/experiment_sweep.py scales them to bytes
# per hour at the real 600 s period for table sizes 1k, 10k, 100k (and LIMS's 3 × 2,157) and
# writes one table (report.md, stdout) and one chart (sweep-chart.png).
#
# Usage: bench/experiment.sh --sweep [--ci] [options]
#   --sizes LIST      image bytes to measure (default 4096,16384,65536)
#   --rates LIST      writes per second to measure (default 1,10,100)
#   --mixes LIST      create:update:delete mixes to measure (default 10:85:5,45:50:5)
#   --tables LIST     table sizes (images) to scale to (default 1000,10000,100000,6471)
#   --seed-images N   images in the measured source (default 1000)
#   --fetch-wait-ms M the consumer's fetch.wait.max.ms (default 1000: what stg, prod and dev ship;
#                     the idle polling it sets is a stream cost per hour)
#   --out DIR         results (default var/experiment/sweep-<UTC time>)
#   --bootstrap H:P, --kafka-port P, --port-base P   as bench/experiment.sh
#   --ci              the reduced grid of the test command: 4 KiB images, 10 and 100 writes/s,
#                     mix 10:85:5, 300 seed images, 10 s per point (under 3 minutes)
# Each point is one bench/experiment.sh run (period 5 s, both batch strategies) in DIR/points/.
set -euo pipefail

XP_TAG=sweep
# shellcheck source=bench/experiment_lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/experiment_lib.sh"
usage() { sed -n '2,/^set -euo/{/^set -euo/d;s/^# \{0,1\}//;p}' "${BASH_SOURCE[0]}"; }

sizes=4096,16384,65536 rates=1,10,100 mixes=10:85:5,45:50:5 tables=1000,10000,100000,6471
seed_images=1000 fetch_wait=1000 out="" kafka_port=29094 port_base=28080 ci=0 min_duration=15
XP_BOOTSTRAP=${LEAFSYNC_TEST_BOOTSTRAP:-}
while (($#)); do
    case $1 in
        --ci) ci=1; sizes=4096 rates=10,100 mixes=10:85:5 seed_images=300 min_duration=10; shift ;;
        --sizes) sizes=$2; shift 2 ;;
        --rates) rates=$2; shift 2 ;;
        --mixes) mixes=$2; shift 2 ;;
        --tables) tables=$2; shift 2 ;;
        --seed-images) seed_images=$2; shift 2 ;;
        --fetch-wait-ms) fetch_wait=$2; shift 2 ;;
        --out) out=$2; shift 2 ;;
        --bootstrap) XP_BOOTSTRAP=$2; shift 2 ;;
        --kafka-port) kafka_port=$2; shift 2 ;;
        --port-base) port_base=$2; shift 2 ;;
        -h | --help) usage; exit 0 ;;
        *) usage >&2; xp_die "unknown argument '$1'" ;;
    esac
done
[[ -n $out ]] || out=$XP_ROOT/var/experiment/sweep-$( ((ci)) && echo ci- )$(date -u +%Y%m%dT%H%M%SZ)
mkdir -p "$out/points"
out=$(cd "$out" && pwd)

trap 'xp_stop_all' EXIT
trap 'exit 130' INT TERM
xp_ensure_binaries
xp_kafka_up "$kafka_port"  # one broker for every point

IFS=, read -r -a size_list <<<"$sizes"
IFS=, read -r -a rate_list <<<"$rates"
IFS=, read -r -a mix_list <<<"$mixes"
n=$((${#size_list[@]} * ${#rate_list[@]} * ${#mix_list[@]})) i=0 started=$SECONDS
for mix in "${mix_list[@]}"; do
    for size in "${size_list[@]}"; do
        for rate in "${rate_list[@]}"; do
            i=$((i + 1))
            # Enough events to measure a per-event cost, at least min_duration seconds of load.
            duration=$(awk -v r="$rate" -v m="$min_duration" 'BEGIN { d = 30 / r; print (d > m ? d : m) }')
            point=$out/points/s${size}-r${rate}-m${mix//:/-}
            xp_log "point $i/$n: $size B images, $rate writes/s for $duration s, mix $mix ($((SECONDS - started)) s so far)"
            XP_FETCH_WAIT_MS=$fetch_wait "$XP_ROOT/bench/experiment.sh" --bootstrap "$XP_BOOTSTRAP" \
                --port-base "$port_base" --seed-images "$seed_images" --image-bytes "$size" --rate "$rate" \
                --duration "$duration" --mix "$mix" --period 5 --out "$point" >"$point.log" 2>&1 \
                || { tail -20 "$point.log" >&2; xp_die "point $point failed (log: $point.log)"; }
        done
    done
done
xp_log "measured $n points in $((SECONDS - started)) s"

PY=python3
for p in python3 /usr/bin/python3; do "$p" -c 'import matplotlib' 2>/dev/null && { PY=$p; break; }; done
report_args=(--points "$out/points" --out "$out" --tables "$tables" --fetch-wait-ms "$fetch_wait")
((ci)) && report_args+=(--ci)
"$PY" "$XP_ROOT/bench/experiment_sweep.py" "${report_args[@]}"
