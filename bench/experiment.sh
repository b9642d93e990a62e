#!/usr/bin/env bash
# The stream-versus-batch experiment: one workload through leafsync's stream (outbox relay →
# Kafka → consumer) and through the batch baseline (leafsync-batch-sync, full and watermark)
# side by side, measured with their own /metrics, /proc and the copies themselves.
#
# Usage: bench/experiment.sh [--ci] [options]
#   --rate N            writes per second during the measured window (default 20)
#   --duration S        seconds of load (default 1200 = two batch periods)
#   --mix C:U:D         create:update:delete weights (default 10:85:5: metadata updates dominate)
#   --image-bytes B     bytes per image (default 16384, a leaf photo's JPEG)
#   --seed-images N     images in the source before the window (default 3000)
#   --period S          batch period in seconds (default 600, the db_synchronizer_job's)
#   --batch-modes LIST  comma-separated: full,watermark (default both)
#   --compression C     compression.type of the relay's producer: none, lz4, zstd (default: the
#                       relay's own default, zstd)
#   --postgres URL      keep the source (producer_plant_db) in a fresh database on this PostgreSQL
#                       (an admin URL, e.g. $LEAFSYNC_TEST_POSTGRES_URL; dropped afterwards), so the
#                       batch jobs read it over the network and their wire bytes are measured
#                       (default: a SQLite file, which has no wire: its pages read are shown instead)
#   --out DIR           results (default var/experiment/<UTC time>)
#   --bootstrap H:P     use this Kafka broker (default: $LEAFSYNC_TEST_BOOTSTRAP, else our own)
#   --kafka-port P      port of our own broker when none is given (default 29094)
#   --port-base P       consumer P, producer P+1, batch full P+2, watermark P+3 (default 28080)
#   --ci                time-compressed: 1000 images of 4 KiB, 50 writes/s for 30 s, period 5 s;
#                       exits 1 unless the stream moved fewer bytes than every batch strategy,
#                       its staleness p99 is below one batch period, and every copy equals the source
#   --keep              leave the services running (prints their pids); the broker is kept too
#   --sweep             a grid of short runs scaled to bytes per hour, one table and one chart
#                       (bench/experiment_sweep.sh --help; with --ci its reduced grid)
# Prints the table, writes report.md, report.json, chart.png, the raw samples (metrics.csv,
# staleness.csv) and every service's log into the output directory.
#
# Environment: LEAFSYNC_BUILD_DIR (default build; the binaries are built if missing),
# LEAFSYNC_TEST_BOOTSTRAP (a running broker), LEAFSYNC_KAFKA_HOME (scripts/kafka.sh's cache).
set -euo pipefail

# --sweep: the grid of short runs scaled to bytes per hour (bench/experiment_sweep.sh).
for a in "$@"; do
    if [[ $a == --sweep ]]; then
        rest=()
        for b in "$@"; do [[ $b == --sweep ]] || rest+=("$b"); done
        exec "$(dirname "${BASH_SOURCE[0]}")/experiment_sweep.sh" "${rest[@]}"
    fi
done

XP_TAG=experiment
# shellcheck source=bench/experiment_lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/experiment_lib.sh"

usage() { sed -n '2,/^set -euo/{/^set -euo/d;s/^# \{0,1\}//;p}' "${BASH_SOURCE[0]}"; }

rate=20 duration=1200 mix=10:85:5 image_bytes=16384 seed_images=3000 period=600 modes=full,watermark
out="" kafka_port=29094 port_base=28080 ci=0 keep=0 pg_admin=""
XP_BOOTSTRAP=${LEAFSYNC_TEST_BOOTSTRAP:-}
ci_defaults() { rate=50 duration=30 image_bytes=4096 seed_images=1000 period=5; }
args=("$@")
for a in "${args[@]}"; do [[ $a == --ci ]] && { ci=1; ci_defaults; }; done
while (($#)); do
    case $1 in
        --ci) shift ;;
        --compression) export XP_COMPRESSION=$2; shift 2 ;;
        --keep) keep=1; shift ;;
        --rate) rate=$2; shift 2 ;;
        --duration) duration=$2; shift 2 ;;
        --mix) mix=$2; shift 2 ;;
        --image-bytes) image_bytes=$2; shift 2 ;;
        --seed-images) seed_images=$2; shift 2 ;;
        --period) period=$2; shift 2 ;;
        --batch-modes) modes=$2; shift 2 ;;
        --out) out=$2; shift 2 ;;
        --postgres) pg_admin=$2; shift 2 ;;
        --bootstrap) XP_BOOTSTRAP=$2; shift 2 ;;
        --kafka-port) kafka_port=$2; shift 2 ;;
        --port-base) port_base=$2; shift 2 ;;
        -h | --help) usage; exit 0 ;;
        *) usage >&2; xp_die "unknown argument '$1'" ;;
    esac
