#!/usr/bin/env bash
# Runs the real image with the real manifests: `podman kube play --network bridge` of an
# environment's ConfigMap, a Secret (its optional/secret.example.yaml with a token and, for
# prod, a database password generated here), prod's PostgreSQL (20-postgres.yaml), and its
# producer and consumer Deployments, image name and config hash filled in by k8s/lib.sh's render
# (the mechanism k8s/start.*.sh use). Then checks:
#   - every pod comes up, each container as the manifest's runAsUser;
#   - the probes answer as the manifests declare them (startup, liveness, readiness: httpGet
#     paths on the declared port, exec commands in the container, within failureThreshold x
#     periodSeconds), and /metrics serves leafsync_;
#   - a write through the producer's API (PUT /image-plant/potato/ with the Secret's token) is
#     read back from the consumer's API, and a write without the token is refused; for prod the
#     row is also in consumer_plant_db (psql in the database's container);
#   - podman enforces the manifest's memory limit (cgroup v1 here; measured: a container over
#     its limit is OOM-killed, exit 137): the limit podman set equals the manifest's, and each
#     leafsync process's peak RSS (VmHWM) stays below it;
#   - SIGTERM with the grace period (podman stop --time, as the kubelet; podman 4.3's
#     `kube down` SIGKILLs: exit 137) stops each within terminationGracePeriodSeconds, exit 0;
#     then `podman kube down` removes them;
#   - the logs (podman logs) hold neither the token nor the database password, and no line at
#     level=error.
# What podman 4.3 lacks is translated, nothing else: a StatefulSet (prod's PostgreSQL) is played
# as a Deployment of the same pod template, its volumeClaimTemplate a podman volume of the claim's
# name (data-leafsync-postgres-0, as Kubernetes names it) made writable for the pod's fsGroup first;
# a Deployment's replicas become one pod (podman would start them all, each on the same host port); an emptyDir becomes a podman volume of mode 1777 made
# before the pod starts, as the kubelet makes emptyDirs. (podman 4.3 gives a new volume, on its
# first mount, the owner and mode of the mount point's path *on the host*: here the host's own
# /run/postgresql, 2775 of the host's postgres user, so PostgreSQL as uid 999 could not create
# its socket's lock file; seen. So each volume is mounted once by a throwaway container first,
# then given its mode.) The official postgres:15-bookworm image cannot be pulled
# here: scripts/image.sh --postgres builds a stand-in from Debian's postgresql-15 with the same
# entrypoint contract (scripts/postgres-image/Dockerfile).
# Networking: a podman bridge network of its own (LEAFSYNC_KUBE_SUBNET, default
# 10.89.17.0/24); a Kafka broker of its own listening on and advertising the bridge's gateway
# (the pods cannot reach 127.0.0.1 of the host), port 9092 as the ConfigMap names it; the
# in-cluster service names point at it, and at the producer pod, through hostAliases added to
# the rendered manifests. Nothing leaves this machine.
#
# One run at a time per machine (the bridge's subnet and the broker's port are fixed): a second
# run waits for the first.
#
# Usage: scripts/check-kube-play.sh [ENV]      (ENV: stg, the default, or prod)
# Environment: LEAFSYNC_IMAGE (default leafsync:dev; build it with scripts/image.sh),
#              LEAFSYNC_POSTGRES_IMAGE (prod; default leafsync-postgres:15, scripts/image.sh --postgres)
# Exit codes: 0 all checks passed; 1 a check failed; 2 usage.
set -euo pipefail
cd "$(dirname "$0")/.."


usage() { sed -n '2,/^set -euo/{/^set -euo/d;s/^# \{0,1\}//;p;}' "$0"; }
case ${1:-} in -h | --help) usage; exit 0 ;; esac
ENV_NAME=${1:-stg}
case $ENV_NAME in stg | prod) ;; *) usage >&2; exit 2 ;; esac
IMAGE=${LEAFSYNC_IMAGE:-leafsync:dev}
PG_IMAGE=${LEAFSYNC_POSTGRES_IMAGE:-leafsync-postgres:15}
PG_VOLUME=data-leafsync-postgres-0
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
if [ "$ENV_NAME" = prod ]; then
  podman image exists "$PG_IMAGE" || fail "image $PG_IMAGE missing: build it first (scripts/image.sh --postgres)"
