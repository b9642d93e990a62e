#!/usr/bin/env bash
# Deploys leafsync to prod (e.g. GKE): checks the Secret, applies k8s/prod/NN-*.yaml in name
# order (namespace, config, PostgreSQL, producer, consumer), the optional files whose CRDs the
# cluster has (KEDA autoscaling, ServiceMonitor, PodMonitoring), and waits until all are ready.
# Idempotent: re-running applies only what changed (a ConfigMap change rolls the pods).
#
# Usage: LEAFSYNC_IMAGE=REGION-docker.pkg.dev/PROJECT/leafsync/leafsync:TAG k8s/start.prod.sh
# Environment:
#   LEAFSYNC_IMAGE            image to run (required; a registry the cluster can pull from)
#   LEAFSYNC_ROLLOUT_TIMEOUT  how long to wait for each rollout (default 300s)
#   LEAFSYNC_SKIP_OPTIONAL=1  never apply the optional CRD files
#   LEAFSYNC_EXTERNAL_DB=1    the database URLs point at a managed PostgreSQL: skip 20-postgres.yaml
# The Secret leafsync-secrets must exist first: k8s/secret.prod.sh creates it from the environment.
# Exit codes: 0 deployed and ready, 1 failed (the reason is printed), 2 usage.
set -euo pipefail
# shellcheck source=SCRIPTDIR/lib.sh
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

case ${1:-} in
  "") ;;
  -h | --help) usage; exit 0 ;;
  *) usage >&2; exit 2 ;;
esac
image=${LEAFSYNC_IMAGE:-}
[ -n "$image" ] || die "set LEAFSYNC_IMAGE to the pushed image (see docs/deploy.md), e.g. europe-west1-docker.pkg.dev/PROJECT/leafsync/leafsync:1.0.0"
[ "$image" != "$IMAGE_PLACEHOLDER" ] || die "LEAFSYNC_IMAGE=$image is the local placeholder; prod needs a registry image"

require_cluster
log "image: $image"
apply_file "$K8S_DIR/prod/00-namespace.yaml"

# The Secret: every key of the template, none still CHANGE-ME.
template="$K8S_DIR/prod/optional/secret.example.yaml"
required=$(awk '/^stringData:/ {s = 1; next} s && /^  [A-Za-z0-9_.-]+:/ {sub(/^  /, ""); sub(/:.*/, ""); print}' "$template")
kc get secret "$SECRET_NAME" >/dev/null 2>&1 || die "Secret $SECRET_NAME is missing: create it with k8s/secret.prod.sh"
# shellcheck disable=SC2016  # a Go template, not shell
values=$(kc get secret "$SECRET_NAME" -o go-template='{{range $k, $v := .data}}{{$k}}={{$v | base64decode}}{{"\n"}}{{end}}')
for key in $required; do
  printf '%s\n' "$values" | grep -q "^$key=." || die "Secret $SECRET_NAME has no (or an empty) key $key: k8s/secret.prod.sh"
done
if printf '%s\n' "$values" | grep -q 'CHANGE-ME'; then
  die "Secret $SECRET_NAME still holds CHANGE-ME placeholders: k8s/secret.prod.sh"
fi
unset values
log "Secret $SECRET_NAME: keys $(echo "$required" | tr '\n' ' ')present"

skip=()
[ "${LEAFSYNC_EXTERNAL_DB:-0}" != 1 ] || skip=(20-postgres.yaml)
apply_env prod "$image" ${skip[@]+"${skip[@]}"}
apply_optional prod keda-scaledobject.yaml scaledobjects.keda.sh "no KEDA: the consumer keeps its fixed replicas"
apply_optional_monitoring prod

[ "${LEAFSYNC_EXTERNAL_DB:-0}" = 1 ] || wait_rollout statefulset/leafsync-postgres
wait_rollout deployment/leafsync-producer
wait_rollout deployment/leafsync-consumer
log "prod is up. k8s/open.prod.sh port-forwards the APIs and metrics; k8s/close.prod.sh stops that."
