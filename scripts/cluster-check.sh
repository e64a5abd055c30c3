#!/usr/bin/env bash
# cluster-check runs the whole shape of DESIGN.md ("Growing past one machine") on one machine and
# checks that two server instances behave as one service:
#
#   a PostgreSQL primary and a streaming replica made with pg_basebackup (private, on free ports),
#   Redis (a private redis-server from the machine's binary, so stopping it stops nobody else's),
#   an S3-compatible server (versitygw, built by scripts/tools.sh at the version pinned in
#   tools/go.mod), and two instances of the server binary, A and B, on different ports, sharing
#   all three.
#
# Checks, through both instances: a multipart upload on A is served by B; a direct upload signed
# by A, PUT to storage, is registered on B; 10 failed logins on A, then the 11th on B is 429; a
# like on A is counted on B; feed reads reached the replica (its pg_stat_database and the
# instances' metrics say so) while the writes are on the primary; stopping the replica in the
# middle of a stream of reads costs no request; stopping Redis degrades as the README says (each
# instance keeps its own limits; no request fails).
#
#   scripts/cluster-check.sh            (CLUSTER_CHECK_VERBOSE=1 also prints the servers' logs)
#
# Needs the Debian packages postgresql, redis-server, curl and jq. Everything it starts lives in
# a temporary folder and is stopped at the end, whatever happens.
set -euo pipefail
cd "$(dirname "$0")/.."
root=$(pwd)

pgbin=$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -1)
[ -x "$pgbin/initdb" ] || { echo "cluster-check: PostgreSQL's binaries are missing: apt-get install -y postgresql"; exit 1; }
command -v redis-server >/dev/null || { echo "cluster-check: redis-server is missing: apt-get install -y redis-server"; exit 1; }
command -v jq >/dev/null || { echo "cluster-check: jq is missing: apt-get install -y jq"; exit 1; }
command -v ffmpeg >/dev/null || { echo "cluster-check: ffmpeg is missing (every upload is probed): apt-get install -y ffmpeg"; exit 1; }
versitygw=$(scripts/tools.sh versitygw)