done
[[ $mix =~ ^[0-9]+:[0-9]+:[0-9]+$ ]] || xp_die "--mix must be C:U:D"
IFS=, read -r -a batch_modes <<<"$modes"
for m in "${batch_modes[@]}"; do [[ $m == full || $m == watermark ]] || xp_die "unknown batch mode '$m'"; done

if [[ -z $out ]]; then
    out=$XP_ROOT/var/experiment/$( ((ci)) && echo ci- )$(date -u +%Y%m%dT%H%M%SZ)
fi
mkdir -p "$out"
out=$(cd "$out" && pwd)
work=$out/work
rm -rf "$work"
mkdir -p "$work"

# A Python that has matplotlib (Debian's python3-matplotlib for /usr/bin/python3).
pick_python() {
    local p
    for p in python3 /usr/bin/python3; do
        command -v "$p" >/dev/null 2>&1 && "$p" -c 'import matplotlib' 2>/dev/null && { echo "$p"; return 0; }
    done
    return 1
}
PY=$(pick_python) || {
    xp_log "installing python3-matplotlib for the chart (apt-get)"
    if [[ $(id -u) -eq 0 ]]; then
        { apt-get install -y -qq --no-install-recommends -o DPkg::Lock::Timeout=300 python3-matplotlib \
            || { apt-get update -qq && apt-get install -y -qq --no-install-recommends \
                    -o DPkg::Lock::Timeout=300 python3-matplotlib; }; } >/dev/null 2>&1 || true
    fi
    PY=$(pick_python) || { xp_log "no matplotlib: the report comes without a chart"; PY=python3; }
}
REPORT=$XP_ROOT/bench/experiment_report.py

consumer_port=$port_base producer_port=$((port_base + 1))
declare -A batch_port=([full]=$((port_base + 2)) [watermark]=$((port_base + 3)))
xp_require_free_ports "$consumer_port" "$producer_port" "${batch_port[full]}" "${batch_port[watermark]}"

sampler_pid="" source_db=""
finish() {
    local rc=$?
    if [[ -n $sampler_pid ]]; then kill -TERM "$sampler_pid" 2>/dev/null || true; wait "$sampler_pid" 2>/dev/null || true; fi
    if ((keep)); then
        xp_log "--keep: services still running: pids ${XP_PIDS[*]}; broker ${XP_BOOTSTRAP}"
    else
        xp_stop_all
        if [[ -n $source_db ]]; then
            psql "$pg_admin" -qAt -c "DROP DATABASE IF EXISTS $source_db WITH (FORCE)" >/dev/null 2>&1 \
                || xp_log "could not drop the source database $source_db"
        fi
    fi
    exit "$rc"
}
trap finish EXIT
trap 'exit 130' INT TERM

xp_need curl curl
xp_ensure_binaries
xp_kafka_up "$kafka_port"
if [[ -n $pg_admin ]]; then
    xp_need psql postgresql-client
    source_db=exp$(printf "%04x%04x" "$RANDOM" "$RANDOM")
    psql "$pg_admin" -qAt -c "CREATE DATABASE $source_db" >/dev/null || xp_die "cannot create a database on --postgres"
    base=${pg_admin%%\?*}
    export XP_SOURCE_URL=${base%/*}/$source_db${pg_admin#"$base"}
    xp_log "source in PostgreSQL database $source_db"
fi
xp_pipeline_setup "$work" exp "$consumer_port" "$producer_port"
source_url=${XP_SOURCE_URL:-sqlite:$work/producer_plant_db.sqlite}

# 1. The source before the window: images the cameras took earlier.
xp_log "seeding $seed_images images of $image_bytes B"
"$XP_BIN/leafsync-producer" load --config "$work/producer.yaml" --no-relay --rate "$seed_images" --duration 1 --mix 100:0:0 \
    --image-bytes "$image_bytes" --seed 1 >"$work/seed.out" 2>>"$work/seed.log" || xp_die "seeding failed: $(cat "$work/seed.log")"

# 2. Both sides: the stream publishes the seed's events, the batch jobs copy the seed.
xp_start producer "$work/producer.log" "$XP_BIN/leafsync-producer" serve --config "$work/producer.yaml"
producer_pid=$XP_LAST_PID
xp_start consumer "$work/consumer.log" "$XP_BIN/leafsync-consumer" --config "$work/consumer.yaml"
consumer_pid=$XP_LAST_PID
declare -A batch_pid
for m in "${batch_modes[@]}"; do
    xp_start "batch-$m" "$work/batch-$m.log" "$XP_BIN/leafsync-batch-sync" --source "$source_url" \
        --copy "sqlite:$work/batch_$m.sqlite" --mode "$m" --period-s "$period" --http-port "${batch_port[$m]}"
    batch_pid[$m]=$XP_LAST_PID
done
xp_wait_http "http://127.0.0.1:$producer_port/healthz" 30 "$producer_pid" || xp_die "the producer did not start"
xp_wait_http "http://127.0.0.1:$consumer_port/healthz" 30 "$consumer_pid" || xp_die "the consumer did not start"
for m in "${batch_modes[@]}"; do
    xp_wait_http "http://127.0.0.1:${batch_port[$m]}/readyz" 120 "${batch_pid[$m]}" || xp_die "batch-$m made no run"
done

totals() {  # sum of /image-plant/{plant}/total/ on PORT
    local port=$1 p n sum=0
    for p in potato tomato pepper; do
        n=$(curl -fsS --max-time 5 "http://127.0.0.1:$port/image-plant/$p/total/" | sed 's/[^0-9]//g') || return 1
        sum=$((sum + ${n:-0}))
    done
    echo "$sum"
}
source_total=$(totals "$producer_port")
xp_log "waiting for the stream to deliver the seed ($source_total images)"
deadline=$((SECONDS + 300))
until [[ $(totals "$consumer_port" || echo -1) == "$source_total" ]]; do
    ((SECONDS < deadline)) || xp_die "the consumer copy did not reach $source_total images"
    sleep 0.5
done

# 3. Line the batch jobs up with the window: one run now, the next one period later.
runs_of() {
    local n
    n=$(curl -fsS --max-time 5 "http://127.0.0.1:$1/batch-status" 2>/dev/null | sed -n 's/.*"completed_runs":\([0-9]*\).*/\1/p')
    echo "${n:-0}"
}
declare -A runs_before
for m in "${batch_modes[@]}"; do
    runs_before[$m]=$(runs_of "${batch_port[$m]}")
    curl -fsS -X POST --max-time 5 "http://127.0.0.1:${batch_port[$m]}/run" >/dev/null
