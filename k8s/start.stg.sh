#!/usr/bin/env bash
# Deploys leafsync to stg: applies k8s/stg/NN-*.yaml in name order (namespace first), the
# optional monitoring files whose CRDs the cluster has, and waits until the producer and the
# consumer are ready. Idempotent: re-running applies only what changed (a ConfigMap change rolls
# the pods through their config-hash annotation).
#
# Usage: k8s/start.stg.sh [--with-kafka]
#   --with-kafka   also deploy a single-node Kafka broker as kafka-service and create the topics
#                  (optional/kafka-single-node.yaml), for a local cluster without the LIMS
# Environment:
#   LEAFSYNC_IMAGE            image to run (default leafsync:dev, loaded into kind/minikube)
#   LEAFSYNC_ROLLOUT_TIMEOUT  how long to wait for each rollout (default 300s)
#   LEAFSYNC_SKIP_OPTIONAL=1  never apply the optional CRD files
# Exit codes: 0 deployed and ready, 1 failed (the reason is printed), 2 usage.
set -euo pipefail
# shellcheck source=SCRIPTDIR/lib.sh
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

with_kafka=0
while [ $# -gt 0 ]; do
  case $1 in
    --with-kafka) with_kafka=1 ;;
    -h | --help) usage; exit 0 ;;
    *) usage >&2; exit 2 ;;
  esac
  shift
done
image=${LEAFSYNC_IMAGE:-$IMAGE_PLACEHOLDER}

require_cluster
log "image: $image"
apply_file "$K8S_DIR/stg/00-namespace.yaml"
if [ "$with_kafka" = 1 ]; then
  # The topic Job's pod template is immutable: replace it (it is idempotent: --if-not-exists).
  kc delete job leafsync-kafka-topics --ignore-not-found >/dev/null
  apply_file "$K8S_DIR/stg/optional/kafka-single-node.yaml"
elif ! kc get service kafka-service >/dev/null 2>&1; then
  die "no Service kafka-service in $NAMESPACE: deploy the LIMS's Kafka first, or rerun with --with-kafka"
fi
apply_env stg "$image"
apply_optional_monitoring stg

if [ "$with_kafka" = 1 ]; then
  wait_rollout statefulset/kafka
  log "waiting for the topics (job/leafsync-kafka-topics)"
  kc wait --for=condition=complete job/leafsync-kafka-topics --timeout="${LEAFSYNC_ROLLOUT_TIMEOUT:-300s}" >&2 ||
    die "topic creation did not complete: kubectl -n $NAMESPACE logs job/leafsync-kafka-topics"
fi
wait_rollout deployment/leafsync-producer
wait_rollout deployment/leafsync-consumer
log "stg is up. Next: k8s/open.stg.sh (port-forwards), k8s/close.stg.sh to stop them."
