package store_test

import (
	"fmt"
	"sync"
	"testing"

	"tiktok/internal/testdb"
	"tiktok/store"
)

// The stored counters equal COUNT(*) of their rows after every write of the store, and the
// counts the store returns are those counters as of the write itself.

func TestLikesSetIsASetAndReturnsTheCountWithTheChange(t *testing.T) {
	st := store.New(db)
	author := newUser(t, "author").ID
	video := newVideo(t, author).ID
	comment := newComment(t, author, video).ID
	u1, u2 := newUser(t, "u1").ID, newUser(t, "u2").ID
	targets := []struct {
		name   string
		target store.LikeTarget
		item   int32
		count  func(t *testing.T) (stored int32, rows int64)
	}{
		{"video", store.VideoLikes, video, func(t *testing.T) (int32, int64) {
			v, err := st.Videos.Get(ctx, 0, video)
			must(t, err)
			p, err := st.Users.Profile(ctx, 0, author)
			must(t, err)
			if int64(p.LikeCount) != countOf(t, `SELECT count(*) FROM video_likes l JOIN videos v ON v.id = l.video_id WHERE v.user_id = ?`, author) {
				t.Errorf("the author's likeCount %d is not the likes of their videos", p.LikeCount)
			}
			return v.LikeCount, countOf(t, `SELECT count(*) FROM video_likes WHERE video_id = ?`, video)
		}},
		{"comment", store.CommentLikes, comment, func(t *testing.T) (int32, int64) {
			c, err := st.Comments.Get(ctx, 0, comment)
			must(t, err)
			return c.LikeCount, countOf(t, `SELECT count(*) FROM comment_likes WHERE comment_id = ?`, comment)
		}},
	}
	for _, tg := range targets {
		for _, step := range []struct {
			name string
			user int32
			like bool
			want int32
		}{
			{"a first like counts one", u1, true, 1},
			{"liking twice keeps one like", u1, true, 1},
			{"another user's like counts two", u2, true, 2},
			{"unliking removes one", u1, false, 1},
			{"unliking twice removes nothing more", u1, false, 1},
			{"the last unlike leaves zero", u2, false, 0},
		} {
			t.Run(tg.name+"/"+step.name, func(t *testing.T) {
				got, err := st.Likes.Set(ctx, tg.target, store.Caller{ID: step.user}, tg.item, step.like)
				must(t, err)
				stored, rows := tg.count(t)
				if got != step.want || int64(stored) != rows || rows != int64(step.want) {
					t.Fatalf("Set returned %d, stored %d, COUNT(*) %d; want %d", got, stored, rows, step.want)
				}
				testdb.AssertCountersExact(t, db)
			})
		}
	}
}

func TestFollowsSetIsASetAndReturnsTheFollowerCount(t *testing.T) {
	st := store.New(db)
	target, u1, u2 := newUser(t, "target").ID, newUser(t, "u1").ID, newUser(t, "u2").ID
	for _, step := range []struct {
		name          string
		user          int32
		follow        bool
		want          int32
		userFollowing int32 // the follower's following count after the step
	}{
		{"a first follow counts one", u1, true, 1, 1},
		{"following twice keeps one follow", u1, true, 1, 1},
		{"another follower counts two", u2, true, 2, 1},
		{"unfollowing removes one", u1, false, 1, 0},
		{"unfollowing twice removes nothing more", u1, false, 1, 0},
		{"the last unfollow leaves zero", u2, false, 0, 0},
	} {
		t.Run(step.name, func(t *testing.T) {
			got, err := st.Follows.Set(ctx, store.Caller{ID: step.user}, target, step.follow)
			must(t, err)
			p, err := st.Users.Profile(ctx, 0, target)
			must(t, err)
			rows := countOf(t, `SELECT count(*) FROM follows WHERE following_id = ?`, target)
			if got != step.want || p.FollowerCount != step.want || rows != int64(step.want) || p.Count.FollowedBy != step.want {
				t.Fatalf("Set returned %d, profile %d (_count %d), COUNT(*) %d; want %d", got, p.FollowerCount, p.Count.FollowedBy, rows, step.want)
			}
			follower, err := st.Users.Profile(ctx, 0, step.user)
			must(t, err)
			if follower.FollowingCount != step.userFollowing {
				t.Fatalf("the follower's followingCount %d, want %d", follower.FollowingCount, step.userFollowing)
			}
			testdb.AssertCountersExact(t, db)
		})
	}
}

