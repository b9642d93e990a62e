#!/usr/bin/env bash
# Starts leafsync-consumer and leafsync-producer the way their containers in k8s/stg (and
# k8s/prod) start them, checks that the probes answer, then stops them the way the kubelet does.
#
# From the manifests (scripts/check_manifests.py container-plan, so nothing is copied by hand):
# the command line, the environment, the ConfigMap files at their mount paths (laid out under a
# temporary root that stands for /), the user (runAsUser/runAsGroup), the probe and metrics
# paths, the memory limit, terminationGracePeriodSeconds and the preStop sleep. Then:
#   - the binary runs from a copy (the image's /usr/local/bin), with a clean environment
#     (env -i), in a read-only working directory (the image's WORKDIR /app), as the manifest's
#     uid when this script runs as root (setpriv), so that only the volumes the manifest mounts
#     writable (emptyDir: the database dir and /tmp, also TMPDIR) can be written;
#   - overridden, and only these: LEAFSYNC_BOOTSTRAP_SERVERS (the test broker),
#     LEAFSYNC_DATABASE_URL (a SQLite file in the /tmp volume; prod's PostgreSQL URL comes from
#     a Secret) and LEAFSYNC_HTTP_PORT (a free port: the pod's own network namespace would have
#     8080 free); a required Secret value other than these gets a placeholder (prod's token);
#   - the startup, liveness and readiness paths must answer 200 before their deadlines, the
#     metrics path must serve leafsync_ metrics, peak RSS must stay below the memory limit,
#     nothing may be logged at level=error, and SIGTERM must end the process with exit code 0
#     within the grace period minus the preStop sleep.
# The consumer needs its topics: on a local broker (127.0.0.1:PORT started by scripts/kafka.sh)
# they are created with scripts/kafka.sh create-topics; elsewhere they must exist.
#
# Usage: LEAFSYNC_TEST_BOOTSTRAP=127.0.0.1:19092 scripts/check-container-start.sh [BIN_DIR [BOOTSTRAP]]
#   BIN_DIR    where leafsync-consumer and leafsync-producer are (default build/bin)
#   BOOTSTRAP  Kafka bootstrap address (default $LEAFSYNC_TEST_BOOTSTRAP)
# Environment: LEAFSYNC_CHECK_CREATE_TOPICS=0 to never create topics;
#              LEAFSYNC_CHECK_KEEP=1 to keep the temporary root for inspection
# Exit codes: 0 both started, served their probes and stopped cleanly; 1 a check failed; 2 usage.
set -euo pipefail
CALLER_DIR=$PWD
cd "$(dirname "$0")/.."
REPO=$PWD

