package database_test

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/jackc/pgx/v5/pgconn"
	"gorm.io/gorm"

	"tiktok/database"
	"tiktok/internal/testdb"
)

// stormDB is a fresh migrated database with pools of the given sizes (the package's pool is
// small): writers, folders and a checker each get their own, so none waits for another's
// connections.
func stormDB(t *testing.T, conns ...int) []*gorm.DB {
	t.Helper()
	fresh, url := testdb.NewDatabase(t)
	if err := database.Migrate(t.Context(), fresh); err != nil {
		t.Fatal(err)
	}
	var pools []*gorm.DB
	for _, n := range conns {
		db, err := database.Open(t.Context(), url, database.PoolOptions{MaxOpenConns: n, MaxIdleConns: n, ConnMaxLifetime: time.Hour}, 5*time.Second, nil)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() {
			if sqlDB, err := db.DB(); err == nil {
				_ = sqlDB.Close()
			}
		})
		pools = append(pools, db)
	}
	return pools
}

// deadlocked reports PostgreSQL breaking a deadlock by failing this side (40P01): what a
// writer running beside recount_counters() may meet (migrations_counter_deltas.go), and
// retries.
func deadlocked(err error) bool {
	var pgErr *pgconn.PgError
	return errors.As(err, &pgErr) && pgErr.Code == "40P01"
}

// TestCountersAreExactAtEveryMomentOfAStormOfPlainSQL is the invariant of the counter deltas
// (stored column + pending deltas = COUNT(*)) under 100 concurrent writers in plain SQL, as
// psql or a Prisma client writes: likes of one hot video and of the 100 videos of one author,
// bookmarks, comments and replies on the hot video, likes of its hot comment, follows of the
// author. Meanwhile two folders (two server instances) fold with small batches, one session
// recounts everything once, and a checker verifies every counter at random moments, each
// counter in one snapshot. At the end the folders empty the deltas and the stored columns
// alone are exact.
func TestCountersAreExactAtEveryMomentOfAStormOfPlainSQL(t *testing.T) {
	const writers, rounds = 100, 25
	pools := stormDB(t, 16, 2, 1) // CI runs two packages at once on max_connections = 100
	db, folders, checker := pools[0], pools[1], pools[2]
	f := newFixture(t, db, writers)
	author := f.users[0]
	hotVideo, hotComment := f.videos[0], f.comments[0]
	authorVideos := []int32{hotVideo}
	for range 99 {
		var id int32
		testdb.MustScan(t, db, &id, `INSERT INTO videos (user_id, video_url) VALUES (?, 'https://example.com/v.mp4') RETURNING id`, author)
		authorVideos = append(authorVideos, id)
	}

	ctx, stop := context.WithCancel(t.Context())
	defer stop()
	var background sync.WaitGroup
	var folded atomic.Int64
	for range 2 { // two instances' folders
		background.Add(1)
		go func() {
			defer background.Done()
			for ctx.Err() == nil {
				var n int64
				if err := folders.WithContext(ctx).Raw(`SELECT fold_counter_deltas(7)`).Scan(&n).Error; err != nil && ctx.Err() == nil {
					t.Errorf("fold: %v", err)
					return
				}
				folded.Add(n)
				time.Sleep(time.Duration(rand.IntN(3)) * time.Millisecond)
			}
		}()
	}
	var checks atomic.Int64
	background.Add(1)
	go func() { // the checker, at random moments
		defer background.Done()
		for ctx.Err() == nil {
			time.Sleep(time.Duration(rand.IntN(15)) * time.Millisecond)
			wrong, err := testdb.WrongCounters(checker.WithContext(ctx))
			if err != nil {
				if ctx.Err() == nil {
					t.Errorf("check: %v", err)
				}
				return
			}
			for name, n := range wrong {
				t.Errorf("during the storm (check %d): %s wrong on %d rows", checks.Load(), name, n)
			}
			checks.Add(1)
		}
	}()

	var wg sync.WaitGroup
	for w := range writers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			me := f.users[w]
			r := rand.New(rand.NewPCG(uint64(w), 15))
			for i := range rounds {
				if w == 0 && i == rounds/2 {
					// A recount in the middle of the storm: it holds the delta writers back
					// while it counts, so no change slips between its count and its delete.
					if err := retryDeadlock(func() error { return db.Exec(`SELECT recount_counters()`).Error }); err != nil {
						t.Errorf("recount during the storm: %v", err)
					}
				}
				q, args := stormWrite(r, me, author, hotVideo, hotComment, authorVideos)
				if err := retryDeadlock(func() error { return db.Exec(q, args...).Error }); err != nil {
					t.Errorf("%s: %v", q, err)
				}
			}
		}()
	}
	wg.Wait()
	stop()
	background.Wait()
	if checks.Load() < 5 || folded.Load() == 0 {
		t.Fatalf("the storm proved little: %d checks, %d rows folded", checks.Load(), folded.Load())
	}
	testdb.AssertCountersExact(t, db)

	for {
		var n int64
		testdb.MustScan(t, db, &n, `SELECT fold_counter_deltas(1000)`)
		if n == 0 {
			break
		}
	}
	var pending int64
	testdb.MustScan(t, db, &pending, `SELECT (SELECT count(*) FROM user_counter_deltas) + (SELECT count(*) FROM video_counter_deltas)
		+ (SELECT count(*) FROM comment_counter_deltas)`)
	if pending != 0 {
		t.Fatalf("%d deltas left after folding until nothing was folded", pending)
	}
	testdb.AssertCountersExact(t, db) // now the stored columns alone
}

