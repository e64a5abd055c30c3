package database_test

import (
	"fmt"
	"math/rand/v2"
	"sync"
	"testing"

	"gorm.io/gorm"

	"tiktok/internal/testdb"
)

// fixture inserts n users with one video and one comment each and returns their ids.
type fixture struct{ users, videos, comments []int32 }

func newFixture(t *testing.T, db *gorm.DB, n int) fixture {
	t.Helper()
	var f fixture
	tag := rand.Int64()
	for i := range n {
		var uid, vid, cid int32
		if err := db.Raw(`INSERT INTO users (username, email, password) VALUES (?, ?, 'x') RETURNING id`,
			fmt.Sprintf("u%d_%d", tag, i), fmt.Sprintf("u%d_%d@example.com", tag, i)).Scan(&uid).Error; err != nil {
			t.Fatal(err)
		}
		testdb.MustScan(t, db, &vid, `INSERT INTO videos (user_id, video_url) VALUES (?, 'https://example.com/v.mp4') RETURNING id`, uid)
		testdb.MustScan(t, db, &cid, `INSERT INTO comments (user_id, video_id, content) VALUES (?, ?, 'hi') RETURNING id`, uid, vid)
		f.users, f.videos, f.comments = append(f.users, uid), append(f.videos, vid), append(f.comments, cid)
	}
	return f
}

func TestCountersStayExactUnderConcurrentPlainSQL(t *testing.T) {
	f := newFixture(t, db, 6)
	hotVideo, hotComment := f.videos[0], f.comments[0]
	a, b := f.users[0], f.users[1]

	const workers = 50
	var wg sync.WaitGroup
	errs := make(chan error, workers*40)
	for w := range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			me := f.users[w%len(f.users)]
			r := rand.New(rand.NewPCG(uint64(w), 7))
			for range 40 {
				var err error
				switch r.IntN(8) {
				case 0:
					err = db.Exec(`INSERT INTO video_likes (user_id, video_id) VALUES (?, ?) ON CONFLICT DO NOTHING`, me, hotVideo).Error
				case 1:
					err = db.Exec(`DELETE FROM video_likes WHERE user_id = ? AND video_id = ?`, me, hotVideo).Error
				case 2:
					err = db.Exec(`INSERT INTO comment_likes (user_id, comment_id) VALUES (?, ?) ON CONFLICT DO NOTHING`, me, hotComment).Error
				case 3:
					err = db.Exec(`DELETE FROM comment_likes WHERE user_id = ? AND comment_id = ?`, me, hotComment).Error
				case 4: // A follows B and B follows A, racing: must not deadlock
					from, to := a, b
					if w%2 == 1 {
						from, to = b, a
					}
					err = db.Exec(`INSERT INTO follows (follower_id, following_id) VALUES (?, ?) ON CONFLICT DO NOTHING`, from, to).Error
				case 5:
					from, to := a, b
					if w%2 == 1 {
						from, to = b, a
					}
					err = db.Exec(`DELETE FROM follows WHERE follower_id = ? AND following_id = ?`, from, to).Error
				case 6:
					err = db.Exec(`INSERT INTO comments (user_id, video_id, content) VALUES (?, ?, 'c')`, me, hotVideo).Error
				case 7:
					err = db.Exec(`DELETE FROM comments WHERE id = (SELECT id FROM comments WHERE video_id = ? AND id <> ? ORDER BY id LIMIT 1)`, hotVideo, hotComment).Error
				}
				if err != nil {
					errs <- err
				}
			}
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Errorf("concurrent write failed: %v", err)
	}
	testdb.AssertCountersExact(t, db)
}

