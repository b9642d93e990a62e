#!/usr/bin/env bash
# Local single-node Apache Kafka broker (KRaft, combined broker+controller) on
# loopback, for leafsync's integration tests and manual experiments.
#
# The broker jars come from Maven Central via scripts/kafka/pom.xml and are
# cached under $LEAFSYNC_KAFKA_HOME/lib (resolved once; re-resolved when the
# pom changes).  No Docker, no Kafka tarball.
#
# Usage: scripts/kafka.sh COMMAND [ARGS]
#   start                      start the broker (idempotent), wait until it serves
#   stop [--purge] [--kill]    stop it (idempotent); --purge also deletes its data dir;
#                              --kill sends SIGKILL at once (a crash, for fault tests)
#   clean                      same as: stop --purge
#   restart                    stop + start (data kept)
#   status                     exit 0 if running and answering, 3 otherwise
#   create-topics [TOPIC...] [--config k=v]...
#                              create TOPICs (default: potato tomato pepper) with
#                              $KAFKA_PARTITIONS partitions, plus the 1-partition
#                              dead-letter topic $KAFKA_DLQ_TOPIC; idempotent
#   logs [TAIL-ARGS...]        show the broker log (default: tail -n 200; e.g. logs -f)
#   resolve                    only resolve/cache the jars
#
# Environment:
#   KAFKA_HOST             address to listen on and advertise (default 127.0.0.1; e.g. a
#                          podman bridge gateway, for pods: scripts/check-kube-play.sh)
#   KAFKA_PORT             PLAINTEXT port (default 9092)
#   KAFKA_CONTROLLER_PORT  CONTROLLER port (default KAFKA_PORT+1, i.e. 9093)
#   LEAFSYNC_KAFKA_HOME    cache/data root (default ~/.cache/leafsync/kafka)
#   KAFKA_DATA_DIR         per-broker dir: config, pid, log, data
#                          (default $LEAFSYNC_KAFKA_HOME/data-$KAFKA_PORT), so several
#                          brokers on different ports can coexist
#   KAFKA_HEAP             JVM heap flags (default "-Xmx512m -Xms256m")
#   KAFKA_OPTS             extra JVM flags for the broker (default empty)
#   KAFKA_START_TIMEOUT    seconds to wait for the broker to serve (default 90)
#   KAFKA_STOP_TIMEOUT     seconds to wait after SIGTERM before SIGKILL (default 30)
#   KAFKA_PARTITIONS       partitions for create-topics (default 3)
#   KAFKA_DLQ_TOPIC        dead-letter topic (default leafsync.dlq; empty = none)
#   KAFKA_MAVEN_REPO       Maven local repository to use (default: Maven's own, ~/.m2)
set -euo pipefail

readonly HOST=${KAFKA_HOST:-127.0.0.1}
SCRIPT_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
readonly SCRIPT_DIR
readonly POM="$SCRIPT_DIR/kafka/pom.xml"
readonly LOG4J_CONF="$SCRIPT_DIR/kafka/log4j2.properties"

KAFKA_PORT=${KAFKA_PORT:-9092}
KAFKA_CONTROLLER_PORT=${KAFKA_CONTROLLER_PORT:-$((KAFKA_PORT + 1))}
LEAFSYNC_KAFKA_HOME=${LEAFSYNC_KAFKA_HOME:-${HOME:-/tmp}/.cache/leafsync/kafka}
KAFKA_DATA_DIR=${KAFKA_DATA_DIR:-$LEAFSYNC_KAFKA_HOME/data-$KAFKA_PORT}
KAFKA_HEAP=${KAFKA_HEAP:--Xmx512m -Xms256m}
KAFKA_OPTS=${KAFKA_OPTS:-}
KAFKA_START_TIMEOUT=${KAFKA_START_TIMEOUT:-90}
KAFKA_STOP_TIMEOUT=${KAFKA_STOP_TIMEOUT:-30}
KAFKA_PARTITIONS=${KAFKA_PARTITIONS:-3}
KAFKA_DLQ_TOPIC=${KAFKA_DLQ_TOPIC-leafsync.dlq}
KAFKA_MAVEN_REPO=${KAFKA_MAVEN_REPO:-}

