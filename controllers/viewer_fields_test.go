package controllers_test

import (
	"strings"
	"testing"

	"tiktok/internal/apitest"
)

// TestVideoListsGiveTheViewerFieldsOfEveryRow checks isLiked, isBookmarked and user.isFollowing
// of every video of every video list against the tables, in both ways a page gets them: as
// columns of a cursor page's statement, and from the queries after an offset page's.
func TestVideoListsGiveTheViewerFieldsOfEveryRow(t *testing.T) {
	api := apitest.New(t, db)
	f := newListFixture(t, api)
	type videoJSON struct {
		ID           int32 `json:"id"`
		IsLiked      bool  `json:"isLiked"`
		IsBookmarked bool  `json:"isBookmarked"`
		User         struct {
			ID          int32 `json:"id"`
			IsFollowing *bool `json:"isFollowing"`
		} `json:"user"`
	}
	seen := map[string][2]int{} // field -> [false, true] answers checked
	check := func(p string) {
		var page struct{ Videos []videoJSON }
		api.Do("GET", p, nil, f.viewer.Token).Status(200).Decode(&page)
		if len(page.Videos) == 0 {
			t.Errorf("%s: no videos", p)
		}
		for _, v := range page.Videos {
			if v.User.IsFollowing == nil {
				t.Fatalf("%s: video %d: no user.isFollowing for a signed-in viewer", p, v.ID)
			}
			for _, c := range []struct {
				field string
				got   bool
				query string
				args  []any
			}{
				{"isLiked", v.IsLiked, `SELECT count(*) FROM video_likes WHERE user_id = ? AND video_id = ?`, []any{f.viewer.ID, v.ID}},
				{"isBookmarked", v.IsBookmarked, `SELECT count(*) FROM video_bookmarks WHERE user_id = ? AND video_id = ?`, []any{f.viewer.ID, v.ID}},
				{"isFollowing", *v.User.IsFollowing, `SELECT count(*) FROM follows WHERE follower_id = ? AND following_id = ?`, []any{f.viewer.ID, v.User.ID}},
			} {
				if want := countOf(t, c.query, c.args...) == 1; c.got != want {
					t.Errorf("%s: video %d: %s %v, want %v", p, v.ID, c.field, c.got, want)
				}
				n := seen[c.field]
				if c.got {
					n[1]++
				} else {
					n[0]++
				}
				seen[c.field] = n
			}
		}
	}
	for _, e := range listEndpoints(f) {
		if !strings.Contains(e.path, "videos") && !strings.Contains(e.path, "liked") && !strings.Contains(e.path, "bookmarks") ||
			strings.Contains(e.path, "/likes") || strings.Contains(e.path, "/comments") || strings.Contains(e.path, "page=") {
			continue
		}
		check(e.path + sep(e.path) + "limit=50")        // cursor mode: the fields are columns of the page
		check(e.path + sep(e.path) + "limit=50&page=1") // offset mode: they are read after the page
	}
	check("/api/search?q=bulk&type=videos&limit=50") // the search: the fields are columns of its page
	for _, field := range []string{"isLiked", "isBookmarked", "isFollowing"} {
		if n := seen[field]; n[0] == 0 || n[1] == 0 {
			t.Errorf("%s: %d false and %d true answers checked; the fixture must give both", field, n[0], n[1])
		}
	}
}