func TestCommentsCreateAndDeleteMoveTheVideosCommentCount(t *testing.T) {
	st := store.New(db)
	author := newUser(t, "author").ID
	video := newVideo(t, author).ID
	check := func(want int32) {
		t.Helper()
		v, err := st.Videos.Get(ctx, 0, video)
		must(t, err)
		rows := countOf(t, `SELECT count(*) FROM comments WHERE video_id = ?`, video)
		if v.CommentCount != want || v.Count.Comments != want || rows != int64(want) {
			t.Fatalf("commentCount %d (_count %d), COUNT(*) %d, want %d", v.CommentCount, v.Count.Comments, rows, want)
		}
		testdb.AssertCountersExact(t, db)
	}
	var comments []int32
	for i := 1; i <= 3; i++ {
		comments = append(comments, newComment(t, author, video).ID)
		check(int32(i))
	}
	must(t, st.Comments.Delete(ctx, author, comments[0]))
	check(2)
}

func TestDeletingAVideoSettlesItsAuthorsCounters(t *testing.T) {
	st := store.New(db)
	author := newUser(t, "author").ID
	gone, kept := newVideo(t, author).ID, newVideo(t, author).ID
	fans := newUsers(t, "fan", 3)
	for _, fan := range fans {
		for _, v := range []int32{gone, kept} {
			_, err := st.Likes.Set(ctx, store.VideoLikes, store.Caller{ID: fan}, v, true)
			must(t, err)
		}
		c := newComment(t, fan, gone)
		_, err := st.Likes.Set(ctx, store.CommentLikes, store.Caller{ID: author}, c.ID, true)
		must(t, err)
	}
	if _, err := st.Videos.Delete(ctx, author, gone); err != nil {
		t.Fatal(err)
	}
	p, err := st.Users.Profile(ctx, 0, author)
	must(t, err)
	if p.VideoCount != 1 || p.Count.Videos != 1 || p.LikeCount != 3 {
		t.Fatalf("after the delete: videoCount %d (_count %d), likeCount %d; want 1 and 3", p.VideoCount, p.Count.Videos, p.LikeCount)
	}
	if n := countOf(t, `SELECT count(*) FROM video_likes WHERE video_id = ?`, gone) +
		countOf(t, `SELECT count(*) FROM comments WHERE video_id = ?`, gone); n != 0 {
		t.Fatalf("%d likes and comments of the deleted video remain", n)
	}
	testdb.AssertCountersExact(t, db)
}

func TestDeletingAUserSettlesEveryoneElsesCounters(t *testing.T) {
	st := store.New(db)
	gone, star, fan := newUser(t, "gone").ID, newUser(t, "star").ID, newUser(t, "fan").ID
	video := newVideo(t, star).ID
	starComment := newComment(t, star, video).ID
	for _, step := range []func() error{
		func() error { _, err := st.Follows.Set(ctx, store.Caller{ID: gone}, star, true); return err },
		func() error { _, err := st.Follows.Set(ctx, store.Caller{ID: fan}, gone, true); return err },
		func() error {
			_, err := st.Likes.Set(ctx, store.VideoLikes, store.Caller{ID: gone}, video, true)
			return err
		},
		func() error {
			_, err := st.Likes.Set(ctx, store.CommentLikes, store.Caller{ID: gone}, starComment, true)
			return err
		},
		func() error { return errOnly(createComment(st, gone, video)) },
		func() error { _, err := st.Follows.Set(ctx, store.Caller{ID: fan}, star, true); return err },
		func() error {
			_, err := st.Likes.Set(ctx, store.VideoLikes, store.Caller{ID: fan}, video, true)
			return err
		},
	} {
		must(t, step())
	}
	if _, err := st.Users.Delete(ctx, gone); err != nil {
		t.Fatal(err)
	}
	starP, err := st.Users.Profile(ctx, 0, star)
	must(t, err)
	fanP, err := st.Users.Profile(ctx, 0, fan)
	must(t, err)
	v, err := st.Videos.Get(ctx, 0, video)
	must(t, err)
	c, err := st.Comments.Get(ctx, 0, starComment)
	must(t, err)
	got := fmt.Sprintf("star followers %d likes %d, fan following %d, video likes %d comments %d, comment likes %d",
		starP.FollowerCount, starP.LikeCount, fanP.FollowingCount, v.LikeCount, v.CommentCount, c.LikeCount)
	if want := "star followers 1 likes 1, fan following 1, video likes 1 comments 1, comment likes 0"; got != want {
		t.Fatalf("after the delete:\n got %s\nwant %s", got, want)
	}
	testdb.AssertCountersExact(t, db)
}

