#!/usr/bin/env bash
# The test command: installs what is missing, builds, starts a real Kafka broker on its own
# port and PostgreSQL on its own, runs every test tier (unit, integration; the store suite against
# SQLite and PostgreSQL), then the same under AddressSanitizer and
# UndefinedBehaviorSanitizer, and a short benchmark smoke run. Exit code 0 = all green.
#   LEAFSYNC_SKIP_SANITIZERS=1   skip the sanitizer build (faster local runs)
set -euo pipefail
cd "$(dirname "$0")/.."

# Each stage says when it starts, so a slow CI run shows where its time went.
stage() { echo "== $* [$(date +%T), ${SECONDS}s in]"; }

scripts/install-deps.sh
scripts/build.sh build

export KAFKA_PORT=${LEAFSYNC_TEST_KAFKA_PORT:-19092}
export KAFKA_CONTROLLER_PORT=$((KAFKA_PORT + 1))
export LEAFSYNC_TEST_BOOTSTRAP=127.0.0.1:$KAFKA_PORT
started_kafka=0
started_pg=0
pg_port=${LEAFSYNC_TEST_PG_PORT:-25433}
cleanup() {
  if [ "$started_kafka" = 1 ]; then scripts/kafka.sh stop --purge >/dev/null 2>&1 || true; fi
  # PGPORT inline, not exported: libpq reads it too.
  if [ "$started_pg" = 1 ]; then PGPORT=$pg_port scripts/postgres.sh stop --purge >/dev/null 2>&1 || true; fi
}
trap cleanup EXIT
if ! scripts/kafka.sh status >/dev/null 2>&1; then
  scripts/kafka.sh start
  started_kafka=1
fi

if ! PGPORT=$pg_port scripts/postgres.sh status >/dev/null 2>&1; then
  # wal_level=logical: the real-Debezium test streams from this server.
  LEAFSYNC_PG_WAL_LEVEL=logical PGPORT=$pg_port scripts/postgres.sh start
  started_pg=1
fi
LEAFSYNC_TEST_POSTGRES_URL=$(PGPORT=$pg_port scripts/postgres.sh url)
export LEAFSYNC_TEST_POSTGRES_URL
# Here every PostgreSQL test must run: one that finds no server fails instead of skipping.
export LEAFSYNC_TEST_REQUIRE_POSTGRES=1

# Kafka Connect with Debezium's PostgreSQL connector, for the real-Debezium test (cached jars).
scripts/connect.sh resolve
export LEAFSYNC_TEST_CONNECT_PORT=${LEAFSYNC_TEST_CONNECT_PORT:-18083}

stage "unit and integration tests"
ctest --test-dir build --output-on-failure --timeout 300 -j2

stage "the codecs fuzzed (libFuzzer, ASan + UBSan), 30 s each from the corpus"
scripts/fuzz.sh 30

stage "Grafana dashboard: every query against a real Prometheus scraping the running services"
scripts/check-dashboard.sh

stage "both APIs fuzzed against their OpenAPI document (schemathesis)"
scripts/check-api.sh

stage "stream vs batch experiment, CI variant (asserts the stream moves fewer bytes and stays fresher)"
bench/experiment.sh --ci --out build/experiment-ci

stage "stream vs batch sweep, reduced grid (two short runs scaled to bytes per hour; table + chart)"
python3 bench/experiment_sweep_test.py
bench/experiment.sh --sweep --ci --out build/experiment-sweep-ci

stage "deployment checks: manifests offline"
scripts/check-manifests.sh build/bin

stage "the real image: built from build/bin (Dockerfile.runtime), k8s/stg and k8s/prod run by podman kube play"
scripts/image.sh build/bin
scripts/image.sh --postgres
scripts/check-kube-play.sh stg
scripts/check-kube-play.sh prod

if [ "${LEAFSYNC_SKIP_SANITIZERS:-0}" != 1 ]; then
  stage "the same under AddressSanitizer + UndefinedBehaviorSanitizer"
  scripts/build.sh build-sanitize -DLEAFSYNC_SANITIZE=ON
  ASAN_OPTIONS=detect_leaks=1:abort_on_error=0 UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1 \
    LSAN_OPTIONS=suppressions=$PWD/tests/lsan.supp \
    ctest --test-dir build-sanitize --output-on-failure --timeout 600 -j2
fi

stage "benchmark smoke run"
build/bin/leafsync-bench-apply --events 20000 --bootstrap "$LEAFSYNC_TEST_BOOTSTRAP"
stage "latency smoke run (bench/latency.sh: floor, one rate, the idle consumer)"
bench/latency.sh --rates 100 --duration 3 --idle 3 --out build/latency-smoke

stage "leafsync next to Debezium's JDBC sink, smoke run (bench/peer.sh --smoke)"
PGPORT=$pg_port CONNECT_REST_PORT=$((LEAFSYNC_TEST_CONNECT_PORT + 2)) bench/peer.sh --smoke

stage "all green"
