#!/usr/bin/env bash
# The anonymous latest feed with its reads on a streaming replica vs on the primary, on this
# machine. Makes a private primary and a pg_basebackup -R replica of it under a temporary
# folder (from the machine's PostgreSQL binaries), seeds the primary, then runs
# scripts/feed-ab.sh on one server binary started twice in turns: without and with
# DATABASE_REPLICA_URLS. Everything it made is stopped and removed at the end.
#
#   scripts/replica-ab.sh [ROUNDS (3)] [SEED_USERS (10000)]
set -euo pipefail
rounds=${1:-3} users=${2:-10000}
root=$(cd "$(dirname "$0")/.." && pwd)
bin=${PG_BIN_DIR:-$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -n 1)}
if [ ! -x "$bin/pg_basebackup" ]; then
  echo "no PostgreSQL binaries with pg_basebackup found (Debian/Ubuntu: apt-get install postgresql; or set PG_BIN_DIR)" >&2
  exit 1
fi
dir=$(mktemp -d /tmp/tiktok-replica-ab-XXXXXX)
chmod 755 "$dir"
as=()
if [ "$(id -u)" = 0 ]; then # PostgreSQL refuses to run as root
  chown postgres "$dir"
  as=(runuser -u postgres --)
fi
primary_port=${PRIMARY_PORT:-56101} replica_port=${REPLICA_PORT:-56102}
pg_start() { # data-dir port
  "${as[@]}" "$bin/pg_ctl" -D "$1" -l "$1.log" -w -o "-p $2 -c listen_addresses=127.0.0.1 -c unix_socket_directories=''" start >/dev/null
}
cleanup() {
  for d in "$dir/replica" "$dir/primary"; do
    [ -f "$d/postmaster.pid" ] && "${as[@]}" "$bin/pg_ctl" -D "$d" -m fast -w stop >/dev/null || true
  done
  rm -rf "$dir"
}
trap cleanup EXIT

"${as[@]}" "$bin/initdb" -D "$dir/primary" -U postgres -A trust -E UTF8 --no-locale >/dev/null
pg_start "$dir/primary" "$primary_port"
primary_url="postgres://postgres@127.0.0.1:$primary_port/tiktok?sslmode=disable"
replica_url="postgres://postgres@127.0.0.1:$replica_port/tiktok?sslmode=disable"
"$bin/psql" -q -h 127.0.0.1 -p "$primary_port" -U postgres -c 'CREATE DATABASE tiktok'
(cd "$root" && DATABASE_URL=$primary_url go run ./seeders -users "$users" >/dev/null)
"${as[@]}" "$bin/pg_basebackup" -D "$dir/replica" -R -X stream -c fast -h 127.0.0.1 -p "$primary_port" -U postgres
pg_start "$dir/replica" "$replica_port"

(cd "$root" && go build -o "$dir/tiktok" . && go build -o "$dir/loadtest" ./cmd/loadtest)
printf '#!/bin/sh\nexec %q "$@"\n' "$dir/tiktok" >"$dir/reads-on-primary"
printf '#!/bin/sh\nexec env DATABASE_REPLICA_URLS=%q %q "$@"\n' "$replica_url" "$dir/tiktok" >"$dir/reads-on-replica"
chmod +x "$dir/reads-on-primary" "$dir/reads-on-replica"
LOADTEST="$dir/loadtest" "$root/scripts/feed-ab.sh" "$primary_url" "$rounds" "$dir/reads-on-primary" "$dir/reads-on-replica"

# Proof that the replica run read the replica: the replica's own count of committed reads
# in the tiktok database (the checker's once-a-second query adds about one per second).
echo "replica pg_stat_database.xact_commit for tiktok: $("$bin/psql" -Atq -h 127.0.0.1 -p "$replica_port" -U postgres \
  -c "SELECT xact_commit FROM pg_stat_database WHERE datname = 'tiktok'")"
