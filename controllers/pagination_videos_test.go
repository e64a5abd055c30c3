package controllers_test

import (
	"net/http"
	"net/url"
	"slices"
	"testing"
	"time"

	"tiktok/internal/apitest"
	"tiktok/internal/testdb"
)

// walk follows nextCursor from the first page to the last with the given limit and returns the
// ids in the order served. It fails on a page larger than the limit or a loop.
func walk(t *testing.T, api *apitest.API, base string, limit int, items func(*apitest.Response) ([]int32, paginationJSON)) []int32 {
	t.Helper()
	return walkAs(t, api, base, limit, "", items)
}

// walkAs is walk with a bearer token.
func walkAs(t *testing.T, api *apitest.API, base string, limit int, token string, items func(*apitest.Response) ([]int32, paginationJSON)) []int32 {
	t.Helper()
	var ids []int32
	cursor := ""
	for pages := 0; ; pages++ {
		// A bound against a cursor that loops. The global feeds hold every video of the
		// package's database, which grows with -count, so the bound is generous.
		if pages > 5000 {
			t.Fatalf("%s limit %d: more than 5000 pages", base, limit)
		}
		u := path("%s%slimit=%d", base, sep(base), limit)
		if cursor != "" {
			u += "&cursor=" + url.QueryEscape(cursor)
		}
		got, p := items(api.Do("GET", u, nil, token).Status(http.StatusOK))
		if len(got) > limit {
			t.Fatalf("%s: %d items with limit %d", u, len(got), limit)
		}
		ids = append(ids, got...)
		if !p.HasNextPage {
			if p.NextCursor != nil {
				t.Fatalf("%s: last page with a nextCursor", u)
			}
			return ids
		}
		if p.NextCursor == nil || len(got) != limit {
			t.Fatalf("%s: hasNextPage with %d items and cursor %v", u, len(got), p.NextCursor)
		}
		cursor = *p.NextCursor
	}
}

func sep(u string) string {
	if slices.Contains([]byte(u), '?') {
		return "&"
	}
	return "?"
}

func videoItems(r *apitest.Response) ([]int32, paginationJSON) {
	var out videoListJSON
	r.Decode(&out)
	ids := make([]int32, len(out.Videos))
	for i, v := range out.Videos {
		ids[i] = v.ID
	}
	return ids, out.Pagination
}

func commentItems(r *apitest.Response) ([]int32, paginationJSON) {
	var out commentListJSON
	r.Decode(&out)
	ids := make([]int32, len(out.Comments))
	for i, c := range out.Comments {
		ids[i] = c.ID
	}
	return ids, out.Pagination
}

func idsOf(t *testing.T, q string, args ...any) []int32 {
	t.Helper()
	var ids []int32
	testdb.MustScan(t, db, &ids, q, args...)
	return ids
}

// TestPaginationWalksEveryVideoOnce: 250 videos, in groups of 25 sharing one created_at, are
// walked page by page with every limit from 1 to 50: each video comes exactly once, in order.
func TestPaginationWalksEveryVideoOnce(t *testing.T) {
	api := apitest.New(t, db)
	author := api.NewUser("bulk")
	base := time.Now().Add(time.Hour)
	ids := insertVideos(t, author.ID, 250, 25, base)

	// The per-user list holds exactly the 250; their order is created_at DESC, id DESC.
	want := idsOf(t, `SELECT id FROM videos WHERE user_id = ? ORDER BY created_at DESC, id DESC`, author.ID)
	if len(want) != 250 || len(ids) != 250 {
		t.Fatalf("setup: %d videos", len(want))
	}
	latestWant := idsOf(t, `SELECT id FROM videos WHERE status = 'ready' ORDER BY created_at DESC, id DESC`)
	trendingWant := idsOf(t, `SELECT id FROM videos WHERE status = 'ready' ORDER BY trending_score DESC, id DESC`)
	for limit := 1; limit <= 50; limit++ {
		if got := walk(t, api, path("/api/users/%d/videos", author.ID), limit, videoItems); !slices.Equal(got, want) {
			t.Fatalf("user videos, limit %d: served %d ids, not each once in order", limit, len(got))
		}
		if got := walk(t, api, "/api/videos", limit, videoItems); !slices.Equal(got, latestWant) {
			t.Fatalf("latest feed, limit %d: served %d ids of %d, not each once in order", limit, len(got), len(latestWant))
		}
	}
	for _, limit := range []int{1, 7, 50} {
		if got := walk(t, api, "/api/videos?sort=trending", limit, videoItems); !slices.Equal(got, trendingWant) {
			t.Fatalf("trending feed, limit %d: served %d ids of %d, not each once in order", limit, len(got), len(trendingWant))
		}
	}

	// The following feed merges several authors whose videos share timestamps with each
	// other's: a second author's 40 videos fall on the same instants as the first's.
	viewer, second := api.NewUser("follower"), api.NewUser("second")
	insertVideos(t, second.ID, 40, 4, base)
	for _, id := range []int32{author.ID, second.ID} {
		api.Do("POST", path("/api/users/%d/follow", id), nil, viewer.Token).Status(http.StatusOK)
	}
	followingWant := idsOf(t, `SELECT id FROM videos WHERE user_id IN (?, ?) ORDER BY created_at DESC, id DESC`, author.ID, second.ID)
	for _, limit := range []int{1, 2, 3, 4, 5, 7, 10, 11, 24, 25, 26, 49, 50} {
		if got := walkAs(t, api, "/api/videos/following", limit, viewer.Token, videoItems); !slices.Equal(got, followingWant) {
			t.Fatalf("following feed, limit %d: served %d ids of %d, not each once in order", limit, len(got), len(followingWant))
		}
	}

	// A bare numeric id is a cursor: the page starts right after that video.
	var page videoListJSON
	api.Do("GET", path("/api/users/%d/videos?limit=5&cursor=%d", author.ID, want[9]), nil, "").Status(http.StatusOK).Decode(&page)
	got := make([]int32, len(page.Videos))
	for i, v := range page.Videos {
		got[i] = v.ID
	}
	if !slices.Equal(got, want[10:15]) {
		t.Fatalf("numeric cursor %d: got %v, want %v", want[9], got, want[10:15])
	}
	// The following feed's videos above joined the trending order, some between the videos
	// earlier tests left behind and the first author's: read the order again.
	trendingWant = idsOf(t, `SELECT id FROM videos WHERE status = 'ready' ORDER BY trending_score DESC, id DESC`)
	api.Do("GET", path("/api/videos?sort=trending&limit=3&cursor=%d", trendingWant[4]), nil, "").Status(http.StatusOK).Decode(&page)
	if got := []int32{page.Videos[0].ID, page.Videos[1].ID, page.Videos[2].ID}; !slices.Equal(got, trendingWant[5:8]) {
		t.Fatalf("trending numeric cursor: got %v, want %v", got, trendingWant[5:8])
	}

	// Page mode: totals, pages and the items of each page.
	for _, limit := range []int{7, 50} {
		pages := (250 + limit - 1) / limit
		var served []int32
		for p := 1; p <= pages+1; p++ {
			var out videoListJSON
			api.Do("GET", path("/api/users/%d/videos?page=%d&limit=%d", author.ID, p, limit), nil, "").Status(http.StatusOK).Decode(&out)
			pg := out.Pagination
			if pg.TotalVideos == nil || *pg.TotalVideos != 250 || *pg.TotalPages != pages || *pg.CurrentPage != p || pg.HasNextPage != (p < pages) {
				t.Fatalf("page %d limit %d: pagination %+v", p, limit, pg)
			}
			for _, v := range out.Videos {
				served = append(served, v.ID)
			}
		}
		if !slices.Equal(served, want) {
			t.Fatalf("page mode, limit %d: not every video once in order", limit)
		}
	}
}