fi
exec 9>"${TMPDIR:-/tmp}/leafsync-kube-play.lock"
flock 9

WORK=$(mktemp -d "${TMPDIR:-/tmp}/leafsync-kube-play.XXXXXX")
PLAYED=()
VOLUMES=()
STARTED_KAFKA=0
kafka() { KAFKA_HOST=$GATEWAY KAFKA_PORT=9092 KAFKA_CONTROLLER_PORT=9093 KAFKA_DATA_DIR=$WORK/kafka scripts/kafka.sh "$@"; }
cleanup() {
  local f
  for f in "${PLAYED[@]}"; do podman kube down "$f" >/dev/null 2>&1 || true; done
  podman pod rm -f leafsync-net-holder >/dev/null 2>&1 || true
  if [ "$STARTED_KAFKA" = 1 ]; then kafka stop --purge >/dev/null 2>&1 || true; fi
  podman volume rm -f leafsync-producer-db leafsync-config "$PG_VOLUME" "${VOLUMES[@]}" >/dev/null 2>&1 || true
  podman secret rm leafsync-secrets >/dev/null 2>&1 || true
  podman network rm -f "$NET" >/dev/null 2>&1 || true
  rm -rf "$WORK"
}
trap cleanup EXIT

# ---------------------------------------------------------------- network ---
t0=$SECONDS
# A PersistentVolumeClaim becomes a podman volume of that name: a stale one from an aborted run goes.
podman volume rm -f leafsync-producer-db leafsync-config "$PG_VOLUME" >/dev/null 2>&1 || true
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
PG_PASSWORD=$(od -An -N16 -tx1 /dev/urandom | tr -d ' \n')
hash=$(cat "k8s/$ENV_NAME"/*-configmap.yaml | short_sha256)
free_port() { python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'; }
# render_pods FILE OUT [ALIAS_IP NAME...]: the workload documents (no Namespace, Service, PDB
# or NetworkPolicy: podman has no use for them), the image and hash filled in, hostAliases added;
# a StatefulSet becomes a Deployment on the claim's volume (see the header).
render_pods() {
  local file=$1 out=$2
  shift 2
  render "$file" "$IMAGE" "$hash" | python3 -c '
import sys, yaml
gw, hostport, pg_image, pg_volume, aliases = sys.argv[1], sys.argv[2], sys.argv[3], sys.argv[4], sys.argv[5:]
keep = []
for d in yaml.safe_load_all(sys.stdin):
    if not d or d["kind"] in ("Namespace", "Service", "PodDisruptionBudget", "NetworkPolicy"):
        continue
    if d["kind"] == "StatefulSet":
        spec = d["spec"]
        for claim in spec.pop("volumeClaimTemplates", []):
            name = claim["metadata"]["name"]
            spec["template"]["spec"]["volumes"].append({"name": name, "persistentVolumeClaim": {"claimName": pg_volume}})
        spec.pop("serviceName", None)
        for c in spec["template"]["spec"]["containers"]:
            c["image"] = pg_image
        d["kind"] = "Deployment"
    if d["kind"] == "Deployment":
        d["spec"]["replicas"] = 1
        spec = d["spec"]["template"]["spec"]
        for v in spec.get("volumes", []):
            if "emptyDir" in v:
                del v["emptyDir"]
                v["persistentVolumeClaim"] = {"claimName": d["metadata"]["name"] + "-" + v["name"] + "-emptydir"}
                print(v["persistentVolumeClaim"]["claimName"], file=sys.stderr)
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
' "$GATEWAY" "$(free_port)" "$PG_IMAGE" "$PG_VOLUME" "$@" >"$out" 2>"$WORK/emptydirs"
  local v
  while read -r v; do
    make_volume "$v" 0 1777
    VOLUMES+=("$v")
  done <"$WORK/emptydirs"
}
# make_volume NAME GID MODE: a new podman volume, its first-mount fix-up (see the header) spent.
make_volume() {
  local dir
  podman volume rm -f "$1" >/dev/null 2>&1 || true
  podman volume create "$1" >/dev/null
  podman run --rm --network none -v "$1:/mnt" --entrypoint /bin/true "$IMAGE" >/dev/null
  dir=$(podman volume inspect --format '{{.Mountpoint}}' "$1")
  chown "0:$2" "$dir"
  chmod "$3" "$dir"
}
# The Secret: podman 4.3 resolves secretKeyRef from its own secret store, and expects there a
# JSON object of key -> base64 value (the Secret's `data` after the API server merged stringData
# into it). `kube play` of the Secret's YAML stores it in a form its own lookup cannot parse
# ("not valid JSON"), which `optional: true` then hides: the token stays unset and writes are
# open (seen). So the example Secret is converted and created the way podman reads it.
# The write token replaces the example's CHANGE-ME in write-token, the database password every
# other CHANGE-ME (postgres-password and the password in the URLs).
python3 -c '
import base64, json, sys, yaml
token, password = sys.argv[2], sys.argv[3]
d = yaml.safe_load(open(sys.argv[1]))
values = {k: v.replace("CHANGE-ME", token if k == "write-token" else password) for k, v in d.pop("stringData", {}).items()}
d.setdefault("data", {}).update({k: base64.b64encode(v.encode()).decode() for k, v in values.items()})
json.dump(d["data"], sys.stdout)
' "k8s/$ENV_NAME/optional/secret.example.yaml" "$TOKEN" "$PG_PASSWORD" >"$WORK/secret.json"
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

# probe_once CONTAINER IP PORT PROBE FILE: 200 when the probe passes (an exec probe: its command
# exited 0 in the container), else the HTTP status or the command's exit code; the answer in $WORK/body.
probe_once() {
  local ctr=$1 ip=$2 port=$3 probe=$4 file=$5 path cmd=()
  if [ "$(pod_field "$file" "\"exec\" in c[\"$probe\"]")" = true ]; then
    mapfile -t cmd < <(pod_field "$file" "c[\"$probe\"][\"exec\"][\"command\"]" | python3 -c 'import json, sys; print("\n".join(json.load(sys.stdin)))')
    if timeout 10 podman exec "$ctr" "${cmd[@]}" >"$WORK/body" 2>&1; then echo 200; else echo "exit-$?"; fi
    return 0
  fi
  path=$(pod_field "$file" "c[\"$probe\"][\"httpGet\"][\"path\"]" | tr -d '"')
  curl -s -o "$WORK/body" -w '%{http_code}' --max-time 2 "http://$ip:$port$path" || true
}

# bytes QUANTITY: a Kubernetes memory quantity (512Mi, 1Gi, 2G, 1000) in bytes.
# The manifest checks' own parser (scripts/check_manifests.py), not a second one.
bytes() {
  python3 -c '
import sys
sys.path.insert(0, "scripts")
from check_manifests import memory_bytes
print(memory_bytes(sys.argv[1].strip("\"")))' "$1"
}

# check_up DEPLOYMENT_FILE NAME: probes as declared; prints the pod's IP in POD_IP.
check_up() {
  local file=$1 name=$2 ctr ip port path period threshold deadline status uid limit started=$SECONDS
  ctr=$(container_of "$name") || true
  [ -n "$ctr" ] || fail "$name: no container in pod $name-pod"
  ip=$(podman pod inspect "$(pod_of "$name")" --format '{{.InfraContainerID}}' | xargs podman inspect \
    --format "{{(index .NetworkSettings.Networks \"$NET\").IPAddress}}")
  [ -n "$ip" ] || fail "$name: pod has no address on $NET"
  port=$(pod_field "$file" 'c["ports"][0]["containerPort"]')
  for probe in startupProbe livenessProbe readinessProbe; do
    path=$(pod_field "$file" "c[\"$probe\"].get(\"httpGet\", {}).get(\"path\") or \" \".join(c[\"$probe\"][\"exec\"][\"command\"])" | tr -d '"')
    period=$(pod_field "$file" "c[\"$probe\"].get(\"periodSeconds\", 10)")
    threshold=$(pod_field "$file" "c[\"$probe\"].get(\"failureThreshold\", 3)")
    deadline=$((SECONDS + period * threshold))
    status=000
    while [ $SECONDS -lt $deadline ]; do
      status=$(probe_once "$ctr" "$ip" "$port" "$probe" "$file")
      [ "$status" = 200 ] && break
      [ "$(podman inspect --format '{{.State.Running}}' "$ctr")" = true ] ||
        { podman logs "$ctr" 2>&1 | tail -n 20 >&2; fail "$name: container exited before its $probe passed"; }
      sleep 0.5
    done
    [ "$status" = 200 ] || { podman logs "$ctr" 2>&1 | tail -n 20 >&2; fail "$name: $probe $path answered $status (body: $(head -c 300 "$WORK/body")) within ${period}x${threshold} s"; }
    log "$name $probe $path: 200 after $((SECONDS - started)) s"
  done
  if [ "$name" != leafsync-postgres ]; then
    status=$(curl -s -o "$WORK/body" -w '%{http_code}' --max-time 2 "http://$ip:$port/metrics" || true)
    { [ "$status" = 200 ] && grep -q '^leafsync_' "$WORK/body"; } || fail "$name: /metrics answered $status without leafsync_ samples"
  fi
  uid=$(podman exec "$ctr" id -u 2>/dev/null || podman top "$ctr" huser | tail -n 1)
  [ "$uid" = "$(pod_field "$file" 'spec["securityContext"]["runAsUser"]')" ] || fail "$name: runs as uid $uid"
  limit=$(bytes "$(pod_field "$file" 'c["resources"]["limits"]["memory"]')")
  [ "$(podman inspect --format '{{.HostConfig.Memory}}' "$ctr")" = "$limit" ] ||
    fail "$name: podman set a memory limit of $(podman inspect --format '{{.HostConfig.Memory}}' "$ctr") bytes, the manifest $limit"
  POD_IP=$ip
  log "$name: up at $ip:$port as uid $uid, memory limit $limit bytes (enforced by podman)"
}

# check_peak_rss DEPLOYMENT_FILE NAME: the container's process (pid 1) peaked below the limit.
check_peak_rss() {
  local file=$1 name=$2 ctr hwm limit
  ctr=$(container_of "$name")
  hwm=$(podman exec "$ctr" cat /proc/1/status | awk '$1 == "VmHWM:" {print $2 * 1024}')
  limit=$(bytes "$(pod_field "$file" 'c["resources"]["limits"]["memory"]')")
  if [ -z "$hwm" ] || [ "$hwm" -ge "$limit" ]; then fail "$name: peak RSS ${hwm:-?} bytes, limit $limit"; fi
  log "$name: peak RSS $((hwm / 1048576)) MiB of its $((limit / 1048576)) MiB limit"
}

# --------------------------------------------------------------- postgres ---
DB_ALIAS=()
if [ "$ENV_NAME" = prod ]; then
  render_pods "k8s/$ENV_NAME/20-postgres.yaml" "$WORK/postgres.yaml"
  # What fsGroup does on a cluster: the claim's volume writable by the pod's group.
  make_volume "$PG_VOLUME" "$(pod_field "$WORK/postgres.yaml" 'spec["securityContext"]["fsGroup"]')" 2775
  play postgres "$WORK/postgres.yaml"
  check_up "$WORK/postgres.yaml" leafsync-postgres
  DB_ALIAS=("$POD_IP" "leafsync-postgres.$NS.svc.cluster.local")
fi

# --------------------------------------------------------------- producer ---
render_pods "k8s/$ENV_NAME/30-producer.yaml" "$WORK/producer.yaml" "${DB_ALIAS[@]}"
play producer "$WORK/config.yaml" "$WORK/producer.yaml"
check_up "$WORK/producer.yaml" leafsync-producer
PRODUCER=$POD_IP:8080

# --------------------------------------------------------------- consumer ---
render_pods "k8s/$ENV_NAME/40-consumer.yaml" "$WORK/consumer.yaml" "${PRODUCER%:*}" "leafsync-producer.$NS.svc.cluster.local" "${DB_ALIAS[@]}"
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
if [ "$ENV_NAME" = prod ]; then
  for db in producer_plant_db consumer_plant_db; do
    rows=$(podman exec "$(container_of leafsync-postgres)" psql -h /var/run/postgresql -U leafsync -d "$db" \
      -Atc "SELECT count(*) FROM image_potato WHERE id = $id" 2>&1) || fail "psql in the database container: $rows"
    [ "$rows" = 1 ] || fail "$db holds $rows rows for potato/$id, not 1"
  done
  log "potato/$id is in the database pod's producer_plant_db and consumer_plant_db"
fi
check_peak_rss "$WORK/producer.yaml" leafsync-producer
check_peak_rss "$WORK/consumer.yaml" leafsync-consumer

# ---------------------------------------------------------------- stop ------
stops=(consumer producer)
[ "$ENV_NAME" != prod ] || stops+=(postgres)
for name in "${stops[@]}"; do
  file="$WORK/$name.play.yaml"
  ctr=$(container_of "leafsync-$name")
  grace=$(pod_field "$WORK/$name.yaml" 'spec["terminationGracePeriodSeconds"]')
  started=$SECONDS
  # The kubelet's stop: SIGTERM, SIGKILL after terminationGracePeriodSeconds, the pod's network
  # kept until its containers have exited. podman 4.3's `kube down` does not give that grace (its
  # containers end with 137: SIGKILL; measured) and `pod stop` takes the network (the infra
  # container) down with them (the consumer's leave-group then fails: seen). So the container is
  # stopped with the grace period first, then its pod, then `kube down` removes them.
  timeout $((grace + 10)) podman stop --time "$grace" "$ctr" >/dev/null ||
    fail "podman stop $name failed or hung"
  took=$((SECONDS - started))
  podman pod stop --time 5 "$(pod_of "leafsync-$name")" >/dev/null || fail "podman pod stop $name failed"
  rc=$(podman inspect --format '{{.State.ExitCode}}' "$ctr")
  podman logs "$ctr" >"$WORK/$name.log" 2>&1 || true
  podman kube down "$file" >/dev/null 2>&1 || fail "podman kube down $name failed"
  [ "$rc" = 0 ] || { tail -n 20 "$WORK/$name.log" >&2; fail "$name: exit code $rc after SIGTERM"; }
  [ "$took" -le "$grace" ] || fail "$name: took ${took} s to stop, grace period $grace s"
  PLAYED=("${PLAYED[@]/$file/}")
  if grep -q -- "$TOKEN" "$WORK/$name.log"; then fail "$name: its log holds the write token"; fi
  if grep -q -- "$PG_PASSWORD" "$WORK/$name.log"; then fail "$name: its log holds the database password"; fi
  if grep -q 'level=error' "$WORK/$name.log"; then grep 'level=error' "$WORK/$name.log" | head -n 5 >&2; fail "$name: logged at level=error"; fi
  log "$name: stopped, exit 0 after ${took} s (grace ${grace} s); log ($(wc -l <"$WORK/$name.log") lines) holds no secret"
done
log "all ok ($ENV_NAME, $IMAGE): $((SECONDS - t0)) s"
