package main

import (
	"slices"
	"strings"
	"testing"

	"golang.org/x/crypto/bcrypt"
	"gorm.io/gorm"

	"tiktok/config"
	"tiktok/hashtag"
	"tiktok/internal/testdb"
)

// smallScale is the small size: large enough for skew and for the dense paths of the
// generator (popular videos liked by every user), small enough to run in about a second.
var smallScale = []string{"-users", "1000", "-videos", "10000", "-likes", "50000",
	"-comments", "5000", "-comment-likes", "8000", "-follows", "20000"}

func TestScaleModeIsCorrectAtASmallSize(t *testing.T) {
	// A database of its own, empty: the seeder must migrate it first.
	target, _ := testdb.NewDatabase(t)
	h := newHarness(target, config.EnvDevelopment)
	h.mustRun(t, smallScale...)

	for table, want := range map[string]int64{"users": 1000, "videos": 10000, "comments": 5000,
		"video_likes": 50000, "comment_likes": 8000, "follows": 20000} {
		if got := count(t, target, `SELECT count(*) FROM `+table); got != want {
			t.Errorf("%s: got %d rows, want %d", table, got, want)
		}
	}
	testdb.AssertCountersExact(t, target)
	assertNoDuplicatesOrSelfFollows(t, target)
	assertForeignKeysValid(t, target)
	assertTagsAreTheCaptions(t, target)
	// A power law over thousands of tags: the top tag on many videos, most tags on few.
	if used := count(t, target, `SELECT count(*) FROM hashtags WHERE video_count > 0`); used < 500 {
		t.Errorf("only %d tags used", used)
	}
	if top := count(t, target, `SELECT max(video_count) FROM hashtags`); top < 1000 {
		t.Errorf("the top tag is on %d videos of 10000; want a heavy head", top)
	}

	// Keys, indexes, foreign keys and triggers are all back, exactly as the migrations made them.
	if got, want := schema(t, target), schema(t, db); got != want {
		t.Errorf("the schema after a scale run differs from a freshly migrated one:\n%s", firstDifference(want, got))
	}

	// Skew: a few creators and videos get most of the likes and followers.
	top := count(t, target, `SELECT sum(like_count) FROM (SELECT like_count FROM users ORDER BY like_count DESC LIMIT 50) t`)
	if top*2 < 50000 {
		t.Errorf("the top 5%% of creators get %d of 50000 likes; want most of them", top)
	}
	if n := count(t, target, `SELECT count(*) FROM videos WHERE like_count = 1000`); n == 0 {
		t.Error("no video is liked by every user; the most popular ones should be")
	}
	if n := count(t, target, `SELECT count(*) FROM videos WHERE caption !~ '#\w+'`); n != 0 {
		t.Errorf("%d captions without a hashtag", n)
	}
	// Timestamps: within the past year, nothing before what it refers to.
	for name, q := range map[string]string{
		"users outside the past year": `SELECT count(*) FROM users WHERE created_at < TIMESTAMP '2025-11-01 12:00' OR created_at > TIMESTAMP '2026-11-01 12:00'`,
		"videos before their owner":   `SELECT count(*) FROM videos v JOIN users u ON u.id = v.user_id WHERE v.created_at < u.created_at`,
		"likes before their video":    `SELECT count(*) FROM video_likes l JOIN videos v ON v.id = l.video_id WHERE l.created_at < v.created_at`,
		"likes before their user":     `SELECT count(*) FROM video_likes l JOIN users u ON u.id = l.user_id WHERE l.created_at < u.created_at`,
		"comments before their video": `SELECT count(*) FROM comments c JOIN videos v ON v.id = c.video_id WHERE c.created_at < v.created_at`,
		"follows before a user":       `SELECT count(*) FROM follows f JOIN users a ON a.id = f.follower_id JOIN users b ON b.id = f.following_id WHERE f.created_at < greatest(a.created_at, b.created_at)`,
		"anything in the future":      `SELECT (SELECT count(*) FROM video_likes WHERE created_at > TIMESTAMP '2026-11-01 12:00') + (SELECT count(*) FROM follows WHERE created_at > TIMESTAMP '2026-11-01 12:00')`,
	} {
		if n := count(t, target, q); n != 0 {
			t.Errorf("%s: %d rows", name, n)
		}
	}

	var hash string
	if err := target.Raw(`SELECT password FROM users WHERE id = 1000`).Scan(&hash).Error; err != nil {
		t.Fatal(err)
	}
	if err := bcrypt.CompareHashAndPassword([]byte(hash), []byte("password123")); err != nil {
		t.Errorf("a scale user cannot log in with password123: %v", err)
	}
	if !strings.Contains(h.stderr.String(), "one precomputed bcrypt hash") {
		t.Errorf("the output does not say that users share one hash:\n%s", h.stderr.String())
	}

	// After the load the database behaves as usual: sequences continue after the loaded ids
	// and the counter triggers are on again.
	var id int32
	if err := target.Raw(`INSERT INTO users (username, email, password) VALUES ('late', 'late@example.com', 'x') RETURNING id`).Scan(&id).Error; err != nil {
		t.Fatal(err)
	}
	if id != 1001 {
		t.Errorf("the next user got id %d, want 1001", id)
	}
	mustExec(t, target, `INSERT INTO videos (user_id, video_url) VALUES (1001, 'u')`)
	mustExec(t, target, `INSERT INTO video_likes (user_id, video_id) SELECT 1, id FROM videos WHERE user_id = 1001`)
	mustExec(t, target, `INSERT INTO follows (follower_id, following_id) VALUES (1, 1001)`)
	if n := count(t, target, `SELECT id FROM videos WHERE user_id = 1001`); n != 10001 {
		t.Errorf("the next video got id %d, want 10001", n)
	}
	testdb.AssertCountersExact(t, target)
	if n := count(t, target, `SELECT like_count + follower_count + video_count FROM user_counts WHERE id = 1001`); n != 3 {
		t.Errorf("the new user's counters add up to %d, want 3 (the triggers are off?)", n)
	}

	// Those writes left counter deltas pending (no folder runs here); a second load, whose
	// triggers are off, must not leave them behind for rows that no longer mean the same.
	if n := count(t, target, `SELECT count(*) FROM user_counter_deltas`); n == 0 {
		t.Fatal("no deltas pending before the second load: the test proves nothing")
	}
	h.mustRun(t, smallScale...)
	testdb.AssertCountersExact(t, target)
}

