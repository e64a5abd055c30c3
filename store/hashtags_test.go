package store_test

import (
	"errors"
	"fmt"
	"math/rand/v2"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"tiktok/internal/testdb"
	"tiktok/models"
	"tiktok/store"
)

// storedTags lists video id's tags from video_hashtags, sorted.
func storedTags(t testing.TB, id int32) []string {
	t.Helper()
	var names []string
	must(t, db.Raw(`SELECT h.name FROM video_hashtags vh JOIN hashtags h ON h.id = vh.hashtag_id
		WHERE vh.video_id = ? ORDER BY h.name`, id).Scan(&names).Error)
	return names
}

func tagCount(t testing.TB, name string) int32 {
	t.Helper()
	var n []int32
	must(t, db.Raw(`SELECT video_count FROM hashtags WHERE name = ?`, name).Scan(&n).Error)
	if len(n) == 0 {
		return -1
	}
	return n[0]
}

func textPtr(s string) *string { return &s }

func TestTagsFollowCreateEditAndDelete(t *testing.T) {
	st := store.New(db)
	owner := newUser(t, "tagger").ID
	a, b, c := unique("a"), unique("b"), unique("c")
	v := &models.Video{UserID: owner, VideoURL: "https://cdn.example.com/x.mp4",
		Caption: textPtr(fmt.Sprintf("first #%s and #%s, #%s again", a, strings.ToUpper(b), a))}
	_, err := st.Videos.Create(ctx, v)
	must(t, err)
	if got := storedTags(t, v.ID); !slices.Equal(got, sorted(a, b)) {
		t.Fatalf("after create: %q", got)
	}
	w := &models.Video{UserID: owner, VideoURL: "https://cdn.example.com/y.mp4", Caption: textPtr("#" + b)}
	_, err = st.Videos.Create(ctx, w)
	must(t, err)
	if tagCount(t, a) != 1 || tagCount(t, b) != 2 {
		t.Fatalf("counts a %d b %d, want 1 and 2", tagCount(t, a), tagCount(t, b))
	}

	edit := func(caption *string) {
		t.Helper()
		must(t, st.Videos.Update(ctx, owner, v.ID, store.VideoUpdate{Caption: store.TextChange{Set: true, Value: caption}}))
	}
	edit(textPtr("now #" + c + " #" + b))
	if got := storedTags(t, v.ID); !slices.Equal(got, sorted(b, c)) {
		t.Fatalf("after edit: %q", got)
	}
	if tagCount(t, a) != 0 || tagCount(t, b) != 2 || tagCount(t, c) != 1 {
		t.Fatalf("after edit a %d b %d c %d", tagCount(t, a), tagCount(t, b), tagCount(t, c))
	}
	// Editing only the sound leaves the tags alone; clearing the caption drops them all.
	must(t, st.Videos.Update(ctx, owner, v.ID, store.VideoUpdate{AudioName: store.TextChange{Set: true, Value: textPtr("song")}}))
	if got := storedTags(t, v.ID); len(got) != 2 {
		t.Fatalf("a sound edit changed the tags: %q", got)
	}
	edit(nil)
	if got := storedTags(t, v.ID); len(got) != 0 || tagCount(t, b) != 1 || tagCount(t, c) != 0 {
		t.Fatalf("after clearing: %q, b %d c %d", got, tagCount(t, b), tagCount(t, c))
	}
	edit(textPtr("#" + a))
	_, err = st.Videos.Delete(ctx, owner, v.ID)
	must(t, err)
	_, err = st.Videos.Delete(ctx, owner, w.ID)
	must(t, err)
	if tagCount(t, a) != 0 || tagCount(t, b) != 0 {
		t.Fatalf("after deletes a %d b %d", tagCount(t, a), tagCount(t, b))
	}
	testdb.AssertCountersExact(t, db)
}

func sorted(s ...string) []string { slices.Sort(s); return s }

// Names no caption can carry are never stored: too long, or no tag at all.
func TestInvalidTagsAreNotStored(t *testing.T) {
	st := store.New(db)
	owner := newUser(t, "badtags").ID
	long := unique("x") + strings.Repeat("y", 100)
	v := &models.Video{UserID: owner, VideoURL: "https://cdn.example.com/x.mp4",
		Caption: textPtr("#" + long + " a#b ## # #-x")}
	_, err := st.Videos.Create(ctx, v)
	must(t, err)
	if got := storedTags(t, v.ID); len(got) != 0 {
		t.Fatalf("stored %q", got)
	}
	var n int64
	must(t, db.Raw(`SELECT count(*) FROM hashtags WHERE name LIKE ? OR name IN ('b', '-x', '')`, long[:10]+"%").Scan(&n).Error)
	if n != 0 {
		t.Fatalf("%d invalid names stored", n)
	}
}

