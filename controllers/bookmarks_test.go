package controllers_test

import (
	"math/rand/v2"
	"net/http"
	"net/url"
	"sync"
	"testing"
	"time"

	"tiktok/internal/apitest"
	"tiktok/internal/testdb"
)

type bookmarkJSON struct {
	Message       string `json:"message"`
	Action        string `json:"action"`
	BookmarkCount int32  `json:"bookmarkCount"`
	IsBookmarked  bool   `json:"isBookmarked"`
}

type markedVideoJSON struct {
	ID            int32 `json:"id"`
	BookmarkCount int32 `json:"bookmarkCount"`
	IsBookmarked  bool  `json:"isBookmarked"`
}

func setBookmark(api *apitest.API, u *apitest.User, id int32, on bool) bookmarkJSON {
	method := "POST"
	if !on {
		method = "DELETE"
	}
	var got bookmarkJSON
	api.Do(method, path("/api/videos/%d/bookmark", id), nil, u.Token).Status(http.StatusOK).Decode(&got)
	return got
}

func TestBookmarksAreASetLikeLikes(t *testing.T) {
	api := apitest.New(t, db)
	alice, bob, carol := api.NewUser("alice"), api.NewUser("bob"), api.NewUser("carol")
	v := postVideo(api, alice, "save me")

	want := func(got, want bookmarkJSON) {
		t.Helper()
		if got != want {
			t.Fatalf("answer %+v, want %+v", got, want)
		}
	}
	want(setBookmark(api, bob, v.ID, true), bookmarkJSON{"Video bookmarked successfully", "bookmarked", 1, true})
	want(setBookmark(api, bob, v.ID, true), bookmarkJSON{"Video bookmarked successfully", "bookmarked", 1, true})
	want(setBookmark(api, carol, v.ID, true), bookmarkJSON{"Video bookmarked successfully", "bookmarked", 2, true})
	want(setBookmark(api, bob, v.ID, false), bookmarkJSON{"Video unbookmarked successfully", "unbookmarked", 1, false})
	want(setBookmark(api, bob, v.ID, false), bookmarkJSON{"Video unbookmarked successfully", "unbookmarked", 1, false})

	// isBookmarked is each viewer's own; bookmarkCount is everyone's.
	for _, c := range []struct {
		token string
		is    bool
	}{{carol.Token, true}, {bob.Token, false}, {alice.Token, false}, {"", false}} {
		var got markedVideoJSON
		api.Do("GET", path("/api/videos/%d", v.ID), nil, c.token).Status(http.StatusOK).Decode(&got)
		if got.BookmarkCount != 1 || got.IsBookmarked != c.is {
			t.Errorf("viewer (logged in %v) sees bookmarkCount %d isBookmarked %v, want 1 %v", c.token != "", got.BookmarkCount, got.IsBookmarked, c.is)
		}
		var page struct{ Videos []markedVideoJSON }
		api.Do("GET", path("/api/users/%d/videos", alice.ID), nil, c.token).Status(http.StatusOK).Decode(&page)
		if len(page.Videos) != 1 || page.Videos[0].IsBookmarked != c.is || page.Videos[0].BookmarkCount != 1 {
			t.Errorf("in a list, viewer (logged in %v) sees %+v", c.token != "", page.Videos)
		}
	}

	// Bad input.
	api.Do("POST", "/api/videos/2147483000/bookmark", nil, bob.Token).Error(http.StatusNotFound, "not_found")
	api.Do("DELETE", "/api/videos/2147483000/bookmark", nil, bob.Token).Error(http.StatusNotFound, "not_found")
	api.Do("POST", "/api/videos/abc/bookmark", nil, bob.Token).Status(http.StatusBadRequest)
	api.Do("POST", path("/api/videos/%d/bookmark", v.ID), nil, "").Status(http.StatusUnauthorized)
	api.Do("DELETE", path("/api/videos/%d/bookmark", v.ID), nil, "").Status(http.StatusUnauthorized)
	if n := countOf(t, `SELECT count(*) FROM video_bookmarks WHERE video_id = ?`, v.ID); n != 1 {
		t.Fatalf("%d bookmark rows, want 1", n)
	}
	testdb.AssertCountersExact(t, db)
}