func TestScaleModeIsDeterministicAndHandlesFullSaturation(t *testing.T) {
	target, _ := testdb.NewDatabase(t)
	h := newHarness(target, config.EnvDevelopment)
	// Every possible pair: each video liked by every user, everybody following everybody.
	full := []string{"-users", "6", "-videos", "5", "-likes", "30", "-comments", "4", "-comment-likes", "24", "-follows", "30"}
	h.mustRun(t, full...)
	for table, want := range map[string]int64{"video_likes": 30, "comment_likes": 24, "follows": 30} {
		if got := count(t, target, `SELECT count(*) FROM `+table); got != want {
			t.Errorf("%s: got %d rows, want %d", table, got, want)
		}
	}
	testdb.AssertCountersExact(t, target)
	assertNoDuplicatesOrSelfFollows(t, target)

	medium := []string{"-users", "200", "-videos", "1000", "-likes", "8000", "-comments", "1500", "-comment-likes", "2000", "-follows", "3000"}
	h.mustRun(t, medium...)
	first := dump(t, target)
	h.mustRun(t, medium...)
	if second := dump(t, target); second != first {
		t.Fatalf("a second scale run with the same seed made different data:\n%s", firstDifference(first, second))
	}
}

func TestScaleModeFailingMidwayChangesNothing(t *testing.T) {
	target, _ := testdb.NewDatabase(t)
	h := newHarness(target, config.EnvDevelopment)
	h.mustRun(t, "-users", "50", "-videos", "100", "-likes", "500", "-follows", "100")
	// Follows are loaded last, after every other table has been wiped and refilled.
	breakFollows(t, target)
	before, beforeSchema := dump(t, target), schema(t, target)
	err := h.run(t, "-users", "60", "-videos", "120", "-likes", "600", "-follows", "120")
	if err == nil || !strings.Contains(err.Error(), "Nothing was changed") || !strings.Contains(err.Error(), "run the same command again") {
		t.Fatalf("got %v, want a failure that says nothing was changed and how to rerun", err)
	}
	if after := dump(t, target); after != before {
		t.Fatalf("a failed scale run changed the data:\n%s", firstDifference(before, after))
	}
	after := schema(t, target)
	if !strings.Contains(after, "seeders_test_no_new_follows") {
		t.Fatal("the failing constraint is gone")
	}
	if after != beforeSchema {
		t.Fatalf("a failed scale run changed the schema:\n%s", firstDifference(beforeSchema, after))
	}
}

func mustExec(t *testing.T, db *gorm.DB, q string, args ...any) {
	t.Helper()
	if err := db.Exec(q, args...).Error; err != nil {
		t.Fatalf("%v\n%s", err, q)
	}
}

// assertTagsAreTheCaptions checks that every video's stored tags are what the parser finds in
// its caption.
func assertTagsAreTheCaptions(t *testing.T, d *gorm.DB) {
	t.Helper()
	var rows []struct {
		ID      int32
		Caption *string
		Tags    string
	}
	if err := d.Raw(`SELECT v.id, v.caption, COALESCE((SELECT string_agg(h.name, ' ' ORDER BY h.name)
			FROM video_hashtags vh JOIN hashtags h ON h.id = vh.hashtag_id WHERE vh.video_id = v.id), '') AS tags
		FROM videos v`).Scan(&rows).Error; err != nil {
		t.Fatal(err)
	}
	for _, r := range rows {
		var want []string
		if r.Caption != nil {
			want = slices.Clone(hashtag.Parse(*r.Caption))
		}
		slices.Sort(want)
		if r.Tags != strings.Join(want, " ") {
			t.Fatalf("video %d %q: stored tags %q, the caption has %q", r.ID, *r.Caption, r.Tags, want)
		}
	}
}
