#!/usr/bin/env bash
# bench/peer: leafsync-consumer next to its peer, Debezium's JDBC sink (3.6.0 on Kafka Connect
# 4.1.1, tasks.max=1 and 3), on the same genuine Debezium stream in the same PostgreSQL server.
#
# The bench creates the stream itself: a source table public.image_potato (REPLICA IDENTITY
# FULL) with ROWS rows of ~4 KB incompressible images, snapshot by Debezium 3.6.1's PostgreSQL
# connector (JSON converter with schemas, which the JDBC sink needs), then ROWS/2 metadata
# updates and ROWS/20 deletes (+ tombstones) streamed. Then RUNS rounds of, per --sink-tasks
# value, A (the JDBC sink with that tasks.max, into a fresh database) then B (leafsync-consumer
# into another, under a memory budget of 64 MiB), each timed until it has caught up -- the
# sink: its copy holds the source's row count and version sum (polled every 0.1 s, an index-free
# count that reads no image); leafsync: the offsets committed in its copy cover the topic -- and
# then checked: the copy must equal the source row by row (a copy that never does fails the bench).
# msg/s counts the topic's messages over that time (the sink from when Connect reports it RUNNING,
# leafsync from its process start); CPU seconds and peak RSS are the process's (the Connect JVM,
# its start included). One table, with the ratios and the load average.
#
# Usage: bench/peer.sh [--rows N] [--runs R] [--sink-tasks 1,3] [--budget-mb MB] [--smoke] [--keep-stream]
#   (smoke: 300 rows, 1 run, tasks.max=1 only; --budget-mb 0: librdkafka's own limits;
#   --keep-stream: keep this row count's stream for the next run with it, or take the kept one)
# Needs the broker (KAFKA_PORT), PostgreSQL with wal_level=logical (PGPORT), a free
# CONNECT_REST_PORT, and build/bin/leafsync-consumer (LEAFSYNC_BIN_DIR).
set -euo pipefail
cd "$(dirname "$0")/.."
# 30,000 rows: 48,000 messages, about 0.5 GB on the topic; leafsync's own start is then a few
# percent of its time, and a full run (one round: A1 B A3 B) stays under 10 minutes here.
ROWS=30000 RUNS=1 SINK_TASKS=1,3 KEEP_STREAM=0
# memory.budget_mb 64, the smallest the consumer accepts (MemoryPlan::kMinBudgetMb): since the
# plan caps what a partition gets, it runs as fast as the stg deployment's 224 (measured: the
# same msg/s within the noise, 42 MB peak RSS against 50).
BUDGET_MB=64
while (($#)); do
    case $1 in
        --rows) ROWS=$2; shift 2 ;;
        --runs) RUNS=$2; shift 2 ;;
        --sink-tasks) SINK_TASKS=$2; shift 2 ;;
        --budget-mb) BUDGET_MB=$2; shift 2 ;;
        --smoke) ROWS=300; RUNS=1; SINK_TASKS=1; shift ;;
        --keep-stream) KEEP_STREAM=1; shift ;;
        *) echo "usage: $0 [--rows N] [--runs R] [--sink-tasks 1,3] [--budget-mb MB] [--smoke] [--keep-stream]" >&2; exit 2 ;;
    esac
