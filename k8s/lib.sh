# shellcheck shell=bash
# Shared by the k8s/*.sh scripts (sourced, not run): the namespace, applying an environment's
# files in name order with the image and config hash filled in, waiting for rollouts, and the
# port-forwards of open/close. Bash 3.2 compatible (macOS), like the scripts that source it.

readonly NAMESPACE=leaf-image-management-system
# The manifests name this image; start.*.sh replace it with $LEAFSYNC_IMAGE when applying.
readonly IMAGE_PLACEHOLDER=leafsync:dev
# Pod annotation value replaced by a hash of the env's ConfigMap: a config change rolls the pods.
readonly CONFIG_HASH_PLACEHOLDER=set-by-start-script
# shellcheck disable=SC2034  # used by the scripts that source this file
readonly SECRET_NAME=leafsync-secrets

K8S_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
readonly K8S_DIR
PROG=${PROG:-$(basename "$0")}
export LC_ALL=C  # glob order = byte order = the order the files are meant to be applied in

log() { printf '%s: %s\n' "$PROG" "$*" >&2; }
die() {
  log "error: $*"
  exit 1
}

kc() { kubectl --namespace "$NAMESPACE" "$@"; }

# The calling script's header comment, from line 2 to `set -euo pipefail`.
usage() { sed -n '2,/^set -euo/{/^set -euo/d;s/^# \{0,1\}//;p;}' "$0"; }

require_cluster() {
  command -v kubectl >/dev/null 2>&1 || die "kubectl is not installed (https://kubernetes.io/docs/tasks/tools/)"
  local context
  context=$(kubectl config current-context 2>/dev/null) ||
    die "kubectl has no current context (kind create cluster, or gcloud container clusters get-credentials ...)"
  kubectl cluster-info --request-timeout=10s >/dev/null 2>&1 || die "cannot reach the cluster of context '$context'"
  log "cluster: context $context, namespace $NAMESPACE"
}

short_sha256() {
  if command -v sha256sum >/dev/null 2>&1; then sha256sum | cut -c1-16; else shasum -a 256 | cut -c1-16; fi
}

# render FILE IMAGE CONFIG_HASH: the manifest with the placeholders filled in.
render() {
  sed -e "s|image: ${IMAGE_PLACEHOLDER}\$|image: $2|" -e "s|: ${CONFIG_HASH_PLACEHOLDER}\$|: \"$3\"|" "$1"
}

APPLIED=" "  # files applied by this run, so that apply_env does not repeat them

# apply_file FILE [IMAGE [CONFIG_HASH]]
apply_file() {
  APPLIED="$APPLIED$1 "
  log "apply ${1#"$K8S_DIR"/}"
  render "$1" "${2:-$IMAGE_PLACEHOLDER}" "${3:-none}" | kubectl apply -f - >&2 ||
    die "kubectl apply failed for ${1#"$K8S_DIR"/}"
}

# apply_env ENV IMAGE [SKIP...]: every k8s/ENV/NN-*.yaml in name order (the namespace first),
# except files already applied by this run and those named in SKIP.
apply_env() {
  local env=$1 image=$2 hash f
  shift 2
  hash=$(cat "$K8S_DIR/$env"/*-configmap.yaml | short_sha256)
  for f in "$K8S_DIR/$env"/[0-9][0-9]-*.yaml; do
    case $APPLIED in *" $f "*) continue ;; esac
    case " $* " in *" ${f##*/} "*)
      log "skip ${f#"$K8S_DIR"/}"
      continue
      ;;
    esac
    apply_file "$f" "$image" "$hash"
  done
}

# apply_optional ENV FILE CRD WHAT: optional/FILE when the cluster has the CRD it needs.
apply_optional() {
  local file="$K8S_DIR/$1/optional/$2"
  [ -f "$file" ] || return 0
  if [ "${LEAFSYNC_SKIP_OPTIONAL:-0}" = 1 ]; then
    log "skip optional/$2 (LEAFSYNC_SKIP_OPTIONAL=1)"
  elif kubectl get crd "$3" >/dev/null 2>&1; then
    apply_file "$file"
  else
    log "skip optional/$2: CRD $3 not installed ($4)"
  fi
}

apply_optional_monitoring() {
  apply_optional "$1" servicemonitor.yaml servicemonitors.monitoring.coreos.com "no Prometheus Operator"
  apply_optional "$1" podmonitoring.yaml podmonitorings.monitoring.googleapis.com "no GKE managed Prometheus"
}