// A create that fails after its tags went in leaves neither the video nor a new tag name.
func TestAFailedCreateLeavesNoTags(t *testing.T) {
	st := store.New(db)
	owner := newUser(t, "rollback").ID
	name := unique("gone")
	boom := errors.New("boom")
	err := st.Transact(ctx, func(tx *store.Store) error {
		v := &models.Video{UserID: owner, VideoURL: "https://cdn.example.com/x.mp4", Caption: textPtr("#" + name)}
		if _, err := tx.Videos.Create(ctx, v); err != nil {
			return err
		}
		return boom
	})
	if !errors.Is(err, boom) {
		t.Fatalf("err %v", err)
	}
	if tagCount(t, name) != -1 {
		t.Fatalf("the tag of a rolled-back video was kept")
	}
}

// Fifty owners editing captions at once, each naming a random subset of the same tags in a
// random order, swap tags in every direction: no deadlock reaches the caller, and every count
// equals COUNT(*) at the end.
func TestConcurrentCaptionEditsKeepTagCountsExact(t *testing.T) {
	st := store.New(db)
	tags := make([]string, 8)
	for i := range tags {
		tags[i] = unique(fmt.Sprintf("hot%d", i))
	}
	const editors = 50
	owners := newUsers(t, "editor", editors)
	videos := make([]int32, editors)
	for i, o := range owners {
		videos[i] = newVideo(t, o).ID
	}
	deadlocksBefore := deadlocks(t)
	var wg sync.WaitGroup
	errs := make(chan error, editors*10)
	for i := range editors {
		wg.Add(1)
		go func() {
			defer wg.Done()
			r := rand.New(rand.NewPCG(uint64(i), 3))
			for range 10 {
				var caption strings.Builder
				for _, k := range r.Perm(len(tags))[:r.IntN(len(tags))] {
					fmt.Fprintf(&caption, "#%s ", tags[k])
				}
				if r.IntN(2) == 0 {
					caption.WriteString("#new_" + unique("n")) // a name nobody has yet
				}
				err := st.Videos.Update(ctx, owners[i], videos[i],
					store.VideoUpdate{Caption: store.TextChange{Set: true, Value: textPtr(caption.String())}})
				if err != nil {
					errs <- err
				}
			}
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Errorf("edit failed: %v", err)
	}
	testdb.AssertCountersExact(t, db)
	// Transact retries a deadlock, so the caller would not see one: the lock order must have
	// kept PostgreSQL from detecting any.
	if n := deadlocks(t) - deadlocksBefore; n != 0 {
		t.Errorf("%d deadlocks detected (and retried) during the edits", n)
	}
	for _, tag := range tags {
		var rows int64
		must(t, db.Raw(`SELECT count(*) FROM video_hashtags vh JOIN hashtags h ON h.id = vh.hashtag_id WHERE h.name = ?`, tag).Scan(&rows).Error)
		if int64(tagCount(t, tag)) != rows {
			t.Errorf("%s: video_count %d, COUNT(*) %d", tag, tagCount(t, tag), rows)
		}
	}
}

// deadlocks is the number of deadlocks PostgreSQL detected in this database, once the
// backends that saw them have reported (a backend flushes its statistics within a second of
// going idle).
func deadlocks(t testing.TB) int64 {
	t.Helper()
	time.Sleep(1500 * time.Millisecond)
	var n int64
	must(t, db.Exec(`SELECT pg_stat_clear_snapshot()`).Error)
	must(t, db.Raw(`SELECT deadlocks FROM pg_stat_database WHERE datname = current_database()`).Scan(&n).Error)
	return n
}

// Trending tags are served from memory for the TTL, then computed again; a TTL of 0 computes
// them on every call.
func TestTrendingTagsAreCachedForTheTTL(t *testing.T) {
	owner := newUser(t, "trend").ID
	cached := store.New(db, store.WithTrendingTTL(time.Hour))
	live := store.New(db, store.WithTrendingTTL(0))
	tag := unique("surge")
	first, err := cached.Hashtags.Trending(ctx, store.MaxLimit)
	must(t, err)
	for range 200 { // enough uses today to rank first
		v := &models.Video{UserID: owner, VideoURL: "https://cdn.example.com/x.mp4", Caption: textPtr("#" + tag)}
		_, err := live.Videos.Create(ctx, v)
		must(t, err)
	}
	again, err := cached.Hashtags.Trending(ctx, store.MaxLimit)
	must(t, err)
	if !slices.Equal(first, again) {
		t.Fatalf("the cached list changed within its TTL")
	}
	now, err := live.Hashtags.Trending(ctx, 1)
	must(t, err)
	if len(now) != 1 || now[0].Name != tag || now[0].RecentCount != 200 || now[0].VideoCount != 200 {
		t.Fatalf("live trending: %+v", now)
	}
}