done
IFS=, read -ra TASKS <<<"$SINK_TASKS"
: "${KAFKA_PORT:=9092}" "${PGPORT:=55432}" "${CONNECT_REST_PORT:=8083}"
export KAFKA_PORT CONNECT_REST_PORT
BIN=${LEAFSYNC_BIN_DIR:-build/bin}
BOOT=127.0.0.1:$KAFKA_PORT
ID=peer$$_$RANDOM
# --keep-stream: the stream (source database and topic) of this row count is kept after the
# run and taken again by the next one with --keep-stream, which then skips the snapshot.
SRC_DB=${ID}_src
((KEEP_STREAM)) && SRC_DB=peerstream_$ROWS
WORK=$(mktemp -d /tmp/leafsync-peer.XXXXXX)
psql_() { PGPORT=$PGPORT scripts/postgres.sh psql -v ON_ERROR_STOP=1 -qAt "$@"; }
URL_BASE=$(PGPORT=$PGPORT scripts/postgres.sh url)
URL_BASE=${URL_BASE%/*}
dbs=()
cleanup() {
    if [[ -n ${consumer_pid:-} ]]; then kill "$consumer_pid" 2>/dev/null || true; fi
    CONNECT_DATA_DIR=$WORK/connect scripts/connect.sh stop >/dev/null 2>&1 || true
    psql_ -c "SELECT pg_drop_replication_slot(slot_name) FROM pg_replication_slots WHERE slot_name = '$ID' AND NOT active" >/dev/null 2>&1 || true
    for db in "${dbs[@]}"; do
        [[ $db == "$SRC_DB" && -n ${STREAM_KEPT:-} ]] && continue
        psql_ -c "DROP DATABASE IF EXISTS $db WITH (FORCE)" >/dev/null 2>&1 || true
    done
    [[ -n ${PEER_KEEP_WORK:-} ]] && echo "work kept in $WORK" >&2 || rm -rf "$WORK"
}
trap cleanup EXIT
log() { echo "peer [${SECONDS}s]: $*" >&2; }

[[ $(psql_ -c "SHOW wal_level") == logical ]] || { log "PostgreSQL on $PGPORT needs wal_level=logical (LEAFSYNC_PG_WAL_LEVEL)"; exit 1; }
createdb_() { psql_ -c "CREATE DATABASE $1"; dbs+=("$1"); }
# Each run starts on a settled server: the copy before it (checked already) is dropped at once,
# so no autovacuum of it runs during the next, and a checkpoint writes out what the runs before
# left dirty, so every run starts with the same full-page writes to do.
settle() {  # $1 the database of the run before, or empty
    [[ -n $1 ]] && psql_ -c "DROP DATABASE IF EXISTS $1 WITH (FORCE)"
    psql_ -c "CHECKPOINT"
}

# --------------------------------------------------------------- the stream --
count_messages() {  # of topic $1
    kcat -b "$BOOT" -Q -t "$1:0:-1" -t "$1:1:-1" -t "$1:2:-1" 2>/dev/null |
        awk '{s += $NF} END {print s + 0}'
}
EXPECTED=$((ROWS + ROWS / 2 + 2 * (ROWS / 20)))
TOPIC=
if ((KEEP_STREAM)); then
    # A kept stream names its topic in the source database once it is complete.
    TOPIC=$(psql_ -d "$SRC_DB" -c "SELECT topic FROM peer_stream" 2>/dev/null || true)
    if [[ -n $TOPIC && $(count_messages "$TOPIC") == "$EXPECTED" ]]; then
        log "reusing the kept stream $TOPIC"
    else
        TOPIC=
        psql_ -c "DROP DATABASE IF EXISTS $SRC_DB WITH (FORCE)" 2>/dev/null
    fi
fi
# Making the stream (not indented: the here-documents below start their lines).
if [[ -z $TOPIC ]]; then
createdb_ "$SRC_DB"
psql_ -d "$SRC_DB" <<SQL
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
kcat -b "$BOOT" -q -C -t __none -e >/dev/null 2>&1 || true
cat >"$WORK/source.properties" <<EOF2
name=$ID-source
connector.class=io.debezium.connector.postgresql.PostgresConnector
plugin.name=pgoutput
database.hostname=127.0.0.1
database.port=$PGPORT
database.user=leafsync
database.password=unused
database.dbname=$SRC_DB
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
wait_messages() {
    local want=$1 deadline=$((SECONDS + 600))
    until (($(count_messages "$TOPIC") >= want)); do
        ((SECONDS < deadline)) || { log "topic has $(count_messages "$TOPIC") of $want messages"; exit 1; }
        sleep 1
    done
}
log "snapshot of $ROWS rows by the Debezium source"
CONNECT_DATA_DIR=$WORK/connect CONNECT_PLUGINS=debezium-connector-postgres \
    scripts/connect.sh start "$WORK/source.properties" >/dev/null
wait_messages "$ROWS"
psql_ -d "$SRC_DB" -c "UPDATE public.image_potato SET disease = 'Late blight', percentage = id % 100,
  updated_at = localtimestamp, version = version + 1 WHERE id % 2 = 0"
psql_ -d "$SRC_DB" -c "DELETE FROM public.image_potato WHERE id % 20 = 1"
wait_messages "$EXPECTED"
CONNECT_DATA_DIR=$WORK/connect scripts/connect.sh stop --purge >/dev/null 2>&1
psql_ -d "$SRC_DB" -c "CREATE TABLE peer_stream AS SELECT '$TOPIC'::text AS topic"
fi
((KEEP_STREAM)) && STREAM_KEPT=1
MESSAGES=$(count_messages "$TOPIC")
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
WANT=$(row_digest "$SRC_DB" ts)
[[ $WANT =~ ^[0-9a-f]{32}$ ]] || { log "no digest of the source ($WANT)"; exit 1; }
# Caught up, cheaply (no image read): the row count and the sum of versions.
row_count() {  # $1 database, $2 as in row_digest
    local where=""
    [[ $2 == text ]] && where="WHERE NOT tombstone"
    psql_ -d "$1" -c "SELECT count(*) || ' ' || coalesce(sum(version), 0) FROM public.image_potato $where" 2>/dev/null || true
}
WANT_COUNT=$(row_count "$SRC_DB" ts)
committed() {  # $1 database: the messages leafsync has committed in it
    psql_ -d "$1" -c "SELECT coalesce(sum(next_offset), 0) FROM kafka_offsets WHERE topic = '$TOPIC'" 2>/dev/null || echo 0
}

cpu_s() { awk -v t="$(getconf CLK_TCK)" '{printf "%.2f", ($14 + $15) / t}' "/proc/$1/stat"; }
# The server's side of each run: CPU seconds of the whole PostgreSQL cluster (the postmaster with
# the backends it has reaped, and those still running; so the bench's own psql polls too) and
# the WAL it wrote, both from the run's start to its DONE_AT. "-" when the server's processes
# are not visible here.
PG_PM=$(head -1 "$(psql_ -c "SHOW data_directory")/postmaster.pid" 2>/dev/null || true)
pg_cpu() {
    [[ -n $PG_PM && -r /proc/$PG_PM/stat ]] || { echo -; return; }
    { awk '{print $14 + $15 + $16 + $17}' "/proc/$PG_PM/stat"
      # (a child may end between the listing and the read: pipefail must not see that)
      for c in $(cat /proc/"$PG_PM"/task/*/children); do awk '{print $14 + $15}' "/proc/$c/stat" 2>/dev/null || true; done
    } | awk -v t="$(getconf CLK_TCK)" '{s += $1} END {printf "%.2f", s / t}'
}
wal_lsn() { psql_ -c "SELECT pg_current_wal_lsn()"; }
# Sets PG_RUN to "CPU-s WAL-MB" since the marks of pg_mark.
pg_mark() { PG_CPU0=$(pg_cpu) PG_LSN0=$(wal_lsn); }
pg_since() {
    local cpu wal
    cpu=$(pg_cpu)
    wal=$(psql_ -c "SELECT round((pg_current_wal_lsn() - '$PG_LSN0'::pg_lsn) / 1e6)")
    [[ $cpu == - || $PG_CPU0 == - ]] && cpu=- || cpu=$(echo "$cpu - $PG_CPU0" | bc -l)
    PG_RUN="$cpu $wal"
}
rss_mb() { awk '/VmHWM/ {printf "%.0f", $2 / 1024}' "/proc/$1/status"; }
# Waits until `$4 $1` prints at least (numerically: leafsync) or exactly (the sink) $5, polling
# every 0.1 s, and sets DONE_AT; then checks the copy (the time it takes is not counted).
wait_caught_up() {  # $1 db, $2 format, $3 pid, $4 probe, $5 target
    local deadline=$((SECONDS + 900)) got
    while :; do
        got=$("$4" "$1")
        if [[ $4 == committed ]]; then ((got >= $5)) && break; else [[ $got == "$5" ]] && break; fi
        kill -0 "$3" 2>/dev/null || { log "the process of $1 died"; exit 1; }
        ((SECONDS < deadline)) || { log "$1 never caught up ($got of $5)"; exit 1; }
        sleep 0.1
    done
    DONE_AT=$(date +%s.%N)
    pg_since
    until [[ $(row_digest "$1" "$2") == "$WANT" ]]; do
        ((SECONDS < deadline)) || { log "$1 never equalled the source"; exit 1; }
        sleep 0.5
    done
}
sink_count() { row_count "$1" ts; }

