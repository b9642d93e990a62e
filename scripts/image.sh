#!/usr/bin/env bash
# Builds the container image leafsync:dev with podman (no Docker engine, no registry needed).
#
# Default: the runtime-only build (Dockerfile.runtime) from the binaries in BIN_DIR, the ones CI
# has just built and tested; installs only the runtime libraries they need (the Debian packages
# that own their NEEDED entries). Under a minute once the base image exists.
# --full: the multi-stage ./Dockerfile (compiles inside the image; ~15 min on 2 cores).
# --postgres: instead, the PostgreSQL image k8s/prod's database runs under scripts/check-kube-play.sh
#   prod (scripts/postgres-image: Debian's postgresql-15 with the official image's entrypoint
#   contract; tagged $LEAFSYNC_POSTGRES_IMAGE, default leafsync-postgres:15). ~1 min.
#
# Prepares what it needs first, each step only when missing:
#   - podman, runc, netavark, aardvark-dns, iptables (netavark needs it), catatonit (pod infra
#     containers) and debootstrap (apt-get);
#   - as root, /etc/containers/containers.conf with the settings this kind of machine needs
#     (runc, cgroupfs, default ulimits the sandbox allows; see /work/shared/DEPENDENCIES.md);
#     an existing file is kept as containers.conf.orig; LEAFSYNC_PODMAN_CONF=0 never touches it;
#   - the base images debian:bookworm and debian:bookworm-slim, made locally by
#     `debootstrap --variant=minbase bookworm` from the Debian mirror the machine's apt uses
#     (/etc/apt/sources.list or /etc/apt/sources.list.d/); podman's image store is the cache.
# Prints the image's size and the build's time.
#
# Usage: scripts/image.sh [--full | --postgres] [BIN_DIR]     (BIN_DIR default build/bin)
# Environment: LEAFSYNC_IMAGE (default leafsync:dev), DEBIAN_MIRROR (default: from apt's sources)
# Exit codes: 0 built, 1 failed, 2 usage.
set -euo pipefail
CALLER_DIR=$PWD
cd "$(dirname "$0")/.."

usage() { sed -n '2,/^set -euo/{/^set -euo/d;s/^# \{0,1\}//;p;}' "$0"; }
log() { printf 'image.sh: %s\n' "$*" >&2; }
die() {
  log "error: $*"
  exit 1
}

full=0
BIN_DIR=build/bin
while [ $# -gt 0 ]; do
  case $1 in
    -h | --help) usage; exit 0 ;;
    --full) full=1 ;;
    --postgres) full=postgres ;;
    -*) usage >&2; exit 2 ;;
    *) BIN_DIR=$1; [ "${BIN_DIR#/}" != "$BIN_DIR" ] || BIN_DIR=$CALLER_DIR/$BIN_DIR ;;
  esac
  shift
done
IMAGE=${LEAFSYNC_IMAGE:-leafsync:dev}
[ "$full" != postgres ] || IMAGE=${LEAFSYNC_POSTGRES_IMAGE:-leafsync-postgres:15}
SUITE=bookworm

as_root() {
  if [ "$(id -u)" -eq 0 ]; then "$@"; else
    command -v sudo >/dev/null || die "need root or sudo for: $*"
    sudo "$@"
  fi
}