readonly LIB_DIR="$LEAFSYNC_KAFKA_HOME/lib"
readonly LIB_STAMP="$LIB_DIR/.pom.xml"   # copy of the pom the jars were resolved from
readonly PROPS="$KAFKA_DATA_DIR/server.properties"
readonly PID_FILE="$KAFKA_DATA_DIR/kafka.pid"
readonly LOG_FILE="$KAFKA_DATA_DIR/kafka.log"
readonly LOG_DIRS="$KAFKA_DATA_DIR/logs"

# shellcheck source-path=SCRIPTDIR source=lib/service.sh
source "$(dirname "$(readlink -f "${BASH_SOURCE[0]}")")/lib/service.sh"
SERVICE_LOG_PREFIX="kafka.sh[$KAFKA_PORT]"
SERVICE_COMMANDS=(start stop clean restart status create-topics logs resolve)

# ---------------------------------------------------------------- tools ------

ensure_java_maven() {
    if ! command -v java >/dev/null 2>&1 || ! command -v mvn >/dev/null 2>&1; then
        log "installing java and maven (apt-get)"
        apt_install default-jre-headless maven
    fi
    local v
    v=$(java -version 2>&1 | sed -n 's/.* version "\([0-9]*\).*/\1/p' | head -n 1)
    if [[ -n $v && $v -lt 17 ]]; then
        die "Kafka 4.x needs Java 17 or newer; found Java $v"
    fi
}

# ------------------------------------------------------------- jar cache -----

jars_ok() { [[ -f $LIB_STAMP ]] && cmp -s "$POM" "$LIB_STAMP"; }

resolve_jars() {
    jars_ok && return 0
    ensure_java_maven
    mkdir -p "$LEAFSYNC_KAFKA_HOME"
    # Several brokers may be started at once (parallel tests): resolve under a lock.
    exec {lock_fd}>"$LEAFSYNC_KAFKA_HOME/.resolve.lock"
    flock "$lock_fd"
    if jars_ok; then exec {lock_fd}>&-; return 0; fi

    log "resolving Kafka jars from Maven Central into $LIB_DIR"
    local work start
    work=$(mktemp -d "$LEAFSYNC_KAFKA_HOME/.resolve.XXXXXX")
    start=$SECONDS
    # Run Maven on a copy of the pom so nothing is written into the source tree.
    cp "$POM" "$work/pom.xml"
    local mvn_args=(-B -q -f "$work/pom.xml" dependency:copy-dependencies
                    -DincludeScope=runtime "-DoutputDirectory=$work/lib")
    [[ -n $KAFKA_MAVEN_REPO ]] && mvn_args+=("-Dmaven.repo.local=$KAFKA_MAVEN_REPO")
    if ! mvn "${mvn_args[@]}" >"$work/mvn.log" 2>&1; then
        cat "$work/mvn.log" >&2
        rm -rf "$work"
        exec {lock_fd}>&-
        die "Maven could not resolve the jars of $POM"
    fi
    ls "$work/lib"/kafka_2.13-*.jar >/dev/null 2>&1 || { rm -rf "$work"; die "no kafka jar resolved"; }
    cp "$POM" "$work/lib/.pom.xml"
    # Swap in atomically-ish; a broker still running keeps its open jars.
    rm -rf "$LIB_DIR.old"
    [[ -d $LIB_DIR ]] && mv "$LIB_DIR" "$LIB_DIR.old"
    mv "$work/lib" "$LIB_DIR"
    rm -rf "$LIB_DIR.old" "$work"
    log "resolved $(find "$LIB_DIR" -name '*.jar' | wc -l) jars in $((SECONDS - start)) s"
    exec {lock_fd}>&-
}

# Run a Kafka main class from the cached jars (short-lived tools: small heap,
# fast start).
kafka_tool() {
    local main=$1; shift
    java -Xmx256m -XX:+UseSerialGC -XX:TieredStopAtLevel=1 -Djava.awt.headless=true \
        "-Dlog4j2.configurationFile=$LOG4J_CONF" -cp "$LIB_DIR/*" "$main" "$@"
}

# --------------------------------------------------------------- process -----

# Prints the broker's pid if our broker (kafka.Kafka with this data dir's config) is running.
broker_pid() { service_pid "$PID_FILE" "kafka.Kafka $PROPS"; }

