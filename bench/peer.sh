#!/usr/bin/env bash
# bench/peer: leafsync-consumer next to its peer, Debezium's JDBC sink (3.6.0 on Kafka Connect
# 4.1.1, tasks.max=1), on the same genuine Debezium stream in the same PostgreSQL server.
#
# The bench creates the stream itself: a source table public.image_potato (REPLICA IDENTITY
# FULL) with ROWS rows of ~4 KB incompressible images, snapshot by Debezium 3.6.1's PostgreSQL
# connector (JSON converter with schemas, which the JDBC sink needs), then ROWS/2 metadata
# updates and ROWS/20 deletes (+ tombstones) streamed. Then RUNS rounds of A (JDBC sink into a
# fresh database) and B (leafsync-consumer into another), alternating, each timed until its copy
# equals the source row by row (checked; a copy that never does fails the bench).
# msg/s counts the topic's messages over that time (the sink from when Connect reports it RUNNING,
# leafsync from its process start); CPU seconds and peak RSS are the process's (the Connect JVM,
# its start included). One table, with the ratios.
#
# Usage: bench/peer.sh [--rows N] [--runs R] [--smoke]   (smoke: 300 rows, 1 run)
# Needs the broker (KAFKA_PORT), PostgreSQL with wal_level=logical (PGPORT), a free
# CONNECT_REST_PORT, and build/bin/leafsync-consumer (LEAFSYNC_BIN_DIR).
set -euo pipefail
cd "$(dirname "$0")/.."
ROWS=20000 RUNS=2
while (($#)); do
    case $1 in
        --rows) ROWS=$2; shift 2 ;;
        --runs) RUNS=$2; shift 2 ;;
        --smoke) ROWS=300; RUNS=1; shift ;;
        *) echo "usage: $0 [--rows N] [--runs R] [--smoke]" >&2; exit 2 ;;
    esac
