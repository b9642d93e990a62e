#!/usr/bin/env bash
# The demo, the whole loop on one machine: installs what is missing, builds, starts a local
# Kafka broker, the producer's image-api (source: var/producer_plant_db.sqlite) and the
# consumer (copy: var/consumer_plant_db.sqlite), runs simulated cameras against the source,
# writes through the consumer (read-your-writes), sends one malformed event, then compares
# the copy with the source row by row and shows the API, the dead letter and the metrics.
#   --keep           leave everything running afterwards
#   --rate N         camera writes per second (default 500)
#   --duration S     seconds of load (default 10)
#   --db postgres    source and copy in a local PostgreSQL (scripts/postgres.sh, PGPORT, default
#                    55432; databases producer_plant_db and consumer_plant_db, made afresh) and
#                    two consumer replicas (:8080, :8083) in one group sharing the copy
#   --no-compare     skip the closing stream-vs-batch comparison (bench/experiment.sh --ci)
set -euo pipefail
cd "$(dirname "$0")/.."
keep=0 rate=500 duration=10 compare=1 db=sqlite
usage() { echo "usage: scripts/demo.sh [--keep] [--rate N] [--duration S] [--db sqlite|postgres] [--no-compare]" >&2; exit 2; }
while [ $# -gt 0 ]; do
  case "$1" in
    --keep) keep=1 ;;
    --rate) rate=$2; shift ;;
    --duration) duration=$2; shift ;;
    --db) db=$2; shift; [ "$db" = sqlite ] || [ "$db" = postgres ] || usage ;;
    --no-compare) compare=0 ;;
    *) usage ;;
  esac
  shift
done

say() { printf '\n\033[1m== %s\033[0m\n' "$*"; }
show() { printf '$ %s\n' "$*"; "$@"; echo; }
wait_ready() {  # url
  for _ in $(seq 150); do curl -sf "$1" >/dev/null 2>&1 && return 0; sleep 0.2; done
  echo "not ready: $1" >&2; return 1
}

say "install and build"
scripts/install-deps.sh
scripts/build.sh build

say "start Kafka (KRaft, single node, 127.0.0.1:9092) and the plant topics"
# The demo's broker keeps its data under var/ and starts empty each time.
export KAFKA_DATA_DIR=$PWD/var/kafka-demo
scripts/kafka.sh stop --purge >/dev/null
scripts/kafka.sh start
scripts/kafka.sh create-topics

mkdir -p var
consumer_ports=(8080)
if [ "$db" = postgres ]; then
  say "start PostgreSQL (Debian's, own data directory, 127.0.0.1:${PGPORT:-55432}): a fresh source and copy"
  scripts/postgres.sh start
  for database in producer_plant_db consumer_plant_db; do
    scripts/postgres.sh psql -q -c "DROP DATABASE IF EXISTS $database WITH (FORCE)" -c "CREATE DATABASE $database"
  done
  source_url=$(scripts/postgres.sh url producer_plant_db)
  copy_url=$(scripts/postgres.sh url consumer_plant_db)
  consumer_ports=(8080 8083)  # two replicas in one group, one copy
else
  rm -f var/producer_plant_db.sqlite* var/consumer_plant_db.sqlite*
  source_url=sqlite:var/producer_plant_db.sqlite
  copy_url=sqlite:var/consumer_plant_db.sqlite
fi
rm -f var/consumer*.log var/producer.log

say "start the producer (image-api on :8081) and ${#consumer_ports[@]} consumer(s) (copy on :${consumer_ports[*]})"
pids=()
stop_all() {
  for pid in "${pids[@]}"; do kill -TERM "$pid" 2>/dev/null || true; done
  for pid in "${pids[@]}"; do wait "$pid" 2>/dev/null || true; done
}
[ "$keep" = 1 ] || trap stop_all EXIT
LEAFSYNC_DATABASE_URL=$source_url build/bin/leafsync-producer serve --config config/producer.yaml >var/producer.log 2>&1 &
pids+=($!)
group="leafsync-demo-$(date +%s)"
for port in "${consumer_ports[@]}"; do
  log=var/consumer.log
  [ "$port" = 8080 ] || log=var/consumer-$port.log
  LEAFSYNC_DATABASE_URL=$copy_url LEAFSYNC_HTTP_PORT=$port LEAFSYNC_GROUP_ID=$group \
    LEAFSYNC_PRODUCER_URL=http://127.0.0.1:8081 \
    build/bin/leafsync-consumer --config config/consumer.yaml >"$log" 2>&1 &
  pids+=($!)
