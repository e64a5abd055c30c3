#!/usr/bin/env bash
# Side-by-side load test of the anonymous latest feed for several server binaries on one
# database, in turns (a round runs each binary once), so the machine's other work weighs on
# all of them alike. Prints, per run, requests per second and latencies (cmd/loadtest) and the
# server's CPU time per request (user + sys from /proc, which a busy machine disturbs less
# than wall time).
#
#   scripts/feed-ab.sh DATABASE_URL ROUNDS /path/to/binary-a /path/to/binary-b ...
#
# Build the binaries first, e.g. the previous commit in a worktree:
#   git worktree add --detach /tmp/prev HEAD~1 && (cd /tmp/prev && go build -o /tmp/tiktok-prev .)
#   go build -o /tmp/tiktok-new . && go build -o /tmp/loadtest ./cmd/loadtest
# and seed the database once: DATABASE_URL=... go run ./seeders -users 10000
set -euo pipefail
db=$1 rounds=$2
shift 2
loadtest=${LOADTEST:-/tmp/loadtest}
tick=$(getconf CLK_TCK)
for round in $(seq "$rounds"); do
  port=18170
  for bin in "$@"; do
    port=$((port + 1))
    dir=$(mktemp -d)
    (cd "$dir" && exec env APP_ENV=production JWT_SECRET=feed-ab-secret-feed-ab-secret-0123456 \
      DATABASE_URL="$db" AUTO_MIGRATE=false RATE_LOGIN_PER_IP=0 RATE_LOGIN_FAILS_PER_ACCOUNT=0 \
      PORT=$port LOG_LEVEL=warn "$bin" >"$dir/log" 2>&1) &
    pid=$!
    for _ in $(seq 100); do curl -fs "http://127.0.0.1:$port/readyz" >/dev/null && break; sleep 0.1; done
    if ! kill -0 "$pid" 2>/dev/null; then echo "$bin did not start:"; cat "$dir/log"; exit 1; fi
    "$loadtest" -base "http://127.0.0.1:$port" -duration 3s -users 4 -concurrency 6 -mix feedanon=100 -deep-pages 0 >/dev/null # warm-up
    load=$(cut -d' ' -f1 /proc/loadavg)
    before=$(awk '{print $14+$15}' "/proc/$pid/stat")
    out=$("$loadtest" -base "http://127.0.0.1:$port" -duration 15s -users 4 -concurrency 6 -mix feedanon=100 -deep-pages 0 | grep -E '^\s*feedanon')
    after=$(awk '{print $14+$15}' "/proc/$pid/stat")
    n=$(awk '{print $2}' <<<"$out")
    cpu=$(awk -v t=$((after - before)) -v n="$n" -v hz="$tick" 'BEGIN{printf "%.0f", t / hz * 1e6 / n}')
    echo "round $round $(basename "$bin") load=$load cpu/req=${cpu}us $out"
    kill -TERM "$pid"; wait "$pid" 2>/dev/null || true
    rm -rf "$dir"
  done
done
