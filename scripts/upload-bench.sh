#!/usr/bin/env bash
# upload-bench measures uploads into S3 storage (docs/performance.md, "Uploads to object
# storage"): a file of SIZE_MB (default 50) sent ROUNDS times (default 5) through the API as a
# multipart form, with the throughput of each and the server's peak RSS (VmHWM) before and after;
# then the direct-upload flow (sign, PUT to the bucket, register) with the latency of the
# registration call, which reads the object's head and writes the row.
#
#   scripts/upload-bench.sh                       uses PostgreSQL at TEST_DATABASE_URL's server
#   SIZE_MB=100 ROUNDS=3 scripts/upload-bench.sh
#   BIN=/tmp/tiktok-old scripts/upload-bench.sh   an older build (side by side); its direct-upload
#                                                  part is skipped when it has no POST /api/uploads
#
# Starts its own versitygw (scripts/tools.sh) and a database of its own (dropped at the end).
set -euo pipefail
cd "$(dirname "$0")/.."

size_mb=${SIZE_MB:-50}
rounds=${ROUNDS:-5}
admin_url=${TEST_DATABASE_URL:-postgres://postgres@127.0.0.1:5432/postgres?sslmode=disable}
db="upload_bench_$$"
db_url=$(printf '%s' "$admin_url" | sed -E "s#^(postgres(ql)?://[^/]*)/[^?]*#\1/$db#")
versitygw=$(scripts/tools.sh versitygw)

tmp=$(mktemp -d)
pids=()
cleanup() {
  for p in "${pids[@]}"; do kill -TERM "$p" 2>/dev/null || true; done
  for p in "${pids[@]}"; do wait "$p" 2>/dev/null || true; done
  psql "$admin_url" -qX -c "DROP DATABASE IF EXISTS $db WITH (FORCE)" >/dev/null 2>&1 || true
  rm -rf "$tmp"
}
trap cleanup EXIT

port() { local p=$1; while (exec 3<>"/dev/tcp/127.0.0.1/$p") 2>/dev/null; do p=$((p + 1)); done; echo "$p"; }
s3_port=$(port 18400)
mkdir -p "$tmp/s3"
"$versitygw" --access bench-key --secret bench-secret --port "127.0.0.1:$s3_port" posix "$tmp/s3" >"$tmp/versitygw.log" 2>&1 &
pids+=($!)
for _ in $(seq 100); do curl -s -o /dev/null "http://127.0.0.1:$s3_port/" && break; sleep 0.1; done

psql "$admin_url" -qX -v ON_ERROR_STOP=1 -c "CREATE DATABASE $db" >/dev/null
if [ -n "${BIN:-}" ]; then cp "$BIN" "$tmp/tiktok"; else go build -o "$tmp/tiktok" .; fi
api_port=$(port 18420)
(cd "$tmp" && exec env APP_ENV=development LOG_LEVEL=warn DATABASE_URL="$db_url" PORT="$api_port" \
  STORAGE=s3 S3_ENDPOINT="http://127.0.0.1:$s3_port" S3_BUCKET=bench S3_ACCESS_KEY=bench-key \
  S3_SECRET_KEY=bench-secret S3_PUBLIC_BASE_URL="http://127.0.0.1:$s3_port/bench" MAX_VIDEO_MB=$((size_mb + 10)) \
  JWT_SECRET=upload-bench-secret-upload-bench-secret "$tmp/tiktok" >"$tmp/server.log" 2>&1) &
server=$!; pids+=("$server")
api="http://127.0.0.1:$api_port"
for _ in $(seq 120); do curl -fsS "$api/readyz" >/dev/null 2>&1 && break; sleep 0.5; done
curl -fsS "$api/readyz" >/dev/null || { cat "$tmp/server.log"; exit 1; }

json=(-H 'Content-Type: application/json')
curl -fsS "${json[@]}" -d '{"username":"bench","email":"bench@example.com","password":"correct horse battery"}' "$api/api/users/register" >/dev/null
token=$(curl -fsS "${json[@]}" -d '{"email":"bench@example.com","password":"correct horse battery"}' "$api/api/users/login" | jq -r .token)
auth=(-H "Authorization: Bearer $token")

printf '\x00\x00\x00\x18ftypmp42\x00\x00\x00\x00mp42isom' >"$tmp/clip.mp4"
head -c $((size_mb << 20)) /dev/urandom >>"$tmp/clip.mp4"
bytes=$(stat -c %s "$tmp/clip.mp4")

# The subshell execs env, which execs the server: $server is the server's own pid.
server_pid=$server
rss() { awk -v k="$1:" '$1 == k { print int($2 / 1024) }' "/proc/$server_pid/status"; }

echo "multipart upload of ${size_mb} MiB through the API into the bucket, $rounds rounds"
echo "idle: RSS $(rss VmRSS) MiB, peak so far $(rss VmHWM) MiB"
for i in $(seq "$rounds"); do
  out=$(curl -sS -o "$tmp/out.json" -w '%{http_code} %{time_total}' "${auth[@]}" \
    -F "video=@$tmp/clip.mp4;type=video/mp4" "$api/api/videos")
  code=${out% *}; secs=${out#* }
  [ "$code" = 201 ] || { echo "upload $i: $code $(cat "$tmp/out.json")"; exit 1; }
  awk -v b="$bytes" -v s="$secs" -v i="$i" 'BEGIN { printf "round %d: %.2f s, %.0f MiB/s\n", i, s, b / 1048576 / s }'
done
echo "after: RSS $(rss VmRSS) MiB, peak $(rss VmHWM) MiB"

if [ "$(curl -s -o /dev/null -w '%{http_code}' "${auth[@]}" -X POST "$api/api/uploads")" = 404 ]; then
  echo "this binary has no direct uploads (POST /api/uploads is 404)"
  exit 0
fi
echo "direct upload of ${size_mb} MiB: sign, PUT to the bucket, register ($rounds rounds)"
for i in $(seq "$rounds"); do
  t0=$(date +%s.%N)
  signed=$(curl -fsS "${auth[@]}" "${json[@]}" -d "{\"kind\":\"video\",\"contentType\":\"video/mp4\",\"size\":$bytes}" "$api/api/uploads")
  t1=$(date +%s.%N)
  headers=()
  while IFS= read -r h; do headers+=(-H "$h"); done < <(jq -r '.headers | to_entries[] | "\(.key): \(.value)"' <<<"$signed")
  curl -fsS -o /dev/null -X PUT "${headers[@]}" --data-binary "@$tmp/clip.mp4" "$(jq -r .uploadUrl <<<"$signed")"
  t2=$(date +%s.%N)
  reg=$(curl -sS -o "$tmp/out.json" -w '%{http_code} %{time_total}' "${auth[@]}" "${json[@]}" \
    -d "{\"videoStoragePath\":\"$(jq -r .storagePath <<<"$signed")\"}" "$api/api/videos")
  [ "${reg% *}" = 201 ] || { echo "register $i: $reg $(cat "$tmp/out.json")"; exit 1; }
  awk -v a="$t0" -v b="$t1" -v c="$t2" -v r="${reg#* }" -v i="$i" -v by="$bytes" \
    'BEGIN { printf "round %d: sign %.1f ms, PUT %.2f s (%.0f MiB/s), register %.1f ms\n", i, (b-a)*1000, c-b, by/1048576/(c-b), r*1000 }'
done
echo "after: RSS $(rss VmRSS) MiB, peak $(rss VmHWM) MiB"
