#!/usr/bin/env bash
# Profiles one server binary under one load (issue 15, docs/performance.md "Issue 15: where the
# time goes"). Starts the binary with APP_ENV=production and PPROF_ADDR, runs cmd/loadtest, and
# in the middle of the run takes, over the same WINDOW seconds:
#   - a CPU profile and an allocation profile (delta) from /debug/pprof,
#   - the requests served in the window (from /metrics, logins excluded),
#   - the CPU time of the server process and of PostgreSQL (from /proc: the backends of this
#     server's pool, and every postgres process of the cluster, which other work also uses).
# Writes OUT/{cpu,allocs}.pprof, OUT/load.txt and OUT/cpu.txt, and prints a line of results.
#
#   scripts/profile.sh DATABASE_URL /path/to/binary OUT [loadtest flags...]
#   e.g. scripts/profile.sh postgres://postgres@127.0.0.1:5432/qperf?sslmode=disable \
#          /tmp/prof/tiktok /tmp/prof/out/hot -mix like=100 -max-video-id 1 -users 200
#
# The binary must know PPROF_ADDR (commit "PPROF_ADDR" of issue 15); POOL sets
# DB_MAX_OPEN_CONNS (default: the binary's default), WINDOW the profile's seconds (10),
# DURATION the load's (25s: logins first, then the window), LOADTEST the load generator.
set -euo pipefail
trap 'echo "profile.sh: failed at line $LINENO" >&2' ERR
db=$1 bin=$2 out=$3
shift 3
loadtest=${LOADTEST:-/tmp/prof/loadtest} window=${WINDOW:-10} duration=${DURATION:-25s}
port=${PORT_API:-18391} pport=${PORT_PPROF:-16391}
mkdir -p "$out"
tick=$(getconf CLK_TCK)
poolenv=()
[[ -n "${POOL:-}" ]] && poolenv=(DB_MAX_OPEN_CONNS="$POOL")
for p in $port $pport; do
  if ss -ltn "sport = :$p" | grep -q LISTEN; then echo "port $p is taken (set PORT_API, PORT_PPROF)"; exit 1; fi
done
dir=$(mktemp -d)
(cd "$dir" && exec env APP_ENV=production JWT_SECRET=profile-secret-profile-secret-0123456789 \
  DATABASE_URL="$db" AUTO_MIGRATE=false RATE_LOGIN_PER_IP=0 RATE_LOGIN_FAILS_PER_ACCOUNT=0 \
  PORT=$port PPROF_ADDR=127.0.0.1:$pport LOG_LEVEL=${LOG_LEVEL:-info} "${poolenv[@]}" "$bin" >/dev/null 2>"$dir/log") &
pid=$!
trap 'kill -TERM $pid 2>/dev/null || true; rm -rf "$dir"' EXIT
for _ in $(seq 100); do curl -fs "http://127.0.0.1:$port/readyz" >/dev/null && break; sleep 0.1; done
kill -0 "$pid" || { cat "$dir/log"; exit 1; }
base="http://127.0.0.1:$port"
"$loadtest" -base "$base" -duration 3s "$@" >/dev/null # warm-up: connections, caches, logins
"$loadtest" -base "$base" -duration "$duration" "$@" >"$out/load.txt" &
lt=$!
# served requests but the logins, from the server's own counter
served() { curl -s "$base/metrics" | awk '/^http_requests_total\{/ && !/login/ && !/metrics/ {s+=$NF} END {printf "%d", s}'; }
# wait for the logins of this run to end: the load generator logs every user in first, so the
# other requests start moving only then (a busy machine makes logins take many seconds)
base_served=$(served)
while [[ $(served) == "$base_served" ]]; do sleep 0.5; done
sleep 1
pgport=$(psql "$db" -Atc "select inet_server_port()")
# the backends of this server's connections (another server may use the same database and
# application_name): matched by the client ports of the server's sockets
pool_pids() {
  local ports
  ports=$(ss -Htnp "dport = :$pgport" | grep "pid=$pid," | awk '{n=split($4, a, ":"); print a[n]}' | paste -sd, -)
  [[ -n $ports ]] && psql "$db" -Atc "select pid from pg_stat_activity where client_port in ($ports)"
  true
}
pg_pids() { pgrep -f '^postgres' || true; }
# "pid ticks" (user+system CPU) of each pid
ticks() { local p; for p in "$@"; do [[ -r /proc/$p/stat ]] && awk -v p="$p" '{print p, $14+$15}' "/proc/$p/stat" 2>/dev/null; done; true; }
# ticks spent in the window: per pid, the last value seen by the sampler minus its value at the
# start (0 for a pid born in the window); the sampler reads every half second, so a backend
# whose connection closes within the window keeps all but its last half second
spent() { awk 'NR==FNR {a[$1]=$2; next} {if ($2 > m[$1]) m[$1]=$2} END {for (p in m) s += m[p] - (p in a ? a[p] : 0); print s+0}' "$1" "$2"; }
sample() { while :; do ticks $(pool_pids) >>"$dir/b1"; ticks $(pg_pids) >>"$dir/a1"; sleep 0.5; done; }
r0=$(served); s0=$(ticks "$pid"); ticks $(pool_pids) >"$dir/b0"; ticks $(pg_pids) >"$dir/a0"; t0=$(date +%s.%N)
: >"$dir/b1"; : >"$dir/a1"
sample &
sampler=$!
# a binary without PPROF_ADDR (an older one, for an A/B of CPU per request) gives no profiles
curl -s -o "$out/cpu.pprof" "http://127.0.0.1:$pport/debug/pprof/profile?seconds=$window" &
c1=$!
curl -s -o "$out/allocs.pprof" "http://127.0.0.1:$pport/debug/pprof/allocs?seconds=$window" &
c2=$!
sleep "$window"
wait $c1 $c2 || true
r1=$(served); s1=$(ticks "$pid"); kill $sampler; wait $sampler 2>/dev/null || true
ticks $(pool_pids) >>"$dir/b1"; ticks $(pg_pids) >>"$dir/a1"; t1=$(date +%s.%N)
s=$(( ${s1#* } - ${s0#* } )); b=$(spent "$dir/b0" "$dir/b1"); a=$(spent "$dir/a0" "$dir/a1")
wait "$lt"
rss=$(awk '/VmHWM/ {print $2}' "/proc/$pid/status")
n=$((r1 - r0))
awk -v n=$n -v s=$s -v b=$b -v a=$a -v hz="$tick" -v t0="$t0" -v t1="$t1" -v rss="$rss" \
  -v la="$(cut -d' ' -f1 /proc/loadavg)" 'BEGIN {
  w = t1 - t0
  printf "window %.1fs requests %d (%.0f/s) server %.0fus/req pool-backends %.0fus/req all-postgres(cluster, other work too) %.0fus/req server-share-of(server+backends) %.0f%% rss-peak %dMB load %s\n",
    w, n, n / w, s / hz * 1e6 / n, b / hz * 1e6 / n, a / hz * 1e6 / n, 100 * s / (s + b), rss / 1024, la }' | tee "$out/cpu.txt"
grep -E '^\s*(op|all|[a-z]+)\s' "$out/load.txt" | sed 's/^/  /' | head -8