func retryDeadlock(run func() error) error {
	for {
		if err := run(); !deadlocked(err) {
			return err
		}
	}
}

// stormWrite is one random write of the storm by user me.
func stormWrite(r *rand.Rand, me, author, hotVideo, hotComment int32, authorVideos []int32) (string, []any) {
	anyVideo := authorVideos[r.IntN(len(authorVideos))]
	switch r.IntN(12) {
	case 0, 1:
		return `INSERT INTO video_likes (user_id, video_id) VALUES (?, ?) ON CONFLICT DO NOTHING`, []any{me, hotVideo}
	case 2:
		return `DELETE FROM video_likes WHERE user_id = ? AND video_id = ?`, []any{me, hotVideo}
	case 3:
		return `INSERT INTO video_likes (user_id, video_id) VALUES (?, ?) ON CONFLICT DO NOTHING`, []any{me, anyVideo}
	case 4:
		return `DELETE FROM video_likes WHERE user_id = ? AND video_id = ?`, []any{me, anyVideo}
	case 5:
		return `INSERT INTO video_bookmarks (user_id, video_id) VALUES (?, ?) ON CONFLICT DO NOTHING`, []any{me, hotVideo}
	case 6:
		return `DELETE FROM video_bookmarks WHERE user_id = ? AND video_id = ?`, []any{me, hotVideo}
	case 7:
		return `INSERT INTO comment_likes (user_id, comment_id) VALUES (?, ?) ON CONFLICT DO NOTHING`, []any{me, hotComment}
	case 8:
		return `INSERT INTO comments (user_id, video_id, content, parent_id) VALUES (?, ?, 'reply', ?)`, []any{me, hotVideo, hotComment}
	case 9:
		return `DELETE FROM comments WHERE id = (SELECT max(id) FROM comments WHERE video_id = ? AND user_id = ? AND id <> ?)`, []any{hotVideo, me, hotComment}
	case 10:
		if me == author {
			return `SELECT 1`, nil
		}
		return `INSERT INTO follows (follower_id, following_id) VALUES (?, ?) ON CONFLICT DO NOTHING`, []any{me, author}
	default:
		return `DELETE FROM follows WHERE follower_id = ? AND following_id = ?`, []any{me, author}
	}
}

