package database_test

import (
	"fmt"
	"math/rand/v2"
	"sync"
	"testing"

	"tiktok/internal/testdb"
)

// Tag counts follow inserts, deletes, moves, cascades and TRUNCATE of video_hashtags, ignore
// direct writes, and the join rows carry their video's created_at.
func TestHashtagCountsFollowEveryWrite(t *testing.T) {
	fresh := freshMigrated(t)
	f := newFixture(t, fresh, 4)
	exec := func(q string, args ...any) {
		t.Helper()
		if err := fresh.Exec(q, args...).Error; err != nil {
			t.Fatalf("%v\n%s", err, q)
		}
	}
	count := func(name string) (n int32) {
		t.Helper()
		testdb.MustScan(t, fresh, &n, `SELECT video_count FROM hashtags WHERE name = ?`, name)
		return n
	}
	exec(`INSERT INTO hashtags (name, video_count) VALUES ('dance', 77), ('cat', 0), ('fyp', 0)`)
	if n := count("dance"); n != 0 {
		t.Fatalf("a new tag starts at %d, want 0 whatever the INSERT says", n)
	}
	for _, v := range f.videos {
		exec(`INSERT INTO video_hashtags (video_id, hashtag_id) SELECT ?, id FROM hashtags WHERE name IN ('dance', 'fyp')`, v)
	}
	exec(`INSERT INTO video_hashtags (video_id, hashtag_id) SELECT ?, id FROM hashtags WHERE name = 'cat'`, f.videos[0])
	testdb.AssertCountersExact(t, fresh)
	if count("dance") != 4 || count("cat") != 1 {
		t.Fatalf("dance %d cat %d, want 4 and 1", count("dance"), count("cat"))
	}

	exec(`UPDATE hashtags SET video_count = 999, name = 'dancing' WHERE name = 'dance'`)
	if n := count("dancing"); n != 4 {
		t.Fatalf("a direct write of video_count stuck: %d", n)
	}
	exec(`UPDATE video_hashtags SET hashtag_id = (SELECT id FROM hashtags WHERE name = 'cat')
		WHERE video_id = ? AND hashtag_id = (SELECT id FROM hashtags WHERE name = 'fyp')`, f.videos[1])
	exec(`UPDATE videos SET created_at = created_at - interval '3 days' WHERE id = ?`, f.videos[2])
	exec(`INSERT INTO video_likes (user_id, video_id) VALUES (?, ?)`, f.users[0], f.videos[2]) // the score moves
	exec(`UPDATE videos SET views = views + 100 WHERE id = ?`, f.videos[1])
	exec(`UPDATE video_hashtags SET video_id = ? WHERE video_id = ? AND hashtag_id = (SELECT id FROM hashtags WHERE name = 'cat')`, f.videos[3], f.videos[0])
	testdb.AssertCountersExact(t, fresh)

	exec(`DELETE FROM videos WHERE id = ?`, f.videos[0])
	exec(`DELETE FROM users WHERE id = ?`, f.users[1])
	testdb.AssertCountersExact(t, fresh)
	exec(`DELETE FROM hashtags WHERE name = 'fyp'`)
	testdb.AssertCountersExact(t, fresh)

	exec(`TRUNCATE video_hashtags`)
	testdb.AssertCountersExact(t, fresh)
	if count("dancing") != 0 || count("cat") != 0 {
		t.Fatalf("after TRUNCATE: dancing %d cat %d", count("dancing"), count("cat"))
	}
	exec(`INSERT INTO video_hashtags (video_id, hashtag_id) SELECT ?, id FROM hashtags`, f.videos[2])
	exec(`TRUNCATE videos CASCADE`)
	testdb.AssertCountersExact(t, fresh)
	var uses int64
	testdb.MustScan(t, fresh, &uses, `SELECT count(*) FROM hashtag_daily_uses`)
	if uses != 0 || count("cat") != 0 {
		t.Fatalf("after TRUNCATE videos: %d daily rows, cat counts %d", uses, count("cat"))
	}
}

// Fifty writers adding and removing overlapping sets of tags never deadlock and never lose a
// count. Each statement names its tags in a random order; the rows go in and out by hashtag id
// (as the store writes them, after locking the tags in id order: two statements taking the same
// rows in opposite orders would deadlock on the rows themselves, trigger or not), and the
// trigger locks the tags in id order.
func TestHashtagCountsExactUnderConcurrentPlainSQL(t *testing.T) {
	f := newFixture(t, db, 8)
	salt := rand.Int64()
	names := make([]string, 6)
	for i := range names {
		names[i] = fmt.Sprintf("t%d_%d", salt, i)
		testdb.MustRun(t, db, `INSERT INTO hashtags (name) VALUES (?)`, names[i])
	}
	const workers = 50
	var wg sync.WaitGroup
	errs := make(chan error, workers*30)
	for w := range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			r := rand.New(rand.NewPCG(uint64(w), 11))
			for range 30 {
				video := f.videos[r.IntN(len(f.videos))]
				picked := make([]string, 0, 4)
				for _, i := range r.Perm(len(names))[:1+r.IntN(4)] {
					picked = append(picked, names[i])
				}
				var err error
				if r.IntN(2) == 0 {
					err = db.Exec(`INSERT INTO video_hashtags (video_id, hashtag_id)
						SELECT ?, h.id FROM unnest(?::text[]) AS p(name) JOIN hashtags h ON h.name = p.name
						ORDER BY h.id ON CONFLICT DO NOTHING`, video, pgTextArray(picked)).Error
				} else {
					// Its rows are taken in hashtag id order first: a plain DELETE takes them in
					// its plan's order (heap order for a bitmap scan, name order for a nested
					// loop), and two such deletes of one video's rows deadlock on the rows.
					err = db.Exec(`DELETE FROM video_hashtags WHERE video_id = ? AND hashtag_id IN (
						SELECT vh.hashtag_id FROM video_hashtags vh JOIN hashtags h ON h.id = vh.hashtag_id
						WHERE vh.video_id = ? AND h.name = ANY(?::text[]) ORDER BY vh.hashtag_id FOR UPDATE OF vh)`,
						video, video, pgTextArray(picked)).Error
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

func pgTextArray(ss []string) string {
	out := "{"
	for i, s := range ss {
		if i > 0 {
			out += ","
		}
		out += `"` + s + `"`
	}
	return out + "}"
}
