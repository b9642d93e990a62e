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

# shellcheck source-path=SCRIPTDIR source=lib/service.sh
source "$(dirname "$(readlink -f "${BASH_SOURCE[0]}")")/lib/service.sh"
SERVICE_LOG_PREFIX="prometheus.sh[$PROMETHEUS_LISTEN]"
SERVICE_COMMANDS=(start stop restart status check-config)

ensure_installed() {
    command -v prometheus >/dev/null 2>&1 && command -v promtool >/dev/null 2>&1 && return 0
    log "installing Debian's prometheus (apt-get)"
    apt_install prometheus
    # The package starts its own service on :9090; we run ours directly and leave that one alone.
}

running_pid() { service_pid "$PID_FILE" "--storage.tsdb.path=$PROMETHEUS_DATA_DIR"; }

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
    if port_open "${PROMETHEUS_LISTEN%:*}" "${PROMETHEUS_LISTEN##*:}"; then
        die "$PROMETHEUS_LISTEN is already in use (set PROMETHEUS_LISTEN)"
    fi
    mkdir -p "$PROMETHEUS_DATA_DIR"
    service_spawn "$PID_FILE" "$LOG_FILE" prometheus --config.file="$PROMETHEUS_CONFIG" \
        --storage.tsdb.path="$PROMETHEUS_DATA_DIR" --storage.tsdb.retention.time="$PROMETHEUS_RETENTION" \
        --web.listen-address="$PROMETHEUS_LISTEN"
    pid=$SERVICE_PID
    log "starting (pid $pid), config $PROMETHEUS_CONFIG, data $PROMETHEUS_DATA_DIR"
    local rc=0
    service_wait "$pid" "$PROMETHEUS_START_TIMEOUT" 0.2 ready || rc=$?
    if ((rc == 0)); then
        log "ready on http://$PROMETHEUS_LISTEN"
        return 0
    fi
    if ((rc == 1)); then
        tail -n 20 "$LOG_FILE" >&2
        rm -f "$PID_FILE"
        die "prometheus exited during startup"
    fi
    cmd_stop
    die "not ready after $PROMETHEUS_START_TIMEOUT s"
}

cmd_stop() {
    local purge=0 pid
    [[ ${1:-} == --purge ]] && purge=1
    if pid=$(running_pid); then
        service_terminate "$pid" 30
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

service_main "$@"