done
for m in "${batch_modes[@]}"; do
    deadline=$((SECONDS + 300))
    until (($(runs_of "${batch_port[$m]}") > runs_before[$m])); do
        ((SECONDS < deadline)) || xp_die "batch-$m did not finish its aligning run"
        sleep 0.1
    done
    [[ $(totals "${batch_port[$m]}") == "$source_total" ]] || xp_die "batch-$m copy does not hold the seed"
done

# 4. The instruments: a sampler every second, snapshots at the window's edges.
kafka_pid=$(xp_kafka_pid || true)
{
    echo "{\"period_s\": $period, \"kafka_pid\": ${kafka_pid:-null},"
    echo " \"workload\": {\"rate\": $rate, \"duration_s\": $duration, \"mix\": \"$mix\", \"image_bytes\": $image_bytes, \"seed_images\": $seed_images},"
    echo " \"services\": ["
    echo "  {\"name\": \"producer\", \"kind\": \"producer\", \"side\": \"stream\", \"url\": \"http://127.0.0.1:$producer_port/metrics\", \"pid\": $producer_pid},"
    echo -n "  {\"name\": \"consumer\", \"kind\": \"consumer\", \"side\": \"stream\", \"url\": \"http://127.0.0.1:$consumer_port/metrics\", \"pid\": $consumer_pid, \"db\": \"$work/consumer_plant_db.sqlite\"}"
    for m in "${batch_modes[@]}"; do
        echo ","
        echo -n "  {\"name\": \"batch-$m\", \"kind\": \"batch\", \"side\": \"batch-$m\", \"url\": \"http://127.0.0.1:${batch_port[$m]}/metrics\", \"pid\": ${batch_pid[$m]}, \"db\": \"$work/batch_$m.sqlite\"}"
    done
    echo
    echo " ]}"
} >"$out/services.json"
"$PY" "$REPORT" sample --services "$out/services.json" --out "$out" --interval 1 2>>"$work/sampler.log" &
sampler_pid=$!
sleep 1.5  # the sampler's first poll (and its index on the copies) before the window opens
"$PY" "$REPORT" snapshot --services "$out/services.json" --out "$out/snapshot_t0.json"
t0=$SECONDS

# 5. The workload, identical for both sides: they read the same source. Its progress lines
# (every 2 s: where it is in the window, rate, errors, outbox depth) are shown as it runs.
xp_log "load: $rate writes/s for $duration s, mix $mix, images $image_bytes B; batch period $period s"
timer=()
[[ -x /usr/bin/time ]] && timer=(/usr/bin/time -f '%e %U %S %M' -o "$work/load.time")
"${timer[@]}" "$XP_BIN/leafsync-producer" load --config "$work/producer.yaml" \
    --no-relay --rate "$rate" --duration "$duration" --mix "$mix" --image-bytes "$image_bytes" --seed 42 \
    >"$work/load.out" 2> >(tee -a "$work/load.log" | grep --line-buffered '^load:' >&2) &
