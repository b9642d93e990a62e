#!/usr/bin/env bash
# Local PostgreSQL 15 server (Debian's packages) on loopback, in its own data
# directory, for leafsync's PostgreSQL store tests, the demo and the benchmarks.
#
# Usage: scripts/postgres.sh COMMAND [ARGS]
#   start                 create the cluster on first use, start it (idempotent),
#                         wait until it accepts connections
#   stop [--purge]        fast shutdown (idempotent); --purge also deletes the data dir
#   clean                 same as: stop --purge
#   restart               stop + start (data kept)
#   status                exit 0 if running and accepting connections, 3 otherwise
#   psql [PSQL-ARGS...]   psql as the superuser 'leafsync' (database postgres unless
#                         PSQL-ARGS name one, e.g. psql -d mydb -c 'select 1')
#   url [DATABASE]        print the libpq URL, e.g. postgresql://leafsync@127.0.0.1:55432/postgres
#   logs [TAIL-ARGS...]   show the server log (default: tail -n 200)
#
# The server listens on 127.0.0.1 only, with its unix socket inside the data dir,
# trust authentication (local tests only) and one superuser role, 'leafsync'.
# PostgreSQL refuses to run as root: when this script runs as root it creates (if
# missing) the system user $LEAFSYNC_PG_OS_USER and runs initdb/pg_ctl as that user.
#
# Environment:
#   PGPORT                 port (default 55432)
#   LEAFSYNC_PG_HOME       root of the data dirs (default ~/.cache/leafsync/postgres;
#                          as root: the home of $LEAFSYNC_PG_OS_USER + /.cache/leafsync/postgres,
#                          since root's home is not readable by that user)
#   LEAFSYNC_PG_DATA       the data dir (default $LEAFSYNC_PG_HOME/data-$PGPORT), so
#                          several servers on different ports can coexist
#   LEAFSYNC_PG_BIN        PostgreSQL binaries (default /usr/lib/postgresql/15/bin)
#   LEAFSYNC_PG_OS_USER    system user the server runs as when invoked as root
#                          (default leafsync-pg)
#   LEAFSYNC_PG_START_TIMEOUT  seconds to wait for the server (default 60)
#   LEAFSYNC_PG_WAL_LEVEL  wal_level (default replica, PostgreSQL's own); 'logical' lets a
#                          Debezium connector stream from the server (the real-Debezium
#                          test, bench/peer). Written on every start: a running server
#                          keeps its level until it is restarted.
set -euo pipefail

readonly HOST=127.0.0.1
readonly ROLE=leafsync

PGPORT=${PGPORT:-55432}
LEAFSYNC_PG_BIN=${LEAFSYNC_PG_BIN:-/usr/lib/postgresql/15/bin}
LEAFSYNC_PG_OS_USER=${LEAFSYNC_PG_OS_USER:-leafsync-pg}
LEAFSYNC_PG_START_TIMEOUT=${LEAFSYNC_PG_START_TIMEOUT:-60}
LEAFSYNC_PG_WAL_LEVEL=${LEAFSYNC_PG_WAL_LEVEL:-replica}

# shellcheck source-path=SCRIPTDIR source=lib/service.sh
source "$(dirname "$(readlink -f "${BASH_SOURCE[0]}")")/lib/service.sh"
SERVICE_LOG_PREFIX="postgres.sh[$PGPORT]"
SERVICE_COMMANDS=(start stop clean restart status psql url logs)

case $LEAFSYNC_PG_WAL_LEVEL in
    replica | logical) ;;
    *) die "LEAFSYNC_PG_WAL_LEVEL '$LEAFSYNC_PG_WAL_LEVEL' is not replica or logical" ;;
esac
if ! [[ $PGPORT =~ ^[0-9]+$ ]] || ((PGPORT < 1 || PGPORT > 65535)); then
    die "PGPORT '$PGPORT' is not a port"
fi

# ------------------------------------------------------------ install -------

ensure_installed() {
    [[ -x $LEAFSYNC_PG_BIN/initdb && -x $LEAFSYNC_PG_BIN/pg_ctl && -x $LEAFSYNC_PG_BIN/postgres ]] && return 0
    [[ $LEAFSYNC_PG_BIN == /usr/lib/postgresql/15/bin ]] \
        || die "no PostgreSQL binaries in LEAFSYNC_PG_BIN=$LEAFSYNC_PG_BIN"
    log "installing postgresql (apt-get)"
    apt_install postgresql postgresql-client
    [[ -x $LEAFSYNC_PG_BIN/initdb ]] || die "PostgreSQL 15 is not installed in $LEAFSYNC_PG_BIN"
}

# ------------------------------------------------------------- os user ------

# The home of the OS user the server runs as (empty when it does not exist).
os_user_home() { getent passwd "$LEAFSYNC_PG_OS_USER" | cut -d: -f6; }

