# shellcheck shell=bash
# Shared by bench/experiment.sh and scripts/check-dashboard.sh: start the stream (producer relay +
# consumer) and the batch baseline on loopback against a Kafka broker, with private topics,
# databases and ports, and stop exactly what was started. Source it; functions are xp_*.

XP_ROOT=${XP_ROOT:-$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)}
XP_BUILD_DIR=${LEAFSYNC_BUILD_DIR:-$XP_ROOT/build}
XP_BIN=$XP_BUILD_DIR/bin
XP_PIDS=()          # every process we started, in start order
XP_STARTED_KAFKA="" # the KAFKA_PORT of a broker we started, if any
XP_TAG=${XP_TAG:-xp}

xp_log() { printf '%s[%s]: %s\n' "$XP_TAG" "$(date +%T)" "$*" >&2; }
xp_die() { xp_log "error: $*"; exit 1; }

# xp_need COMMAND PACKAGE: installs the Debian package when the command is missing.
xp_need() {
    command -v "$1" >/dev/null 2>&1 && return 0
    xp_log "installing $2 for $1 (apt-get)"
    local sudo=()
    [[ $(id -u) -eq 0 ]] || sudo=(sudo)
    { "${sudo[@]}" env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends \
            -o DPkg::Lock::Timeout=300 "$2" \
        || { "${sudo[@]}" apt-get update -qq && "${sudo[@]}" env DEBIAN_FRONTEND=noninteractive \
                apt-get install -y -qq --no-install-recommends -o DPkg::Lock::Timeout=300 "$2"; }; } >/dev/null 2>&1
    command -v "$1" >/dev/null 2>&1 || xp_die "$1 is missing and $2 could not be installed"
}

# Builds the three binaries if any is missing (only those targets).
xp_ensure_binaries() {
    local missing=0 b
    for b in leafsync-producer leafsync-consumer leafsync-batch-sync; do
        [[ -x $XP_BIN/$b ]] || missing=1
    done
    ((missing)) || return 0
    xp_log "building leafsync-producer leafsync-consumer leafsync-batch-sync in $XP_BUILD_DIR"
    if [[ ! -f $XP_BUILD_DIR/CMakeCache.txt ]]; then
        cmake -S "$XP_ROOT" -B "$XP_BUILD_DIR" -G Ninja >&2 || xp_die "cmake configure failed"
    fi
    cmake --build "$XP_BUILD_DIR" --target leafsync-producer leafsync-consumer leafsync-batch-sync >&2 \
        || xp_die "build failed"
}

# Sets XP_BOOTSTRAP: the given broker (host:port), or a broker of our own started on $1.
xp_kafka_up() {
    local own_port=$1
    if [[ -n ${XP_BOOTSTRAP:-} ]]; then
        xp_log "using the broker at $XP_BOOTSTRAP"
        return 0
    fi
    KAFKA_PORT=$own_port KAFKA_CONTROLLER_PORT=$((own_port + 1)) "$XP_ROOT/scripts/kafka.sh" start >&2 \
        || xp_die "could not start Kafka on port $own_port"
    XP_STARTED_KAFKA=$own_port
    XP_BOOTSTRAP=127.0.0.1:$own_port
}

