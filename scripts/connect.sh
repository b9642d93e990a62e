#!/usr/bin/env bash
# Local Kafka Connect standalone worker on loopback with Debezium's connectors, for the
# real-Debezium integration test (a PostgreSQL source) and bench/peer (the JDBC sink).
#
# Connect's jars come from Maven Central via scripts/connect/pom.xml (Kafka 4.1.1, the
# broker's version) and are cached under $LEAFSYNC_CONNECT_HOME/lib; the connectors come as
# Debezium's own plugin archives (mvn dependency:get …:tar.gz:plugin), unpacked once under
# $LEAFSYNC_CONNECT_HOME/plugins; each worker's plugin.path links to the ones it loads. No jar is committed.
#
# Usage: scripts/connect.sh COMMAND [ARGS]
#   start CONNECTOR.properties...  start a worker running these connectors (standalone mode,
#                                  offsets in its data dir), wait until its REST API answers
#                                  and every connector and task is RUNNING
#   stop [--purge]                 stop it (idempotent); --purge also deletes its data dir
#   status                         exit 0 if running and answering, 3 otherwise
#   logs [TAIL-ARGS...]            show the worker log (default: tail -n 200)
#   resolve                        only resolve/cache the jars and plugins
#
# Environment:
#   CONNECT_REST_PORT      REST port (default 8083); one worker per port
#   CONNECT_BOOTSTRAP      the broker (default 127.0.0.1:$KAFKA_PORT, KAFKA_PORT default 9092)
#   LEAFSYNC_CONNECT_HOME  cache/data root (default ~/.cache/leafsync/connect)
#   CONNECT_DATA_DIR       per-worker dir: config, offsets, pid, log
#                          (default $LEAFSYNC_CONNECT_HOME/data-$CONNECT_REST_PORT)
#   CONNECT_HEAP           JVM heap flags (default "-Xmx1g -Xms256m")
#   CONNECT_PLUGINS        the plugins this worker loads, of debezium-connector-postgres and
#                          debezium-connector-jdbc (default: both); fewer start faster
#   CONNECT_START_TIMEOUT  seconds to wait for the worker and its connectors (default 120)
#   KAFKA_MAVEN_REPO       Maven local repository to use (default: Maven's own, ~/.m2)
set -euo pipefail

readonly HOST=127.0.0.1
SCRIPT_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
readonly SCRIPT_DIR
readonly POM="$SCRIPT_DIR/connect/pom.xml"
readonly LOG4J_CONF="$SCRIPT_DIR/connect/log4j2.properties"
# Debezium's plugin archives (groupId:artifactId:version). The JDBC sink is 3.6.0: 3.6.1 is
# not served by Maven Central.
readonly PLUGINS=(io.debezium:debezium-connector-postgres:3.6.1.Final
                  io.debezium:debezium-connector-jdbc:3.6.0.Final)
# The connector class of each archive, for the ServiceLoader manifest the archives lack.
declare -A CONNECTOR_CLASS=(
    [debezium-connector-postgres]="org.apache.kafka.connect.source.SourceConnector io.debezium.connector.postgresql.PostgresConnector"
    [debezium-connector-jdbc]="org.apache.kafka.connect.sink.SinkConnector io.debezium.connector.jdbc.JdbcSinkConnector")
readonly CONNECTOR_CLASS

CONNECT_REST_PORT=${CONNECT_REST_PORT:-8083}
CONNECT_BOOTSTRAP=${CONNECT_BOOTSTRAP:-127.0.0.1:${KAFKA_PORT:-9092}}
LEAFSYNC_CONNECT_HOME=${LEAFSYNC_CONNECT_HOME:-${HOME:-/tmp}/.cache/leafsync/connect}
CONNECT_DATA_DIR=${CONNECT_DATA_DIR:-$LEAFSYNC_CONNECT_HOME/data-$CONNECT_REST_PORT}
CONNECT_HEAP=${CONNECT_HEAP:--Xmx1g -Xms256m}
CONNECT_START_TIMEOUT=${CONNECT_START_TIMEOUT:-120}
CONNECT_PLUGINS=${CONNECT_PLUGINS:-debezium-connector-postgres debezium-connector-jdbc}
KAFKA_MAVEN_REPO=${KAFKA_MAVEN_REPO:-}

readonly LIB_DIR="$LEAFSYNC_CONNECT_HOME/lib"
readonly LIB_STAMP="$LIB_DIR/.pom.xml"
readonly PLUGIN_DIR="$LEAFSYNC_CONNECT_HOME/plugins"
readonly PROPS="$CONNECT_DATA_DIR/worker.properties"
readonly PID_FILE="$CONNECT_DATA_DIR/connect.pid"
readonly LOG_FILE="$CONNECT_DATA_DIR/connect.log"