run_jdbc() {  # $1 round, $2 tasks.max
    local db=${ID}_jdbc$1_$2
    createdb_ "$db"
    cat >"$WORK/sink.properties" <<EOF2
name=$ID-sink$1-$2
connector.class=io.debezium.connector.jdbc.JdbcSinkConnector
tasks.max=$2
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
    settle "$LAST_DB"
    CONNECT_DATA_DIR=$WORK/connect CONNECT_PLUGINS=debezium-connector-jdbc \
        scripts/connect.sh start "$WORK/sink.properties" >/dev/null
    local pid start
    pid=$(<"$WORK/connect/connect.pid")
    pg_mark
    start=$(date +%s.%N)
    wait_caught_up "$db" ts "$pid" sink_count "$WANT_COUNT"
    RESULT="$(echo "$MESSAGES / ($DONE_AT - $start)" | bc -l) $(cpu_s "$pid") $(rss_mb "$pid") $PG_RUN"
    CONNECT_DATA_DIR=$WORK/connect scripts/connect.sh stop --purge >/dev/null 2>&1
    LAST_DB=$db
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
memory: {budget_mb: $BUDGET_MB}
EOF2
    local start
    settle "$LAST_DB"
    pg_mark
    start=$(date +%s.%N)
    (cd "$WORK" && exec "$OLDPWD/$BIN/leafsync-consumer" --config consumer.yaml >"$WORK/consumer$1.log" 2>&1) &
    consumer_pid=$!
    wait_caught_up "$db" text "$consumer_pid" committed "$MESSAGES"
    RESULT="$(echo "$MESSAGES / ($DONE_AT - $start)" | bc -l) $(cpu_s "$consumer_pid") $(rss_mb "$consumer_pid") $PG_RUN"
    kill "$consumer_pid"; wait "$consumer_pid" 2>/dev/null || true
    consumer_pid=
    LAST_DB=$db
}

