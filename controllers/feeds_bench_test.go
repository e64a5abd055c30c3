package controllers_test

import (
	"net/http/httptest"
	"net/url"
	"testing"
	"time"

	"gorm.io/gorm"

	"tiktok/internal/apitest"
	"tiktok/internal/testdb"
)

// BenchmarkFeeds serves each list through the router, first page and a deep page (the
// cursor after 10,000 items), on 20,000 videos with likes and comments: keyset pages cost the
// same at any depth. Run alone (the tests would walk these rows too):
//
//	go test -run '^$' -bench Feeds -benchtime 1000x ./controllers/
//
// The numbers at 1M videos / 10M likes are in docs/performance.md (cmd/loadtest).
func BenchmarkFeeds(b *testing.B) {
	api := apitest.New(b, db)
	viewer, author := api.NewUser("benchviewer"), api.NewUser("benchauthor")
	insertVideos(b, author.ID, 20_000, 4, time.Now().Add(24*time.Hour))
	var first int32
	testdb.MustScan(b, db, &first, `SELECT min(id) FROM videos WHERE user_id = ?`, author.ID)
	// Thousands of counter updates of one row in one statement cost O(n²) (each walks the
	// row's versions), so the bulk rows go in with the triggers off and the counters are
	// recounted once, as the scale seeder does.
	err := db.Transaction(func(tx *gorm.DB) error {
		for _, stmt := range []struct {
			sql  string
			args []any
		}{
			{`SET LOCAL session_replication_role = replica`, nil},
			{`INSERT INTO follows (follower_id, following_id) VALUES (?, ?)`, []any{viewer.ID, author.ID}},
			{`INSERT INTO video_likes (user_id, video_id, created_at) SELECT ?, id, created_at FROM videos WHERE user_id = ?`, []any{viewer.ID, author.ID}},
			{`INSERT INTO comments (user_id, video_id, content, created_at, updated_at)
				SELECT ?, ?, 'c', now() - g * interval '1 ms', now() FROM generate_series(1, 20000) g`, []any{author.ID, first}},
			{`SET LOCAL session_replication_role = origin`, nil},
			{`SELECT recount_counters()`, nil},
		} {
			testdb.MustRun(b, tx, stmt.sql, stmt.args...)
		}
		return nil
	})
	if err != nil {
		b.Fatal(err)
	}
	testdb.MustRun(b, db, `ANALYZE`)
	lists := map[string]string{
		"latest":    "/api/videos?limit=10",
		"trending":  "/api/videos?sort=trending&limit=10",
		"following": "/api/videos/following?limit=10",
		"user":      path("/api/users/%d/videos?limit=10", author.ID),
		"liked":     path("/api/users/%d/liked?limit=10", viewer.ID),
		"comments":  path("/api/videos/%d/comments?limit=10", first),
	}
	for _, name := range []string{"latest", "trending", "following", "user", "liked", "comments"} {
		base := lists[name]
		// The cursor after 10,000 items: one request with limit 50, 200 times.
		deep := base
		cursor := ""
		for range 200 {
			u := base + "&limit=50"
			if cursor != "" {
				u += "&cursor=" + url.QueryEscape(cursor)
			}
			var page struct{ Pagination paginationJSON }
			api.Do("GET", u, nil, viewer.Token).Status(200).Decode(&page)
			if page.Pagination.NextCursor == nil {
				b.Fatalf("%s has fewer than 10,000 items", name)
			}
			cursor = *page.Pagination.NextCursor
		}
		deep += "&cursor=" + url.QueryEscape(cursor)
		for _, bc := range []struct{ depth, url string }{{"first", base}, {"page1001", deep}} {
			b.Run(name+"/"+bc.depth, func(b *testing.B) {
				for b.Loop() {
					req := httptest.NewRequest("GET", bc.url, nil)
					req.Header.Set("Authorization", "Bearer "+viewer.Token)
					w := httptest.NewRecorder()
					api.Router.ServeHTTP(w, req)
					if w.Code != 200 {
						b.Fatalf("%s: %d %s", bc.url, w.Code, w.Body)
					}
				}
			})
		}
	}
	// Throughput of the anonymous latest feed with parallel clients, in process (no network,
	// no load generator competing for the CPUs): the server's own ceiling on this machine.
	b.Run("latest/parallel-anonymous", func(b *testing.B) {
		b.SetParallelism(4)
		b.RunParallel(func(pb *testing.PB) {
			for pb.Next() {
				w := httptest.NewRecorder()
				api.Router.ServeHTTP(w, httptest.NewRequest("GET", "/api/videos?limit=10", nil))
				if w.Code != 200 {
					b.Errorf("%d %s", w.Code, w.Body)
					return
				}
			}
		})
	})
}