# wait_rollout KIND/NAME: until ready, or explain why not and exit 1.
wait_rollout() {
  local timeout=${LEAFSYNC_ROLLOUT_TIMEOUT:-300s}
  log "waiting for $1 (timeout $timeout)"
  if ! kc rollout status "$1" --timeout="$timeout" >&2; then
    log "$1 is not ready. Pods and recent events:"
    kc get pods -o wide >&2 || true
    kc get events --sort-by=.lastTimestamp 2>/dev/null | tail -n 15 >&2 || true
    log "hints: ImagePullBackOff on a local cluster -> load the image (kind load docker-image $IMAGE_PLACEHOLDER);"
    log "       not ready -> kubectl -n $NAMESPACE logs $1 --tail=50 ; curl /readyz names what it waits for"
    exit 1
  fi
}

# ------------------------------------------------------------- port-forwards ---

state_file() {
  local dir=${LEAFSYNC_K8S_STATE_DIR:-${XDG_STATE_HOME:-$HOME/.local/state}/leafsync}
  mkdir -p "$dir"
  printf '%s/port-forward.%s.pids' "$dir" "$1"
}

# Is PID a running `kubectl port-forward` (and not a recycled pid)?
is_port_forward() {
  local args
  args=$(ps -p "$1" -o args= 2>/dev/null) || return 1
  case $args in
    *kubectl*port-forward*) return 0 ;;
    *) return 1 ;;
  esac
}

port_in_use() { (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }

print_urls() {
  local pid svc port
  while read -r pid svc port; do
    log "$svc (pid $pid): API http://127.0.0.1:$port/  metrics http://127.0.0.1:$port/metrics" \
      " probes /healthz /readyz"
  done <"$1"
}

# close_env ENV [quiet]: stop the port-forwards open.ENV.sh started; fine when there are none.
close_env() {
  local file pid svc port n=0 i
  file=$(state_file "$1")
  if [ ! -e "$file" ]; then
    [ -n "${2:-}" ] || log "no port-forwards open for $1"
    return 0
  fi
  while read -r pid svc port; do
    if is_port_forward "$pid"; then
      kill "$pid" 2>/dev/null || true
      for i in 1 2 3 4 5 6 7 8 9 10; do
        is_port_forward "$pid" || break
        [ "$i" -lt 10 ] || kill -9 "$pid" 2>/dev/null || true
        sleep 0.2
      done
      n=$((n + 1))
      [ -n "${2:-}" ] || log "stopped $svc port-forward (pid $pid, 127.0.0.1:$port)"
    fi
  done <"$file"
  rm -f "$file"
  [ -n "${2:-}" ] || log "closed $n port-forward(s) for $1"
}

# forward ENV SERVICE LOCAL_PORT PIDFILE
forward() {
  local env=$1 svc=$2 port=$3 file=$4 remote logfile pid i
  remote=$(kc get service "$svc" -o 'jsonpath={.spec.ports[?(@.name=="http")].port}' 2>/dev/null || true)
  if [ -z "$remote" ]; then
    close_env "$env" quiet
    die "Service $svc not found in $NAMESPACE: deploy first (k8s/start.$env.sh)"
  fi
  if port_in_use "$port"; then
    close_env "$env" quiet
    die "local port $port is already in use (choose another: LEAFSYNC_CONSUMER_LOCAL_PORT / LEAFSYNC_PRODUCER_LOCAL_PORT)"
  fi
  logfile="${file%.pids}.$svc.log"
  nohup kubectl --namespace "$NAMESPACE" port-forward --address 127.0.0.1 "service/$svc" "$port:$remote" \
    >"$logfile" 2>&1 </dev/null &
  pid=$!
  echo "$pid $svc $port" >>"$file"
  for i in $(seq 1 75); do
    if port_in_use "$port"; then return 0; fi
    kill -0 "$pid" 2>/dev/null || break
    sleep 0.2
  done
  log "port-forward to $svc did not start (${i} tries); its output:"
  tail -n 5 "$logfile" >&2 || true
  close_env "$env" quiet
  exit 1
}

# open_env ENV: port-forward the consumer and the producer to loopback; idempotent.
open_env() {
  local env=$1 file pid svc port alive=1
  file=$(state_file "$env")
  if [ -s "$file" ]; then
    while read -r pid svc port; do is_port_forward "$pid" || alive=0; done <"$file"
    if [ "$alive" = 1 ]; then
      log "already open (k8s/close.$env.sh stops them):"
      print_urls "$file"
      return 0
    fi
    log "some port-forwards of an earlier open died; restarting them"
    close_env "$env" quiet
  fi
  require_cluster
  : >"$file"
  forward "$env" leafsync-consumer "${LEAFSYNC_CONSUMER_LOCAL_PORT:-8080}" "$file"
  forward "$env" leafsync-producer "${LEAFSYNC_PRODUCER_LOCAL_PORT:-8081}" "$file"
  log "open (pids in $file; k8s/close.$env.sh stops them):"
  print_urls "$file"
}
