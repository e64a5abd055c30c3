package controllers_test

import (
	"net/url"
	"strings"
	"testing"

	"tiktok/internal/apitest"
	"tiktok/internal/testdb"
)

// TestHashtagQueriesUseTheirIndexes EXPLAINs, as the planner prices them on a realistically
// sized database of its own (100,000 videos, 2,000 tags on a power law, 300,000 tag rows, 8
// sounds, a month of history; ANALYZEd, nothing priced out), the statements the tag pages,
// the trending tags and a sound's list run, first and deep pages: no sequential scan on
// videos, hashtags, video_hashtags or hashtag_daily_uses, and no sort of a tag's or a sound's
// videos.
func TestHashtagQueriesUseTheirIndexes(t *testing.T) {
	if testing.Short() {
		t.Skip("builds a database of 100,000 videos")
	}
	fresh := freshDB(t)
	recording, rec := testdb.Recording(fresh)
	api := apitest.New(t, recording)
	viewer := api.NewUser("planner")
	testdb.MustRun(t, fresh, `INSERT INTO users (username, email, password)
		SELECT 'pu' || i, 'pu' || i || '@example.com', 'x' FROM generate_series(1, 2000) i`)
	testdb.MustRun(t, fresh, `INSERT INTO hashtags (name) SELECT 'tag' || i FROM generate_series(1, 2000) i ORDER BY i`)
	// Tag k is used by about 1/k of the videos (a Zipf law): tag1 on most videos, tag60 on a few dozen, most of the 2,000 on none.
	testdb.MustRun(t, fresh, `ALTER TABLE videos DISABLE TRIGGER USER`)
	testdb.MustRun(t, fresh, `INSERT INTO videos (user_id, video_url, caption, audio_name, created_at, updated_at, views)
		SELECT 1 + i % 2000, 'https://cdn.example.com/v.mp4', 'v ' || i,
			'Sound ' || (i % 8), now() AT TIME ZONE 'UTC' - (i * interval '26 seconds'), now(), i % 1000
		FROM generate_series(1, 100000) i`)
	testdb.MustRun(t, fresh, `ALTER TABLE videos ENABLE TRIGGER USER`)
	testdb.MustRun(t, fresh, `INSERT INTO video_hashtags (video_id, hashtag_id)
		SELECT DISTINCT v.id, least(2000, floor(1 / (0.0005 + random() * 0.9995) * 0.3)::int + 1)
		FROM videos v, generate_series(1, 3) ORDER BY 2, 1`)
	testdb.MustRun(t, fresh, `SELECT recount_counters()`)
	testdb.MustRun(t, fresh, `ANALYZE`)
	testdb.AssertCountersExact(t, fresh)

	lists := []string{
		"/api/hashtags/tag1/videos", "/api/hashtags/tag1/videos?sort=trending",
		"/api/hashtags/tag60/videos", "/api/hashtags/tag60/videos?sort=trending",
		"/api/videos?sound=" + url.QueryEscape("sound 3"),
		"/api/hashtags/trending?limit=20",
	}
	for _, list := range lists {
		for _, depth := range []string{"first", "deep"} {
			p := list + sep(list) + "limit=5"
			rec.Take()
			r := api.Do("GET", p, nil, viewer.Token).Status(200)
			if depth == "deep" {
				if strings.Contains(list, "trending?") {
					continue // one page
				}
				var page struct{ Pagination paginationJSON }
				r.Decode(&page)
				if page.Pagination.NextCursor == nil {
					t.Errorf("%s: no second page", list)
					continue
				}
				rec.Take()
				api.Do("GET", p+"&cursor="+url.QueryEscape(*page.Pagination.NextCursor), nil, viewer.Token).Status(200)
			}
			for _, stmt := range rec.Take() {
				if !strings.HasPrefix(strings.TrimSpace(stmt), "SELECT") {
					continue
				}
				var lines []string
				testdb.MustScan(t, fresh, &lines, "EXPLAIN "+stmt)
				plan := strings.Join(lines, "\n")
				for _, table := range []string{"videos", "hashtags", "video_hashtags", "hashtag_daily_uses", "users"} {
					if strings.Contains(plan, "Seq Scan on "+table+" ") {
						t.Errorf("%s (%s page): sequential scan on %s in\n%s\n%s", list, depth, table, stmt, plan)
					}
				}
				if strings.Contains(stmt, "video_hashtags vh") || strings.Contains(stmt, "lower(v.audio_name)") {
					if strings.Contains(plan, "Sort") {
						t.Errorf("%s (%s page): the page is sorted, not read in index order:\n%s\n%s", list, depth, stmt, plan)
					}
				}
				if testing.Verbose() {
					t.Logf("%s (%s page):\n%s\n%s", list, depth, stmt, plan)
				}
			}
		}
	}
}
