#!/usr/bin/env bash
# Installs what leafsync needs to build, test and run the demo on a Debian 12 machine:
# the C++ libraries and tools from Debian's packages. The Kafka jars come from Maven Central
# through scripts/kafka.sh on first start. Idempotent: installs only what is missing.
set -euo pipefail

packages=(
  build-essential cmake ninja-build pkg-config git curl ca-certificates
  librdkafka-dev libpistache-dev prometheus-cpp-dev libyaml-cpp-dev libgtest-dev libgmock-dev
  libsqlite3-dev sqlite3 libpq-dev libssl-dev libcurl4-openssl-dev nlohmann-json3-dev libsimdjson-dev
  postgresql prometheus kcat apache2-utils default-jre-headless maven
  jq python3-matplotlib time
)

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
