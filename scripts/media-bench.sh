#!/usr/bin/env bash
# media-bench measures the media pipeline (docs/performance.md, "Media pipeline"):
#  1. probing's cost on an upload: a 20 MB H.264 MP4 (index first, with a thumbnail, so no job)
#     uploaded ROUNDS times (default 10) to a server with ffmpeg and to one without it on PATH
#     (uploads published unprocessed), medians side by side;
#  2. the latest feed's latency under the load test (cmd/loadtest, feedanon) idle, then while
#     the server transcodes a 15-second 1080p HEVC clip (its own worker, WORKERS default);
#  3. how long that clip takes from the end of its upload to `ready`, under that load test;
#  4. the same with no load test.
#
#   scripts/media-bench.sh              uses PostgreSQL at TEST_DATABASE_URL's server
#
# Prints the load average before each part: the machine may be shared.
set -euo pipefail
cd "$(dirname "$0")/.."

rounds=${ROUNDS:-10}
admin_url=${TEST_DATABASE_URL:-postgres://postgres@127.0.0.1:5432/postgres?sslmode=disable}
db="media_bench_$$"
db_url=$(printf '%s' "$admin_url" | sed -E "s#^(postgres(ql)?://[^/]*)/[^?]*#\1/$db#")
tmp=$(mktemp -d)
pids=()
cleanup() {
  for p in "${pids[@]}"; do kill -TERM "$p" 2>/dev/null || true; done
  for p in "${pids[@]}"; do wait "$p" 2>/dev/null || true; done
  psql "$admin_url" -qX -c "DROP DATABASE IF EXISTS $db WITH (FORCE)" >/dev/null 2>&1 || true
  rm -rf "$tmp"
}
trap cleanup EXIT
load() { cut -d' ' -f1-3 /proc/loadavg; }
port() { local p=$1; while (exec 3<>"/dev/tcp/127.0.0.1/$p") 2>/dev/null; do p=$((p + 1)); done; echo "$p"; }

psql "$admin_url" -qX -v ON_ERROR_STOP=1 -c "CREATE DATABASE $db" >/dev/null
go build -o "$tmp/tiktok" . && go build -o "$tmp/loadtest" ./cmd/loadtest
DATABASE_URL="$db_url" go run ./seeders >/dev/null

echo "making the clips with ffmpeg..."
ff=(ffmpeg -nostdin -hide_banner -loglevel error -y)
"${ff[@]}" -f lavfi -i testsrc2=size=1280x720:rate=30:duration=20 -f lavfi -i sine=duration=20 \
  -c:v libx264 -preset ultrafast -b:v 8M -maxrate 8M -bufsize 8M -c:a aac -shortest -movflags +faststart "$tmp/20mb.mp4"
"${ff[@]}" -f lavfi -i testsrc2=size=320x240:duration=1 -frames:v 1 "$tmp/thumb.jpg"
"${ff[@]}" -f lavfi -i testsrc2=size=1920x1080:rate=30:duration=15 -f lavfi -i sine=duration=15 \
  -c:v libx265 -preset ultrafast -x265-params log-level=error -tag:v hvc1 -pix_fmt yuv420p -c:a aac -shortest "$tmp/hevc1080.mp4"
ls -l "$tmp/20mb.mp4" "$tmp/hevc1080.mp4" | awk '{print $5, $NF}'

start_server() { # name port extra-env...
  local name=$1 p=$2; shift 2
  (cd "$tmp" && exec env APP_ENV=production LOG_LEVEL=warn DATABASE_URL="$db_url" PORT="$p" UPLOAD_DIR="$tmp/uploads" \
    JWT_SECRET=media-bench-secret-media-bench-secret-0123 RATE_LOGIN_PER_IP=0 RATE_LOGIN_FAILS_PER_ACCOUNT=0 \
    PUBLIC_BASE_URL="http://127.0.0.1:$p" "$@" "$tmp/tiktok" >"$tmp/$name.log" 2>&1) &
  pids+=($!)
  for _ in $(seq 120); do curl -fsS "http://127.0.0.1:$p/readyz" >/dev/null 2>&1 && break; sleep 0.5; done
  curl -fsS "http://127.0.0.1:$p/readyz" >/dev/null || { cat "$tmp/$name.log"; exit 1; }
}
with_port=$(port 18500); start_server with "$with_port"
without_port=$(port $((with_port + 1))); start_server without "$without_port" PATH=/nonexistent WORKERS=0
curl -fsS "http://127.0.0.1:$without_port/readyz" | grep -q 'ffmpeg missing' || { echo "the second server found ffmpeg"; exit 1; }

json=(-H 'Content-Type: application/json')
token=$(curl -fsS "${json[@]}" -d '{"email":"user1@example.com","password":"password123"}' "http://127.0.0.1:$with_port/api/users/login" | jq -r .token)
auth=(-H "Authorization: Bearer $token")

median_upload() { # port
  for _ in $(seq "$rounds"); do
    curl -sS -o "$tmp/out.json" -w '%{http_code} %{time_total}\n' "${auth[@]}" \
      -F "video=@$tmp/20mb.mp4;type=video/mp4" -F "thumbnail=@$tmp/thumb.jpg;type=image/jpeg" "http://127.0.0.1:$1/api/videos"
  done | awk '$1 != 201 { print "upload failed: " $0 > "/dev/stderr"; exit 1 } { print $2 }' | sort -n |
    awk '{ a[NR] = $1 } END { printf "median %.1f ms (min %.1f, max %.1f)", a[int((NR + 1) / 2)] * 1000, a[1] * 1000, a[NR] * 1000 }'
}
echo
echo "1. upload of a 20 MB H.264 MP4, $rounds rounds each (load average: $(load))"
median_upload "$without_port" >/dev/null # warm-up of both
median_upload "$with_port" >/dev/null
echo "   without ffmpeg (unprocessed): $(median_upload "$without_port")"
echo "   with ffmpeg (probed):         $(median_upload "$with_port")"

lt=("$tmp/loadtest" -base "http://127.0.0.1:$with_port" -duration 15s -users 4 -concurrency 4 -mix feedanon=100 -deep-pages 0)
echo
echo "2. latest feed under the load test, idle (load average: $(load))"
"${lt[@]}" | sed 's/^/   /'

echo
echo "3. a 15-second 1080p HEVC clip: upload, then the load test while it transcodes (load average: $(load))"
t0=$(date +%s.%N)
id=$(curl -fsS "${auth[@]}" -F "video=@$tmp/hevc1080.mp4;type=video/mp4" "http://127.0.0.1:$with_port/api/videos" | jq -r .id)
t1=$(date +%s.%N)
"${lt[@]}" >"$tmp/busy.txt" &
ltpid=$!
while :; do
  st=$(curl -fsS "${auth[@]}" "http://127.0.0.1:$with_port/api/videos/$id" | jq -r .status)
  [ "$st" = processing ] || break
  sleep 0.1
done
t2=$(date +%s.%N)
echo "   status $st; upload $(echo "$t1 - $t0" | bc) s, then ready after $(echo "$t2 - $t1" | bc) s (load average: $(load))"
wait "$ltpid"
echo "   latest feed while it transcoded (the load test ran 15 s from the end of the upload):"
sed 's/^/   /' "$tmp/busy.txt"
curl -fsS "${auth[@]}" "http://127.0.0.1:$with_port/api/videos/$id" | jq -c '{status, width, height, duration}' | sed 's/^/   rendition: /'

echo
echo "4. the same clip again with no load test running (load average: $(load))"
t0=$(date +%s.%N)
id=$(curl -fsS "${auth[@]}" -F "video=@$tmp/hevc1080.mp4;type=video/mp4" "http://127.0.0.1:$with_port/api/videos" | jq -r .id)
t1=$(date +%s.%N)
while :; do
  st=$(curl -fsS "${auth[@]}" "http://127.0.0.1:$with_port/api/videos/$id" | jq -r .status)
  [ "$st" = processing ] || break
  sleep 0.1
done
t2=$(date +%s.%N)
echo "   status $st; upload $(echo "$t1 - $t0" | bc) s, then ready after $(echo "$t2 - $t1" | bc) s (load average: $(load))"
