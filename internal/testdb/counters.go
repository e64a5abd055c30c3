package testdb

import (
	"fmt"
	"testing"

	"gorm.io/gorm"
)

// pending is the sum of the pending deltas (database, 202611300060) of column of the row
// alias of kind (user, video, comment): the stored counter plus it is the exact count.
func pending(kind, column, alias string) string {
	return `COALESCE((SELECT sum(d.` + column + `) FROM ` + kind + `_counter_deltas d WHERE d.` + kind + `_id = ` + alias + `.id), 0)`
}

// counterChecks pairs each counter (stored column plus pending deltas) with the COUNT(*) it
// must equal; each query returns the number of rows whose counter is wrong. Each is ONE
// statement, so the counter and the count are read in one snapshot, also while writers run.
var counterChecks = map[string]string{
	"videos.like_count":     `SELECT count(*) FROM videos v WHERE like_count + ` + pending("video", "likes", "v") + ` <> (SELECT count(*) FROM video_likes l WHERE l.video_id = v.id)`,
	"videos.bookmark_count": `SELECT count(*) FROM videos v WHERE bookmark_count + ` + pending("video", "bookmarks", "v") + ` <> (SELECT count(*) FROM video_bookmarks b WHERE b.video_id = v.id)`,
	"videos.comment_count":  `SELECT count(*) FROM videos v WHERE comment_count + ` + pending("video", "comments", "v") + ` <> (SELECT count(*) FROM comments c WHERE c.video_id = v.id)`,
	"comments.like_count":   `SELECT count(*) FROM comments c WHERE like_count + ` + pending("comment", "likes", "c") + ` <> (SELECT count(*) FROM comment_likes l WHERE l.comment_id = c.id)`,
	"comments.reply_count":  `SELECT count(*) FROM comments c WHERE reply_count + ` + pending("comment", "replies", "c") + ` <> (SELECT count(*) FROM comments r WHERE r.parent_id = c.id)`,
	"users.follower_count":  `SELECT count(*) FROM users u WHERE follower_count + ` + pending("user", "followers", "u") + ` <> (SELECT count(*) FROM follows f WHERE f.following_id = u.id)`,
	"users.following_count": `SELECT count(*) FROM users u WHERE following_count + ` + pending("user", "following", "u") + ` <> (SELECT count(*) FROM follows f WHERE f.follower_id = u.id)`,
	"users.video_count":     `SELECT count(*) FROM users u WHERE video_count + ` + pending("user", "videos", "u") + ` <> (SELECT count(*) FROM videos v WHERE v.user_id = u.id)`,
	"users.like_count":      `SELECT count(*) FROM users u WHERE like_count + ` + pending("user", "likes", "u") + ` <> (SELECT count(*) FROM video_likes l JOIN videos v ON v.id = l.video_id WHERE v.user_id = u.id)`,
	"hashtags.video_count":  `SELECT count(*) FROM hashtags h WHERE video_count <> (SELECT count(*) FROM video_hashtags vh WHERE vh.hashtag_id = h.id)`,
	// hashtag_daily_uses must equal video_hashtags counted per (tag, day of the video), and
	// video_hashtags.created_at must be its video's created_at.
	"hashtag_daily_uses.uses": `SELECT count(*) FROM (
		(SELECT hashtag_id, day, uses FROM hashtag_daily_uses
			EXCEPT SELECT hashtag_id, created_at::date, count(*)::int FROM video_hashtags GROUP BY 1, 2)
		UNION ALL
		(SELECT hashtag_id, created_at::date, count(*)::int FROM video_hashtags GROUP BY 1, 2
			EXCEPT SELECT hashtag_id, day, uses FROM hashtag_daily_uses)) d`,
	// A deleted row's pending deltas go with it.
	"orphan counter deltas": `SELECT (SELECT count(*) FROM user_counter_deltas d WHERE NOT EXISTS (SELECT 1 FROM users WHERE id = d.user_id))
		+ (SELECT count(*) FROM video_counter_deltas d WHERE NOT EXISTS (SELECT 1 FROM videos WHERE id = d.video_id))
		+ (SELECT count(*) FROM comment_counter_deltas d WHERE NOT EXISTS (SELECT 1 FROM comments WHERE id = d.comment_id))`,
	"video_hashtags.created_at": `SELECT count(*) FROM video_hashtags vh JOIN videos v ON v.id = vh.video_id
		WHERE vh.created_at <> v.created_at OR vh.trending_score IS DISTINCT FROM v.trending_score`,
}

// AssertCountersExact fails the test for every counter of db (stored column plus pending
// deltas) that differs from the COUNT(*) of its rows: the invariant the counter triggers keep,
// whoever writes.
func AssertCountersExact(t testing.TB, db *gorm.DB) {
	t.Helper()
	wrong, err := WrongCounters(db)
	if err != nil {
		t.Fatal(err)
	}
	for name, n := range wrong {
		t.Errorf("%s differs from COUNT(*) on %d rows", name, n)
	}
}

// WrongCounters is how many rows of each counter of db are wrong (only counters with wrong
// rows are in it). Each counter is checked in ONE statement, a snapshot, so it may run while
// writers run (a storm's checker calls it at random moments, from any goroutine).
func WrongCounters(db *gorm.DB) (map[string]int64, error) {
	out := map[string]int64{}
	for name, q := range counterChecks {
		var wrong int64
		if err := db.Raw(q).Scan(&wrong).Error; err != nil {
			return nil, fmt.Errorf("%s: %w", name, err)
		}
		if wrong != 0 {
			out[name] = wrong
		}
	}
	return out, nil
}
