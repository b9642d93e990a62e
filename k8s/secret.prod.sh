#!/usr/bin/env bash
# Creates or updates the Secret leafsync-secrets for prod from the environment, without writing
# a value to disk in the repository or to the command line (the values go through files in a
# private temporary directory). Keys: those of k8s/prod/optional/secret.example.yaml.
#
# Usage: [VARIABLES] k8s/secret.prod.sh
# Environment (all optional):
#   LEAFSYNC_WRITE_TOKEN            bearer token for writes (generated when the Secret has none)
#   LEAFSYNC_POSTGRES_PASSWORD      password of the in-cluster PostgreSQL (generated when none)
#   LEAFSYNC_CONSUMER_DATABASE_URL  the copy, postgresql://... (default: the in-cluster PostgreSQL)
#   LEAFSYNC_PRODUCER_DATABASE_URL  the source, postgresql://... (default: the in-cluster PostgreSQL)
# Idempotent: a value already in the Secret is kept unless its variable is set. Note that the
# in-cluster PostgreSQL reads its password at first start only; changing it later also needs
#   ALTER ROLE leafsync PASSWORD '...'   (kubectl exec into leafsync-postgres-0, psql).
# Exit codes: 0 Secret created or up to date, 1 failed.
set -euo pipefail
# shellcheck source=SCRIPTDIR/lib.sh
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

case ${1:-} in
  "") ;;
  -h | --help) usage; exit 0 ;;
  *) usage >&2; exit 2 ;;
esac

random_hex() { od -An -tx1 -N24 /dev/urandom | tr -d ' \n'; }

# existing KEY: the value in the live Secret, empty when absent.
existing() {
  kc get secret "$SECRET_NAME" -o go-template="{{with index .data \"$1\"}}{{. | base64decode}}{{end}}" 2>/dev/null || true
}

urlencode() {
  local s=$1 out="" c i
  for ((i = 0; i < ${#s}; i++)); do
    c=${s:i:1}
    case $c in
      [a-zA-Z0-9.~_-]) out+=$c ;;
      *) out+=$(printf '%%%02X' "'$c") ;;
    esac
  done
  printf '%s' "$out"
}

require_cluster
apply_file "$K8S_DIR/prod/00-namespace.yaml"

token=${LEAFSYNC_WRITE_TOKEN:-$(existing write-token)}
if [ -z "$token" ]; then
  token=$(random_hex)
  log "generated write-token (read it: kubectl -n $NAMESPACE get secret $SECRET_NAME -o go-template='{{index .data \"write-token\" | base64decode}}')"
fi
old_password=$(existing postgres-password)
password=${LEAFSYNC_POSTGRES_PASSWORD:-$old_password}
if [ -z "$password" ]; then
  password=$(random_hex)
  log "generated postgres-password"
elif [ -n "$old_password" ] && [ "$password" != "$old_password" ]; then
  log "warning: postgres-password changes; an initialised PostgreSQL keeps the old one until ALTER ROLE (see the header)"
fi
in_cluster_url() {
  printf 'postgresql://leafsync:%s@leafsync-postgres.%s.svc.cluster.local:5432/%s' \
    "$(urlencode "$password")" "$NAMESPACE" "$1"
}
# url VARIABLE_VALUE KEY DATABASE: the variable, else the live value (unless the password
# changed), else the in-cluster PostgreSQL.
url() {
  local current
  current=$(existing "$2")
  if [ -n "$1" ]; then
    printf '%s' "$1"
  elif [ -n "$current" ] && [ -z "${LEAFSYNC_POSTGRES_PASSWORD:-}" ]; then
    printf '%s' "$current"
  else
    in_cluster_url "$3"
  fi
}
consumer_url=$(url "${LEAFSYNC_CONSUMER_DATABASE_URL:-}" consumer-database-url consumer_plant_db)
producer_url=$(url "${LEAFSYNC_PRODUCER_DATABASE_URL:-}" producer-database-url producer_plant_db)
for u in "$consumer_url" "$producer_url"; do
  case $u in
    postgresql://* | postgres://*) ;;
    *) die "database URLs must be postgresql://... URLs" ;;
  esac
done

dir=$(mktemp -d)
trap 'rm -rf "$dir"' EXIT
(
  umask 077
  printf '%s' "$token" >"$dir/write-token"
  printf '%s' "$password" >"$dir/postgres-password"
  printf '%s' "$consumer_url" >"$dir/consumer-database-url"
  printf '%s' "$producer_url" >"$dir/producer-database-url"
)
kubectl create secret generic "$SECRET_NAME" --namespace "$NAMESPACE" --dry-run=client -o yaml \
  --from-file="$dir/write-token" --from-file="$dir/postgres-password" \
  --from-file="$dir/consumer-database-url" --from-file="$dir/producer-database-url" |
  kubectl apply -f - >&2 || die "could not apply Secret $SECRET_NAME"
kc label secret "$SECRET_NAME" app.kubernetes.io/part-of=leafsync --overwrite >/dev/null
log "Secret $SECRET_NAME is up to date (keys: write-token postgres-password consumer-database-url producer-database-url)"
