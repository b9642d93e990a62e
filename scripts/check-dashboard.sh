#!/usr/bin/env bash
# End-to-end check of the Grafana dashboard against Debian's real Prometheus: the consumer, the
# producer (image-api + outbox relay) and the batch job run on loopback while a load runs,
# Prometheus scrapes them with grafana/prometheus.yml (ports swapped for private ones), and every
# PromQL expression of grafana/dashboards/*.json must return a non-empty result with a number in
# it from Prometheus's HTTP query API. Also: promtool check config passes, every panel has a
# unit, every datasource reference is the ${datasource} variable. Starts and stops everything it
# starts; about a minute. The alert rules grafana/alerts.yml pass promtool check rules and
# promtool test rules (grafana/alerts.test.yml), and the live Prometheus loads every one of them
# with health "ok".
#
# Usage: scripts/check-dashboard.sh [--port-base P] [--keep]
#   --port-base P   consumer P, producer P+1, batch P+2 (default 28180)
#   --keep          leave everything running at the end (for a look at Prometheus)
# Environment:
#   LEAFSYNC_TEST_BOOTSTRAP   a running Kafka broker (host:port); without it one is started on
#                             CHECK_KAFKA_PORT (default 29192) and stopped at the end
#   PROMETHEUS_LISTEN         where our Prometheus listens (default 127.0.0.1:29190)
#   LEAFSYNC_BUILD_DIR        build directory with the binaries (default build; built if missing)
#   CHECK_TIMEOUT             seconds the queries may take to all answer (default 60)
set -euo pipefail

XP_TAG=check-dashboard
# shellcheck source=bench/experiment_lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/../bench/experiment_lib.sh"

port_base=28180 keep=0
while (($#)); do
    case $1 in
        --port-base) port_base=$2; shift 2 ;;
        --keep) keep=1; shift ;;
        -h | --help) sed -n '2,/^set -euo/{/^set -euo/d;s/^# \{0,1\}//;p}' "${BASH_SOURCE[0]}"; exit 0 ;;
        *) xp_die "unknown argument '$1'" ;;
    esac
