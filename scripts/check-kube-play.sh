#!/usr/bin/env bash
# Runs the real image with the real manifests: `podman kube play --network bridge` of an
# environment's ConfigMap, a Secret (its optional/secret.example.yaml with a token generated
# here), and its producer and consumer Deployments, image name and config hash filled in by
# k8s/lib.sh's render (the mechanism k8s/start.*.sh use). Then checks:
#   - both pods come up, each container as the manifest's runAsUser;
#   - the probes answer as the manifests declare them (startup, liveness, readiness paths on
#     the declared port, within failureThreshold x periodSeconds), and /metrics serves leafsync_;
#   - a write through the producer's API (PUT /image-plant/potato/ with the Secret's token) is
#     read back from the consumer's API, and a write without the token is refused;
#   - SIGTERM with the grace period (podman pod stop --time, as the kubelet; podman 4.3's
#     `kube down` SIGKILLs: exit 137) stops both within terminationGracePeriodSeconds, exit 0;
#     then `podman kube down` removes them;
#   - the logs (podman logs) hold neither the token nor a database password.
# Networking: a podman bridge network of its own (LEAFSYNC_KUBE_SUBNET, default
# 10.89.17.0/24); a Kafka broker of its own listening on and advertising the bridge's gateway
# (the pods cannot reach 127.0.0.1 of the host), port 9092 as the ConfigMap names it; the
# in-cluster service names point at it, and at the producer pod, through hostAliases added to
# the rendered manifests. Nothing leaves this machine.
#
# Usage: scripts/check-kube-play.sh [ENV]      (ENV: stg, the default)
# Environment: LEAFSYNC_IMAGE (default leafsync:dev; build it with scripts/image.sh)
# Exit codes: 0 all checks passed; 1 a check failed; 2 usage.
set -euo pipefail
cd "$(dirname "$0")/.."


usage() { sed -n '2,/^set -euo/{/^set -euo/d;s/^# \{0,1\}//;p;}' "$0"; }
case ${1:-} in -h | --help) usage; exit 0 ;; esac
ENV_NAME=${1:-stg}
[ "$ENV_NAME" = stg ] || { usage >&2; exit 2; }
IMAGE=${LEAFSYNC_IMAGE:-leafsync:dev}
SUBNET=${LEAFSYNC_KUBE_SUBNET:-10.89.17.0/24}
GATEWAY=${SUBNET%.*}.1
NET=leafsync-kube-check
NS=leaf-image-management-system

export PROG=check-kube-play
# shellcheck source=k8s/lib.sh
. k8s/lib.sh
fail() {
  log "FAIL: $*"
  exit 1
}
podman image exists "$IMAGE" || fail "image $IMAGE missing: build it first (scripts/image.sh)"

WORK=$(mktemp -d "${TMPDIR:-/tmp}/leafsync-kube-play.XXXXXX")
PLAYED=()
STARTED_KAFKA=0
kafka() { KAFKA_HOST=$GATEWAY KAFKA_PORT=9092 KAFKA_CONTROLLER_PORT=9093 KAFKA_DATA_DIR=$WORK/kafka scripts/kafka.sh "$@"; }
cleanup() {
  local f
  for f in "${PLAYED[@]}"; do podman kube down "$f" >/dev/null 2>&1 || true; done
  podman pod rm -f leafsync-net-holder >/dev/null 2>&1 || true
  if [ "$STARTED_KAFKA" = 1 ]; then kafka stop --purge >/dev/null 2>&1 || true; fi
  podman volume rm -f leafsync-producer-db leafsync-config >/dev/null 2>&1 || true
  podman secret rm leafsync-secrets >/dev/null 2>&1 || true
  podman network rm -f "$NET" >/dev/null 2>&1 || true
  rm -rf "$WORK"
}
trap cleanup EXIT