func TestCountersFollowDeletesTruncatesAndIgnoreDirectWrites(t *testing.T) {
	fresh := freshMigrated(t)
	f := newFixture(t, fresh, 4)
	exec := func(q string, args ...any) {
		t.Helper()
		if err := fresh.Exec(q, args...).Error; err != nil {
			t.Fatalf("%v\n%s", err, q)
		}
	}
	for _, u := range f.users {
		for _, v := range f.videos {
			exec(`INSERT INTO video_likes (user_id, video_id) VALUES (?, ?)`, u, v)
		}
		for _, c := range f.comments {
			exec(`INSERT INTO comment_likes (user_id, comment_id) VALUES (?, ?)`, u, c)
		}
		if u != f.users[0] {
			exec(`INSERT INTO follows (follower_id, following_id) VALUES (?, ?)`, u, f.users[0])
		}
	}
	testdb.AssertCountersExact(t, fresh)

	// A direct write of a counter (psql, or an ORM saving a stale copy) is ignored.
	exec(`UPDATE videos SET like_count = 999, comment_count = 999, caption = 'edited' WHERE id = ?`, f.videos[0])
	exec(`UPDATE users SET follower_count = 999, name = 'x' WHERE id = ?`, f.users[0])
	exec(`INSERT INTO videos (user_id, video_url, like_count) VALUES (?, 'u', 50)`, f.users[1])
	testdb.AssertCountersExact(t, fresh)

	// Moving rows between parents moves their counts.
	exec(`UPDATE comments SET video_id = ? WHERE id = ?`, f.videos[1], f.comments[0])
	exec(`UPDATE videos SET user_id = ? WHERE id = ?`, f.users[2], f.videos[3])
	exec(`UPDATE follows SET following_id = ? WHERE follower_id = ? AND following_id = ?`, f.users[3], f.users[1], f.users[0])
	testdb.AssertCountersExact(t, fresh)

	// Deleting a video settles its author's likes received; deleting a user cascades.
	exec(`DELETE FROM videos WHERE id = ?`, f.videos[0])
	exec(`DELETE FROM users WHERE id = ?`, f.users[1])
	testdb.AssertCountersExact(t, fresh)

	// TRUNCATE fires no row triggers; the statement trigger recounts.
	exec(`TRUNCATE video_likes`)
	exec(`TRUNCATE follows`)
	testdb.AssertCountersExact(t, fresh)
	var total int64
	testdb.MustScan(t, fresh, &total, `SELECT sum(like_count + follower_count + following_count) FROM users`)
	if total != 0 {
		t.Fatalf("after TRUNCATE users still count %d likes and follows", total)
	}
}

// TestRecountCountersRecountsEveryCounter: recount_counters() is rewritten by each migration
// that adds a counter (recountCounters), so after every migration it must still mend each one:
// counters set wrong on purpose (as a bulk load with the guard off would leave them) all come
// back equal to their rows.
func TestRecountCountersRecountsEveryCounter(t *testing.T) {
	fresh := freshMigrated(t)
	f := newFixture(t, fresh, 3)
	for _, u := range f.users {
		testdb.MustRun(t, fresh, `INSERT INTO video_likes (user_id, video_id) VALUES (?, ?)`, u, f.videos[0])
		testdb.MustRun(t, fresh, `INSERT INTO video_bookmarks (user_id, video_id) VALUES (?, ?)`, u, f.videos[0])
		testdb.MustRun(t, fresh, `INSERT INTO comments (user_id, video_id, content, parent_id) VALUES (?, ?, 'reply', ?)`, u, f.videos[0], f.comments[0])
	}
	err := fresh.Transaction(func(tx *gorm.DB) error {
		testdb.MustRun(t, tx, `SELECT set_config('tiktok.recounting', 'on', true)`)
		testdb.MustRun(t, tx, `UPDATE videos SET like_count = 7, comment_count = 7, bookmark_count = 7`)
		testdb.MustRun(t, tx, `UPDATE comments SET like_count = 7, reply_count = 7`)
		testdb.MustRun(t, tx, `UPDATE users SET follower_count = 7, following_count = 7, video_count = 7, like_count = 7`)
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	var wrong int64
	testdb.MustScan(t, fresh, &wrong, `SELECT count(*) FROM videos WHERE bookmark_count = 7`)
	if wrong == 0 {
		t.Fatal("the counters were not set wrong: the test proves nothing")
	}
	testdb.MustRun(t, fresh, `SELECT recount_counters()`)
	testdb.AssertCountersExact(t, fresh)
}
