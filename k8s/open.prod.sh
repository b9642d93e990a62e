#!/usr/bin/env bash
# Port-forwards prod's consumer (read API + /metrics) to 127.0.0.1:8080 and the producer
# (image-api + /metrics) to 127.0.0.1:8081, in the background; the kubectl pids go to a state
# file (~/.local/state/leafsync/port-forward.prod.pids) that k8s/close.prod.sh reads.
# Idempotent: when they are already running it only prints the URLs.
#
# Usage: k8s/open.prod.sh
# Environment: LEAFSYNC_CONSUMER_LOCAL_PORT (8080), LEAFSYNC_PRODUCER_LOCAL_PORT (8081),
#              LEAFSYNC_K8S_STATE_DIR (where the pid file lives)
# Exit codes: 0 open, 1 failed (the reason is printed).
set -euo pipefail
# shellcheck source=SCRIPTDIR/lib.sh
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
[ $# -eq 0 ] || { usage >&2; exit 2; }
open_env prod