func TestConcurrentSetsKeepTheCountsExact(t *testing.T) {
	st := store.New(db)
	author := newUser(t, "author").ID
	video := newVideo(t, author).ID
	users := newUsers(t, "racer", 50)
	// Each user flips its like and its follow several times; even users end liking and
	// following, odd ones not.
	var wg sync.WaitGroup
	errc := make(chan error, len(users))
	for i, u := range users {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for round := range 5 - i%2 {
				on := round%2 == 0
				n, err := st.Likes.Set(ctx, store.VideoLikes, store.Caller{ID: u}, video, on)
				if err == nil && (n < 0 || n > int32(len(users))) {
					err = fmt.Errorf("Likes.Set returned %d", n)
				}
				if err == nil {
					_, err = st.Follows.Set(ctx, store.Caller{ID: u}, author, on)
				}
				if err != nil {
					errc <- err
					return
				}
			}
		}()
	}
	wg.Wait()
	close(errc)
	for err := range errc {
		t.Error(err)
	}
	v, err := st.Videos.Get(ctx, 0, video)
	must(t, err)
	p, err := st.Users.Profile(ctx, 0, author)
	must(t, err)
	want := int32(len(users) / 2)
	if v.LikeCount != want || p.LikeCount != want || p.FollowerCount != want {
		t.Fatalf("like_count %d, author's likes %d, followers %d; want %d each", v.LikeCount, p.LikeCount, p.FollowerCount, want)
	}
	testdb.AssertCountersExact(t, db)
}

// TestVacuumingTheDeltasLeavesTheirPages: the folder's vacuum of the delta tables must not give
// their empty last pages back (that takes the table's ACCESS EXCLUSIVE lock, which every read
// of a counter would queue behind): after a burst of likes is folded away, the vacuum leaves
// the table's size as it was.
func TestVacuumingTheDeltasLeavesTheirPages(t *testing.T) {
	st := store.New(db)
	author := newUser(t, "author").ID
	video := newVideo(t, author).ID
	for range 300 {
		fan := newUser(t, "fan").ID
		_, err := st.Likes.Set(ctx, store.VideoLikes, store.Caller{ID: fan}, video, true)
		must(t, err)
	}
	for {
		n, err := st.FoldCounterDeltas(ctx, 1000)
		must(t, err)
		if n == 0 {
			break
		}
	}
	size := func() (pages int64) {
		must(t, db.Raw(`SELECT pg_relation_size('video_counter_deltas') / current_setting('block_size')::int`).Scan(&pages).Error)
		return pages
	}
	before := size()
	if before < 2 {
		t.Fatalf("video_counter_deltas has %d pages after 300 likes: nothing to check", before)
	}
	must(t, st.VacuumCounterDeltas(ctx))
	if after := size(); after != before {
		t.Errorf("the vacuum truncated video_counter_deltas from %d pages to %d", before, after)
	}
	testdb.AssertCountersExact(t, db)
}