# ---------------------------------------------------------------- network ---
t0=$SECONDS
# A PersistentVolumeClaim becomes a podman volume of that name: a stale one from an aborted run goes.
podman volume rm -f leafsync-producer-db leafsync-config >/dev/null 2>&1 || true
podman network exists "$NET" || podman network create --subnet "$SUBNET" --gateway "$GATEWAY" "$NET" >/dev/null
# netavark brings the bridge (and so the gateway address) up with the first pod on it.
podman pod create --name leafsync-net-holder --network "$NET" >/dev/null
podman pod start leafsync-net-holder >/dev/null
kafka start >&2
STARTED_KAFKA=1
kafka create-topics potato tomato pepper >/dev/null
log "network $NET ($SUBNET), broker on $GATEWAY:9092 and topics: $((SECONDS - t0)) s"

# ---------------------------------------------------------------- render ----
TOKEN=$(od -An -N16 -tx1 /dev/urandom | tr -d ' \n')
hash=$(cat "k8s/$ENV_NAME"/*-configmap.yaml | short_sha256)
free_port() { python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'; }
# render_pods FILE OUT [ALIAS_IP NAME...]: the workload documents (no Namespace, Service or
# PDB: podman has no use for them), the image and hash filled in, hostAliases added.
render_pods() {
  local file=$1 out=$2
  shift 2
  render "$file" "$IMAGE" "$hash" | python3 -c '
import sys, yaml
gw, hostport, aliases = sys.argv[1], sys.argv[2], sys.argv[3:]
keep = []
for d in yaml.safe_load_all(sys.stdin):
    if not d or d["kind"] in ("Namespace", "Service", "PodDisruptionBudget"):
        continue
    if d["kind"] == "Deployment":
        spec = d["spec"]["template"]["spec"]
        spec["hostAliases"] = [{"ip": gw, "hostnames": ["kafka-service.'"$NS"'.svc.cluster.local"]}]
        # podman publishes every containerPort on the host (0.0.0.0, same port): both pods
        # would take 8080. Publish on loopback, on a port of its own; the check uses the pod IP.
        for c in spec["containers"]:
            for p in c.get("ports", []):
                p["hostIP"], p["hostPort"] = "127.0.0.1", int(hostport)
        for i in range(0, len(aliases), 2):
            spec["hostAliases"].append({"ip": aliases[i], "hostnames": [aliases[i + 1]]})
    keep.append(d)
yaml.safe_dump_all(keep, sys.stdout, sort_keys=False)
' "$GATEWAY" "$(free_port)" "$@" >"$out"
}
# The Secret: podman 4.3 resolves secretKeyRef from its own secret store, and expects there a
# JSON object of key -> base64 value (the Secret's `data` after the API server merged stringData
# into it). `kube play` of the Secret's YAML stores it in a form its own lookup cannot parse
# ("not valid JSON"), which `optional: true` then hides: the token stays unset and writes are
# open (seen). So the example Secret is converted and created the way podman reads it.
sed "s/CHANGE-ME/$TOKEN/" "k8s/$ENV_NAME/optional/secret.example.yaml" | python3 -c '
import base64, json, sys, yaml
d = yaml.safe_load(sys.stdin)
d.setdefault("data", {}).update({k: base64.b64encode(v.encode()).decode() for k, v in d.pop("stringData", {}).items()})
json.dump(d["data"], sys.stdout)
' >"$WORK/secret.json"
grep -q "$(printf %s "$TOKEN" | base64)" "$WORK/secret.json" || fail "no write-token placeholder in optional/secret.example.yaml"
podman secret rm leafsync-secrets >/dev/null 2>&1 || true
podman secret create leafsync-secrets "$WORK/secret.json" >/dev/null
render_pods "k8s/$ENV_NAME/10-configmap.yaml" "$WORK/config.yaml"

# play NAME FILE...: kube play the files as one, wait for the pod's containers to run.
play() {
  local name=$1 f="$WORK/$1.play.yaml" started=$SECONDS
  shift
  for x in "$@"; do
    cat "$x"
    printf '\n---\n'
  done >"$f"
  PLAYED+=("$f")
  podman kube play --network "$NET" "$f" >"$WORK/$name.play.log" 2>&1 ||
    { cat "$WORK/$name.play.log" >&2; fail "podman kube play $name failed"; }
  cat "$WORK/$name.play.log" >&2
  log "kube play $name: $((SECONDS - started)) s"
}

# pod_field DEPLOYMENT FIELD: from the Deployment's pod template, as JSON.
pod_field() {
  python3 -c '
import json, sys, yaml
for d in yaml.safe_load_all(open(sys.argv[1])):
    if d and d["kind"] == "Deployment":
        spec = d["spec"]["template"]["spec"]
        c = spec["containers"][0]
        print(json.dumps(eval(sys.argv[2], {}, {"spec": spec, "c": c})))
' "$1" "$2"
}

# podman names a Deployment's pod DEPLOYMENT-pod-0 (4.3) or DEPLOYMENT-pod, its container POD-CONTAINER.
pod_of() { podman pod ps --format '{{.Name}}' | grep -E "^$1-pod(-0)?\$" | head -n 1; }
container_of() {
  local pod
  pod=$(pod_of "$1") && [ -n "$pod" ] || return 0
  podman ps -a --filter "pod=$pod" --format '{{.Names}}' | grep -v -- '-infra$' | head -n 1
}

# check_up DEPLOYMENT_FILE NAME: probes as declared; prints the pod's IP in POD_IP.
check_up() {
  local file=$1 name=$2 ctr ip port path period threshold deadline status uid started=$SECONDS
  ctr=$(container_of "$name") || true
  [ -n "$ctr" ] || fail "$name: no container in pod $name-pod"
  ip=$(podman pod inspect "$(pod_of "$name")" --format '{{.InfraContainerID}}' | xargs podman inspect \
    --format "{{(index .NetworkSettings.Networks \"$NET\").IPAddress}}")
  [ -n "$ip" ] || fail "$name: pod has no address on $NET"
  port=$(pod_field "$file" 'c["ports"][0]["containerPort"]')
  for probe in startupProbe livenessProbe readinessProbe; do
    path=$(pod_field "$file" "c[\"$probe\"][\"httpGet\"][\"path\"]" | tr -d '"')
    period=$(pod_field "$file" "c[\"$probe\"].get(\"periodSeconds\", 10)")
    threshold=$(pod_field "$file" "c[\"$probe\"].get(\"failureThreshold\", 3)")
    deadline=$((SECONDS + period * threshold))
    status=000
    while [ $SECONDS -lt $deadline ]; do
      status=$(curl -s -o "$WORK/body" -w '%{http_code}' --max-time 2 "http://$ip:$port$path" || true)
      [ "$status" = 200 ] && break
      [ "$(podman inspect --format '{{.State.Running}}' "$ctr")" = true ] ||
        { podman logs "$ctr" 2>&1 | tail -n 20 >&2; fail "$name: container exited before its $probe passed"; }
      sleep 0.5
    done
    [ "$status" = 200 ] || { podman logs "$ctr" 2>&1 | tail -n 20 >&2; fail "$name: $probe $path answered $status (body: $(head -c 300 "$WORK/body")) within ${period}x${threshold} s"; }
    log "$name $probe $path: 200 after $((SECONDS - started)) s"
  done
  status=$(curl -s -o "$WORK/body" -w '%{http_code}' --max-time 2 "http://$ip:$port/metrics" || true)
  { [ "$status" = 200 ] && grep -q '^leafsync_' "$WORK/body"; } || fail "$name: /metrics answered $status without leafsync_ samples"
  uid=$(podman exec "$ctr" id -u 2>/dev/null || podman top "$ctr" huser | tail -n 1)
  [ "$uid" = "$(pod_field "$file" 'spec["securityContext"]["runAsUser"]')" ] || fail "$name: runs as uid $uid"
  # The memory limit as podman set it (cgroup v1 here): reported, not asserted; the RSS check
  # against the limit stays in scripts/check-container-start.sh.
  log "$name: memory limit $(podman inspect --format '{{.HostConfig.Memory}}' "$ctr") bytes (manifest: $(pod_field "$file" 'c["resources"]["limits"]["memory"]'))"
  POD_IP=$ip
  log "$name: up at $ip:$port as uid $uid"
}

# --------------------------------------------------------------- producer ---
render_pods "k8s/$ENV_NAME/30-producer.yaml" "$WORK/producer.yaml"
play producer "$WORK/config.yaml" "$WORK/producer.yaml"
check_up "$WORK/producer.yaml" leafsync-producer
PRODUCER=$POD_IP:8080

# --------------------------------------------------------------- consumer ---
render_pods "k8s/$ENV_NAME/40-consumer.yaml" "$WORK/consumer.yaml" "${PRODUCER%:*}" "leafsync-producer.$NS.svc.cluster.local"
play consumer "$WORK/config.yaml" "$WORK/consumer.yaml"
check_up "$WORK/consumer.yaml" leafsync-consumer
CONSUMER=$POD_IP:8080

# ----------------------------------------------------------- write, read ----
body='{"camera_id": 7, "data": "cafe01", "gps_coordinates": [52.1, 4.3], "is_active": true}'
status=$(curl -s -o "$WORK/body" -w '%{http_code}' --max-time 5 -X PUT -H 'Content-Type: application/json' \
  -d "$body" "http://$PRODUCER/image-plant/potato/" || true)
[ "$status" = 401 ] || [ "$status" = 403 ] || fail "a PUT without the token answered $status, not 401/403"
status=$(curl -s -o "$WORK/body" -w '%{http_code}' --max-time 5 -X PUT -H 'Content-Type: application/json' \
  -H "Authorization: Bearer $TOKEN" -d "$body" "http://$PRODUCER/image-plant/potato/" || true)
case $status in 200 | 201) ;; *) fail "PUT /image-plant/potato/ with the token answered $status: $(head -c 300 "$WORK/body")" ;; esac
id=$(python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["id"])' "$WORK/body")
deadline=$((SECONDS + 30))
while [ $SECONDS -lt $deadline ]; do
  status=$(curl -s -o "$WORK/body" -w '%{http_code}' --max-time 2 "http://$CONSUMER/image-plant/potato/$id" || true)
  [ "$status" = 200 ] && break
  sleep 0.2
done
{ [ "$status" = 200 ] && grep -q cafe01 "$WORK/body"; } || fail "the consumer did not serve potato/$id within 30 s (last $status)"
log "PUT potato/$id through the producer (token from the Secret), read back from the consumer"

# ---------------------------------------------------------------- stop ------
for name in consumer producer; do
  file="$WORK/$name.play.yaml"
  ctr=$(container_of "leafsync-$name")
  grace=$(pod_field "$WORK/$name.yaml" 'spec["terminationGracePeriodSeconds"]')
  started=$SECONDS
  # The kubelet's stop: SIGTERM, SIGKILL after terminationGracePeriodSeconds. podman 4.3's
  # `kube down` does not give that grace: its containers end with 137 (SIGKILL; measured), so
  # the pod is stopped with the grace period first, then removed by `kube down`.
  timeout $((grace + 10)) podman pod stop --time "$grace" "$(pod_of "leafsync-$name")" >/dev/null ||
    fail "podman pod stop $name failed or hung"
  took=$((SECONDS - started))
  rc=$(podman inspect --format '{{.State.ExitCode}}' "$ctr")
  podman logs "$ctr" >"$WORK/$name.log" 2>&1 || true
  podman kube down "$file" >/dev/null 2>&1 || fail "podman kube down $name failed"
  [ "$rc" = 0 ] || { tail -n 20 "$WORK/$name.log" >&2; fail "$name: exit code $rc after SIGTERM"; }
  [ "$took" -le "$grace" ] || fail "$name: took ${took} s to stop, grace period $grace s"
  PLAYED=("${PLAYED[@]/$file/}")
  if grep -q -- "$TOKEN" "$WORK/$name.log"; then fail "$name: its log holds the write token"; fi
  log "$name: stopped, exit 0 after ${took} s (grace ${grace} s); log ($(wc -l <"$WORK/$name.log") lines) holds no secret"
done
log "all ok ($ENV_NAME, $IMAGE): $((SECONDS - t0)) s"
