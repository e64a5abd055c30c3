package testdb

import (
	"testing"

	"gorm.io/gorm"
)

// counterChecks pairs each stored counter with the COUNT(*) it must equal; each query returns
// the number of rows whose counter is wrong.
var counterChecks = map[string]string{
	"videos.like_count":     `SELECT count(*) FROM videos v WHERE like_count <> (SELECT count(*) FROM video_likes l WHERE l.video_id = v.id)`,
	"videos.bookmark_count": `SELECT count(*) FROM videos v WHERE bookmark_count <> (SELECT count(*) FROM video_bookmarks b WHERE b.video_id = v.id)`,
	"videos.comment_count":  `SELECT count(*) FROM videos v WHERE comment_count <> (SELECT count(*) FROM comments c WHERE c.video_id = v.id)`,
	"comments.like_count":   `SELECT count(*) FROM comments c WHERE like_count <> (SELECT count(*) FROM comment_likes l WHERE l.comment_id = c.id)`,
	"comments.reply_count":  `SELECT count(*) FROM comments c WHERE reply_count <> (SELECT count(*) FROM comments r WHERE r.parent_id = c.id)`,
	"users.follower_count":  `SELECT count(*) FROM users u WHERE follower_count <> (SELECT count(*) FROM follows f WHERE f.following_id = u.id)`,
	"users.following_count": `SELECT count(*) FROM users u WHERE following_count <> (SELECT count(*) FROM follows f WHERE f.follower_id = u.id)`,
	"users.video_count":     `SELECT count(*) FROM users u WHERE video_count <> (SELECT count(*) FROM videos v WHERE v.user_id = u.id)`,
	"users.like_count":      `SELECT count(*) FROM users u WHERE like_count <> (SELECT count(*) FROM video_likes l JOIN videos v ON v.id = l.video_id WHERE v.user_id = u.id)`,
	"hashtags.video_count":  `SELECT count(*) FROM hashtags h WHERE video_count <> (SELECT count(*) FROM video_hashtags vh WHERE vh.hashtag_id = h.id)`,
	// hashtag_daily_uses must equal video_hashtags counted per (tag, day of the video), and
	// video_hashtags.created_at must be its video's created_at.
	"hashtag_daily_uses.uses": `SELECT count(*) FROM (
		(SELECT hashtag_id, day, uses FROM hashtag_daily_uses
			EXCEPT SELECT hashtag_id, created_at::date, count(*)::int FROM video_hashtags GROUP BY 1, 2)
		UNION ALL
		(SELECT hashtag_id, created_at::date, count(*)::int FROM video_hashtags GROUP BY 1, 2
			EXCEPT SELECT hashtag_id, day, uses FROM hashtag_daily_uses)) d`,
	"video_hashtags.created_at": `SELECT count(*) FROM video_hashtags vh JOIN videos v ON v.id = vh.video_id
		WHERE vh.created_at <> v.created_at OR vh.trending_score IS DISTINCT FROM v.trending_score`,
}

// AssertCountersExact fails the test for every stored counter of db that differs from the
// COUNT(*) of its rows: the invariant the counter triggers keep, whoever writes.
func AssertCountersExact(t testing.TB, db *gorm.DB) {
	t.Helper()
	for name, q := range counterChecks {
		var wrong int64
		if err := db.Raw(q).Scan(&wrong).Error; err != nil {
			t.Fatal(err)
		}
		if wrong != 0 {
			t.Errorf("%s differs from COUNT(*) on %d rows", name, wrong)
		}
	}
}
