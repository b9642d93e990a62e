#!/usr/bin/env bash
# Stops the port-forwards k8s/open.prod.sh started (only those: the pids from its state file,
# each checked to still be a kubectl port-forward). Idempotent: nothing open is not an error.
#
# Usage: k8s/close.prod.sh
# Exit codes: 0 closed or nothing to close.
set -euo pipefail
# shellcheck source=SCRIPTDIR/lib.sh
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
[ $# -eq 0 ] || { usage >&2; exit 2; }
close_env prod
