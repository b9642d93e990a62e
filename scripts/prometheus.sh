#!/usr/bin/env bash
# Debian's Prometheus on loopback, scraping leafsync with grafana/prometheus.yml: its own data
# dir, not the system service. For a local dashboard (docs/experiment.md) and for
# scripts/check-dashboard.sh.
#
# Usage: scripts/prometheus.sh start|stop [--purge]|restart|status|check-config
#   start          start it (idempotent), wait until it is ready
#   stop           stop it (SIGTERM, SIGKILL after 30 s); --purge also deletes its data dir
#   status         exit 0 if running and ready, 3 otherwise
#   check-config   promtool check config on the scrape config
#
# Environment:
#   PROMETHEUS_LISTEN      listen address (default 127.0.0.1:9090)
#   PROMETHEUS_CONFIG      scrape config (default grafana/prometheus.yml)
#   PROMETHEUS_DATA_DIR    TSDB, pid and log (default ~/.cache/leafsync/prometheus/data-<port>)
#   PROMETHEUS_RETENTION   TSDB retention (default 7d)
#   PROMETHEUS_START_TIMEOUT  seconds to wait for readiness (default 60)
set -euo pipefail

SCRIPT_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
ROOT=$(cd "$SCRIPT_DIR/.." && pwd)
PROMETHEUS_LISTEN=${PROMETHEUS_LISTEN:-127.0.0.1:9090}
PROMETHEUS_CONFIG=${PROMETHEUS_CONFIG:-$ROOT/grafana/prometheus.yml}
PROMETHEUS_DATA_DIR=${PROMETHEUS_DATA_DIR:-${HOME:-/tmp}/.cache/leafsync/prometheus/data-${PROMETHEUS_LISTEN##*:}}
PROMETHEUS_RETENTION=${PROMETHEUS_RETENTION:-7d}
PROMETHEUS_START_TIMEOUT=${PROMETHEUS_START_TIMEOUT:-60}
PID_FILE=$PROMETHEUS_DATA_DIR/prometheus.pid
LOG_FILE=$PROMETHEUS_DATA_DIR/prometheus.log

log() { printf 'prometheus.sh[%s]: %s\n' "$PROMETHEUS_LISTEN" "$*" >&2; }
die() { log "error: $*"; exit 1; }
usage() { sed -n '2,/^set -euo/{/^set -euo/d;s/^# \{0,1\}//;p}' "${BASH_SOURCE[0]}"; }

ensure_installed() {
    command -v prometheus >/dev/null 2>&1 && command -v promtool >/dev/null 2>&1 && return 0
    log "installing Debian's prometheus (apt-get)"
    local sudo=()
    [[ $(id -u) -eq 0 ]] || sudo=(sudo)
    "${sudo[@]}" env DEBIAN_FRONTEND=noninteractive apt-get install -y -q -o DPkg::Lock::Timeout=300 prometheus >&2 \
        || { "${sudo[@]}" apt-get update -q >&2 && "${sudo[@]}" env DEBIAN_FRONTEND=noninteractive \
                apt-get install -y -q -o DPkg::Lock::Timeout=300 prometheus >&2; } \
        || die "could not install prometheus"
    # The package starts its own service on :9090; we run ours directly and leave that one alone.
}

running_pid() {
    [[ -f $PID_FILE ]] || return 1
    local pid
    pid=$(<"$PID_FILE")
    [[ $pid =~ ^[0-9]+$ ]] && kill -0 "$pid" 2>/dev/null || return 1
    tr '\0' ' ' <"/proc/$pid/cmdline" 2>/dev/null | grep -q -- "--storage.tsdb.path=$PROMETHEUS_DATA_DIR" || return 1
    echo "$pid"
}

ready() { curl -fsS --max-time 2 "http://$PROMETHEUS_LISTEN/-/ready" >/dev/null 2>&1; }

cmd_check_config() {
    ensure_installed
    promtool check config "$PROMETHEUS_CONFIG" >&2
}

cmd_start() {
    ensure_installed
    local pid
    if pid=$(running_pid); then
        log "already running (pid $pid)"
        return 0
    fi
    [[ -f $PROMETHEUS_CONFIG ]] || die "no scrape config $PROMETHEUS_CONFIG"
    if (exec 3<>"/dev/tcp/${PROMETHEUS_LISTEN%:*}/${PROMETHEUS_LISTEN##*:}") 2>/dev/null; then
        die "$PROMETHEUS_LISTEN is already in use (set PROMETHEUS_LISTEN)"
    fi
    mkdir -p "$PROMETHEUS_DATA_DIR"
    nohup prometheus --config.file="$PROMETHEUS_CONFIG" --storage.tsdb.path="$PROMETHEUS_DATA_DIR" \
        --storage.tsdb.retention.time="$PROMETHEUS_RETENTION" --web.listen-address="$PROMETHEUS_LISTEN" \
        >>"$LOG_FILE" 2>&1 </dev/null &
    pid=$!
    echo "$pid" >"$PID_FILE"
    log "starting (pid $pid), config $PROMETHEUS_CONFIG, data $PROMETHEUS_DATA_DIR"
    local deadline=$((SECONDS + PROMETHEUS_START_TIMEOUT))
    while ((SECONDS < deadline)); do
        if ! kill -0 "$pid" 2>/dev/null; then
            tail -n 20 "$LOG_FILE" >&2
            rm -f "$PID_FILE"
            die "prometheus exited during startup"
        fi
        if ready; then
            log "ready on http://$PROMETHEUS_LISTEN"
            return 0
        fi
        sleep 0.2
    done
    cmd_stop
    die "not ready after $PROMETHEUS_START_TIMEOUT s"
}

cmd_stop() {
    local purge=0 pid
    [[ ${1:-} == --purge ]] && purge=1
    if pid=$(running_pid); then
        kill -TERM "$pid" 2>/dev/null || true
        local deadline=$((SECONDS + 30))
        while kill -0 "$pid" 2>/dev/null && ((SECONDS < deadline)); do sleep 0.1; done
        kill -0 "$pid" 2>/dev/null && kill -KILL "$pid" 2>/dev/null
        log "stopped (pid $pid)"
    else
        log "not running"
    fi
    rm -f "$PID_FILE"
    if ((purge)); then rm -rf "$PROMETHEUS_DATA_DIR"; fi
}

cmd_status() {
    local pid
    if pid=$(running_pid) && ready; then
        echo "prometheus running (pid $pid) on http://$PROMETHEUS_LISTEN, data $PROMETHEUS_DATA_DIR"
        return 0
    fi
    echo "prometheus not running on $PROMETHEUS_LISTEN (data $PROMETHEUS_DATA_DIR)"
    return 3
}

case ${1:-} in
    start) cmd_start ;;
    stop) shift; cmd_stop "$@" ;;
    restart) cmd_stop; cmd_start ;;
    status) cmd_status ;;
    check-config) cmd_check_config ;;
    -h | --help | help) usage ;;
    *) usage >&2; exit 2 ;;
esac