usage() { sed -n '2,/^set -euo/{/^set -euo/d;s/^# \{0,1\}//;p;}' "$0"; }
case ${1:-} in -h | --help) usage; exit 0 ;; esac
[ $# -le 2 ] || { usage >&2; exit 2; }
BIN_DIR=${1:-build/bin}
# A directory given on the command line is relative to where the caller stands.
if [ -n "${1:-}" ] && [ "${BIN_DIR#/}" = "$BIN_DIR" ]; then BIN_DIR=$CALLER_DIR/$BIN_DIR; fi
BOOTSTRAP=${2:-${LEAFSYNC_TEST_BOOTSTRAP:-}}
[ -n "$BOOTSTRAP" ] || { echo "check-container-start: set LEAFSYNC_TEST_BOOTSTRAP (or pass BOOTSTRAP)" >&2; exit 2; }

log() { printf 'check-container-start: %s\n' "$*" >&2; }
fail() {
  log "FAIL: $*"
  exit 1
}
for tool in curl python3; do command -v "$tool" >/dev/null 2>&1 || fail "$tool is required"; done
for b in leafsync-consumer leafsync-producer; do
  [ -x "$BIN_DIR/$b" ] || fail "$BIN_DIR/$b missing: build first (scripts/build.sh)"
done

scripts/check-manifests.sh --setup-only
PY=${LEAFSYNC_CHECK_VENV:-${XDG_CACHE_HOME:-$HOME/.cache}/leafsync/check-venv}/bin/python

WORK=$(mktemp -d "${TMPDIR:-/tmp}/leafsync-container-check.XXXXXX")
chmod 755 "$WORK"
PID=
TOPICS_DONE=
cleanup() {
  if [ -n "$PID" ] && kill -0 "$PID" 2>/dev/null; then kill -KILL "$PID" 2>/dev/null || true; fi
  if [ "${LEAFSYNC_CHECK_KEEP:-0}" = 1 ]; then
    log "kept $WORK"
  else
    chmod -R u+w "$WORK" 2>/dev/null || true
    rm -rf "$WORK"
  fi
}
trap cleanup EXIT

free_port() { python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'; }

# http_status URL: the status code, 000 when nothing answers.
http_status() { curl -s -o "$WORK/body" -w '%{http_code}' --max-time 2 "$1" 2>/dev/null || true; }

# wait_for_200 URL SECONDS WHAT
wait_for_200() {
  local deadline=$((SECONDS + $2)) status=000
  while [ $SECONDS -lt $deadline ]; do
    status=$(http_status "$1")
    [ "$status" = 200 ] && return 0
    kill -0 "$PID" 2>/dev/null || {
      tail -n 20 "$LOG" >&2
      fail "$3: the process exited before $1 answered"
    }
    sleep 0.2
  done
  tail -n 20 "$LOG" >&2
  fail "$3: $1 answered $status (body: $(head -c 400 "$WORK/body" 2>/dev/null)) after $2 s"
}

create_topics() {  # TOPIC... (plus the plan's dead-letter topic)
  local host=${BOOTSTRAP%:*} port=${BOOTSTRAP##*:}
  if [ "${LEAFSYNC_CHECK_CREATE_TOPICS:-1}" = 0 ]; then
    log "not creating topics (LEAFSYNC_CHECK_CREATE_TOPICS=0): $* must exist on $BOOTSTRAP"
  elif { [ "$host" = 127.0.0.1 ] || [ "$host" = localhost ]; } && KAFKA_PORT=$port scripts/kafka.sh status >/dev/null 2>&1; then
    log "creating topics $* on $BOOTSTRAP (scripts/kafka.sh create-topics, idempotent)"
    KAFKA_PORT=$port KAFKA_DLQ_TOPIC=$PLAN_DLQ_TOPIC scripts/kafka.sh create-topics "$@" >/dev/null 2>&1 ||
      fail "scripts/kafka.sh create-topics $* failed on $BOOTSTRAP"
  else
    log "$BOOTSTRAP is not a scripts/kafka.sh broker: topics $* must exist"
  fi
}

# check_workload ENV NAME: start it as its container in k8s/ENV would start, probe, stop.
check_workload() {
  local env=$1 workload=$2 root="$WORK/$1-$2" port env_list as_user=() started stopped rc hwm_kb uid
  mkdir -p "$root/rootfs" "$root/app" "$root/bin"
  "$PY" scripts/check_manifests.py container-plan --env "$env" --workload "$workload" \
    --root "$root/rootfs" --out "$root/plan.sh" \
    --override LEAFSYNC_BOOTSTRAP_SERVERS --override LEAFSYNC_DATABASE_URL --override LEAFSYNC_HTTP_PORT ||
    fail "$workload: cannot derive its container from k8s/$env"
  # shellcheck source=/dev/null
  . "$root/plan.sh"
  log "$PLAN_WORKLOAD"

  # The image's layout: binaries in their own dir, WORKDIR /app holding config/, read-only.
  cp "$BIN_DIR/$PLAN_BINARY" "$root/bin/"
  cp -r "$REPO/config" "$root/app/config"
  chmod -R a+rX "$root"
  chmod -R a-w "$root/app" "$root/rootfs"
  local tmp="$root/rootfs/tmp" dir has_tmp=0
  for dir in "${PLAN_WRITABLE[@]}"; do
    chmod 1777 "$dir"
    [ "$dir" != "$tmp" ] || has_tmp=1
  done
  [ "$has_tmp" = 1 ] || fail "$workload: no writable volume at /tmp, but the root filesystem is read-only"

  port=$(free_port)
  env_list=(
    "PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"
    "HOSTNAME=$PLAN_HOSTNAME" "HOME=/nonexistent" "TMPDIR=$tmp"
    "${PLAN_ENV[@]}"
    "LEAFSYNC_BOOTSTRAP_SERVERS=$BOOTSTRAP"
    "LEAFSYNC_DATABASE_URL=sqlite:$tmp/${workload}.sqlite"
    "LEAFSYNC_HTTP_PORT=$port"
  )
  for skipped in "${PLAN_SKIPPED_ENV[@]}"; do log "env $skipped"; done
  if [ "$(id -u)" -eq 0 ]; then
    command -v setpriv >/dev/null 2>&1 || fail "setpriv (util-linux) is needed to drop root"
    as_user=(setpriv --reuid="${PLAN_RUN_AS%:*}" --regid="${PLAN_RUN_AS#*:}" --clear-groups --no-new-privs)
  fi
  if [ "$PLAN_BINARY" = leafsync-consumer ] && [ "$TOPICS_DONE" != "${PLAN_TOPICS[*]}" ]; then
    create_topics "${PLAN_TOPICS[@]}"
    TOPICS_DONE="${PLAN_TOPICS[*]}"
  fi

  LOG="$root/output.log"
  log "start: ${as_user[*]:+${as_user[*]} }$PLAN_BINARY ${PLAN_ARGS[*]} (cwd read-only, port $port)"
  started=$SECONDS
  (cd "$root/app" && exec "${as_user[@]}" env -i "${env_list[@]}" "$root/bin/$PLAN_BINARY" "${PLAN_ARGS[@]}") >"$LOG" 2>&1 &
  PID=$!

  local base="http://127.0.0.1:$port"
  wait_for_200 "$base$PLAN_STARTUP_PATH" 30 "$workload startupProbe"
  uid=$(awk '/^Uid:/ {print $2}' "/proc/$PID/status" 2>/dev/null || echo '?')
  log "startupProbe $PLAN_STARTUP_PATH: 200 after $((SECONDS - started)) s (uid $uid)"
  [ "$(id -u)" -ne 0 ] || [ "$uid" = "${PLAN_RUN_AS%:*}" ] || fail "$workload: runs as uid $uid, not ${PLAN_RUN_AS%:*}"
  wait_for_200 "$base$PLAN_LIVENESS_PATH" 10 "$workload livenessProbe"
  log "livenessProbe $PLAN_LIVENESS_PATH: 200"
  wait_for_200 "$base$PLAN_READINESS_PATH" 90 "$workload readinessProbe"
  log "readinessProbe $PLAN_READINESS_PATH: 200 after $((SECONDS - started)) s ($(head -c 200 "$WORK/body"))"
  [ "$(http_status "$base$PLAN_METRICS_PATH")" = 200 ] || fail "$workload: $PLAN_METRICS_PATH did not answer 200"
  grep -q '^leafsync_' "$WORK/body" || fail "$workload: $PLAN_METRICS_PATH serves no leafsync_ metric"
  log "metrics $PLAN_METRICS_PATH: 200, $(grep -c '^leafsync_' "$WORK/body") leafsync_ samples"

  hwm_kb=$(awk '/^VmHWM:/ {print $2}' "/proc/$PID/status" 2>/dev/null || echo 0)
  log "peak RSS $((hwm_kb / 1024)) MiB of a $((PLAN_MEMORY_LIMIT_BYTES / 1048576)) MiB limit"
  [ $((hwm_kb * 1024)) -lt "$PLAN_MEMORY_LIMIT_BYTES" ] || fail "$workload: peak RSS above the memory limit"
  if "${as_user[@]}" touch "$root/app/written-by-check" 2>/dev/null; then
    fail "the working directory is writable for the service's user: this check would prove nothing"
  fi

  # The kubelet: preStop, then SIGTERM, then SIGKILL after the grace period.
  local budget=$((PLAN_GRACE_SECONDS - PLAN_PRESTOP_SECONDS))
  stopped=$(date +%s%N)
  kill -TERM "$PID"
  local deadline=$((SECONDS + budget))
  while kill -0 "$PID" 2>/dev/null && [ $SECONDS -lt $deadline ]; do sleep 0.05; done
  if kill -0 "$PID" 2>/dev/null; then
    tail -n 20 "$LOG" >&2
    fail "$workload: still running ${budget} s after SIGTERM (terminationGracePeriodSeconds $PLAN_GRACE_SECONDS - preStop $PLAN_PRESTOP_SECONDS)"
  fi
  rc=0
  wait "$PID" || rc=$?
  PID=
  local ms=$((($(date +%s%N) - stopped) / 1000000))
  [ "$rc" -eq 0 ] || { tail -n 20 "$LOG" >&2; fail "$workload: exit code $rc after SIGTERM (expected 0)"; }
  log "SIGTERM: exit 0 after ${ms} ms (budget ${budget} s)"
  if grep -q 'level=error' "$LOG"; then
    grep 'level=error' "$LOG" | head -n 5 >&2
    fail "$workload: logged errors"
  fi
  log "$env $workload: ok"
}

check_workload stg leafsync-consumer
check_workload stg leafsync-producer
# prod's ConfigMap and command lines too (database and bootstrap overridden the same way)
check_workload prod leafsync-consumer
check_workload prod leafsync-producer
log "all ok: the stg and prod containers start as their manifests say, serve their probes and stop cleanly"
