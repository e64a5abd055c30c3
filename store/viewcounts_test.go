package store_test

import (
	"strings"
	"sync"
	"testing"

	"tiktok/internal/testdb"
	"tiktok/models"
	"tiktok/store"
)

// TestAddViewsIsOneStatementAndKeepsTheScoresRight: a batch of any size is one UPDATE; the
// trending score (a generated column of views) and its copy on the tag pages' rows follow; a
// video deleted meanwhile is skipped; views stop at the integer's maximum instead of failing
// the batch.
func TestAddViewsIsOneStatementAndKeepsTheScoresRight(t *testing.T) {
	author := newUser(t, "author").ID
	caption := "#" + unique("tag")
	tagged := &models.Video{UserID: author, VideoURL: "https://cdn.example.com/t.mp4", Caption: &caption}
	_, err := store.New(db).Videos.Create(ctx, tagged)
	must(t, err)
	plain, full := newVideo(t, author).ID, newVideo(t, author).ID
	testdb.MustRun(t, db, `UPDATE videos SET views = 2147483600 WHERE id = ?`, full)
	scoreBefore := countOf(t, `SELECT (trending_score * 1e9)::bigint FROM videos WHERE id = ?`, tagged.ID)

	recording, rec := testdb.Recording(db)
	st := store.New(recording)
	must(t, st.Videos.AddViews(ctx, []int32{tagged.ID, plain, full, 2147483000}, []int32{25, 3, 1000, 5}))
	if stmts := rec.Take(); len(stmts) != 1 || !strings.Contains(stmts[0], "UPDATE videos") {
		t.Fatalf("a batch of 4 ran %q, want one UPDATE", stmts)
	}
	for id, want := range map[int32]int64{tagged.ID: 25, plain: 3, full: 2147483647} {
		if n := countOf(t, `SELECT views FROM videos WHERE id = ?`, id); n != want {
			t.Errorf("video %d: views %d, want %d", id, n, want)
		}
	}
	// The score is the expression of migrations_trending.go on the new views, and moved.
	if n := countOf(t, `SELECT count(*) FROM videos WHERE id = ? AND trending_score =
		log(1 + like_count + 2 * comment_count + views / 10) + extract(epoch FROM created_at) / 45000`, tagged.ID); n != 1 {
		t.Error("trending_score is not the expression of the new views")
	}
	if after := countOf(t, `SELECT (trending_score * 1e9)::bigint FROM videos WHERE id = ?`, tagged.ID); after <= scoreBefore {
		t.Errorf("25 views did not raise the trending score (%d -> %d)", scoreBefore, after)
	}
	testdb.AssertCountersExact(t, db) // includes video_hashtags.trending_score = the video's

	must(t, st.Videos.AddViews(ctx, nil, nil))
	if stmts := rec.Take(); len(stmts) != 0 {
		t.Errorf("an empty batch ran %q", stmts)
	}
	if err := st.Videos.AddViews(ctx, []int32{plain}, nil); err == nil {
		t.Error("ids without counts were accepted")
	}
}

// TestConcurrentAddViewsLoseNothing: batches of overlapping videos from many writers at once
// (several instances flushing together) add up exactly, whatever their lock order.
func TestConcurrentAddViewsLoseNothing(t *testing.T) {
	author := newUser(t, "author").ID
	videos := make([]int32, 20)
	for i := range videos {
		videos[i] = newVideo(t, author).ID
	}
	st := store.New(db)
	const writers, rounds = 8, 10
	var wg sync.WaitGroup
	for w := range writers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for r := range rounds {
				// Each writer takes a different window of the videos, some reversed.
				var ids, counts []int32
				for i := range 12 {
					ids = append(ids, videos[(w*3+r+i)%len(videos)])
					counts = append(counts, 1)
				}
				if (w+r)%2 == 1 {
					for i, j := 0, len(ids)-1; i < j; i, j = i+1, j-1 {
						ids[i], ids[j] = ids[j], ids[i]
					}
				}
				if err := st.Videos.AddViews(ctx, ids, counts); err != nil {
					t.Errorf("writer %d round %d: %v", w, r, err)
					return
				}
			}
		}()
	}
	wg.Wait()
	if n := countOf(t, `SELECT sum(views) FROM videos WHERE user_id = ?`, author); n != writers*rounds*12 {
		t.Fatalf("%d views in all, want %d", n, writers*rounds*12)
	}
}
