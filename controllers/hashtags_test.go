package controllers_test

import (
	"fmt"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"testing"
	"time"

	"gorm.io/gorm"

	"tiktok/database"
	"tiktok/internal/apitest"
	"tiktok/internal/testdb"
)

type hashtagJSON struct {
	Name        string `json:"name"`
	VideoCount  int32  `json:"videoCount"`
	RecentCount int32  `json:"recentCount"`
}

type hashtagPageJSON struct {
	Hashtag hashtagJSON `json:"hashtag"`
	Videos  []struct {
		videoJSON
		Hashtags []string `json:"hashtags"`
	} `json:"videos"`
	Pagination paginationJSON `json:"pagination"`
}

func TestHashtagPagesFollowCaptions(t *testing.T) {
	api := apitest.New(t, db)
	alice := api.NewUser("alice")
	tag := strings.ToLower(apitest.Unique("Dance"))
	other := strings.ToLower(apitest.Unique("fyp"))
	v1 := postVideo(api, alice, fmt.Sprintf("first #%s #%s!", strings.ToUpper(tag), other))
	v2 := postVideo(api, alice, "second #"+tag)

	var got struct {
		videoJSON
		Hashtags []string `json:"hashtags"`
	}
	api.Do("GET", path("/api/videos/%d", v1.ID), nil, "").Status(200).Decode(&got)
	if !slices.Equal(got.Hashtags, []string{tag, other}) {
		t.Fatalf("video hashtags %q, want %q in caption order", got.Hashtags, []string{tag, other})
	}

	for _, name := range []string{tag, strings.ToUpper(tag), "%23" + tag, "%23" + strings.ToUpper(tag)} {
		var h hashtagJSON
		api.Do("GET", "/api/hashtags/"+name, nil, "").Status(200).Decode(&h)
		if h.Name != tag || h.VideoCount != 2 {
			t.Fatalf("GET %s: %+v", name, h)
		}
	}
	var page hashtagPageJSON
	api.Do("GET", "/api/hashtags/"+tag+"/videos", nil, "").Status(200).Decode(&page)
	if len(page.Videos) != 2 || page.Videos[0].ID != v2.ID || page.Videos[1].ID != v1.ID || page.Hashtag.VideoCount != 2 {
		t.Fatalf("tag page: %+v", page)
	}

	// An edit drops the tag from v1; a delete drops v2: the tag stays, with no videos.
	api.Do("PUT", path("/api/videos/%d", v1.ID), map[string]any{"caption": "no tags now"}, alice.Token).Status(200)
	api.Do("GET", "/api/hashtags/"+tag+"/videos?sort=trending", nil, "").Status(200).Decode(&page)
	if len(page.Videos) != 1 || page.Videos[0].ID != v2.ID || page.Hashtag.VideoCount != 1 {
		t.Fatalf("after the edit: %+v", page)
	}
	api.Do("DELETE", path("/api/videos/%d", v2.ID), nil, alice.Token).Status(200)
	api.Do("GET", "/api/hashtags/"+tag+"/videos", nil, "").Status(200).Decode(&page)
	if len(page.Videos) != 0 || page.Hashtag.VideoCount != 0 {
		t.Fatalf("after the delete: %+v", page)
	}
	testdb.AssertCountersExact(t, db)
}

func TestHashtagBadNamesAre404AndStoreNothing(t *testing.T) {
	api := apitest.New(t, db)
	u := api.NewUser("bad")
	long := strings.Repeat("a", 101)
	v := postVideo(api, u, "#"+long+" a#b #-x ##")
	for _, name := range []string{long, "%23" + long, "a-b", "a%20b", "%23", "%23%23x", "%00", "%FF", apitest.Unique("nobody"), "caf%C3%A9%F0%9F%98%80"} {
		api.Do("GET", "/api/hashtags/"+name, nil, "").Status(http.StatusNotFound)
		api.Do("GET", "/api/hashtags/"+name+"/videos", nil, "").Status(http.StatusNotFound)
	}
	if n := countOf(t, `SELECT count(*) FROM video_hashtags WHERE video_id = ?`, v.ID); n != 0 {
		t.Fatalf("%d tags stored for a caption without a valid one", n)
	}
	api.Do("GET", "/api/hashtags/x/videos?sort=best", nil, "").Status(http.StatusBadRequest)
	api.Do("GET", "/api/hashtags/trending?limit=abc", nil, "").Status(http.StatusBadRequest)
	api.Do("GET", "/api/videos?sound=x&sort=trending", nil, "").Status(http.StatusBadRequest)
	api.Do("GET", "/api/videos?sound="+strings.Repeat("s", 201), nil, "").Status(http.StatusBadRequest)
}