// TestAFoldCutShortLosesNothing: a folder's session dies in the middle of a fold (its
// transaction has deleted deltas and updated rows, uncommitted), as when a server crashes
// between a like and the fold. Every count stays exact before, during and after; the deltas
// are all still there, and the next fold merges them.
func TestAFoldCutShortLosesNothing(t *testing.T) {
	db := stormDB(t, 4)[0]
	f := newFixture(t, db, 5)
	for _, u := range f.users {
		testdb.MustRun(t, db, `INSERT INTO video_likes (user_id, video_id) VALUES (?, ?)`, u, f.videos[0])
		if u != f.users[0] {
			testdb.MustRun(t, db, `INSERT INTO follows (follower_id, following_id) VALUES (?, ?)`, u, f.users[0])
		}
	}
	var before int64
	testdb.MustScan(t, db, &before, `SELECT count(*) FROM video_counter_deltas`)
	if before == 0 {
		t.Fatal("no deltas pending: the likes were folded already?")
	}

	sqlDB, err := db.DB()
	if err != nil {
		t.Fatal(err)
	}
	conn, err := sqlDB.Conn(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	var pid int
	if err := conn.QueryRowContext(t.Context(), `SELECT pg_backend_pid()`).Scan(&pid); err != nil {
		t.Fatal(err)
	}
	if _, err := conn.ExecContext(t.Context(), `BEGIN`); err != nil {
		t.Fatal(err)
	}
	var updated int64
	if err := conn.QueryRowContext(t.Context(), `SELECT fold_counter_deltas(1000)`).Scan(&updated); err != nil || updated == 0 {
		t.Fatalf("the fold inside the transaction: %d rows, %v", updated, err)
	}
	testdb.AssertCountersExact(t, db) // others see the state before the fold

	testdb.MustRun(t, db, `SELECT pg_terminate_backend(?)`, pid)
	var after int64
	testdb.MustScan(t, db, &after, `SELECT count(*) FROM video_counter_deltas`)
	if after != before {
		t.Fatalf("%d video deltas after the folder died, %d before", after, before)
	}
	testdb.AssertCountersExact(t, db)
	testdb.MustScan(t, db, &updated, `SELECT fold_counter_deltas(1000)`)
	testdb.MustScan(t, db, &after, `SELECT count(*) FROM video_counter_deltas`)
	if updated == 0 || after != 0 {
		t.Fatalf("the next fold updated %d rows and left %d deltas", updated, after)
	}
	var likes int32
	testdb.MustScan(t, db, &likes, `SELECT like_count FROM videos WHERE id = ?`, f.videos[0])
	if likes != int32(len(f.users)) {
		t.Fatalf("stored like_count %d after the fold, want %d", likes, len(f.users))
	}
	testdb.AssertCountersExact(t, db)
}

// TestAFolderSkipsWhatAnotherFolderHolds: two instances fold at once; the second neither
// waits for the first (a statement timeout would fail it) nor folds the rows the first holds,
// and the counts stay exact through both commits.
func TestAFolderSkipsWhatAnotherFolderHolds(t *testing.T) {
	db := stormDB(t, 4)[0]
	f := newFixture(t, db, 3)
	for _, u := range f.users {
		for _, v := range f.videos {
			testdb.MustRun(t, db, `INSERT INTO video_likes (user_id, video_id) VALUES (?, ?)`, u, v)
		}
	}
	first := db.Begin()
	defer first.Rollback()
	var n1 int64
	testdb.MustScan(t, first, &n1, `SELECT fold_counter_deltas(1000)`)
	if n1 == 0 {
		t.Fatal("the first folder folded nothing")
	}
	second := db.Begin()
	defer second.Rollback()
	testdb.MustRun(t, second, `SET LOCAL statement_timeout = '2s'`)
	var n2 int64
	testdb.MustScan(t, second, &n2, `SELECT fold_counter_deltas(1000)`)
	if n2 != 0 {
		t.Fatalf("the second folder folded %d rows the first one holds", n2)
	}
	if err := second.Commit().Error; err != nil {
		t.Fatal(err)
	}
	testdb.AssertCountersExact(t, db)
	if err := first.Commit().Error; err != nil {
		t.Fatal(err)
	}
	testdb.AssertCountersExact(t, db)
	var left int64
	testdb.MustScan(t, db, &left, `SELECT count(*) FROM video_counter_deltas`)
	if left != 0 {
		t.Fatalf("%d video deltas left after both folds", left)
	}
}

// TestTheCountViewsAreExact: user_counts, video_counts and comment_counts (for SQL readers)
// add the pending deltas to the stored columns.
func TestTheCountViewsAreExact(t *testing.T) {
	db := stormDB(t, 2)[0]
	f := newFixture(t, db, 3)
	for _, u := range f.users[1:] {
		testdb.MustRun(t, db, `INSERT INTO video_likes (user_id, video_id) VALUES (?, ?)`, u, f.videos[0])
		testdb.MustRun(t, db, `INSERT INTO comment_likes (user_id, comment_id) VALUES (?, ?)`, u, f.comments[0])
		testdb.MustRun(t, db, `INSERT INTO follows (follower_id, following_id) VALUES (?, ?)`, u, f.users[0])
	}
	var got string
	testdb.MustScan(t, db, &got, `SELECT format('%s %s %s %s', (SELECT like_count FROM video_counts WHERE id = ?),
		(SELECT like_count FROM comment_counts WHERE id = ?), (SELECT follower_count FROM user_counts WHERE id = ?),
		(SELECT like_count FROM user_counts WHERE id = ?))`, f.videos[0], f.comments[0], f.users[0], f.users[0])
	if want := fmt.Sprintf("%d %d %d %d", 2, 2, 2, 2); got != want {
		t.Fatalf("video likes, comment likes, followers, likes received = %s, want %s", got, want)
	}
}
