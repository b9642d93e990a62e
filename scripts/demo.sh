#!/usr/bin/env bash
# The demo: installs what is missing, builds, starts a local Kafka broker, starts
# leafsync-consumer on a fresh SQLite copy, publishes sample change events (creates, a
# metadata-only update, a delete, a duplicate, a malformed message), and shows the result
# through the consumer's API, its sync status, its metrics and the dead-letter topic.
#   --keep   leave the broker and the consumer running afterwards (stop: scripts/kafka.sh stop;
#            kill the pid printed)
set -euo pipefail
cd "$(dirname "$0")/.."
keep=0
[ "${1:-}" = "--keep" ] && keep=1

say() { printf '\n\033[1m== %s\033[0m\n' "$*"; }
show() { printf '$ %s\n' "$*"; "$@"; echo; }

say "install and build"
scripts/install-deps.sh
scripts/build.sh build

say "start Kafka (KRaft, single node, 127.0.0.1:9092) and the plant topics"
# The demo's broker keeps its data under var/ and starts empty each time.
export KAFKA_DATA_DIR=$PWD/var/kafka-demo
scripts/kafka.sh stop --purge >/dev/null
scripts/kafka.sh start
scripts/kafka.sh create-topics

say "start leafsync-consumer on a fresh copy (var/consumer_plant_db.sqlite)"
mkdir -p var
rm -f var/consumer_plant_db.sqlite*
export LEAFSYNC_GROUP_ID="leafsync-demo-$(date +%s)"
build/bin/leafsync-consumer --config config/consumer.yaml >var/consumer.log 2>&1 &
consumer=$!
stop_consumer() { kill -TERM "$consumer" 2>/dev/null && wait "$consumer" || true; }
[ "$keep" = 1 ] || trap stop_consumer EXIT
for _ in $(seq 100); do
  curl -sf localhost:8080/readyz >/dev/null 2>&1 && break
  sleep 0.2
done
show curl -s localhost:8080/readyz

say "publish change events (key = image id)"
now=$(date +%s%3N)
ts=$(date -u +%Y-%m-%dT%H:%M:%S.%6N)
events=$(cat <<JSON
potato|1|{"op":"c","plant":"potato","id":1,"version":1,"ts_ms":$now,"fields":{"camera_id":1,"data":"/9j/4AAQSkZJRgABAQ==","gps_coordinates":[48.476563,16.585654],"created_at":"$ts","updated_at":"$ts","is_active":false,"is_deleted":false,"disease":null,"percentage":null}}
potato|2|{"op":"c","plant":"potato","id":2,"version":1,"ts_ms":$now,"fields":{"camera_id":2,"data":"/9j/4AAQSkZJRgABAg==","gps_coordinates":[48.2,16.37],"created_at":"$ts","updated_at":"$ts"}}
potato|1|{"op":"u","plant":"potato","id":1,"version":2,"ts_ms":$now,"fields":{"disease":"Late blight","percentage":87.5,"is_active":true,"updated_at":"$ts"}}
potato|1|{"op":"u","plant":"potato","id":1,"version":2,"ts_ms":$now,"fields":{"disease":"Late blight","percentage":87.5,"is_active":true,"updated_at":"$ts"}}
potato|2|{"op":"d","plant":"potato","id":2,"version":2,"ts_ms":$now}
tomato|1|{"op":"c","plant":"tomato","id":1,"version":1,"ts_ms":$now,"fields":{"camera_id":3,"data":"iVBORw0KGgo=","gps_coordinates":[47.07,15.44],"created_at":"$ts","updated_at":"$ts"}}
pepper|1|{"op":"c","plant":"pepper","id":1,"version":1,"ts_ms":$now,"fields":{"camera_id":4,"gps_coordinates":[41.9,12.5],"created_at":"$ts","updated_at":"$ts","disease":"Healthy","percentage":99.1}}
pepper|2|{"op":"c", this is not JSON}
JSON
)
while IFS='|' read -r topic key value; do
  printf '%s|%s\n' "$key" "$value" | kcat -b 127.0.0.1:9092 -P -t "$topic" -K '|'
  printf '  %-7s key=%s %s\n' "$topic" "$key" "${value:0:100}"
done <<<"$events"
sleep 1

say "the copy, through the consumer's API (port 8080)"
show curl -s localhost:8080/ping
show curl -s localhost:8080/image-plant/potato/1
show curl -s localhost:8080/image-plant/potato/2
show curl -s localhost:8080/image-plant/potato/total/
show curl -s localhost:8080/image-plant/tomato/1
show curl -s "localhost:8080/image-plant/pepper/?limit=10"
show curl -s localhost:8080/image-plant/banana/1
show curl -s localhost:8080/image-plant/potato/abc

say "the malformed event went to the dead-letter topic, with its reason"
kcat -b 127.0.0.1:9092 -C -t leafsync.dlq -o -1 -e -q -f 'key=%k headers=%h\nvalue=%s\n'

say "sync status and a few metrics"
curl -s localhost:8080/sync-status | head -c 600; echo
curl -s localhost:8080/metrics | grep -E '^leafsync_(events_applied_total|events_ignored_total|dead_letter_events_total)' | grep -v ' 0$'

if [ "$keep" = 1 ]; then
  say "left running: consumer pid $consumer (API on :8080), broker on :9092"
else
  say "stop: SIGTERM drains, commits and exits 0"
  stop_consumer
  tail -n 2 var/consumer.log
  scripts/kafka.sh stop
fi