// "trending" the route wins over "trending" the tag, which stays reachable as %23trending.
func TestATagNamedTrendingStaysReachable(t *testing.T) {
	api := apitest.New(t, db)
	u := api.NewUser("trender")
	postVideo(api, u, "#Trending now")
	var list struct{ Hashtags []hashtagJSON }
	api.Do("GET", "/api/hashtags/trending", nil, "").Status(200).Decode(&list)
	var h hashtagJSON
	api.Do("GET", "/api/hashtags/%23trending", nil, "").Status(200).Decode(&h)
	if h.Name != "trending" || h.VideoCount < 1 {
		t.Fatalf("the tag trending: %+v", h)
	}
	var page hashtagPageJSON
	api.Do("GET", "/api/hashtags/trending/videos", nil, "").Status(200).Decode(&page)
	if page.Hashtag.Name != "trending" || len(page.Videos) == 0 {
		t.Fatalf("/api/hashtags/trending/videos: %+v", page)
	}
}

func TestTrendingHashtagsWeighRecentUse(t *testing.T) {
	fresh := freshDB(t)
	api := apitest.New(t, fresh)
	u := api.NewUser("t")
	now := time.Now().UTC()
	// old: 10 uses 6 days ago; steady: 4 uses today; gone: 50 uses 8 days ago (outside).
	for _, g := range []struct {
		tag  string
		n    int
		days int
	}{{"old", 10, 6}, {"steady", 4, 0}, {"gone", 50, 8}, {"mid", 3, 1}} {
		testdb.MustRun(t, fresh, `INSERT INTO videos (user_id, video_url, caption, created_at, updated_at)
			SELECT ?, 'u', '#' || ?, ?::timestamp, now() FROM generate_series(1, ?)`, u.ID, g.tag, now.AddDate(0, 0, -g.days), g.n)
	}
	testdb.MustRun(t, fresh, `INSERT INTO hashtags (name) VALUES ('old'), ('steady'), ('gone'), ('mid')`)
	testdb.MustRun(t, fresh, `INSERT INTO video_hashtags (video_id, hashtag_id)
		SELECT v.id, h.id FROM videos v JOIN hashtags h ON '#' || h.name = v.caption ORDER BY h.id`)
	var list struct{ Hashtags []hashtagJSON }
	api.Do("GET", "/api/hashtags/trending?limit=3", nil, "").Status(200).Decode(&list)
	// Weights: today 1, a day old 0.71, six days old 0.125: steady 4, mid 2.1, old 1.25.
	want := []hashtagJSON{{"steady", 4, 4}, {"mid", 3, 3}, {"old", 10, 10}}
	if !slices.Equal(list.Hashtags, want) {
		t.Fatalf("trending %+v, want %+v", list.Hashtags, want)
	}
}

// freshDB is a migrated database of the test's own, for tests that need to know every row.
func freshDB(t *testing.T) *gorm.DB {
	t.Helper()
	fresh, _ := testdb.NewDatabase(t)
	if err := database.Migrate(t.Context(), fresh); err != nil {
		t.Fatal(err)
	}
	return fresh
}