tmp=$(mktemp -d)
chmod 755 "$tmp"
pids=()
cleanup() {
  local rc=$?
  for p in "${pids[@]}"; do kill -TERM "$p" 2>/dev/null || true; done
  for p in "${pids[@]}"; do wait "$p" 2>/dev/null || true; done
  pg stop -D "$tmp/replica" -m immediate >/dev/null 2>&1 || true
  pg stop -D "$tmp/primary" -m immediate >/dev/null 2>&1 || true
  if [ "$rc" != 0 ] || [ -n "${CLUSTER_CHECK_VERBOSE:-}" ]; then
    for f in "$tmp"/*.log; do [ -f "$f" ] && { echo "----- $(basename "$f") (last 40 lines)"; tail -40 "$f"; }; done
  fi
  rm -rf "$tmp"
  exit "$rc"
}
trap cleanup EXIT

fail() { echo "cluster-check: FAIL: $*" >&2; exit 1; }
step() { echo "== $*"; }

# PostgreSQL refuses to run as root: as root, its programs run as the postgres user.
pg() {
  local prog=$1; shift
  if [ "$(id -u)" = 0 ]; then runuser -u postgres -- "$pgbin/pg_ctl" "$prog" "$@"; else "$pgbin/pg_ctl" "$prog" "$@"; fi
}
pgrun() {
  local prog=$1; shift
  if [ "$(id -u)" = 0 ]; then runuser -u postgres -- "$pgbin/$prog" "$@"; else "$pgbin/$prog" "$@"; fi
}

# free_port NAME sets the variable NAME to a port nothing listens on, from a range of its own
# (a variable, not output: $(...) would run it in a subshell and hand out one port twice).
next_port=18300
free_port() {
  while (exec 3<>"/dev/tcp/127.0.0.1/$next_port") 2>/dev/null; do next_port=$((next_port + 1)); done
  printf -v "$1" '%s' "$next_port"
  next_port=$((next_port + 1))
}

step "PostgreSQL: a primary and a streaming replica"
free_port pg_primary; free_port pg_replica
if [ "$(id -u)" = 0 ]; then chown postgres "$tmp"; fi
pgrun initdb -D "$tmp/primary" -U postgres -A trust --no-sync >"$tmp/initdb.log" 2>&1 || fail "initdb failed (see initdb.log)"
cat >>"$tmp/primary/postgresql.conf" <<EOF
listen_addresses = '127.0.0.1'
port = $pg_primary
unix_socket_directories = '$tmp'
wal_level = replica
max_wal_senders = 4
shared_preload_libraries = 'pg_stat_statements'
fsync = off
EOF
echo "host replication postgres 127.0.0.1/32 trust" >>"$tmp/primary/pg_hba.conf"
pg start -D "$tmp/primary" -l "$tmp/primary.log" -w >/dev/null || fail "the primary did not start"
primary_url="postgres://postgres@127.0.0.1:$pg_primary/tiktok?sslmode=disable"
psql "postgres://postgres@127.0.0.1:$pg_primary/postgres" -qX -v ON_ERROR_STOP=1 \
  -c "CREATE DATABASE tiktok" >/dev/null
psql "$primary_url" -qX -v ON_ERROR_STOP=1 -c "CREATE EXTENSION pg_stat_statements" >/dev/null
pgrun pg_basebackup -h 127.0.0.1 -p "$pg_primary" -U postgres -D "$tmp/replica" -R -X stream -c fast >"$tmp/basebackup.log" 2>&1 ||
  fail "pg_basebackup failed (see basebackup.log)"
sed -i "s/^port = .*/port = $pg_replica/" "$tmp/replica/postgresql.conf"
pg start -D "$tmp/replica" -l "$tmp/replica.log" -w >/dev/null || fail "the replica did not start"
replica_url="postgres://postgres@127.0.0.1:$pg_replica/tiktok?sslmode=disable"
[ "$(psql "$replica_url" -tAX -c 'SELECT pg_is_in_recovery()')" = t ] || fail "the replica is not in recovery"

step "Redis (a private redis-server)"
free_port redis_port
redis-server --port "$redis_port" --bind 127.0.0.1 --save "" --appendonly no >"$tmp/redis.log" 2>&1 &
redis_pid=$!; pids+=("$redis_pid")
for _ in $(seq 50); do redis-cli -p "$redis_port" ping >/dev/null 2>&1 && break; sleep 0.1; done
redis-cli -p "$redis_port" ping >/dev/null || fail "redis-server did not start"

step "S3 (versitygw)"
free_port s3_port
mkdir -p "$tmp/s3"
"$versitygw" --access cluster-check-key --secret cluster-check-secret --port "127.0.0.1:$s3_port" \
  posix "$tmp/s3" >"$tmp/versitygw.log" 2>&1 &
pids+=($!)
for _ in $(seq 100); do curl -s -o /dev/null "http://127.0.0.1:$s3_port/" && break; sleep 0.1; done

step "two server instances, A and B"
go build -o "$tmp/tiktok" .
free_port port_a; free_port port_b
start_instance() { # name port
  mkdir -p "$tmp/run-$1"
  (cd "$tmp/run-$1" && exec env -i PATH="$PATH" HOME="$tmp" APP_ENV=test LOG_LEVEL=info LOG_FORMAT=json \
    DATABASE_URL="$primary_url" DATABASE_REPLICA_URLS="$replica_url" REPLICA_MAX_LAG=5s \
    REDIS_URL="redis://127.0.0.1:$redis_port/0" \
    STORAGE=s3 S3_ENDPOINT="http://127.0.0.1:$s3_port" S3_BUCKET=cluster-check S3_REGION=us-east-1 \
    S3_ACCESS_KEY=cluster-check-key S3_SECRET_KEY=cluster-check-secret S3_PATH_STYLE=true \
    S3_PUBLIC_BASE_URL="http://127.0.0.1:$s3_port/cluster-check" \
    PUBLIC_BASE_URL="http://127.0.0.1:$2" JWT_SECRET=cluster-check-jwt-secret-of-32-bytes-at-least \
    RATE_LOGIN_PER_IP=100000 RATE_REGISTER_PER_IP=100000 RATE_LOGIN_FAILS_PER_ACCOUNT=10 \
    PORT="$2" "$tmp/tiktok" >"$tmp/server-$1.log" 2>&1) &
  pids+=($!)
}
start_instance a "$port_a"
# A migrates the database first; B starts once A is ready, so they do not race on migrations
# (which would be safe, one waits on the other's lock, but slower to read in the logs).
A="http://127.0.0.1:$port_a"; B="http://127.0.0.1:$port_b"
wait_ready() { for _ in $(seq 120); do curl -fsS "$1/readyz" >/dev/null 2>&1 && return 0; sleep 0.5; done; fail "$1 did not become ready"; }
wait_ready "$A"
start_instance b "$port_b"
wait_ready "$B"

# call METHOD URL [curl args...]: prints the body and keeps the status in a file, since call
# often runs in a $(...) subshell, whose variables do not come back; expect reads it.
body="$tmp/body"
call() {
  local method=$1 url=$2; shift 2
  curl -sS -o "$body" -w '%{http_code}' -X "$method" "$url" "$@" >"$tmp/status" || fail "$method $url: no answer"
  cat "$body"
}
expect() { # want what
  status=$(cat "$tmp/status")
  [ "$status" = "$1" ] || fail "$2: got $status, want $1: $(head -c 500 "$body")"
}
json=(-H 'Content-Type: application/json')

step "one account, signed up on A, logged in on B"
call POST "$A/api/users/register" "${json[@]}" -d '{"username":"alice","email":"alice@example.com","password":"correct horse battery"}' >/dev/null
expect 201 "register on A"
token=$(call POST "$B/api/users/login" "${json[@]}" -d '{"email":"alice@example.com","password":"correct horse battery"}' | jq -r .token)
expect 200 "login on B"
auth=(-H "Authorization: Bearer $token")

step "a multipart upload on A is served by B"
# A real clip, since every upload is probed: H.264 in MP4 with its index first, so the file is
# ready at once and kept byte for byte (only a cover is made).
ffmpeg -nostdin -loglevel error -y -f lavfi -i testsrc=size=320x240:duration=2 -pix_fmt yuv420p \
  -c:v libx264 -preset ultrafast -movflags +faststart "$tmp/clip.mp4"
video=$(call POST "$A/api/videos" "${auth[@]}" -F "video=@$tmp/clip.mp4;type=video/mp4" -F caption=multipart)
expect 201 "multipart upload on A"
video_id=$(jq -r .id <<<"$video")
video_url=$(call GET "$B/api/videos/$video_id" | jq -r .videoUrl)
expect 200 "the video on B"
case "$video_url" in "http://127.0.0.1:$s3_port/cluster-check/videos/"*) ;; *) fail "videoUrl $video_url is not in the bucket";; esac
curl -fsS -o "$tmp/fetched.mp4" "$video_url" || fail "the bucket does not serve $video_url"
cmp -s "$tmp/clip.mp4" "$tmp/fetched.mp4" || fail "the bucket's bytes differ from the upload"