done
: "${KAFKA_PORT:=9092}" "${PGPORT:=55432}" "${CONNECT_REST_PORT:=8083}"
export KAFKA_PORT CONNECT_REST_PORT
BIN=${LEAFSYNC_BIN_DIR:-build/bin}
BOOT=127.0.0.1:$KAFKA_PORT
ID=peer$$_$RANDOM
WORK=$(mktemp -d /tmp/leafsync-peer.XXXXXX)
psql_() { PGPORT=$PGPORT scripts/postgres.sh psql -v ON_ERROR_STOP=1 -qAt "$@"; }
URL_BASE=$(PGPORT=$PGPORT scripts/postgres.sh url)
URL_BASE=${URL_BASE%/*}
dbs=()
cleanup() {
    if [[ -n ${consumer_pid:-} ]]; then kill "$consumer_pid" 2>/dev/null || true; fi
    CONNECT_DATA_DIR=$WORK/connect scripts/connect.sh stop >/dev/null 2>&1 || true
    psql_ -c "SELECT pg_drop_replication_slot(slot_name) FROM pg_replication_slots WHERE slot_name = '$ID' AND NOT active" >/dev/null 2>&1 || true
    for db in "${dbs[@]}"; do psql_ -c "DROP DATABASE IF EXISTS $db WITH (FORCE)" >/dev/null 2>&1 || true; done
    rm -rf "$WORK"
}
trap cleanup EXIT
log() { echo "peer: $*" >&2; }

[[ $(psql_ -c "SHOW wal_level") == logical ]] || { log "PostgreSQL on $PGPORT needs wal_level=logical (LEAFSYNC_PG_WAL_LEVEL)"; exit 1; }
createdb_() { psql_ -c "CREATE DATABASE $1"; dbs+=("$1"); }

# --------------------------------------------------------------- the stream --
createdb_ "${ID}_src"
psql_ -d "${ID}_src" <<SQL
CREATE TABLE public.image_potato (id bigint PRIMARY KEY, camera_id bigint NOT NULL, data bytea NOT NULL,
  latitude double precision NOT NULL, longitude double precision NOT NULL, created_at timestamp(6) NOT NULL,
  updated_at timestamp(6) NOT NULL, is_active boolean NOT NULL DEFAULT false,
  is_deleted boolean NOT NULL DEFAULT false, disease text, percentage double precision,
  version bigint NOT NULL DEFAULT 1);
ALTER TABLE public.image_potato REPLICA IDENTITY FULL;
INSERT INTO public.image_potato (id, camera_id, data, latitude, longitude, created_at, updated_at)
  SELECT i, i % 20, (SELECT decode(string_agg(md5(i::text || g::text), ''), 'hex') FROM generate_series(1, 256) g),
         48.476563, 16.585654, localtimestamp, localtimestamp FROM generate_series(1, $ROWS) i;
SQL
TOPIC=$ID.public.image_potato
EXPECTED=$((ROWS + ROWS / 2 + 2 * (ROWS / 20)))
kcat -b "$BOOT" -q -C -t __none -e >/dev/null 2>&1 || true
cat >"$WORK/source.properties" <<EOF2
name=$ID-source
connector.class=io.debezium.connector.postgresql.PostgresConnector
plugin.name=pgoutput
database.hostname=127.0.0.1
database.port=$PGPORT
database.user=leafsync
database.password=unused
database.dbname=${ID}_src
topic.prefix=$ID
table.include.list=public.image_potato
slot.name=$ID
slot.drop.on.stop=true
publication.name=$ID
publication.autocreate.mode=filtered
topic.creation.default.replication.factor=1
topic.creation.default.partitions=3
EOF2
# The worker's converters: JSON with schemas (the JDBC sink's requirement).
count_messages() {
    kcat -b "$BOOT" -Q -t "$TOPIC:0:-1" -t "$TOPIC:1:-1" -t "$TOPIC:2:-1" 2>/dev/null |
        awk '{s += $NF} END {print s + 0}'
}
wait_messages() {
    local want=$1 deadline=$((SECONDS + 600))
    until (($(count_messages) >= want)); do
        ((SECONDS < deadline)) || { log "topic has $(count_messages) of $want messages"; exit 1; }
        sleep 1
    done
}
log "snapshot of $ROWS rows by the Debezium source"
CONNECT_DATA_DIR=$WORK/connect CONNECT_PLUGINS=debezium-connector-postgres \
    scripts/connect.sh start "$WORK/source.properties" >/dev/null
wait_messages "$ROWS"
psql_ -d "${ID}_src" -c "UPDATE public.image_potato SET disease = 'Late blight', percentage = id % 100,
  updated_at = localtimestamp, version = version + 1 WHERE id % 2 = 0"
psql_ -d "${ID}_src" -c "DELETE FROM public.image_potato WHERE id % 20 = 1"
wait_messages "$EXPECTED"
CONNECT_DATA_DIR=$WORK/connect scripts/connect.sh stop --purge >/dev/null 2>&1
MESSAGES=$(count_messages)
log "stream ready: $MESSAGES messages on $TOPIC"

# What a copy must hold: a digest of the source's rows.
row_digest() {  # $1 database, $2 time expression format (ts = timestamps, text = leafsync's ISO text)
    local t="to_char(%s, 'YYYY-MM-DD\"T\"HH24:MI:SS.US')" where=""
    [[ $2 == text ]] && t="%s" && where="WHERE NOT tombstone"
    local c u
    # shellcheck disable=SC2059
    c=$(printf "$t" created_at) u=$(printf "$t" updated_at)
    psql_ -d "$1" -c "SELECT md5(string_agg(concat_ws('|', id, camera_id, md5(data), latitude::text, longitude::text,
        $c, $u, is_active, is_deleted, quote_nullable(disease), quote_nullable(percentage::text), version), ',' ORDER BY id))
        FROM public.image_potato $where" 2>/dev/null || true
}
WANT=$(row_digest "${ID}_src" ts)
[[ $WANT =~ ^[0-9a-f]{32}$ ]] || { log "no digest of the source ($WANT)"; exit 1; }

cpu_s() { awk -v t="$(getconf CLK_TCK)" '{printf "%.1f", ($14 + $15) / t}' "/proc/$1/stat"; }
rss_mb() { awk '/VmHWM/ {printf "%.0f", $2 / 1024}' "/proc/$1/status"; }
wait_equal() {  # $1 db, $2 format, $3 pid
    local deadline=$((SECONDS + 900))
    until [[ $(row_digest "$1" "$2") == "$WANT" ]]; do
        kill -0 "$3" 2>/dev/null || { log "the process of $1 died"; exit 1; }
        ((SECONDS < deadline)) || { log "$1 never equalled the source"; exit 1; }
        sleep 0.5
    done
}

run_jdbc() {
    local db=${ID}_jdbc$1
    createdb_ "$db"
    cat >"$WORK/sink.properties" <<EOF2
name=$ID-sink$1
connector.class=io.debezium.connector.jdbc.JdbcSinkConnector
tasks.max=1
topics=$TOPIC
connection.url=jdbc:postgresql://127.0.0.1:$PGPORT/$db
connection.username=leafsync
connection.password=unused
insert.mode=upsert
delete.enabled=true
primary.key.mode=record_key
schema.evolution=basic
collection.name.format=image_potato
consumer.override.auto.offset.reset=earliest
EOF2
    CONNECT_DATA_DIR=$WORK/connect CONNECT_PLUGINS=debezium-connector-jdbc \
        scripts/connect.sh start "$WORK/sink.properties" >/dev/null
    local pid start
    pid=$(<"$WORK/connect/connect.pid")
    start=$(date +%s.%N)
    wait_equal "$db" ts "$pid"
    RESULT="$(echo "$MESSAGES / ($(date +%s.%N) - $start)" | bc -l) $(cpu_s "$pid") $(rss_mb "$pid")"
    CONNECT_DATA_DIR=$WORK/connect scripts/connect.sh stop --purge >/dev/null 2>&1
}

run_leafsync() {
    local db=${ID}_leafsync$1
    createdb_ "$db"
    echo "{\"bootstrap.servers\": \"$BOOT\", \"group.id\": \"$ID-$1\", \"auto.offset.reset\": \"earliest\"}" >"$WORK/kafka.json"
    cat >"$WORK/consumer.yaml" <<EOF2
kafka:
  properties: kafka.json
topics:
  - {name: $TOPIC, plant: potato, format: debezium}
database:
  url: $URL_BASE/$db
http: {port: 0, threads: 2}
EOF2
    local start
    start=$(date +%s.%N)
    (cd "$WORK" && exec "$OLDPWD/$BIN/leafsync-consumer" --config consumer.yaml >"$WORK/consumer$1.log" 2>&1) &
    consumer_pid=$!
    wait_equal "$db" text "$consumer_pid"
    RESULT="$(echo "$MESSAGES / ($(date +%s.%N) - $start)" | bc -l) $(cpu_s "$consumer_pid") $(rss_mb "$consumer_pid")"
    kill "$consumer_pid"; wait "$consumer_pid" 2>/dev/null || true
    consumer_pid=
}

declare -a A B
for ((r = 1; r <= RUNS; ++r)); do
    log "round $r: A (JDBC sink)"; run_jdbc "$r"; A+=("$RESULT")
    log "round $r: B (leafsync)"; run_leafsync "$r"; B+=("$RESULT")
done

median() { sort -g | awk '{v[NR] = $1} END {print (NR % 2) ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2}'; }
col() { local i=$1; shift; for x in "$@"; do echo "$x" | awk -v i="$i" '{print $i}'; done | median; }
a_rate=$(col 1 "${A[@]}") a_cpu=$(col 2 "${A[@]}") a_rss=$(col 3 "${A[@]}")
b_rate=$(col 1 "${B[@]}") b_cpu=$(col 2 "${B[@]}") b_rss=$(col 3 "${B[@]}")
printf '\nbench/peer: %d Debezium messages (%d rows, JSON with schemas, REPLICA IDENTITY FULL), medians of %d alternating runs, every copy equal to the source\n' \
    "$MESSAGES" "$ROWS" "$RUNS"
printf '| sink | msg/s | CPU s | CPU µs/msg | peak RSS MB |\n|---|---|---|---|---|\n'
printf '| Debezium JDBC sink 3.6.0 (Connect 4.1.1, tasks.max=1) | %.0f | %.1f | %.0f | %.0f |\n' \
    "$a_rate" "$a_cpu" "$(echo "$a_cpu * 1000000 / $MESSAGES" | bc -l)" "$a_rss"
printf '| leafsync-consumer (format: debezium) | %.0f | %.1f | %.0f | %.0f |\n' \
    "$b_rate" "$b_cpu" "$(echo "$b_cpu * 1000000 / $MESSAGES" | bc -l)" "$b_rss"
printf '| ratio leafsync / JDBC sink | %.1f× | %.1f× less | | %.1f× less |\n' \
    "$(echo "$b_rate / $a_rate" | bc -l)" "$(echo "$a_cpu / ($b_cpu + 0.05)" | bc -l)" "$(echo "$a_rss / $b_rss" | bc -l)"
