#!/usr/bin/env bash
# Installs what leafsync needs to build, test and run the demo on a Debian 12 machine:
# the C++ libraries and tools from Debian's packages. The Kafka jars come from Maven Central
# through scripts/kafka.sh on first start. Idempotent: installs only what is missing.
# npm (Debian's, unless the machine has one) fetches the interactive docs' files (/docs, /redoc).
#   --build-only   only what compiling the two services needs (the Dockerfile's build stage,
#                  which configures with -DBUILD_TESTING=OFF): no test tools, no PostgreSQL
#                  server, Prometheus, Java, Maven or matplotlib
set -euo pipefail

build_packages=(
  build-essential cmake ninja-build pkg-config ca-certificates
  librdkafka-dev libpistache-dev prometheus-cpp-dev libyaml-cpp-dev
  libsqlite3-dev libpq-dev libssl-dev libcurl4-openssl-dev nlohmann-json3-dev libsimdjson-dev
  libcli11-dev
)
test_packages=(
  git curl libgtest-dev libgmock-dev sqlite3
  postgresql prometheus kcat apache2-utils default-jre-headless maven
  jq python3 python3-matplotlib time bc chromium
  clang libclang-rt-14-dev
)
case ${1:-} in
  --build-only) packages=("${build_packages[@]}") ;;
  "") packages=("${build_packages[@]}" "${test_packages[@]}") ;;
  *) echo "usage: scripts/install-deps.sh [--build-only]" >&2; exit 2 ;;
esac
# npm fetches the static files of /docs and /redoc at configure time (cmake/DocsUi.cmake) and
# the browser check's client at test time; a machine whose Node.js brings its own npm keeps it.
command -v npm >/dev/null || packages+=(npm)

missing=()
for p in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if [ ${#missing[@]} -eq 0 ]; then
  echo "install-deps: all ${#packages[@]} packages present"
  exit 0
fi

echo "install-deps: installing ${missing[*]}"
sudo=()
if [ "$(id -u)" -ne 0 ]; then
  command -v sudo >/dev/null || { echo "install-deps: need root or sudo for apt-get" >&2; exit 1; }
  sudo=(sudo)
fi
export DEBIAN_FRONTEND=noninteractive
"${sudo[@]}" apt-get update -qq
"${sudo[@]}" apt-get install -y -qq --no-install-recommends -o DPkg::Lock::Timeout=300 "${missing[@]}" >/dev/null
echo "install-deps: done"
