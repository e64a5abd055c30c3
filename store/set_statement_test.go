package store_test

import (
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"tiktok/internal/testdb"
	"tiktok/store"
)

// waitForLockWaiter returns when a backend of this database waits on a lock in a statement
// containing fragment.
func waitForLockWaiter(t *testing.T, fragment string) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for time.Now().Before(deadline) {
		var n int64
		must(t, db.Raw(`SELECT count(*) FROM pg_stat_activity WHERE datname = current_database()
			AND wait_event_type = 'Lock' AND position(? IN query) > 0`, fragment).Scan(&n).Error)
		if n > 0 {
			return
		}
		time.Sleep(10 * time.Millisecond)
	}
	t.Fatalf("no statement with %q waited on a lock within 10 s", fragment)
}

// TestASetStatementReadsTheCountAgainOnlyAfterATwin: a like (or unlike) that changes nothing
// answers the count of its own snapshot when that snapshot already held the outcome (a
// repeat: one statement), and reads it again after a twin request's change that committed
// after its snapshot (two statements), so the answer includes that change.
func TestASetStatementReadsTheCountAgainOnlyAfterATwin(t *testing.T) {
	recording, rec := testdb.Recording(db)
	st := store.New(recording)
	author, fan, twin := newUser(t, "author"), newUser(t, "fan"), newUser(t, "twin")
	v := newVideo(t, author.ID)
	set := func(user int32, like bool, wantCount int32, wantStatements int) {
		t.Helper()
		rec.Take()
		got, err := st.Likes.Set(ctx, store.VideoLikes, store.Caller{ID: user}, v.ID, like)
		must(t, err)
		stmts := slices.DeleteFunc(rec.Take(), func(s string) bool { return strings.Contains(s, "announce_notifications(") })
		if got != wantCount || len(stmts) != wantStatements {
			t.Errorf("like=%v by %d: count %d in %d statements, want %d in %d: %q", like, user, got, len(stmts), wantCount, wantStatements, stmts)
		}
	}
	set(fan.ID, true, 1, 1)
	set(fan.ID, true, 1, 1)   // a repeat: its snapshot holds the like
	set(fan.ID, false, 0, 1)  // the unlike
	set(fan.ID, false, 0, 1)  // a repeat: its snapshot holds no like
	set(twin.ID, true, 1, 1)  // the twin likes: one like again
	set(twin.ID, false, 0, 1) // and takes it back

	// Twin requests: another transaction adds the like (then removes it) first, uncommitted;
	// the statement's snapshot is taken, it waits for that row, the other commits, and the
	// statement finds its change made.
	for _, like := range []bool{true, false} {
		other := db.Begin()
		change, fragment := `INSERT INTO video_likes (user_id, video_id) VALUES (?, ?)`, "INSERT INTO video_likes"
		if !like {
			change, fragment = `DELETE FROM video_likes WHERE user_id = ? AND video_id = ?`, "DELETE FROM video_likes"
		}
		must(t, other.Exec(change, twin.ID, v.ID).Error)
		var wg sync.WaitGroup
		wg.Add(1)
		go func() {
			defer wg.Done()
			want := int32(1)
			if !like {
				want = 0
			}
			set(twin.ID, like, want, 2) // the statement, the count read again
		}()
		waitForLockWaiter(t, fragment)
		must(t, other.Commit().Error)
		wg.Wait()
	}
	testdb.AssertCountersExact(t, db)
}

// TestAnnouncementsAreBatched: notifications made while an announcement is being sent are
// announced together in the next statement, each exactly once.
func TestAnnouncementsAreBatched(t *testing.T) {
	recording, rec := testdb.Recording(db)
	st := store.New(recording)
	author := newUser(t, "author")
	v := newVideo(t, author.ID)
	fans := make([]int32, 20)
	for i := range fans {
		fans[i] = newUser(t, "fan").ID
	}
	done := listen(t)
	resume := store.PauseAnnouncements(st)
	var wg sync.WaitGroup
	for _, fan := range fans {
		wg.Add(1)
		go func() {
			defer wg.Done()
			_, err := st.Likes.Set(ctx, store.VideoLikes, store.Caller{ID: fan}, v.ID, true)
			if err != nil {
				t.Error(err)
			}
		}()
	}
	wg.Wait()
	rec.Take()
	resume()
	var announcing []string
	for _, s := range rec.Take() {
		if strings.Contains(s, "announce_notifications(") {
			announcing = append(announcing, s)
		}
	}
	if len(announcing) != 1 {
		t.Errorf("20 likes queued while an announcement ran: %d statements announced them, want 1: %q", len(announcing), announcing)
	}
	var want []string
	must(t, db.Raw(`SELECT id || ':' || user_id FROM notifications WHERE video_id = ? AND type = 'like' ORDER BY id`, v.ID).Scan(&want).Error)
	got := done()
	slices.Sort(got)
	slices.Sort(want)
	if len(want) != len(fans) || !slices.Equal(got, want) {
		t.Errorf("announced %q, want each of the %d notifications %q once", got, len(fans), want)
	}
}