load_pid=$!
XP_PIDS+=("$load_pid")
wait "$load_pid" || xp_die "the load failed: $(tail -5 "$work/load.log")"
load_line=$(grep '^load:' "$work/load.out" | sed 's/, [0-9]* events not yet published//' || true)
xp_log "$load_line"

# 6. The window closes when the stream has delivered everything and no batch run is mid-way
# (runs that started during the load are part of it; their copies then lag by < one period).
deadline=$((SECONDS + 120))
while :; do
    outbox=$(xp_metric "http://127.0.0.1:$producer_port/metrics" '^leafsync_outbox_depth')
    lag=$(xp_metric "http://127.0.0.1:$consumer_port/metrics" '^leafsync_consumer_lag')
    running=0
    for m in "${batch_modes[@]}"; do
        running=$((running + $(xp_metric "http://127.0.0.1:${batch_port[$m]}/metrics" '^leafsync_batch_running')))
    done
    [[ $outbox == 0 && $lag == 0 && $running == 0 ]] && break
    ((SECONDS < deadline)) || xp_die "the stream did not drain (outbox $outbox, lag $lag, batch running $running)"
    sleep 0.2
done
sleep 1.1  # the Kafka clients' last statistics (every second here: the wire-byte counters)
"$PY" "$REPORT" snapshot --services "$out/services.json" --out "$out/snapshot_t1.json"
xp_log "window closed after $((SECONDS - t0)) s"
sleep 1.2  # one more sampler poll
kill -TERM "$sampler_pid" 2>/dev/null || true
wait "$sampler_pid" 2>/dev/null || true
sampler_pid=""

# 7. Every copy must equal the source: the stream's at once, the batch copies after one more run
# (outside the window: it only proves the copy converges).
declare -A verified
verify_copy() {  # NAME COPY_URL
    local i
    for i in $(seq 1 50); do
        if "$XP_BIN/leafsync-producer" verify --source "$source_url" --copy "$2" >"$work/verify-$1.out" 2>&1; then
            verified[$1]=true
            return 0
        fi
        sleep 0.2
    done
    verified[$1]=false
    xp_log "copy $1 differs from the source: $(tail -3 "$work/verify-$1.out")"
}
verify_copy stream "sqlite:$work/consumer_plant_db.sqlite"
for m in "${batch_modes[@]}"; do
    runs_before[$m]=$(runs_of "${batch_port[$m]}")
    curl -fsS -X POST --max-time 5 "http://127.0.0.1:${batch_port[$m]}/run" >/dev/null
done
for m in "${batch_modes[@]}"; do
    deadline=$((SECONDS + 300))
    until (($(runs_of "${batch_port[$m]}") > runs_before[$m])) || ((SECONDS >= deadline)); do sleep 0.1; done
    verify_copy "batch-$m" "sqlite:$work/batch_$m.sqlite"
done
{
    echo -n "{"
    sep=""
    for k in "${!verified[@]}"; do echo -n "$sep\"$k\": ${verified[$k]}"; sep=", "; done
    echo "}"
} >"$out/verify.json"

# 8. Stop the services (SIGTERM: each must exit 0), then the report.
if ((!keep)); then
    stop_rc=0
    for pid in "${XP_PIDS[@]}"; do kill -TERM "$pid" 2>/dev/null || true; done
    for pid in "${XP_PIDS[@]}"; do
        rc=0
        wait "$pid" 2>/dev/null || rc=$?
        [[ $pid == "$load_pid" ]] && continue
        if ((rc != 0)); then xp_log "pid $pid exited $rc after SIGTERM"; stop_rc=1; fi
    done
    XP_PIDS=()
    ((stop_rc == 0)) || xp_die "a service did not stop cleanly"
fi
"$PY" - "$out/services.json" "$load_line" "$work/load.time" <<'EOF'
import json, re, sys
path, line, timing = sys.argv[1], sys.argv[2], sys.argv[3]
cfg = json.load(open(path))
# The load ran without a relay of its own (the producer's serve relays): its count of unpublished
# events at exit says nothing here.
cfg["workload"]["load_result"] = re.sub(r", \d+ events not yet published", "", line.removeprefix("load: "))
try:
    e, u, s, m = open(timing).read().split()[-4:]
    cfg["workload"]["load_process"] = {"seconds": float(e), "cpu_s": float(u) + float(s), "peak_rss_kb": int(m)}
except Exception:
    pass
json.dump(cfg, open(path, "w"), indent=1)
EOF
cp "$work"/*.log "$out/" 2>/dev/null || true
report_args=(report --dir "$out")
((ci)) && report_args+=(--ci)
"$PY" "$REPORT" "${report_args[@]}"