LOAD_BEFORE=$(cut -d' ' -f1 /proc/loadavg) LAST_DB=
declare -A A  # tasks.max -> results of its rounds, newline-separated
declare -a B
n=0
for ((r = 1; r <= RUNS; ++r)); do
    # A B per sink setting (A1 B A3 B): each sink run has a leafsync run next to it.
    for t in "${TASKS[@]}"; do
        log "round $r: A (JDBC sink, tasks.max=$t)"; run_jdbc "$r" "$t"; A[$t]+="$RESULT"$'\n'
        log "round $r: B (leafsync)"; run_leafsync $((++n)); B+=("$RESULT")
    done
    if ((${#TASKS[@]} == 0)); then log "round $r: B (leafsync)"; run_leafsync $((++n)); B+=("$RESULT"); fi
done
LOAD_AFTER=$(cut -d' ' -f1 /proc/loadavg)

median() { sort -g | awk '{v[NR] = $1} END {print (NR % 2) ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2}'; }
col() { local i=$1; shift; for x in "$@"; do echo "$x" | awk -v i="$i" '{print $i}'; done | median; }
per_msg() { echo "$1 * 1000000 / $MESSAGES" | bc -l; }
# The server's CPU µs per message and WAL MB (medians; "-" when its processes were not visible).
pg_cols() {  # the results of one sink's runs
    local cpu
    if printf '%s\n' "$@" | awk '$4 == "-" {f = 1} END {exit !f}'; then cpu=-; else cpu=$(printf '%.0f' "$(per_msg "$(col 4 "$@")")"); fi
    printf '%s | %.0f' "$cpu" "$(col 5 "$@")"
}
b_rate=$(col 1 "${B[@]}") b_cpu=$(col 2 "${B[@]}") b_rss=$(col 3 "${B[@]}")
budget="memory.budget_mb=$BUDGET_MB"
((BUDGET_MB > 0)) || budget="librdkafka's own limits"
printf '\nbench/peer: %d Debezium messages (%d rows, JSON with schemas, REPLICA IDENTITY FULL), %d round(s) of A B per sink setting (medians), every copy equal to the source; load average %s before, %s after; %d s in all\n' \
    "$MESSAGES" "$ROWS" "$RUNS" "$LOAD_BEFORE" "$LOAD_AFTER" "$SECONDS"
printf '| sink | msg/s | CPU s | CPU µs/msg | peak RSS MB | PostgreSQL CPU µs/msg | WAL MB |\n|---|---|---|---|---|---|---|\n'
ratios=()
for t in "${TASKS[@]}"; do
    mapfile -t runs < <(printf '%s' "${A[$t]}")
    a_rate=$(col 1 "${runs[@]}") a_cpu=$(col 2 "${runs[@]}") a_rss=$(col 3 "${runs[@]}")
    printf '| Debezium JDBC sink 3.6.0 (Connect 4.1.1, tasks.max=%s) | %.0f | %.1f | %.0f | %.0f | %s |\n' \
        "$t" "$a_rate" "$a_cpu" "$(per_msg "$a_cpu")" "$a_rss" "$(pg_cols "${runs[@]}")"
    ratios+=("$(printf '| ratio leafsync / JDBC sink tasks.max=%s | %.1f× | %.1f× less | | %.1f× less | | |' "$t" \
        "$(echo "$b_rate / $a_rate" | bc -l)" "$(echo "$a_cpu / $b_cpu" | bc -l)" "$(echo "$a_rss / $b_rss" | bc -l)")")
done
printf '| leafsync-consumer (format: debezium, %s) | %.0f | %.1f | %.0f | %.0f | %s |\n' \
    "$budget" "$b_rate" "$b_cpu" "$(per_msg "$b_cpu")" "$b_rss" "$(pg_cols "${B[@]}")"
printf '%s\n' "${ratios[@]}"