xp_kafka_pid() {
    local port=${XP_BOOTSTRAP##*:} home=${LEAFSYNC_KAFKA_HOME:-${HOME:-/tmp}/.cache/leafsync/kafka}
    local f=${KAFKA_DATA_DIR:-$home/data-$port}/kafka.pid
    [[ -f $f ]] && kill -0 "$(<"$f")" 2>/dev/null && cat "$f"
}

# Creates TOPICs (3 partitions) and DLQ (1) on $XP_BOOTSTRAP with Kafka's own TopicCommand, from
# the jars scripts/kafka.sh caches: works for any broker, whoever started it.
xp_create_topics() {
    local dlq=$1; shift
    "$XP_ROOT/scripts/kafka.sh" resolve >&2 || xp_die "could not resolve the Kafka jars"
    local lib=${LEAFSYNC_KAFKA_HOME:-${HOME:-/tmp}/.cache/leafsync/kafka}/lib
    local pids=() t parts rc=0 p
    for t in "$@" "$dlq"; do
        parts=3
        [[ $t == "$dlq" ]] && parts=1
        java -Xmx256m -XX:+UseSerialGC -XX:TieredStopAtLevel=1 -Djava.awt.headless=true \
            "-Dlog4j2.configurationFile=$XP_ROOT/scripts/kafka/log4j2.properties" -cp "$lib/*" \
            org.apache.kafka.tools.TopicCommand --bootstrap-server "$XP_BOOTSTRAP" --create --if-not-exists \
            --topic "$t" --partitions "$parts" --replication-factor 1 >/dev/null 2>&1 &
        pids+=($!)
    done
    for p in "${pids[@]}"; do wait "$p" || rc=1; done
    ((rc == 0)) || xp_die "could not create topics $* $dlq on $XP_BOOTSTRAP"
}

# Writes kafka.json, producer.yaml and consumer.yaml into DIR for topics PREFIX{potato,tomato,pepper}.
# xp_write_configs DIR PREFIX CONSUMER_PORT PRODUCER_PORT
xp_write_configs() {
    local dir=$1 prefix=$2 consumer_port=$3 producer_port=$4 plant
    cat >"$dir/kafka.json" <<EOF
{"bootstrap.servers": "$XP_BOOTSTRAP", "group.id": "${prefix}group", "client.id": "${prefix}client",
 "auto.offset.reset": "earliest", "session.timeout.ms": "6000", "fetch.wait.max.ms": "${XP_FETCH_WAIT_MS:-50}",
 "statistics.interval.ms": "1000"${XP_COMPRESSION:+, \"compression.type\": \"$XP_COMPRESSION\"}}
EOF
    {
        echo "kafka: {properties: kafka.json, dead_letter_topic: ${prefix}dlq, start_when_empty: earliest}"
        echo "topics:"
        for plant in potato tomato pepper; do
            echo "  - {name: ${prefix}$plant, plant: $plant, format: native}"
        done
        echo "database: {url: 'sqlite:$dir/consumer_plant_db.sqlite'}"
        echo "apply: {batch_size: 1000, linger_ms: 20}"
        echo "http: {port: $consumer_port, threads: 2}"
        echo "log_level: info"
    } >"$dir/consumer.yaml"
    {
        echo "kafka: {properties: kafka.json}"
        echo "topics: {potato: ${prefix}potato, tomato: ${prefix}tomato, pepper: ${prefix}pepper}"
        echo "database: {url: '${XP_SOURCE_URL:-sqlite:$dir/producer_plant_db.sqlite}'}"
        echo "http: {port: $producer_port, threads: 2, max_body_bytes: 1048576}"
        echo "relay: {batch_size: 1000, poll_ms: 20}"
        echo "log_level: info"
    } >"$dir/producer.yaml"
}

# xp_pipeline_setup DIR TAG CONSUMER_PORT PRODUCER_PORT: fresh topics on XP_BOOTSTRAP named
# TAG<random>-potato|tomato|pepper|dlq, and the services' configs for them in DIR. Sets XP_PREFIX.
xp_pipeline_setup() {
    XP_PREFIX=$2$(printf "%04x%04x" "$RANDOM" "$RANDOM")-
    xp_log "topics ${XP_PREFIX}{potato,tomato,pepper}, dead letters ${XP_PREFIX}dlq on $XP_BOOTSTRAP"
    xp_create_topics "${XP_PREFIX}dlq" "${XP_PREFIX}potato" "${XP_PREFIX}tomato" "${XP_PREFIX}pepper"
    xp_write_configs "$1" "$XP_PREFIX" "$3" "$4"
}

# xp_seed_source DIR IMAGE_BYTES: 300 new images in DIR's source, for a relay to publish later.
xp_seed_source() {
    "$XP_BIN/leafsync-producer" load --config "$1/producer.yaml" --no-relay --rate 300 --duration 1 \
        --mix 100:0:0 --image-bytes "$2" --seed 1 >"$1/seed.out" 2>"$1/seed.log" || xp_die "seeding failed"
}

# xp_start NAME LOG CMD...: starts CMD in the background; sets XP_LAST_PID.
xp_start() {
    local name=$1 log=$2; shift 2
    "$@" >>"$log" 2>&1 </dev/null &
    XP_LAST_PID=$!
    XP_PIDS+=("$XP_LAST_PID")
    xp_log "started $name (pid $XP_LAST_PID), log $log"
}

# xp_wait_http URL SECONDS [PID]: until URL answers 2xx.
xp_wait_http() {
    local url=$1 deadline=$((SECONDS + $2)) pid=${3:-}
    while ((SECONDS < deadline)); do
        curl -fsS -o /dev/null --max-time 2 "$url" 2>/dev/null && return 0
        if [[ -n $pid ]] && ! kill -0 "$pid" 2>/dev/null; then
            xp_log "process $pid exited while waiting for $url"
            return 1
        fi
        sleep 0.2
    done
    xp_log "$url did not answer within $2 s"
    return 1
}

# xp_metric URL SELECTOR: sum of the samples whose "name{labels}" matches the extended regex.
xp_metric() {
    curl -fsS --max-time 5 "$1" 2>/dev/null | awk -v re="$2" '
        /^#/ {next}
        { series=$1; if (series ~ "^(" re ")$" || series ~ re) s += $2; n++ }
        END { printf "%.0f\n", s }'
}

# SIGTERM to everything we started (reverse order), SIGKILL after 15 s; then our broker.
xp_stop_all() {
    local i pid deadline
    for ((i = ${#XP_PIDS[@]} - 1; i >= 0; i--)); do
        pid=${XP_PIDS[$i]}
        kill -TERM "$pid" 2>/dev/null || true
    done
    deadline=$((SECONDS + 15))
    for pid in "${XP_PIDS[@]}"; do
        while kill -0 "$pid" 2>/dev/null && ((SECONDS < deadline)); do sleep 0.1; done
        if kill -0 "$pid" 2>/dev/null; then
            xp_log "pid $pid still running after SIGTERM; SIGKILL"
            kill -KILL "$pid" 2>/dev/null || true
        fi
        wait "$pid" 2>/dev/null || true
    done
    XP_PIDS=()
    if [[ -n $XP_STARTED_KAFKA ]]; then
        KAFKA_PORT=$XP_STARTED_KAFKA KAFKA_CONTROLLER_PORT=$((XP_STARTED_KAFKA + 1)) \
            "$XP_ROOT/scripts/kafka.sh" stop --purge >/dev/null 2>&1 || true
        XP_STARTED_KAFKA=""
    fi
}

# Is PORT free on loopback?
xp_port_free() { ! (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }

xp_require_free_ports() {
    local p
    for p in "$@"; do
        xp_port_free "$p" || xp_die "port $p is in use on 127.0.0.1 (choose others: --port-base)"
    done
}