step "a direct upload signed by A, PUT to storage, registered on B"
size=$(stat -c %s "$tmp/clip.mp4")
signed=$(call POST "$A/api/uploads" "${auth[@]}" "${json[@]}" -d "{\"kind\":\"video\",\"contentType\":\"video/mp4\",\"size\":$size}")
expect 200 "sign on A"
upload_url=$(jq -r .uploadUrl <<<"$signed"); path=$(jq -r .storagePath <<<"$signed")
headers=()
while IFS= read -r h; do headers+=(-H "$h"); done < <(jq -r '.headers | to_entries[] | "\(.key): \(.value)"' <<<"$signed")
put_status=$(curl -sS -o "$tmp/put.out" -w '%{http_code}' -X "$(jq -r .method <<<"$signed")" "${headers[@]}" \
  --data-binary "@$tmp/clip.mp4" "$upload_url")
[ "${put_status:0:1}" = 2 ] || fail "PUT to the signed URL: $put_status $(head -c 300 "$tmp/put.out")"
direct=$(call POST "$B/api/videos" "${auth[@]}" "${json[@]}" -d "{\"videoStoragePath\":\"$path\",\"caption\":\"direct\"}")
expect 201 "register on B"
direct_id=$(jq -r .id <<<"$direct")
curl -fsS -o "$tmp/direct.mp4" "$(jq -r .videoUrl <<<"$direct")" || fail "the registered object is not served"
cmp -s "$tmp/clip.mp4" "$tmp/direct.mp4" || fail "the registered object's bytes differ"
call POST "$A/api/videos" "${auth[@]}" "${json[@]}" -d "{\"videoStoragePath\":\"$path\"}" >/dev/null
status=$(cat "$tmp/status")
[ "$status" = 400 ] || [ "$status" = 404 ] || [ "$status" = 409 ] || fail "registering the path again on A: $status, want a refusal"

step "10 failed logins on A, the 11th on B is 429"
call POST "$A/api/users/register" "${json[@]}" -d '{"username":"bob","email":"bob@example.com","password":"correct horse battery"}' >/dev/null
for i in $(seq 10); do
  call POST "$A/api/users/login" "${json[@]}" -d '{"email":"bob@example.com","password":"wrong"}' >/dev/null
  expect 401 "failed login $i on A"
done
call POST "$B/api/users/login" "${json[@]}" -d '{"email":"bob@example.com","password":"correct horse battery"}' >/dev/null
expect 429 "the 11th login, on B"

