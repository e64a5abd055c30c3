#!/usr/bin/env bash
# The database's own ceiling for the like transaction (docs/performance.md, "Hot rows"):
# pgbench runs the same INSERT ... ON CONFLICT DO NOTHING / DELETE of video_likes the API runs
# (half each, users 1-USERS, video VIDEO; its triggers included) from CLIENTS clients with no
# server in between, so the server's likes/s can be read as a share of what PostgreSQL itself
# does on this machine.
#
#   scripts/like-ceiling.sh DATABASE_URL [SECONDS]
#
# VIDEO=1 (one hot video; VIDEO=0 spreads the likes over videos 1-MAX_VIDEO), USERS=200,
# CLIENTS=32, MAX_VIDEO=200000.
set -euo pipefail
db=$1 seconds=${2:-15}
video=${VIDEO:-1} users=${USERS:-200} clients=${CLIENTS:-32} max_video=${MAX_VIDEO:-200000}
script=$(mktemp --suffix=.sql)
trap 'rm -f "$script"' EXIT
if [ "$video" = 0 ]; then
  pick="\\set vid random(1, $max_video)"
else
  pick="\\set vid $video"
fi
cat >"$script" <<SQL
\\set uid random(1, $users)
$pick
\\set op random(0, 1)
\\if :op = 1
INSERT INTO video_likes (user_id, video_id) VALUES (:uid, :vid) ON CONFLICT DO NOTHING;
\\else
DELETE FROM video_likes WHERE user_id = :uid AND video_id = :vid;
\\endif
SQL
pgbench -n -c "$clients" -j 2 -T "$seconds" -P 5 -r -f "$script" "$db" 2>&1 |
  grep -E "^(tps|latency|number of transactions actually|progress)"