done
XP_BOOTSTRAP=${LEAFSYNC_TEST_BOOTSTRAP:-}
export PROMETHEUS_LISTEN=${PROMETHEUS_LISTEN:-127.0.0.1:29190}
CHECK_TIMEOUT=${CHECK_TIMEOUT:-60}
consumer_port=$port_base producer_port=$((port_base + 1)) batch_port=$((port_base + 2))
dashboards=("$XP_ROOT"/grafana/dashboards/*.json)
started=$SECONDS

work=$(mktemp -d "${TMPDIR:-/tmp}/leafsync-check-dashboard.XXXXXX")
export PROMETHEUS_DATA_DIR=$work/prometheus
export PROMETHEUS_CONFIG=$work/prometheus.yml
prometheus_started=0
finish() {
    local rc=$?
    if ((keep)); then
        xp_log "--keep: running: pids ${XP_PIDS[*]}, Prometheus http://$PROMETHEUS_LISTEN (data $work)"
        exit "$rc"
    fi
    ((prometheus_started)) && "$XP_ROOT/scripts/prometheus.sh" stop >/dev/null 2>&1
    xp_stop_all
    if ((rc == 0)); then rm -rf "$work"; else xp_log "logs kept in $work"; fi
    exit "$rc"
}
trap finish EXIT
trap 'exit 130' INT TERM

# --- static checks: the scrape config, units, datasource references --------------------------
command -v promtool >/dev/null || PROMETHEUS_CONFIG=$XP_ROOT/grafana/prometheus.yml "$XP_ROOT/scripts/prometheus.sh" check-config
command -v promtool >/dev/null || xp_die "promtool is missing (apt-get install prometheus)"
promtool check config "$XP_ROOT/grafana/prometheus.yml" >&2 || xp_die "promtool rejects grafana/prometheus.yml"
promtool check rules "$XP_ROOT/grafana/alerts.yml" >&2 || xp_die "promtool rejects grafana/alerts.yml"
promtool test rules "$XP_ROOT/grafana/alerts.test.yml" >&2 || xp_die "grafana/alerts.test.yml fails"
xp_need jq jq
xp_need curl curl
for d in "${dashboards[@]}"; do
    name=$(basename "$d")
    jq -e '[.templating.list[] | select(.type == "datasource" and .query == "prometheus")] | length == 1' "$d" >/dev/null \
        || xp_die "$name: no datasource variable of type datasource"
    bad=$(jq -r '[.. | objects | select(has("datasource")) | .datasource | objects | select(.type != "grafana")
                  | select(.uid != "${datasource}") | .uid] | unique | join(", ")' "$d")
    [[ -z $bad ]] || xp_die "$name: hard-coded datasource uid(s): $bad"
    nounit=$(jq -r '[.panels[] | select(.type != "row") | select((.fieldConfig.defaults.unit // "") == "") | .title] | join("; ")' "$d")
    [[ -z $nounit ]] || xp_die "$name: panels without a unit: $nounit"
done
xp_log "static checks passed: scrape config valid, every panel has a unit, datasource by variable"

# --- the services, a load, Prometheus ----------------------------------------------------------
xp_require_free_ports "$consumer_port" "$producer_port" "$batch_port" "${PROMETHEUS_LISTEN##*:}"
xp_ensure_binaries
xp_kafka_up "${CHECK_KAFKA_PORT:-29192}"
xp_pipeline_setup "$work" chk "$consumer_port" "$producer_port"
xp_seed_source "$work" 2048
xp_start producer "$work/producer.log" "$XP_BIN/leafsync-producer" serve --config "$work/producer.yaml"
producer_pid=$XP_LAST_PID
xp_start consumer "$work/consumer.log" "$XP_BIN/leafsync-consumer" --config "$work/consumer.yaml"
consumer_pid=$XP_LAST_PID
xp_start batch "$work/batch.log" "$XP_BIN/leafsync-batch-sync" --source "sqlite:$work/producer_plant_db.sqlite" \
    --copy "sqlite:$work/batch_copy.sqlite" --mode full --period-s 2 --http-port "$batch_port"
batch_pid=$XP_LAST_PID
xp_wait_http "http://127.0.0.1:$producer_port/healthz" 30 "$producer_pid" || xp_die "the producer did not start"
xp_wait_http "http://127.0.0.1:$consumer_port/healthz" 30 "$consumer_pid" || xp_die "the consumer did not start"
xp_wait_http "http://127.0.0.1:$batch_port/readyz" 30 "$batch_pid" || xp_die "the batch job made no run"
# A steady load for the whole check (it is stopped with the rest).
xp_start load "$work/load.log" "$XP_BIN/leafsync-producer" load --config "$work/producer.yaml" --no-relay \
    --rate 40 --duration 600 --mix 10:85:5 --image-bytes 2048 --seed 7

sed -e "s/127\.0\.0\.1:8080/127.0.0.1:$consumer_port/" -e "s/127\.0\.0\.1:8081/127.0.0.1:$producer_port/" \
    -e "s/127\.0\.0\.1:8082/127.0.0.1:$batch_port/" -e "s/scrape_interval: 5s/scrape_interval: 1s/" \
    -e "s/scrape_timeout: 4s/scrape_timeout: 1s/" -e "s/evaluation_interval: 15s/evaluation_interval: 1s/" \
    -e "s|^  - alerts.yml$|  - $XP_ROOT/grafana/alerts.yml|" "$XP_ROOT/grafana/prometheus.yml" >"$PROMETHEUS_CONFIG"
grep -q "$XP_ROOT/grafana/alerts.yml" "$PROMETHEUS_CONFIG" || xp_die "the derived config does not load grafana/alerts.yml"
promtool check config "$PROMETHEUS_CONFIG" >/dev/null || xp_die "promtool rejects the derived config"
"$XP_ROOT/scripts/prometheus.sh" start || xp_die "Prometheus did not start"
prometheus_started=1
api=http://$PROMETHEUS_LISTEN/api/v1

deadline=$((SECONDS + 30))
until [[ $(curl -fsS "$api/targets?state=active" | jq '[.data.activeTargets[] | select(.health == "up")] | length') == 3 ]]; do
    ((SECONDS < deadline)) || xp_die "Prometheus does not see all three targets up: $(curl -fsS "$api/targets" | jq -c '[.data.activeTargets[] | {job: .labels.job, health, lastError}]')"
    sleep 0.5
done
xp_log "Prometheus scrapes consumer :$consumer_port, producer :$producer_port, batch :$batch_port"

# --- the alert rules, loaded and evaluated ------------------------------------------------------
# Every rule of grafana/alerts.yml must be loaded and have evaluated without error ("ok"; "unknown"
# until its first evaluation). An expression over a gauge no process exports yet is empty: fine.
want_rules=$(grep -c '^      - alert:' "$XP_ROOT/grafana/alerts.yml")
deadline=$((SECONDS + 30))
while :; do
    rules=$(curl -fsS "$api/rules?type=alert")
    loaded=$(jq '[.data.groups[].rules[]] | length' <<<"$rules")
    ok=$(jq '[.data.groups[].rules[] | select(.health == "ok")] | length' <<<"$rules")
    ((loaded == want_rules && ok == want_rules)) && break
    ((SECONDS < deadline)) || xp_die "alert rules: $ok of $want_rules loaded with health ok: $(jq -c '[.data.groups[].rules[] | select(.health != "ok") | {name, health, lastError}]' <<<"$rules")"
    sleep 0.5
done
xp_log "alert rules: all $want_rules loaded with health ok"
sleep 5  # a few scrapes of every target, and a batch run or two, before the first query

# --- every expression ---------------------------------------------------------------------------
# Grafana's variables, as a user of the dashboard would have them.
substitute() {
    # shellcheck disable=SC2016  # literal Grafana variables, not shell ones
    sed -e 's/\$__rate_interval/1m/g' -e 's/\${__rate_interval}/1m/g' -e 's/\$__range/5m/g' -e 's/\${__range}/5m/g' \
        -e 's/\$__interval/15s/g' -e 's/\${topic}/.*/g' -e 's/\$topic/.*/g' -e 's/\${instance}/.*/g' -e 's/\$instance/.*/g'
}
exprs_file=$work/expressions.txt
for d in "${dashboards[@]}"; do
    jq -r '.. | objects | select(has("expr")) | .expr' "$d"