// tagFixture is a tag on n videos of one author, groups of 3 sharing a created_at, with
// likes spread so trending scores tie too; the videos also share a sound.
func tagFixture(t *testing.T, d *gorm.DB, author int32, n int) (tag, sound string, ids []int32) {
	t.Helper()
	tag = strings.ToLower(apitest.Unique("deep"))
	sound = apitest.Unique("Sound")
	testdb.MustScan(t, d, &ids, `INSERT INTO videos (user_id, video_url, caption, audio_name, created_at, updated_at)
		SELECT ?, 'https://cdn.example.com/bulk.mp4', 'bulk #' || ?, upper(?), ?::timestamp - (g / 3) * interval '1 second', now()
		FROM generate_series(0, ? - 1) g ORDER BY g RETURNING id`, author, tag, sound, time.Now().UTC(), n)
	testdb.MustRun(t, d, `INSERT INTO hashtags (name) VALUES (?)`, tag)
	testdb.MustRun(t, d, `INSERT INTO video_hashtags (video_id, hashtag_id) SELECT v, (SELECT id FROM hashtags WHERE name = ?)
		FROM unnest(?::int[]) v`, tag, int32Array(ids))
	testdb.MustRun(t, d, `UPDATE videos SET views = (id % 7) * 10 WHERE id = ANY(?::int[])`, int32Array(ids))
	return tag, sound, ids
}

// Deep pages of a tag (both sorts) and of a sound walk every video exactly once, in order.
func TestTagAndSoundPagesWalkEachVideoOnce(t *testing.T) {
	api := apitest.New(t, db)
	author := api.NewUser("deep")
	tag, sound, ids := tagFixture(t, db, author.ID, 130)
	for _, list := range []string{
		"/api/hashtags/" + tag + "/videos?limit=7",
		"/api/hashtags/" + tag + "/videos?sort=trending&limit=7",
		"/api/videos?sound=" + url.QueryEscape(strings.ToLower(sound)) + "&limit=7",
	} {
		seen := map[int32]bool{}
		var order []time.Time
		cursor := ""
		for pages := 0; ; pages++ {
			if pages > 30 {
				t.Fatalf("%s: too many pages", list)
			}
			var page hashtagPageJSON
			api.Do("GET", list+cursor, nil, "").Status(200).Decode(&page)
			for _, v := range page.Videos {
				if seen[v.ID] {
					t.Fatalf("%s: video %d twice", list, v.ID)
				}
				seen[v.ID] = true
				order = append(order, mustTime(t, v.CreatedAt))
			}
			if !page.Pagination.HasNextPage {
				break
			}
			cursor = "&cursor=" + url.QueryEscape(*page.Pagination.NextCursor)
		}
		if len(seen) != len(ids) {
			t.Fatalf("%s: walked %d videos of %d", list, len(seen), len(ids))
		}
		if !strings.Contains(list, "trending") && !slices.IsSortedFunc(order, func(a, b time.Time) int { return b.Compare(a) }) {
			t.Fatalf("%s: not newest first", list)
		}
	}
}

// The tag page and a sound's list run a fixed number of statements whatever the page size:
// auth, the tag, the page, the viewer's likes and follows; trending tags one per TTL.
func TestHashtagListsRunFixedStatements(t *testing.T) {
	api, counter := countingAPI(t)
	viewer := api.NewUser("counter")
	tag, sound, _ := tagFixture(t, db, viewer.ID, 60)
	for _, e := range []struct {
		path string
		max  int64
	}{
		{"/api/hashtags/" + tag + "/videos", 5},
		{"/api/hashtags/" + tag + "/videos?sort=trending", 5},
		{"/api/videos?sound=" + url.QueryEscape(sound), 4},
	} {
		count := func(limit int) int64 {
			before := counter.Count()
			api.Do("GET", e.path+sep(e.path)+path("limit=%d", limit), nil, viewer.Token).Status(200)
			return counter.Count() - before
		}
		one, fifty := count(1), count(50)
		if one == 0 || one != fifty || fifty > e.max {
			t.Errorf("%s: %d statements for a page of 1, %d for 50 (want equal, at most %d)", e.path, one, fifty, e.max)
		}
	}
	// Trending tags: one statement to rank, then none while the ranking is fresh.
	for i, want := range []int64{1, 0, 0} {
		before := counter.Count()
		api.Do("GET", path("/api/hashtags/trending?limit=%d", 1+i*20), nil, "").Status(200)
		if n := counter.Count() - before; n != want {
			t.Errorf("trending tags, call %d: %d statements, want %d", i+1, n, want)
		}
	}
}