done
wait_ready localhost:8081/readyz
for port in "${consumer_ports[@]}"; do wait_ready "localhost:$port/readyz"; done
show curl -s localhost:8080/readyz
if [ ${#consumer_ports[@]} -gt 1 ]; then
  echo "the replicas split the 9 partitions (cooperative-sticky), each applying its own in parallel:"
  for port in "${consumer_ports[@]}"; do
    printf ':%s applies ' "$port"
    curl -s "localhost:$port/sync-status" | jq -c '[.partitions[] | "\(.topic)/\(.partition)"]'
  done
fi

say "cameras: $rate writes/s for $duration s against the source (20% new images, 75% metadata updates, 5% deletes)"
LEAFSYNC_DATABASE_URL=$source_url build/bin/leafsync-producer load --config config/producer.yaml --no-relay \
  --rate "$rate" --duration "$duration" --mix 20:75:5 --image-bytes 1024

say "a write sent to the consumer goes to the producer and is answered once the copy has it"
echo "\$ curl -s -X PUT localhost:8080/image-plant/potato/ -d '{\"camera_id\": 7, ...}'"
created=$(curl -s -X PUT localhost:8080/image-plant/potato/ -H 'Content-Type: application/json' \
  -d '{"camera_id": 7, "gps_coordinates": [48.476563, 16.585654], "data": "ffd8ffe000104a46"}')
printf '%s\n\n' "$created"
id=$(jq -r .id <<<"$created")
show curl -s -X POST localhost:8080/image-plant/potato/ -H 'Content-Type: application/json' \
  -d "{\"id\": $id, \"disease\": \"Late blight\", \"percentage\": 87.5, \"is_active\": true}"
show curl -s "localhost:8080/image-plant/potato/$id"

say "a malformed event goes to the dead-letter topic with its reason; the stream goes on"
printf '%s\n' '42|{"op":"c", this is not JSON}' | kcat -b 127.0.0.1:9092 -P -t pepper -K '|'
sleep 1
kcat -b 127.0.0.1:9092 -C -t leafsync.dlq -o -1 -e -q -f 'key=%k headers=%h\nvalue=%s\n'

say "the copy equals the source, row by row"
caught_up() {
  [ "$(curl -s localhost:8081/metrics | awk '$1 == "leafsync_outbox_depth" {print $2}')" = 0 ] || return 1
  for port in "${consumer_ports[@]}"; do
    [ "$(curl -s "localhost:$port/sync-status" | jq .total_lag)" = 0 ] || return 1
  done
}
for _ in $(seq 100); do caught_up && break; sleep 0.1; done
build/bin/leafsync-producer verify --source "$source_url" --copy "$copy_url"

say "the API (consumer :8080; the producer :8081 serves the same reads)"
show curl -s localhost:8080/ping
show curl -s localhost:8080/image-plant/potato/total/
show curl -s localhost:8081/image-plant/potato/total/
curl -s "localhost:8080/image-plant/tomato/?limit=2" | cut -c1-400; echo " …"
show curl -s localhost:8080/image-plant/banana/1
show curl -s localhost:8080/image-plant/potato/abc

say "metrics: what the stream moved"
curl -s localhost:8081/metrics | grep -E '^leafsync_(writes_total|events_published_total|bytes_published_total|outbox_depth)'
curl -s localhost:8080/metrics | grep -E '^leafsync_(events_applied_total|bytes_consumed_total|dead_letter_events_total|staleness_seconds_(sum|count))' | grep -v ' 0$'

if [ "$keep" = 1 ]; then
  say "left running: producer :8081, consumers :${consumer_ports[*]} (pids ${pids[*]}), broker :9092 (KAFKA_DATA_DIR=$KAFKA_DATA_DIR scripts/kafka.sh stop)"
  [ "$db" = sqlite ] || echo "PostgreSQL: $copy_url (scripts/postgres.sh stop)"
else
  say "stop: SIGTERM drains, commits and exits 0"
  stop_all
  tail -n 1 var/producer.log var/consumer*.log
  scripts/kafka.sh stop
  [ "$db" = sqlite ] || scripts/postgres.sh stop
fi

if [ "$compare" = 1 ]; then
  say "stream versus the 600-second batch job, time-compressed (batch period 5 s): bench/experiment.sh --ci"
  echo "(the full-length run: bench/experiment.sh; its table and chart are in docs/experiment.md)"
  env -u KAFKA_DATA_DIR bench/experiment.sh --ci --out var/experiment-demo
fi