done | sort -u >"$exprs_file"
vars_file=$work/variables.txt
for d in "${dashboards[@]}"; do
    jq -r '.templating.list[] | select(.type == "query") | (.definition // .query.query // .query)' "$d"
done | sort -u >"$vars_file"
[[ -s $exprs_file ]] || xp_die "no expressions found in ${dashboards[*]}"

# query EXPR → "OK n" | "EMPTY" | "NAN n" | "ONE-SIDED n" | "ERROR text". An expression grouped by
# mode puts the sides next to each other: it must answer for both mode="stream" and mode="batch".
query() {
    local body both=false
    [[ $1 == *"by (mode"* ]] && both=true
    body=$(curl -sS --max-time 10 -G "$api/query" --data-urlencode "query=$1") || { echo "ERROR no answer"; return; }
    jq -r --argjson both "$both" 'if .status != "success" then "ERROR " + (.error // "?")
           elif (.data.result | length) == 0 then "EMPTY"
           elif $both and ([.data.result[].metric.mode] | unique | contains(["batch", "stream"]) | not)
             then "ONE-SIDED \(.data.result | length)"
           elif .data.resultType == "scalar" then (if (.data.result[1] | test("^[-+]?[0-9]")) then "OK 1" else "NAN 1" end)
           elif ([.data.result[].value[1] | select(test("^[-+]?[0-9]"))] | length) > 0 then "OK \(.data.result | length)"
           else "NAN \(.data.result | length)" end' <<<"$body"
}
label_values_check() {  # label_values(metric, label)
    local metric label
    metric=$(sed -n 's/^label_values(\([^,]*\), *\([a-z_]*\))$/\1/p' <<<"$1")
    label=$(sed -n 's/^label_values(\([^,]*\), *\([a-z_]*\))$/\2/p' <<<"$1")
    [[ -n $metric && -n $label ]] || { echo "ERROR not label_values(metric, label)"; return; }
    local n
    n=$(curl -sS --max-time 10 -G "$api/label/$label/values" --data-urlencode "match[]=$metric" | jq '.data | length')
    ((n > 0)) && echo "OK $n" || echo "EMPTY"
}

deadline=$((SECONDS + CHECK_TIMEOUT))
declare -A result
while :; do
    pending=0
    while IFS= read -r e; do
        [[ ${result[$e]:-} == OK* ]] && continue
        q=$(substitute <<<"$e")
        if grep -q '\$' <<<"$q"; then result[$e]="ERROR unknown variable in: $q"; continue; fi
        result[$e]=$(query "$q")
        [[ ${result[$e]} == OK* ]] || pending=$((pending + 1))
    done <"$exprs_file"
    while IFS= read -r v; do
        [[ ${result[$v]:-} == OK* ]] && continue
        result[$v]=$(label_values_check "$v")
        [[ ${result[$v]} == OK* ]] || pending=$((pending + 1))
    done <"$vars_file"
    ((pending == 0 || SECONDS >= deadline)) && break
    sleep 2
done

failed=0 passed=0
while IFS= read -r e; do
    r=${result[$e]}
    if [[ $r == OK* ]]; then
        passed=$((passed + 1))
        printf 'ok    %3s series  %s\n' "${r#OK }" "$e"
    else
        failed=$((failed + 1))
        printf 'FAIL  %-14s %s\n' "$r" "$e"
    fi
done < <(cat "$exprs_file" "$vars_file")
xp_log "$passed of $((passed + failed)) dashboard queries answered by Prometheus in $((SECONDS - started)) s"
echo "check-dashboard: $passed passed, $failed failed"
((failed == 0))
