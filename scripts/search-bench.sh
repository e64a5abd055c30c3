#!/usr/bin/env bash
# Latency of the searches through HTTP at 8 concurrent clients (curl), first page and the
# 1,000th page (reached by following nextCursor from the first), against a running server on
# the scale dataset (go run ./seeders -scale). Prints p50/p99/max per line and the status codes.
#
#   scripts/search-bench.sh [BASE_URL] [REQUESTS_PER_LINE]
#
# e.g. DATABASE_URL=.../searchperf PORT=8093 DB_MAX_OPEN_CONNS=16 ./tiktok & scripts/search-bench.sh
# Needs curl and jq. Each line also prints the median of 20 sequential requests (alone). The walks to page 1,000 take a minute or two (sequential requests).
set -euo pipefail
api=${1:-http://127.0.0.1:8093}/api
n=${2:-200}

# p99 URL: n requests, 8 at a time.
p99() {
  local out
  out=$(seq "$n" | xargs -P8 -I{} curl -s -o /dev/null -w '%{http_code} %{time_total}\n' "$1")
  local codes
  codes=$(awk '{print $1}' <<<"$out" | sort | uniq -c | awk '{printf " %s x%s", $2, $1}')
  awk '{print $2}' <<<"$out" | sort -n | awk -v c="$codes" '{a[NR]=$1} END {
    printf "p50 %6.1f ms  p99 %6.1f ms  max %6.1f ms  (n=%d;%s)\n", a[int(NR*0.5)]*1000, a[int(NR*0.99)]*1000, a[NR]*1000, NR, c}'
}

# deep URL PAGE: the cursor of page PAGE (limit 10), following nextCursor.
deep() {
  local cursor="" i
  for ((i = 1; i < $2; i++)); do
    cursor=$(curl -s "$1&limit=10${cursor:+&cursor=$cursor}" | jq -r '.pagination.nextCursor // empty')
    if [ -z "$cursor" ]; then echo "the list ends at page $i" >&2; return 1; fi
  done
  echo "$cursor"
}

# alone URL: the median of 20 sequential requests (the cost of one search on its own, which the
# concurrent lines multiply by the queueing on a shared machine).
alone() {
  seq 20 | xargs -P1 -I{} curl -s -o /dev/null -w '%{time_total}\n' "$1" | sort -n | awk '{a[NR]=$1} END {
    printf "alone p50 %5.1f ms", a[int(NR*0.5)]*1000}'
}

line() { printf '%-36s ' "$1"; local a; a=$(alone "$2"); p99 "$2" | tr -d '\n'; echo "  $a"; }

echo "load average before: $(cut -d' ' -f1-3 /proc/loadavg)"
line "videos dance p1" "$api/search?type=videos&q=dance"
line "videos dance p1000" "$api/search?type=videos&q=dance&limit=10&cursor=$(deep "$api/search?type=videos&q=dance" 1000)"
line "videos kreepa p1" "$api/search?type=videos&q=kreepa"
line "videos kreepa p1000" "$api/search?type=videos&q=kreepa&limit=10&cursor=$(deep "$api/search?type=videos&q=kreepa" 1000)"
line "videos sabrina (sound only)" "$api/search?type=videos&q=sabrina"
line "videos booktok (1.4%)" "$api/search?type=videos&q=booktok"
line "videos 69213 (0.4%, sound)" "$api/search?type=videos&q=69213"
line "videos 98765 (rare)" "$api/search?type=videos&q=98765"
line "videos \"quick pasta\" (phrase)" "$api/search?type=videos&q=%22quick+pasta%22"
line "videos cat -dog" "$api/search?type=videos&q=cat+-dog"
line "users user1 p1" "$api/search?type=users&q=user1"
line "users user1 p1000" "$api/search?type=users&q=user1&limit=10&cursor=$(deep "$api/search?type=users&q=user1" 1000)"
line "users uesr1 (typo)" "$api/search?type=users&q=uesr1"
line "users usre1 (typo)" "$api/search?type=users&q=usre1"
line "users dnace (typo, no match)" "$api/search?type=users&q=dnace"
line "users usera (similar to many)" "$api/search?type=users&q=usera"
line "hashtags fy" "$api/search?type=hashtags&q=fy"
line "hashtags dnace" "$api/search?type=hashtags&q=dnace"
line "hashtags food (tag and prefixes)" "$api/search?type=hashtags&q=food"
line "hashtags fod (typo)" "$api/search?type=hashtags&q=fod"
line "suggest us" "$api/search/suggest?q=us"
line "suggest user12" "$api/search/suggest?q=user12"
line "top dance" "$api/search?q=dance"
echo "load average after: $(cut -d' ' -f1-3 /proc/loadavg)"