ensure_os_user() {
    is_root || return 0
    getent passwd "$LEAFSYNC_PG_OS_USER" >/dev/null && return 0
    # Parallel starts (tests) may race here: create the user under a lock.
    local lock_dir=/run/lock
    [[ -d $lock_dir ]] || lock_dir=/tmp
    exec {user_lock}>"$lock_dir/leafsync-pg-useradd.lock"
    flock "$user_lock"
    if ! getent passwd "$LEAFSYNC_PG_OS_USER" >/dev/null; then
        log "creating system user $LEAFSYNC_PG_OS_USER (PostgreSQL does not run as root)"
        useradd --system --user-group --create-home --home-dir "/var/lib/$LEAFSYNC_PG_OS_USER" \
            --shell /usr/sbin/nologin --comment "leafsync local PostgreSQL" "$LEAFSYNC_PG_OS_USER"
    fi
    exec {user_lock}>&-
}

# Runs a command as the server's OS user: ourselves, or $LEAFSYNC_PG_OS_USER when root.
as_server_user() {
    if is_root; then
        runuser -u "$LEAFSYNC_PG_OS_USER" -- "$@"
    else
        "$@"
    fi
}

# ------------------------------------------------------------- paths --------

# LEAFSYNC_PG_HOME / LEAFSYNC_PG_DATA need the OS user to exist when we are root.
resolve_paths() {
    if [[ -z ${LEAFSYNC_PG_HOME:-} ]]; then
        if is_root; then
            local home
            home=$(os_user_home)
            [[ -n $home ]] || home=/var/lib/$LEAFSYNC_PG_OS_USER
            LEAFSYNC_PG_HOME=$home/.cache/leafsync/postgres
        else
            LEAFSYNC_PG_HOME=${HOME:-/tmp}/.cache/leafsync/postgres
        fi
    fi
    LEAFSYNC_PG_DATA=${LEAFSYNC_PG_DATA:-$LEAFSYNC_PG_HOME/data-$PGPORT}
    LOG_FILE=$LEAFSYNC_PG_DATA/server.log
    # A unix socket path is limited to 107 bytes.
    local socket="$LEAFSYNC_PG_DATA/.s.PGSQL.$PGPORT"
    ((${#socket} <= 100)) || die "data dir path too long for its unix socket: $socket"
}

prepare_data_dir() {
    if ! is_root; then
        mkdir -p "$(dirname "$LEAFSYNC_PG_DATA")"
        [[ -d $LEAFSYNC_PG_DATA ]] || mkdir -m 700 "$LEAFSYNC_PG_DATA"
        return 0
    fi
    # Only the data dir itself is handed to the server user, never a parent we did not create.
    local parent
    parent=$(dirname "$LEAFSYNC_PG_DATA")
    mkdir -p "$parent"
    runuser -u "$LEAFSYNC_PG_OS_USER" -- test -x "$parent" \
        || die "$LEAFSYNC_PG_OS_USER cannot reach $parent (is a parent directory private?);" \
               "set LEAFSYNC_PG_HOME to a directory it can use"
    if [[ ! -d $LEAFSYNC_PG_DATA ]]; then
        install -d -m 700 -o "$LEAFSYNC_PG_OS_USER" -g "$(id -gn "$LEAFSYNC_PG_OS_USER")" "$LEAFSYNC_PG_DATA"
    fi
    [[ $(stat -c %U "$LEAFSYNC_PG_DATA") == "$LEAFSYNC_PG_OS_USER" ]] \
        || die "$LEAFSYNC_PG_DATA belongs to $(stat -c %U "$LEAFSYNC_PG_DATA"), not $LEAFSYNC_PG_OS_USER"
    runuser -u "$LEAFSYNC_PG_OS_USER" -- test -w "$LEAFSYNC_PG_DATA" -a -x "$LEAFSYNC_PG_DATA" \
        || die "$LEAFSYNC_PG_OS_USER cannot write $LEAFSYNC_PG_DATA"
}

# ------------------------------------------------------------- server -------

pg_ctl() { as_server_user "$LEAFSYNC_PG_BIN/pg_ctl" -D "$LEAFSYNC_PG_DATA" "$@"; }

# pg_ctl start, with no descriptor but stdin/stdout/stderr passed on: the postmaster would
# keep our lock (blocking the next start) or a caller's pipe (hanging whoever reads it) open.
start_server() (
    local fd
    for fd in /proc/"$BASHPID"/fd/*; do
        fd=${fd##*/}
        if ((fd > 2)); then eval "exec $fd>&-"; fi
    done
    pg_ctl -l "$LOG_FILE" -w -t "$LEAFSYNC_PG_START_TIMEOUT" start >/dev/null
)

initialized() { [[ -f $LEAFSYNC_PG_DATA/PG_VERSION ]]; }

# Exit 0 when the postmaster of our data dir runs (pg_ctl checks the pid file).
server_running() { initialized && pg_ctl status >/dev/null 2>&1; }

accepting() {
    "$LEAFSYNC_PG_BIN/pg_isready" -q -h "$HOST" -p "$PGPORT" -U "$ROLE" -d postgres -t 2 >/dev/null 2>&1
}

init_cluster() {
    initialized && return 0
    log "initialising a cluster in $LEAFSYNC_PG_DATA"
    as_server_user "$LEAFSYNC_PG_BIN/initdb" -D "$LEAFSYNC_PG_DATA" -U "$ROLE" \
        --auth-local=trust --auth-host=trust --encoding=UTF8 --locale=C \
        --no-instructions >/dev/null \
        || die "initdb failed"
    # Our settings live in one file rewritten on every start; postgresql.conf includes it.
    printf "\ninclude_if_exists = 'leafsync.conf'\n" | as_server_user tee -a "$LEAFSYNC_PG_DATA/postgresql.conf" >/dev/null
}

write_config() {
    as_server_user tee "$LEAFSYNC_PG_DATA/leafsync.conf" >/dev/null <<EOF
# Written by scripts/postgres.sh on every start; edits are overwritten.
listen_addresses = '$HOST'
port = $PGPORT
unix_socket_directories = '$LEAFSYNC_PG_DATA'
max_connections = 200
shared_buffers = 128MB
logging_collector = off
log_min_messages = warning
log_line_prefix = '%m [%p] %q%u@%d '
wal_level = $LEAFSYNC_PG_WAL_LEVEL
EOF
}

# ------------------------------------------------------------- commands -----

# shellcheck disable=SC2120  # service_main passes the command's arguments
cmd_start() {
    (($# == 0)) || die "start: unexpected argument '$1'"
    ensure_installed
    ensure_os_user
    resolve_paths
    prepare_data_dir
    # Two starts at once (parallel test runs) must not both initdb or both start.
    exec {start_lock}>"$(dirname "$LEAFSYNC_PG_DATA")/.start-$PGPORT.lock"
    flock "$start_lock"
    if server_running; then
        if accepting; then
            log "already running on $HOST:$PGPORT (data $LEAFSYNC_PG_DATA)"
            return 0
        fi
    elif port_open "$HOST" "$PGPORT"; then
        die "port $HOST:$PGPORT is already in use by another process"
    fi
    init_cluster
    write_config
    local start=$SECONDS
    if ! server_running; then
        log "starting PostgreSQL on $HOST:$PGPORT (data $LEAFSYNC_PG_DATA)"
        if ! start_server; then
            tail -n 30 "$LOG_FILE" >&2 || true
            die "pg_ctl start failed"
        fi
    fi
    if ! service_wait "" "$LEAFSYNC_PG_START_TIMEOUT" 0.2 accepting; then
        tail -n 30 "$LOG_FILE" >&2 || true
        die "server does not accept connections"
    fi
    log "ready on $HOST:$PGPORT after $((SECONDS - start)) s: $(cmd_url)"
}

cmd_stop() {
    stop_args "$@"
    resolve_paths
    if server_running; then
        log "stopping (fast)"
        pg_ctl -m fast -w -t 60 stop >/dev/null || die "pg_ctl stop failed"
        log "stopped"
    else
        log "not running"
    fi
    if ((PURGE)) && [[ -d $LEAFSYNC_PG_DATA ]]; then
        log "removing $LEAFSYNC_PG_DATA"
        rm -rf "$LEAFSYNC_PG_DATA"
    fi
}

cmd_status() {
    resolve_paths
    if server_running && accepting; then
        echo "postgres running on $HOST:$PGPORT, data $LEAFSYNC_PG_DATA"
        return 0
    fi
    echo "postgres not running on $HOST:$PGPORT (data $LEAFSYNC_PG_DATA)"
    return 3
}

# shellcheck disable=SC2120  # service_main passes the command's arguments
cmd_url() {
    local database=${1:-postgres}
    [[ $database =~ ^[A-Za-z0-9_]+$ ]] || die "url: database name '$database' needs URL encoding"
    echo "postgresql://$ROLE@$HOST:$PGPORT/$database"
}

cmd_psql() {
    local psql=$LEAFSYNC_PG_BIN/psql
    [[ -x $psql ]] || psql=psql
    local database=(-d postgres) arg
    for arg in "$@"; do
        case $arg in -d | --dbname | --dbname=*) database=() ;; esac
    done
    PGCONNECT_TIMEOUT=5 exec "$psql" -h "$HOST" -p "$PGPORT" -U "$ROLE" "${database[@]}" "$@"
}

cmd_logs() {
    resolve_paths
    service_logs "$LOG_FILE" "$@"
}

service_main "$@"