func TestPaginationOfCommentsAndLikes(t *testing.T) {
	api := apitest.New(t, db)
	author := api.NewUser("author")
	v := postVideo(api, author, "busy")
	// 120 comments, 30 per created_at.
	testdb.MustRun(t, db, `INSERT INTO comments (user_id, video_id, content, created_at, updated_at)
		SELECT ?, ?, 'c' || g, now() - (g / 30) * interval '1 second', now() FROM generate_series(1, 120) g`, author.ID, v.ID)
	want := idsOf(t, `SELECT id FROM comments WHERE video_id = ? ORDER BY created_at DESC, id DESC`, v.ID)
	all := idsOf(t, `SELECT id FROM comments ORDER BY created_at DESC, id DESC`)
	for _, limit := range []int{1, 2, 3, 10, 29, 30, 31, 50} {
		if got := walk(t, api, path("/api/videos/%d/comments", v.ID), limit, commentItems); !slices.Equal(got, want) {
			t.Fatalf("video comments, limit %d: %d of %d, not each once in order", limit, len(got), len(want))
		}
		if got := walk(t, api, "/api/comments", limit, commentItems); !slices.Equal(got, all) {
			t.Fatalf("all comments, limit %d: %d of %d, not each once in order", limit, len(got), len(all))
		}
	}

	// Likes and liked lists: 40 users like the video, all at one created_at.
	fan := api.NewUser("fan")
	testdb.MustRun(t, db, path(`INSERT INTO users (username, email, password)
		SELECT 'liker_%[1]d_' || g, 'liker_%[1]d_' || g || '@example.com', 'x' FROM generate_series(1, 40) g`, v.ID))
	testdb.MustRun(t, db, `INSERT INTO video_likes (user_id, video_id, created_at)
		SELECT id, ?, '2025-01-01' FROM users WHERE username LIKE ?`, v.ID, path("liker_%d_%%", v.ID))
	likers := idsOf(t, `SELECT user_id FROM video_likes WHERE video_id = ? ORDER BY created_at DESC, user_id DESC`, v.ID)
	userItems := func(r *apitest.Response) ([]int32, paginationJSON) {
		var out struct {
			Users []struct {
				ID int32 `json:"id"`
			} `json:"users"`
			Pagination paginationJSON `json:"pagination"`
		}
		r.Decode(&out)
		ids := make([]int32, len(out.Users))
		for i, u := range out.Users {
			ids[i] = u.ID
		}
		return ids, out.Pagination
	}
	for _, limit := range []int{1, 3, 40, 50} {
		if got := walk(t, api, path("/api/videos/%d/likes", v.ID), limit, userItems); !slices.Equal(got, likers) {
			t.Fatalf("likers, limit %d: %v, want %v", limit, got, likers)
		}
	}

	// The fan likes 60 bulk videos at one instant: the liked list walks them all once.
	bulk := insertVideos(t, author.ID, 60, 60, time.Now())
	testdb.MustRun(t, db, `INSERT INTO video_likes (user_id, video_id, created_at) SELECT ?, unnest(?::int[]), '2025-06-01'`,
		fan.ID, int32Array(bulk))
	liked := idsOf(t, `SELECT video_id FROM video_likes WHERE user_id = ? ORDER BY created_at DESC, video_id DESC`, fan.ID)
	for _, limit := range []int{1, 9, 50} {
		if got := walk(t, api, path("/api/users/%d/liked", fan.ID), limit, videoItems); !slices.Equal(got, liked) {
			t.Fatalf("liked, limit %d: %d of %d", limit, len(got), len(liked))
		}
	}
}