# Does the broker answer requests?  With kcat: a metadata request that must list
# broker 1.  Without: a raw ApiVersions v0 request over bash's /dev/tcp (the
# broker only serves requests once it is registered and unfenced).
broker_answers() {
    if command -v kcat >/dev/null 2>&1; then
        local md
        md=$(timeout 10 kcat -b "$HOST:$KAFKA_PORT" -L -t __leafsync_noop -m 3 2>/dev/null) || return 1
        [[ $md == *"broker 1 at"* ]]
    else
        # size=18 | api_key=18 (ApiVersions) | version=0 | correlation_id=1 | client_id="kafka.sh"
        local resp
        # shellcheck disable=SC2016  # $1/$2 expand in the inner bash
        resp=$(timeout 5 bash -c '
            exec 3<>"/dev/tcp/$1/$2" || exit 1
            printf "\x00\x00\x00\x12\x00\x12\x00\x00\x00\x00\x00\x01\x00\x08kafka.sh" >&3
            head -c 10 <&3 | od -An -tx1' _ "$HOST" "$KAFKA_PORT" 2>/dev/null) || return 1
        # response: size(4) correlation_id=1(4) error_code=0(2)
        [[ $(echo "$resp" | tr -d ' \n') =~ ^[0-9a-f]{8}000000010000$ ]]
    fi
}

broker_ready() { port_open "$HOST" "$KAFKA_PORT" && broker_answers; }

write_config() {
    mkdir -p "$KAFKA_DATA_DIR"
    cat >"$PROPS" <<EOF
# Generated by scripts/kafka.sh on every start; edits are overwritten.
process.roles=broker,controller
node.id=1
controller.quorum.bootstrap.servers=$HOST:$KAFKA_CONTROLLER_PORT
listeners=PLAINTEXT://$HOST:$KAFKA_PORT,CONTROLLER://$HOST:$KAFKA_CONTROLLER_PORT
advertised.listeners=PLAINTEXT://$HOST:$KAFKA_PORT,CONTROLLER://$HOST:$KAFKA_CONTROLLER_PORT
controller.listener.names=CONTROLLER
inter.broker.listener.name=PLAINTEXT
listener.security.protocol.map=CONTROLLER:PLAINTEXT,PLAINTEXT:PLAINTEXT
log.dirs=$LOG_DIRS

# single node: everything replicated once
offsets.topic.replication.factor=1
transaction.state.log.replication.factor=1
transaction.state.log.min.isr=1
share.coordinator.state.topic.replication.factor=1
share.coordinator.state.topic.min.isr=1
min.insync.replicas=1
default.replication.factor=1

# tests: fast group joins, explicit topics, small internal topics, few threads
group.initial.rebalance.delay.ms=0
auto.create.topics.enable=false
num.partitions=3
offsets.topic.num.partitions=1
transaction.state.log.num.partitions=1
share.coordinator.state.topic.num.partitions=1
num.network.threads=2
num.io.threads=4
num.recovery.threads.per.data.dir=1
log.retention.check.interval.ms=60000
EOF
}

format_storage() {
    [[ -f $LOG_DIRS/meta.properties ]] && return 0
    local cluster_id
    cluster_id=$(kafka_tool kafka.tools.StorageTool random-uuid | tail -n 1)
    [[ $cluster_id =~ ^[A-Za-z0-9_-]{22}$ ]] || die "StorageTool random-uuid gave '$cluster_id'"
    log "formatting $LOG_DIRS (cluster id $cluster_id)"
    kafka_tool kafka.tools.StorageTool format -t "$cluster_id" -c "$PROPS" --standalone >&2 \
        || die "StorageTool format failed"
}

# Last lines the broker wrote since this start (the log is appended to across runs).
LOG_OFFSET=0
tail_log() {
    if [[ -f $LOG_FILE ]]; then
        log "last lines of $LOG_FILE:"
        tail -c "+$((LOG_OFFSET + 1))" "$LOG_FILE" | tail -n 40 >&2
    fi
}

# ------------------------------------------------------------- commands ------

cmd_start() {
    local pid
    if pid=$(broker_pid); then
        log "already running (pid $pid) on $HOST:$KAFKA_PORT"
        return 0
    fi
    rm -f "$PID_FILE"
    local p
    for p in "$KAFKA_PORT" "$KAFKA_CONTROLLER_PORT"; do
        port_open "$HOST" "$p" && die "port $HOST:$p is already in use by another process"
    done
    resolve_jars
    ensure_java_maven
    write_config
    format_storage

    local start=$SECONDS
    printf '=== %s kafka.sh start\n' "$(date -u +%FT%TZ)" >>"$LOG_FILE"
    LOG_OFFSET=$(stat -c %s "$LOG_FILE")
    # shellcheck disable=SC2086  # KAFKA_HEAP / KAFKA_OPTS are word lists
    service_spawn "$PID_FILE" "$LOG_FILE" java $KAFKA_HEAP $KAFKA_OPTS -XX:+ExitOnOutOfMemoryError \
        -Djava.awt.headless=true "-Dlog4j2.configurationFile=$LOG4J_CONF" -cp "$LIB_DIR/*" \
        kafka.Kafka "$PROPS"
    pid=$SERVICE_PID
    log "starting broker (pid $pid) on $HOST:$KAFKA_PORT, controller $HOST:$KAFKA_CONTROLLER_PORT, data $KAFKA_DATA_DIR"

    local rc=0
    service_wait "$pid" "$KAFKA_START_TIMEOUT" 0.5 broker_ready || rc=$?
    if ((rc == 0)); then
        log "broker ready on $HOST:$KAFKA_PORT after $((SECONDS - start)) s"
        return 0
    fi
    tail_log
    if ((rc == 1)); then
        rm -f "$PID_FILE"
        die "broker exited during startup"
    fi
    log "broker not ready after ${KAFKA_START_TIMEOUT} s; stopping it"
    cmd_stop >/dev/null 2>&1 || true
    die "startup timed out"
}

cmd_stop() {
    stop_args "$@"
    local pid
    if pid=$(broker_pid); then
        if ((KILL)); then
            log "killing broker (pid $pid) with SIGKILL"
            kill -KILL "$pid" 2>/dev/null || true
            while kill -0 "$pid" 2>/dev/null; do sleep 0.1; done
        else
            log "stopping broker (pid $pid)"
            service_terminate "$pid" "$KAFKA_STOP_TIMEOUT"
        fi
        log "stopped"
    else
        log "not running"
    fi
    rm -f "$PID_FILE"
    if ((PURGE)); then
        log "removing $KAFKA_DATA_DIR"
        rm -rf "$KAFKA_DATA_DIR"
    fi
}

cmd_status() {
    local pid
    if pid=$(broker_pid) && port_open "$HOST" "$KAFKA_PORT"; then
        echo "kafka running (pid $pid) on $HOST:$KAFKA_PORT, data $KAFKA_DATA_DIR"
        return 0
    fi
    if [[ -n ${pid:-} ]]; then
        echo "kafka process $pid is up but $HOST:$KAFKA_PORT does not accept connections"
    else
        echo "kafka not running on $HOST:$KAFKA_PORT (data $KAFKA_DATA_DIR)"
    fi
    return 3
}

cmd_create_topics() {
    local topics=() configs=()
    while (($#)); do
        case $1 in
            --config) (($# >= 2)) || die "--config needs k=v"; configs+=(--config "$2"); shift 2 ;;
            --config=*) configs+=(--config "${1#--config=}"); shift ;;
            -*) die "create-topics: unknown option '$1'" ;;
            *) topics+=("$1"); shift ;;
        esac
    done
    ((${#topics[@]})) || topics=(potato tomato pepper)

    broker_pid >/dev/null || die "broker not running on $HOST:$KAFKA_PORT (run: $0 start)"
    resolve_jars

    # name:partitions; one JVM per topic, run in parallel (TopicCommand creates one topic per call)
    local specs=() t
    for t in "${topics[@]}"; do specs+=("$t:$KAFKA_PARTITIONS"); done
    [[ -n $KAFKA_DLQ_TOPIC ]] && specs+=("$KAFKA_DLQ_TOPIC:1")

    local pids=() spec rc=0 i
    for spec in "${specs[@]}"; do
        kafka_tool org.apache.kafka.tools.TopicCommand --bootstrap-server "$HOST:$KAFKA_PORT" \
            --create --if-not-exists --topic "${spec%:*}" --partitions "${spec##*:}" \
            --replication-factor 1 "${configs[@]}" >&2 &
        pids+=($!)
    done
    for i in "${!pids[@]}"; do
        if ! wait "${pids[$i]}"; then
            log "failed to create topic ${specs[$i]%:*}"
            rc=1
        fi
    done
    ((rc == 0)) || die "create-topics failed"
    log "topics ready: ${specs[*]}"
}

cmd_logs() { service_logs "$LOG_FILE" "$@"; }

cmd_resolve() { resolve_jars; }

service_main "$@"