# shellcheck source-path=SCRIPTDIR source=lib/service.sh
source "$(dirname "$(readlink -f "${BASH_SOURCE[0]}")")/lib/service.sh"
SERVICE_LOG_PREFIX="connect.sh[$CONNECT_REST_PORT]"
SERVICE_COMMANDS=(start stop status logs resolve)

ensure_java_maven() {
    if ! command -v java >/dev/null 2>&1 || ! command -v mvn >/dev/null 2>&1; then
        log "installing java and maven (apt-get)"
        apt_install default-jre-headless maven
    fi
    command -v curl >/dev/null 2>&1 || apt_install curl
}

mvn_repo_args() { [[ -n $KAFKA_MAVEN_REPO ]] && echo "-Dmaven.repo.local=$KAFKA_MAVEN_REPO"; true; }

# ------------------------------------------------------------- jar cache -----

jars_ok() { [[ -f $LIB_STAMP ]] && cmp -s "$POM" "$LIB_STAMP"; }

plugin_ok() { [[ -f $PLUGIN_DIR/.${1//:/_} ]]; }

# A jar holding only META-INF/services/<interface> naming the plugin's connector, so that the
# worker finds it with plugin.discovery=service_load instead of scanning every class of every
# jar (about a minute on a 2-core machine): Debezium's archives carry no such manifest.
write_manifest() {
    local dir=$1 interface=$2 class=$3
    python3 - "$dir/leafsync-connect-manifest.jar" "$interface" "$class" <<'PY'
import sys, zipfile
with zipfile.ZipFile(sys.argv[1], "w") as jar:
    jar.writestr("META-INF/services/" + sys.argv[2], sys.argv[3] + "\n")
PY
}

resolve_all() {
    local coordinates missing=0
    for coordinates in "${PLUGINS[@]}"; do plugin_ok "$coordinates" || missing=1; done
    jars_ok && ((missing == 0)) && return 0
    ensure_java_maven
    mkdir -p "$LEAFSYNC_CONNECT_HOME"
    exec {lock_fd}>"$LEAFSYNC_CONNECT_HOME/.resolve.lock"
    flock "$lock_fd"
    local work
    work=$(mktemp -d "$LEAFSYNC_CONNECT_HOME/.resolve.XXXXXX")
    # shellcheck disable=SC2046  # mvn_repo_args is zero or one word
    if ! jars_ok; then
        log "resolving Kafka Connect jars from Maven Central into $LIB_DIR"
        cp "$POM" "$work/pom.xml"
        if ! mvn -B -q -f "$work/pom.xml" dependency:copy-dependencies -DincludeScope=runtime \
                "-DoutputDirectory=$work/lib" $(mvn_repo_args) >"$work/mvn.log" 2>&1; then
            cat "$work/mvn.log" >&2
            rm -rf "$work"
            die "Maven could not resolve the jars of $POM"
        fi
        cp "$POM" "$work/lib/.pom.xml"
        rm -rf "$LIB_DIR"
        mv "$work/lib" "$LIB_DIR"
    fi
    mkdir -p "$PLUGIN_DIR"
    for coordinates in "${PLUGINS[@]}"; do
        plugin_ok "$coordinates" && continue
        log "fetching the plugin archive $coordinates"
        # shellcheck disable=SC2046
        if ! mvn -B -q dependency:get -Dtransitive=false "-Dartifact=$coordinates:tar.gz:plugin" \
                $(mvn_repo_args) >"$work/mvn.log" 2>&1; then
            cat "$work/mvn.log" >&2
            rm -rf "$work"
            die "Maven could not fetch $coordinates:tar.gz:plugin"
        fi
        local group artifact version repo archive
        IFS=: read -r group artifact version <<<"$coordinates"
        repo=${KAFKA_MAVEN_REPO:-${HOME:-/root}/.m2/repository}
        archive="$repo/${group//.//}/$artifact/$version/$artifact-$version-plugin.tar.gz"
        [[ -f $archive ]] || die "no archive at $archive"
        # The archive holds one directory, $artifact/, with the connector and its jars.
        rm -rf "${PLUGIN_DIR:?}/$artifact"
        tar -xzf "$archive" -C "$PLUGIN_DIR"
        [[ -d $PLUGIN_DIR/$artifact ]] || die "$archive did not unpack to $artifact/"
        # shellcheck disable=SC2086  # interface and class, two words
        write_manifest "$PLUGIN_DIR/$artifact" ${CONNECTOR_CLASS[$artifact]}
        touch "$PLUGIN_DIR/.${coordinates//:/_}"
    done
    rm -rf "$work"
    exec {lock_fd}>&-
}

# --------------------------------------------------------------- process -----

worker_pid() { service_pid "$PID_FILE" "ConnectStandalone $PROPS"; }

rest() { curl -sf --max-time 5 "http://$HOST:$CONNECT_REST_PORT$1"; }

# Every connector the worker runs is RUNNING with all its tasks RUNNING.
all_running() {
    local names name status
    names=$(rest /connectors) || return 1
    [[ $names != "[]" ]] || return 1
    for name in $(echo "$names" | tr -d '[]"' | tr ',' ' '); do
        status=$(rest "/connectors/$name/status") || return 1
        [[ $status == *'"tasks":[{'* ]] || return 1
        if [[ $status == *FAILED* ]]; then
            tail -n 60 "$LOG_FILE" >&2 || true
            cmd_stop >/dev/null 2>&1 || true
            die "connector $name failed: $status"
        fi
        [[ $(echo "$status" | grep -o '"state":"[A-Z]*"' | sort -u) == '"state":"RUNNING"' ]] || return 1
    done
}

write_config() {
    mkdir -p "$CONNECT_DATA_DIR"
    # plugin.path names directories holding one directory per plugin: this worker's own, linking
    # to the cached plugins it loads.
    local plugin
    rm -rf "$CONNECT_DATA_DIR/plugins"
    mkdir -p "$CONNECT_DATA_DIR/plugins"
    for plugin in $CONNECT_PLUGINS; do
        [[ -d $PLUGIN_DIR/$plugin ]] || die "no plugin $plugin in $PLUGIN_DIR"
        ln -s "$PLUGIN_DIR/$plugin" "$CONNECT_DATA_DIR/plugins/$plugin"
    done
    cat >"$PROPS" <<EOF
# Generated by scripts/connect.sh on every start; edits are overwritten.
bootstrap.servers=$CONNECT_BOOTSTRAP
listeners=http://$HOST:$CONNECT_REST_PORT
plugin.path=$CONNECT_DATA_DIR/plugins
# ServiceLoader manifests only (see write_manifest), no scan of every class.
plugin.discovery=service_load
offset.storage.file.filename=$CONNECT_DATA_DIR/offsets
offset.flush.interval.ms=1000
key.converter=org.apache.kafka.connect.json.JsonConverter
value.converter=org.apache.kafka.connect.json.JsonConverter
EOF
}

# shellcheck disable=SC2120  # service_main passes the command's arguments
cmd_start() {
    (($#)) || die "start: name at least one connector .properties file"
    local f configs=()
    for f in "$@"; do
        [[ -f $f ]] || die "no connector config $f"
        configs+=("$(readlink -f "$f")")
    done
    local pid
    if pid=$(worker_pid); then die "a worker already runs (pid $pid) on port $CONNECT_REST_PORT"; fi
    port_open "$HOST" "$CONNECT_REST_PORT" && die "port $HOST:$CONNECT_REST_PORT is already in use"
    resolve_all
    ensure_java_maven
    write_config
    local start=$SECONDS
    printf '=== %s connect.sh start\n' "$(date -u +%FT%TZ)" >>"$LOG_FILE"
    # shellcheck disable=SC2086  # CONNECT_HEAP is a word list
    service_spawn "$PID_FILE" "$LOG_FILE" java $CONNECT_HEAP -XX:+ExitOnOutOfMemoryError \
        -Djava.awt.headless=true "-Dlog4j2.configurationFile=$LOG4J_CONF" -cp "$LIB_DIR/*" \
        org.apache.kafka.connect.cli.ConnectStandalone "$PROPS" "${configs[@]}"
    pid=$SERVICE_PID
    log "starting worker (pid $pid) on $HOST:$CONNECT_REST_PORT, broker $CONNECT_BOOTSTRAP, data $CONNECT_DATA_DIR"
    local rc=0
    service_wait "$pid" "$CONNECT_START_TIMEOUT" 0.5 all_running || rc=$?
    if ((rc == 0)); then
        log "worker and connectors running after $((SECONDS - start)) s"
        return 0
    fi
    tail -n 60 "$LOG_FILE" >&2 || true
    cmd_stop >/dev/null 2>&1 || true
    die "the worker or a connector did not start (rc $rc)"
}

cmd_stop() {
    stop_args "$@"
    local pid
    if pid=$(worker_pid); then
        log "stopping worker (pid $pid)"
        service_terminate "$pid" 30
        log "stopped"
    else
        log "not running"
    fi
    rm -f "$PID_FILE"
    if ((PURGE)); then rm -rf "$CONNECT_DATA_DIR"; fi
}

cmd_status() {
    local pid
    if pid=$(worker_pid) && rest / >/dev/null; then
        echo "connect running (pid $pid) on $HOST:$CONNECT_REST_PORT"
        return 0
    fi
    echo "connect not running on $HOST:$CONNECT_REST_PORT"
    return 3
}

cmd_logs() { service_logs "$LOG_FILE" "$@"; }

cmd_resolve() { resolve_all; }

service_main "$@"
