#!/bin/bash
# The official postgres image's start-up, the part k8s/prod/20-postgres.yaml uses (see the
# Dockerfile): first start on an empty $PGDATA initialises it, later starts only run the server.
set -Eeuo pipefail
log() { printf 'level=info component=postgres-entrypoint event=%s\n' "$*" >&2; }

if [ "${1:-postgres}" != postgres ]; then exec "$@"; fi
shift || true
: "${PGDATA:?PGDATA is required}"
user=${POSTGRES_USER:-postgres}
db=${POSTGRES_DB:-$user}
socket=/var/run/postgresql

if [ ! -s "$PGDATA/PG_VERSION" ]; then
  : "${POSTGRES_PASSWORD:?POSTGRES_PASSWORD is required to initialise $PGDATA}"
  log "initdb pgdata=$PGDATA superuser=$user"
  mkdir -p "$PGDATA"
  chmod 700 "$PGDATA"
  # The password goes through a pipe, never the command line or a file.
  initdb --username="$user" --pwfile=<(printf '%s\n' "$POSTGRES_PASSWORD") --auth-local=trust \
    --auth-host=scram-sha-256 --encoding=UTF8 -D "$PGDATA" >/dev/null
  printf 'host all all all scram-sha-256\n' >>"$PGDATA/pg_hba.conf"
  # Initialisation talks over the socket only: nobody can connect before it is done.
  pg_ctl -D "$PGDATA" -w -o "-c listen_addresses='' -c unix_socket_directories=$socket" start >/dev/null
  psql=(psql -v ON_ERROR_STOP=1 --no-psqlrc -q -h "$socket" -U "$user")
  if [ "$db" != postgres ]; then
    "${psql[@]}" -d postgres --set db="$db" <<<'CREATE DATABASE :"db";'
  fi
  # The manifest's scripts are sourced, as the official entrypoint does.
  # shellcheck disable=SC1090
  for f in /docker-entrypoint-initdb.d/*; do
    case $f in
      *.sql) log "init-script file=$f"; "${psql[@]}" -d "$db" -f "$f" ;;
      *.sh) log "init-script file=$f"; . "$f" ;;
    esac
  done
  pg_ctl -D "$PGDATA" -w -m fast stop >/dev/null
  log "initialised database=$db"
fi
exec postgres -D "$PGDATA" -c listen_addresses='*' -c unix_socket_directories="$socket" "$@"