step "a like on A is counted on B"
like=$(call POST "$A/api/videos/$direct_id/like" "${auth[@]}")
expect 200 "like on A"
[ "$(jq -r .likeCount <<<"$like")" = 1 ] || fail "the like's answer counts $(jq -r .likeCount <<<"$like"), want 1"
counted=""
for _ in $(seq 50); do # B reads from the replica: the like arrives within its lag
  [ "$(call GET "$B/api/videos/$direct_id" | jq -r .likeCount)" = 1 ] && { counted=1; break; }
  sleep 0.1
done
[ -n "$counted" ] || fail "B never counted the like made on A"
[ "$(psql "$primary_url" -tAX -c "SELECT count(*) FROM video_likes WHERE video_id = $direct_id")" = 1 ] ||
  fail "the like is not on the primary"

step "feed reads reach the replica, writes the primary"
replica_reads() { psql "$replica_url" -tAX -c "SELECT coalesce(sum(calls), 0) FROM pg_stat_statements WHERE query ILIKE '%FROM videos%'" 2>/dev/null || echo 0; }
primary_writes() { psql "$primary_url" -tAX -c "SELECT coalesce(sum(calls), 0) FROM pg_stat_statements WHERE query ILIKE 'INSERT INTO%'"; }
before=$(replica_reads)
for _ in $(seq 20); do
  call GET "$A/api/videos?limit=10" >/dev/null; expect 200 "feed on A"
  call GET "$B/api/videos?sort=trending&limit=10" >/dev/null; expect 200 "trending on B"
done
after=$(replica_reads)
[ $((after - before)) -ge 40 ] || fail "the replica served $((after - before)) feed reads of 40"
[ "$(primary_writes)" -gt 0 ] || fail "no INSERT ran on the primary"
for inst in "$A" "$B"; do
  curl -fsS "$inst/metrics" | grep -E '^tiktok_db_reads_total\{target="replica"\} [1-9]' >/dev/null ||
    fail "$inst/metrics shows no read on the replica"
done
echo "replica served $((after - before)) feed statements; the primary ran $(primary_writes) inserts"

step "stopping the replica in the middle of a stream of reads costs no request"
statuses="$tmp/statuses"
: >"$statuses"
(
  for i in $(seq 300); do
    inst=$A; [ $((i % 2)) = 0 ] && inst=$B
    curl -sS -o /dev/null -w '%{http_code}\n' "$inst/api/videos?limit=5" >>"$statuses" || echo "000" >>"$statuses"
  done
) &
reader=$!
sleep 1
pg stop -D "$tmp/replica" -m immediate >/dev/null
wait "$reader"
bad=$(grep -vc '^200$' "$statuses" || true)
[ "$bad" = 0 ] || fail "$bad of $(wc -l <"$statuses") feed reads failed while the replica stopped: $(sort "$statuses" | uniq -c | tr '\n' ' ')"
readyz=$(call GET "$A/readyz")
expect 200 "/readyz with the replica down (degraded, not unready)"
echo "300 reads, all 200; A's /readyz: $readyz"

step "stopping Redis: each instance keeps its own limits, no request fails"
kill -TERM "$redis_pid"; wait "$redis_pid" 2>/dev/null || true
call POST "$A/api/users/register" "${json[@]}" -d '{"username":"carol","email":"carol@example.com","password":"correct horse battery"}' >/dev/null
expect 201 "register with Redis down"
for i in $(seq 10); do
  call POST "$A/api/users/login" "${json[@]}" -d '{"email":"carol@example.com","password":"wrong"}' >/dev/null
  expect 401 "failed login $i on A with Redis down"
done
call POST "$A/api/users/login" "${json[@]}" -d '{"email":"carol@example.com","password":"correct horse battery"}' >/dev/null
expect 429 "the 11th login on A with Redis down (A's own limit holds)"
call POST "$B/api/users/login" "${json[@]}" -d '{"email":"carol@example.com","password":"correct horse battery"}' >/dev/null
expect 200 "a login on B with Redis down (B counts on its own)"
call GET "$B/api/videos" >/dev/null; expect 200 "the feed with Redis down"

for f in "$tmp"/server-*.log; do
  if grep -E '"level":"ERROR"' "$f" | grep -v 'redis' >/dev/null; then
    echo "cluster-check: errors logged by $(basename "$f"):"; grep -E '"level":"ERROR"' "$f" | head -5
    fail "an instance logged an error"
  fi
done
echo "cluster-check: ok (two instances, primary + replica, Redis, versitygw behave as one service)"
