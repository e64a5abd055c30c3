#!/usr/bin/env bash
# tour-check runs the README's tour (the ```sh block after the `<!-- tour -->` marker) against
# the real server binary on a fresh, seeded database, so the README cannot drift from the API.
# Every curl of the tour must answer 2xx (curl --fail-with-body), or the check fails.
#
#   scripts/tour-check.sh                 uses PostgreSQL at TEST_DATABASE_URL's server
#   TEST_DATABASE_URL=postgres://postgres@127.0.0.1:5432/postgres?sslmode=disable scripts/tour-check.sh
#   TOUR_CHECK_VERBOSE=1 scripts/tour-check.sh     also prints every request and answer
#
# It creates a database of its own on that server (dropped at the end), builds the server and
# the seeder, seeds, starts the server on a free port, runs the tour, then stops everything.
set -euo pipefail
cd "$(dirname "$0")/.."
root=$(pwd)

admin_url=${TEST_DATABASE_URL:-postgres://postgres@127.0.0.1:5432/postgres?sslmode=disable}
db="tour_check_$$"
# The same server and credentials as admin_url, with our database name instead of its own.
db_url=$(printf '%s' "$admin_url" | sed -E "s#^(postgres(ql)?://[^/]*)/[^?]*#\1/$db#")

tmp=$(mktemp -d)
server=""
cleanup() {
  if [ -n "$server" ]; then kill -TERM "$server" 2>/dev/null || true; wait "$server" 2>/dev/null || true; fi
  psql "$admin_url" -qX -v ON_ERROR_STOP=1 -c "DROP DATABASE IF EXISTS $db WITH (FORCE)" >/dev/null 2>&1 || true
  rm -rf "$tmp"
}
trap cleanup EXIT

# The tour block: the ```sh fence that follows the marker line.
awk '/^<!-- tour -->$/ { marker = 1; next }
     marker && !inside && /^```sh$/ { inside = 1; next }
     inside && /^```$/ { exit }
     inside { print }' README.md >"$tmp/tour.sh"
if [ ! -s "$tmp/tour.sh" ]; then echo "tour-check: README.md has no \`\`\`sh block after <!-- tour -->"; exit 1; fi
# The tour must keep covering what the README promises.
for step in users/register users/login 'videos?' sort=trending 'page=' '-F video=@' /like comments /follow; do
  grep -qF -- "$step" "$tmp/tour.sh" || { echo "tour-check: the tour lost its step '$step'"; exit 1; }
done

echo "tour-check: building the server and the seeder"
go build -o "$tmp/tiktok" .
go build -o "$tmp/seed" ./seeders

psql "$admin_url" -qX -v ON_ERROR_STOP=1 -c "CREATE DATABASE $db" >/dev/null
mkdir -p "$tmp/run" "$tmp/tour"
# The programs run in an empty folder, so a developer's .env cannot change what is checked.
(cd "$tmp/run" && env APP_ENV=development DATABASE_URL="$db_url" "$tmp/seed" >"$tmp/seed.log" 2>&1) ||
  { echo "tour-check: the seeder failed:"; cat "$tmp/seed.log"; exit 1; }

port=""
for p in $(seq 18110 18190); do
  if ! (exec 3<>"/dev/tcp/127.0.0.1/$p") 2>/dev/null; then port=$p; break; fi
done
[ -n "$port" ] || { echo "tour-check: no free port in 18110-18190"; exit 1; }

(cd "$tmp/run" && exec env APP_ENV=development DATABASE_URL="$db_url" PORT="$port" \
  UPLOAD_DIR="$tmp/run/uploads" LOG_LEVEL=warn "$tmp/tiktok" >"$tmp/server.log" 2>&1) &
server=$!
ready=""
for _ in $(seq 100); do
  if curl -fsS "http://127.0.0.1:$port/readyz" >/dev/null 2>&1; then ready=1; break; fi
  kill -0 "$server" 2>/dev/null || break
  sleep 0.2
done
[ -n "$ready" ] || { echo "tour-check: the server did not become ready:"; cat "$tmp/server.log"; exit 1; }

echo "tour-check: running the README tour against http://127.0.0.1:$port/api"
# curl fails on any status >= 400 and still prints the error body; -sS drops the progress meter.
# Each call is also counted, to report how many requests the tour made.
curl() { echo >>"$TOUR_COUNT"; command curl --fail-with-body -sS "$@"; }
export -f curl
export TOUR_COUNT="$tmp/count"
if ! (cd "$tmp/tour" && API="http://127.0.0.1:$port/api" bash -euo pipefail -x "$tmp/tour.sh") >"$tmp/tour.log" 2>&1; then
  echo "tour-check: the README tour failed; its output:"; cat "$tmp/tour.log"
  echo "--- server log:"; cat "$tmp/server.log"
  exit 1
fi
steps=$(wc -l <"$tmp/count")
[ "${TOUR_CHECK_VERBOSE:-}" = 1 ] && cat "$tmp/tour.log"
echo "tour-check: the README tour passed ($steps requests)"
