#!/bin/bash
# Usage: scripts/notify-bench.sh — the notification measurements of docs/performance.md:
# the list's latency under cmd/loadtest, the server memory of 1,000 open streams and the time a
# like takes to reach a stream (cmd/streambench). It builds the server, makes a database
# ($DB, dropped first) on the PostgreSQL of $PGURL, registers user1..user50, fills 1,000,000
# notifications (5,000 for each of the 50 users, 15 for each of 50,000 others), serves on
# $PORT and runs both tools. Prints the machine's load average before each run.
set -euo pipefail
PGURL=${PGURL:-postgres://postgres@127.0.0.1:5432}
DB=${DB:-notifyperf}
PORT=${PORT:-8091}
BIN=/tmp/tiktok-notify-bench
cd "$(dirname "$0")/.."
go build -o "$BIN" . && go build -o /tmp/loadtest ./cmd/loadtest && go build -o /tmp/streambench ./cmd/streambench
psql "$PGURL/postgres" -qc "DROP DATABASE IF EXISTS $DB" -c "CREATE DATABASE $DB"
export DATABASE_URL="$PGURL/$DB?sslmode=disable" APP_ENV=production PORT JWT_SECRET=$(head -c 32 /dev/urandom | od -An -tx1 | tr -d ' \n')
export RATE_LOGIN_PER_IP=0 RATE_REGISTER_PER_IP=0 RATE_LOGIN_FAILS_PER_ACCOUNT=0 LOG_LEVEL=warn
"$BIN" migrate up >/dev/null
"$BIN" 2>/tmp/notify-bench-server.log & SERVER=$!
trap 'kill $SERVER 2>/dev/null' EXIT
until curl -sf "http://127.0.0.1:$PORT/readyz" >/dev/null; do sleep 0.2; done
for i in $(seq 1 50); do
  curl -sf -o /dev/null -H 'Content-Type: application/json' \
    -d "{\"username\":\"user$i\",\"email\":\"user$i@example.com\",\"password\":\"password123\"}" \
    "http://127.0.0.1:$PORT/api/users/register"
done
psql "$DATABASE_URL" -q <<'SQL'
INSERT INTO users (username, email, password) SELECT 'fan' || g, 'fan' || g || '@example.com', 'x' FROM generate_series(1, 50000) g;
INSERT INTO videos (user_id, video_url, caption) SELECT 1 + g % 50, 'https://cdn.example.com/v.mp4', 'video ' || g FROM generate_series(1, 5000) g;
-- 5,000 for each of user1..user50 (ids 1..50): likes of their videos and follows, over 10 days
INSERT INTO notifications (user_id, actor_id, type, video_id, created_at)
  SELECT u, 51 + (u * 7919 + g) % 50000, CASE WHEN g % 2 = 0 THEN 'like' ELSE 'follow' END,
         CASE WHEN g % 2 = 0 THEN (SELECT min(id) FROM videos) + (u - 1) + 50 * (g % 100) END,
         now() - (g * 173 % 864000) * interval '1 second'
  FROM generate_series(1, 50) u, generate_series(1, 5000) g
  ON CONFLICT DO NOTHING;
-- 15 follows for each of the 50,000 others, from 15 different fans
INSERT INTO notifications (user_id, actor_id, type, created_at)
  SELECT 51 + r, 51 + (r + k * 3001) % 50000, 'follow', now() - ((r * 15 + k) % 864000) * interval '1 second'
  FROM generate_series(0, 49999) r, generate_series(1, 15) k
  ON CONFLICT DO NOTHING;
VACUUM ANALYZE;
SQL
psql "$DATABASE_URL" -Atc "SELECT 'notifications: ' || count(*) FROM notifications"
# A known endpoint first, in the same conditions, as the yardstick of how loaded the machine is.
echo "load average: $(cut -d' ' -f1-3 /proc/loadavg)"
/tmp/loadtest -base "http://127.0.0.1:$PORT" -users 50 -concurrency 8 -duration 20s -mix feedanon=100 -deep-pages 0
echo "load average: $(cut -d' ' -f1-3 /proc/loadavg)"
/tmp/loadtest -base "http://127.0.0.1:$PORT" -users 50 -concurrency 8 -duration 20s -mix notifications=100 -deep-pages 5
echo "load average: $(cut -d' ' -f1-3 /proc/loadavg)"
/tmp/loadtest -base "http://127.0.0.1:$PORT" -users 50 -concurrency 32 -duration 20s -mix notifications=100 -deep-pages 5
echo "load average: $(cut -d' ' -f1-3 /proc/loadavg)"
/tmp/streambench -base "http://127.0.0.1:$PORT" -users 50 -streams 1000 -likes 200 -pid $SERVER
echo "load average: $(cut -d' ' -f1-3 /proc/loadavg)"
