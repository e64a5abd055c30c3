#!/usr/bin/env bash
# Side-by-side load test of the anonymous latest feed for several server binaries on one
# database, in turns (a round runs each binary once), so the machine's other work weighs on
# all of them alike. Prints, per run, requests per second and latencies (cmd/loadtest) and the
# server's CPU time per request (user + sys from /proc, which a busy machine disturbs less
# than wall time).
#
#   scripts/feed-ab.sh DATABASE_URL ROUNDS /path/to/binary-a /path/to/binary-b ...
#
# A binary written BINARY@URL runs on database URL instead (a schema change compared side by
# side: the old binary on a copy of the data with the old schema). Each line also shows the
# server's peak RSS.
#
# Build the binaries first, e.g. the previous commit in a worktree:
#   git worktree add --detach /tmp/prev HEAD~1 && (cd /tmp/prev && go build -o /tmp/tiktok-prev .)
#   go build -o /tmp/tiktok-new . && go build -o /tmp/loadtest ./cmd/loadtest
# and seed the database once: DATABASE_URL=... go run ./seeders -users 10000
#
# MIX, CONCURRENCY, USERS and LOADTEST_FLAGS change the load (default: the anonymous feed, 6
# clients, 4 users; a mix of several operations also prints each one's line and the total); e.g. the video read of docs/performance.md ("Honest views"):
#   MIX=video=100 CONCURRENCY=32 USERS=50 LOADTEST_FLAGS='-max-video-id 1000000' scripts/feed-ab.sh ...
set -euo pipefail
db=$1 rounds=$2
shift 2
loadtest=${LOADTEST:-/tmp/loadtest}
mix=${MIX:-feedanon=100} concurrency=${CONCURRENCY:-6} users=${USERS:-4} flags=${LOADTEST_FLAGS:-}
op=${mix%%=*}
tick=$(getconf CLK_TCK)
for round in $(seq "$rounds"); do
  port=18170
  for arg in "$@"; do
    bin=${arg%%@*} url=$db
    if [ "$bin" != "$arg" ]; then url=${arg#*@}; fi
    port=$((port + 1))
    dir=$(mktemp -d)
    (cd "$dir" && exec env APP_ENV=production JWT_SECRET=feed-ab-secret-feed-ab-secret-0123456 \
      DATABASE_URL="$url" AUTO_MIGRATE=false RATE_LOGIN_PER_IP=0 RATE_LOGIN_FAILS_PER_ACCOUNT=0 \
      PORT=$port LOG_LEVEL=warn "$bin" >"$dir/log" 2>&1) &
    pid=$!
    for _ in $(seq 100); do curl -fs "http://127.0.0.1:$port/readyz" >/dev/null && break; sleep 0.1; done
    if ! kill -0 "$pid" 2>/dev/null; then echo "$bin did not start:"; cat "$dir/log"; exit 1; fi
    # shellcheck disable=SC2086 # flags are words
    "$loadtest" -base "http://127.0.0.1:$port" -duration 3s -users "$users" -concurrency "$concurrency" -mix "$mix" -deep-pages 0 $flags >/dev/null # warm-up
    load=$(cut -d' ' -f1 /proc/loadavg)
    before=$(awk '{print $14+$15}' "/proc/$pid/stat")
    # shellcheck disable=SC2086
    all=$("$loadtest" -base "http://127.0.0.1:$port" -duration 15s -users "$users" -concurrency "$concurrency" -mix "$mix" -deep-pages 0 $flags)
    out=$(grep -E "^\s*$op\b" <<<"$all")
    after=$(awk '{print $14+$15}' "/proc/$pid/stat")
    n=$(awk '{print $2}' <<<"$out")
    cpu=$(awk -v t=$((after - before)) -v n="$n" -v hz="$tick" 'BEGIN{printf "%.0f", t / hz * 1e6 / n}')
    rss=$(awk '/VmHWM/ {printf "%.0fMB", $2 / 1024}' "/proc/$pid/status")
    echo "round $round $(basename "$bin") load=$load cpu/req=${cpu}us rss_peak=$rss $out"
    if [[ $mix == *,* ]]; then # a mix: every operation's line, and the total
      grep -E "^\s*[a-z]+\s+[0-9]" <<<"$all" | grep -vE "^\s*$op\b" | sed "s/^/round $round $(basename "$bin")   /"
    fi
    kill -TERM "$pid"; wait "$pid" 2>/dev/null || true
    rm -rf "$dir"
  done
done