install_tools() {
  local p missing=()
  for p in podman runc netavark aardvark-dns iptables catatonit debootstrap; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
  done
  [ ${#missing[@]} -gt 0 ] || return 0
  log "installing ${missing[*]}"
  as_root apt-get update -qq
  as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends \
    -o DPkg::Lock::Timeout=300 "${missing[@]}" >/dev/null
}

configure_podman() {
  local conf=/etc/containers/containers.conf
  [ "${LEAFSYNC_PODMAN_CONF:-1}" != 0 ] && [ "$(id -u)" -eq 0 ] || return 0
  if [ -f "$conf" ] && grep -q '^runtime = "runc"' "$conf" && grep -q '^cgroup_manager = "cgroupfs"' "$conf" &&
    grep -q '^default_ulimits' "$conf"; then
    return 0
  fi
  [ ! -f "$conf" ] || cp -n "$conf" "$conf.orig"
  log "writing $conf (runc, cgroupfs, ulimits this machine allows)"
  mkdir -p /etc/containers
  cat >"$conf" <<'CONF'
# Written by leafsync's scripts/image.sh: crun refuses cgroup v1 ("hybrid mode"), and the
# sandbox refuses to raise rlimits above these.
[containers]
default_ulimits = ["nofile=4096:4096", "nproc=4096:4096"]
netns = "host"
[engine]
runtime = "runc"
cgroup_manager = "cgroupfs"
CONF
}

# The first Debian (not -security) URI apt uses, deb822 or one-line format.
debian_mirror() {
  local f
  for f in /etc/apt/sources.list /etc/apt/sources.list.d/*.sources /etc/apt/sources.list.d/*.list; do
    [ -f "$f" ] || continue
    awk -v suite="$SUITE" '
      /^deb / && $3 == suite {print $2; exit}
      /^URIs:/ {uri = $2}
      /^Suites:/ {for (i = 2; i <= NF; i++) if ($i == suite) found = uri}
      /^$/ {if (found) {print found; exit} uri = ""}
      END {if (found) print found}' "$f" | head -n 1
  done | head -n 1
}

base_image() {
  if podman image exists "docker.io/library/debian:$SUITE" && podman image exists "docker.io/library/debian:$SUITE-slim"; then
    return 0
  fi
  local mirror=${DEBIAN_MIRROR:-$(debian_mirror)} rootfs started=$SECONDS
  [ -n "$mirror" ] || die "no Debian $SUITE mirror in /etc/apt/sources.list{,.d}; set DEBIAN_MIRROR"
  rootfs=$(mktemp -d "${TMPDIR:-/tmp}/leafsync-rootfs.XXXXXX")
  # shellcheck disable=SC2064  # expand now: the path is fixed
  trap "rm -rf '$rootfs'" EXIT
  log "base image: debootstrap --variant=minbase $SUITE from $mirror"
  as_root debootstrap --variant=minbase "$SUITE" "$rootfs" "$mirror" >"$rootfs.log" 2>&1 ||
    { tail -n 20 "$rootfs.log" >&2; die "debootstrap failed"; }
  rm -f "$rootfs.log"
  as_root tar -C "$rootfs" -c . | podman import - "localhost/debian:$SUITE" >/dev/null
  podman tag "localhost/debian:$SUITE" "docker.io/library/debian:$SUITE" "docker.io/library/debian:$SUITE-slim"
  as_root rm -rf "$rootfs"
  trap - EXIT
  log "base image ready in $((SECONDS - started)) s"
}

# The runtime stages of the two files must not drift apart.
check_runtime_stage() {
  local marker='^# -------------------------------------------------------------- runtime ------$'
  diff <(sed -n "/$marker/,\$p" Dockerfile | sed 's|--from=build /out/||') \
    <(sed -n "/$marker/,\$p" Dockerfile.runtime) >&2 ||
    die "Dockerfile.runtime's runtime stage differs from Dockerfile's (above); make them equal"
}

stage_context() {  # DIR: runtime-packages.txt, bin/, config/
  local ctx=$1 b
  mkdir -p "$ctx/bin"
  for b in leafsync-consumer leafsync-producer; do
    [ -x "$BIN_DIR/$b" ] || die "$BIN_DIR/$b missing: build first (scripts/build.sh)"
    install -m 0755 -s "$BIN_DIR/$b" "$ctx/bin/"
  done
  cp -r config "$ctx/config"
  # Same derivation as the Dockerfile's build stage (this host is Debian $SUITE too).
  objdump -p "$ctx/bin/leafsync-consumer" "$ctx/bin/leafsync-producer" |
    awk '$1 == "NEEDED" {print $2}' | sort -u |
    xargs -I{} dpkg-query -S '*/{}' |
    grep -v '^diversion' | sed -e 's/:.*//' -e 's/, /\n/g' | sort -u >"$ctx/runtime-packages.txt"
  [ -s "$ctx/runtime-packages.txt" ] || die "could not name the runtime packages"
  log "runtime packages: $(tr '\n' ' ' <"$ctx/runtime-packages.txt")"
}

install_tools
configure_podman
base_image
check_runtime_stage

old_id=$(podman image inspect --format '{{.Id}}' "$IMAGE" 2>/dev/null || true)
started=$SECONDS
if [ "$full" = postgres ]; then
  log "building $IMAGE from scripts/postgres-image (Debian's postgresql-15)"
  podman build --pull=never --format docker -q -t "$IMAGE" scripts/postgres-image >&2 ||
    die "podman build failed"
elif [ "$full" = 1 ]; then
  log "building $IMAGE from Dockerfile (full multi-stage build)"
  podman build --pull=never --format docker -t "$IMAGE" -f Dockerfile . >&2
else
  ctx=$(mktemp -d "${TMPDIR:-/tmp}/leafsync-image.XXXXXX")
  # shellcheck disable=SC2064
  trap "rm -rf '$ctx'" EXIT
  stage_context "$ctx"
  log "building $IMAGE from Dockerfile.runtime with the binaries of $BIN_DIR"
  podman build --pull=never --format docker -q -t "$IMAGE" -f Dockerfile.runtime "$ctx" >&2 ||
    die "podman build failed"
fi
seconds=$((SECONDS - started))
# The image the tag pointed at before, now untagged: remove it (kept when a container uses it).
if [ -n "$old_id" ] && [ "$old_id" != "$(podman image inspect --format '{{.Id}}' "$IMAGE")" ]; then
  podman rmi "$old_id" >/dev/null 2>&1 || true
fi
size=$(podman image inspect --format '{{.Size}}' "$IMAGE")
log "built $IMAGE in ${seconds} s; size $((size / 1000000)) MB ($size bytes)"