func TestMyBookmarksArePrivateAndNewestFirst(t *testing.T) {
	api := apitest.New(t, db)
	alice, bob := api.NewUser("alice"), api.NewUser("bob")
	var ids []int32
	for i := range 7 {
		ids = append(ids, postVideo(api, alice, path("clip %d", i)).ID)
	}
	// Bob bookmarks them in a shuffled order; the list follows the bookmarks' order, newest first.
	order := []int{3, 0, 6, 1, 5, 2, 4}
	for _, i := range order {
		setBookmark(api, bob, ids[i], true)
		// created_at keeps milliseconds, and bookmarks of one millisecond are listed by video
		// id: a bookmark is one statement now, quick enough to share one.
		time.Sleep(2 * time.Millisecond)
	}
	setBookmark(api, alice, ids[0], true)

	var got []int32
	cursor := ""
	for pages := 0; ; pages++ {
		if pages > 5 {
			t.Fatal("the pages do not end")
		}
		var page struct {
			Videos     []markedVideoJSON
			Pagination paginationJSON
		}
		p := "/api/users/me/bookmarks?limit=3"
		if cursor != "" {
			p += "&cursor=" + url.QueryEscape(cursor)
		}
		api.Do("GET", p, nil, bob.Token).Status(http.StatusOK).Decode(&page)
		for _, v := range page.Videos {
			if !v.IsBookmarked {
				t.Errorf("video %d in bob's bookmarks is not isBookmarked for bob", v.ID)
			}
			got = append(got, v.ID)
		}
		if page.Pagination.NextCursor == nil {
			break
		}
		cursor = *page.Pagination.NextCursor
	}
	var want []int32
	for i := len(order) - 1; i >= 0; i-- {
		want = append(want, ids[order[i]])
	}
	if len(got) != len(want) {
		t.Fatalf("bookmarks %v, want %v", got, want)
	}
	for i := range want {
		if got[i] != want[i] {
			t.Fatalf("bookmarks %v, want newest first %v", got, want)
		}
	}

	// Only one's own: alice sees her one bookmark; anonymous is 401; no route reads another's.
	var page struct{ Videos []markedVideoJSON }
	api.Do("GET", "/api/users/me/bookmarks", nil, alice.Token).Status(http.StatusOK).Decode(&page)
	if len(page.Videos) != 1 || page.Videos[0].ID != ids[0] {
		t.Fatalf("alice's bookmarks %+v, want only video %d", page.Videos, ids[0])
	}
	api.Do("GET", "/api/users/me/bookmarks", nil, "").Status(http.StatusUnauthorized)
	api.Do("GET", path("/api/users/%d/bookmarks", bob.ID), nil, alice.Token).Error(http.StatusNotFound, "not_found")
	api.Do("GET", path("/api/users/me/bookmarks?userId=%d", bob.ID), nil, alice.Token).Status(http.StatusOK).Decode(&page)
	if len(page.Videos) != 1 {
		t.Fatalf("?userId= changed whose bookmarks are listed: %+v", page.Videos)
	}
	api.Do("GET", "/api/users/me/bookmarks?cursor=nonsense", nil, bob.Token).Status(http.StatusBadRequest)

	// A deleted video leaves the lists and the counters exact; a deleted user's bookmarks go.
	api.Do("DELETE", path("/api/videos/%d", ids[3]), nil, alice.Token).Status(http.StatusOK)
	api.Do("GET", "/api/users/me/bookmarks?limit=50", nil, bob.Token).Status(http.StatusOK).Decode(&page)
	if len(page.Videos) != 6 {
		t.Fatalf("%d bookmarks after a video's delete, want 6", len(page.Videos))
	}
	api.Do("DELETE", path("/api/users/%d", bob.ID), nil, bob.Token).Status(http.StatusOK)
	if n := countOf(t, `SELECT count(*) FROM video_bookmarks WHERE user_id = ?`, bob.ID); n != 0 {
		t.Fatalf("%d bookmarks of a deleted user remain", n)
	}
	if n := countOf(t, `SELECT bookmark_count FROM video_counts WHERE id = ?`, ids[0]); n != 1 {
		t.Fatalf("video %d bookmark_count %d after bob's delete, want 1 (alice's)", ids[0], n)
	}
	testdb.AssertCountersExact(t, db)
}

// TestConcurrentBookmarksKeepCountsExact: 60 users bookmark and unbookmark one video at once,
// several times each; no request fails, bookmark_count equals COUNT(*), and each user's state
// is their last operation.
func TestConcurrentBookmarksKeepCountsExact(t *testing.T) {
	api := apitest.New(t, db)
	author := api.NewUser("author")
	v := postVideo(api, author, "contested")
	const users, rounds = 60, 6
	fans := make([]*apitest.User, users)
	for i := range fans {
		fans[i] = api.NewUser("fan")
	}
	last := make([]bool, users)
	var wg sync.WaitGroup
	for i, fan := range fans {
		wg.Add(1)
		go func() {
			defer wg.Done()
			rng := rand.New(rand.NewPCG(uint64(i), 13))
			for range rounds {
				on := rng.IntN(2) == 0
				method := map[bool]string{true: "POST", false: "DELETE"}[on]
				r := api.Do(method, path("/api/videos/%d/bookmark", v.ID), nil, fan.Token)
				if r.Code != http.StatusOK {
					t.Errorf("%s bookmark: %d %s", method, r.Code, r.Body)
					return
				}
				last[i] = on
			}
		}()
	}
	wg.Wait()
	want := 0
	for i, fan := range fans {
		if last[i] {
			want++
		}
		has := countOf(t, `SELECT count(*) FROM video_bookmarks WHERE user_id = ? AND video_id = ?`, fan.ID, v.ID) == 1
		if has != last[i] {
			t.Errorf("fan %d: bookmarked %v, last operation %v", i, has, last[i])
		}
	}
	if n := countOf(t, `SELECT bookmark_count FROM video_counts WHERE id = ?`, v.ID); n != int64(want) {
		t.Fatalf("bookmark_count %d, want %d", n, want)
	}
	testdb.AssertCountersExact(t, db)
}
