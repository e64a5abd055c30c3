package controllers_test

import (
	"context"
	"net/url"
	"regexp"
	"strings"
	"testing"
	"time"

	"gorm.io/gorm"

	"tiktok/database"
	"tiktok/internal/apitest"
	"tiktok/internal/testdb"
)

// listFixture makes a viewer who follows several authors, likes their videos and comments,
// so every list has more than 50 items and the viewer queries have ids to look up.
type listFixture struct {
	viewer *apitest.User
	author *apitest.User
	video  int32
	// comment is a comment on video with 60 replies.
	comment int32
}

func newListFixture(t *testing.T, api *apitest.API) listFixture {
	t.Helper()
	viewer, author := api.NewUser("viewer"), api.NewUser("author")
	ids := insertVideos(t, author.ID, 60, 3, time.Now())
	tag := apitest.Unique("crowd")
	// 60 more users, each with a video, followed by the viewer; they all like and comment on
	// the author's first video, and the viewer likes every video of the author.
	testdb.MustRun(t, db, `WITH crowd AS (
			INSERT INTO users (username, email, password)
			SELECT ? || '_' || i, ? || '_' || i || '@example.com', 'x' FROM generate_series(1, 60) i RETURNING id),
		f AS (INSERT INTO follows (follower_id, following_id) SELECT ?, id FROM crowd),
		v AS (INSERT INTO videos (user_id, video_url) SELECT id, 'https://cdn.example.com/c.mp4' FROM crowd),
		l AS (INSERT INTO video_likes (user_id, video_id) SELECT id, ? FROM crowd)
		INSERT INTO comments (user_id, video_id, content) SELECT id, ?, 'hi' FROM crowd`,
		tag, tag, viewer.ID, ids[0], ids[0])
	testdb.MustRun(t, db, `INSERT INTO follows (follower_id, following_id) VALUES (?, ?)`, viewer.ID, author.ID)
	testdb.MustRun(t, db, `INSERT INTO video_likes (user_id, video_id) SELECT ?, id FROM videos WHERE user_id = ?`, viewer.ID, author.ID)
	testdb.MustRun(t, db, `INSERT INTO comment_likes (user_id, comment_id) SELECT ?, id FROM comments WHERE video_id = ?`, viewer.ID, ids[0])
	testdb.MustRun(t, db, `INSERT INTO video_bookmarks (user_id, video_id) SELECT ?, id FROM videos WHERE user_id = ?`, viewer.ID, author.ID)
	// The crowd replies to the first comment and the viewer has 60 notifications.
	var comment int32
	testdb.MustScan(t, db, &comment, `SELECT min(id) FROM comments WHERE video_id = ?`, ids[0])
	testdb.MustRun(t, db, `INSERT INTO comments (user_id, video_id, content, parent_id, reply_to_user_id)
		SELECT user_id, video_id, 'reply', ?, ? FROM comments WHERE video_id = ? AND parent_id IS NULL`, comment, viewer.ID, ids[0])
	testdb.MustRun(t, db, `INSERT INTO notifications (user_id, actor_id, type, video_id)
		SELECT ?, user_id, 'like', video_id FROM video_likes WHERE video_id = ? AND user_id <> ?`, viewer.ID, ids[0], viewer.ID)
	return listFixture{viewer: viewer, author: author, video: ids[0], comment: comment}
}

// listEndpoints are every list of videos, comments and likers, with the most statements each
// may run for a known viewer: auth (token version), [the owner's existence], [a numeric
// cursor's position], [offset mode: the count], the page, and, where they are not columns of
// the page's statement, the viewer's likes and the viewer's follows. A video list's cursor
// page selects the viewer fields itself (store.viewerColumns); its offset page does not
// (PostgreSQL would compute them for every skipped row).
func listEndpoints(f listFixture) []struct {
	path string
	max  int64
} {
	return []struct {
		path string
		max  int64
	}{
		{"/api/videos", 2},
		{"/api/videos?sort=trending", 2},
		{"/api/videos?page=2", 5},
		{"/api/videos?sort=trending&page=3", 5},
		{path("/api/videos?cursor=%d", f.video), 3},
		{"/api/videos/following", 2},
		{path("/api/users/%d/videos", f.author.ID), 3},
		{path("/api/users/%d/videos?page=2", f.author.ID), 6},
		{path("/api/users/%d/liked", f.viewer.ID), 3},
		{"/api/users/me/bookmarks", 2},
		{"/api/users/me/bookmarks?page=2", 5},
		{path("/api/videos/%d/likes", f.video), 4},
		{path("/api/videos/%d/comments", f.video), 5},
		{path("/api/videos/%d/comments?page=1", f.video), 6},
		{"/api/comments", 4},
		{"/api/comments?page=2", 5},
		{path("/api/comments/%d/replies", f.comment), 5},
		{"/api/notifications", 2},
		{"/api/notifications?type=like", 2},
	}
}

// TestListsRunTheSameStatementsForAnyPageSize pins the fixed statement count of every list:
// the viewer fields of a whole page are columns of its statement or one query each for the
// page, never one per row.
func TestListsRunTheSameStatementsForAnyPageSize(t *testing.T) {
	api, counter := countingAPI(t)
	f := newListFixture(t, api)
	for _, e := range listEndpoints(f) {
		count := func(limit int) int64 {
			before := counter.Count()
			api.Do("GET", e.path+sep(e.path)+path("limit=%d", limit), nil, f.viewer.Token).Status(200)
			return counter.Count() - before
		}
		one, fifty := count(1), count(50)
		if one == 0 || one != fifty || fifty > e.max {
			t.Errorf("%s: %d statements for a page of 1, %d for 50 (want equal, at most %d)", e.path, one, fifty, e.max)
		}
	}
	// Reading one video is two statements: auth, and the read with the viewer's like,
	// bookmark and follow in it.
	for _, p := range []string{path("/api/videos/%d", f.video)} {
		before := counter.Count()
		api.Do("GET", p, nil, f.viewer.Token).Status(200)
		if n := counter.Count() - before; n != 2 {
			t.Errorf("%s: %d statements", p, n)
		}
	}
}

// TestListQueriesUseTheirIndexes EXPLAINs the very statements each list runs (recorded from
// the handler), first and deeper pages, with sequential scans and sorts priced out (see
// explain): no sequential scan may remain, and lists must read an index in their order.
// The big-data plans are in docs/performance.md.
func TestListQueriesUseTheirIndexes(t *testing.T) {
	recording, rec := testdb.Recording(db)
	api := apitest.New(t, recording)
	f := newListFixture(t, api)
	testdb.MustRun(t, db, `ANALYZE`)
	for _, e := range listEndpoints(f) {
		if strings.Contains(e.path, "page=") {
			continue // offset mode counts the whole list by design; API.md keeps it for compatibility
		}
		for _, cursor := range []string{"first", "deep"} {
			p := e.path + sep(e.path) + "limit=20"
			rec.Take()
			r := api.Do("GET", p, nil, f.viewer.Token).Status(200)
			if cursor == "deep" {
				var page struct{ Pagination paginationJSON }
				r.Decode(&page)
				if page.Pagination.NextCursor == nil {
					t.Errorf("%s: no second page to explain; the fixture must fill more than one", e.path)
					continue
				}
				rec.Take()
				api.Do("GET", p+"&cursor="+url.QueryEscape(*page.Pagination.NextCursor), nil, f.viewer.Token).Status(200)
			}
			explained, ordered := 0, 0
			for _, stmt := range rec.Take() {
				if !strings.HasPrefix(strings.TrimSpace(stmt), "SELECT") {
					continue
				}
				explained++
				if strings.Contains(stmt, "ORDER BY") {
					ordered++
				}
				plan := explain(t, stmt)
				if strings.Contains(plan, "Seq Scan") {
					t.Errorf("%s (%s page): sequential scan in\n%s\n%s", e.path, cursor, stmt, plan)
				}
				// The following feed merges at most a page of videos per followed user: it
				// sorts those, never the whole table; every other list reads its index in
				// order.
				if strings.Contains(stmt, "ORDER BY") && !strings.Contains(stmt, "FROM follows f") && !strings.HasPrefix(stmt, "SELECT f.") &&
					strings.Contains(plan, "Sort") {
					t.Errorf("%s (%s page): the page is sorted instead of read in index order:\n%s\n%s", e.path, cursor, stmt, plan)
				}
			}
			if explained == 0 || ordered == 0 {
				t.Errorf("%s (%s page): %d statements recorded, %d of them ordered: nothing to check", e.path, cursor, explained, ordered)
			}
		}
	}
}

func explain(t *testing.T, stmt string) string {
	t.Helper()
	var lines []string
	err := db.Transaction(func(tx *gorm.DB) error {
		// On a small table a sequential scan, or a bitmap scan plus a sort of a few rows, is
		// cheaper than an ordered index scan, so the planner would pick them whatever the
		// indexes. With both priced out, a Seq Scan or Sort left in the plan means no index
		// can serve the query in its order: exactly the mistake that costs seconds at scale.
		testdb.MustRun(t, tx, `SET LOCAL enable_seqscan = off`)
		testdb.MustRun(t, tx, `SET LOCAL enable_sort = off`)
		testdb.MustScan(t, tx, &lines, "EXPLAIN "+stmt)
		return nil
	})
	if err != nil {
		t.Fatalf("EXPLAIN %s: %v", stmt, err)
	}
	return strings.Join(lines, "\n")
}

// TestListPagesKeepAGenericPlan: pgx prepares each statement text once per connection, and
// PostgreSQL plans a prepared statement again at every execution unless its generic plan
// costs about what a custom one does. A page's LIMIT passed as a parameter made the generic
// plan look like a tenth of the table, so every feed page was planned again, at more CPU
// than running it (store.planLimit). On a pool of one connection: every list's page
// statement has its LIMIT in its text, and after a few pages the feeds (latest and trending,
// anonymous and signed in) run on a generic plan. (A list of one user's or one video's rows
// may rightly stay on custom plans: the planner weighs that user's row count against the
// average, which depends on the data.)
func TestListPagesKeepAGenericPlan(t *testing.T) {
	one, err := database.Open(context.Background(), testdb.URL(db.Migrator().CurrentDatabase()),
		database.PoolOptions{MaxOpenConns: 1, MaxIdleConns: 1, ConnMaxLifetime: time.Hour, ConnMaxIdleTime: time.Hour}, 5*time.Second, nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if sqlDB, err := one.DB(); err == nil {
			_ = sqlDB.Close()
		}
	})
	api := apitest.New(t, one)
	f := newListFixture(t, api)
	feeds := []string{"/api/videos?limit=10", "/api/videos?sort=trending&limit=10"}
	lists := append([]string{"/api/videos/following?limit=10", path("/api/users/%d/videos?limit=10", f.author.ID),
		path("/api/videos/%d/comments?limit=10", f.video), "/api/notifications?limit=10"}, feeds...)
	for _, p := range lists {
		for range 8 {
			api.Do("GET", p, nil, f.viewer.Token).Status(200)
			if !strings.Contains(p, "following") && !strings.Contains(p, "notifications") {
				api.Do("GET", p, nil, "").Status(200)
			}
		}
	}
	var plans []struct {
		Statement                 string
		GenericPlans, CustomPlans int64
	}
	testdb.MustScan(t, one, &plans, `SELECT statement, generic_plans, custom_plans FROM pg_prepared_statements
		WHERE statement LIKE '%ORDER BY%LIMIT%' AND statement NOT LIKE '%pg_prepared_statements%'`)
	if len(plans) < len(lists) {
		t.Fatalf("%d page statements prepared on the connection, want at least %d (one per list): %+v", len(plans), len(lists), plans)
	}
	limitParameter := regexp.MustCompile(`LIMIT \$[0-9]`)
	feedPages := 0
	for _, p := range plans {
		if limitParameter.MatchString(p.Statement) {
			t.Errorf("a page's LIMIT is a parameter:\n%s", p.Statement)
		}
		// The feeds' statements: every video, by time or by score.
		if strings.Contains(p.Statement, "WHERE v.status = 'ready' ORDER BY") {
			feedPages++
			if p.GenericPlans == 0 {
				t.Errorf("a feed page planned again at each of %d executions, never generic:\n%s", p.CustomPlans, p.Statement)
			}
		}
	}
	if feedPages != 2*len(feeds) {
		t.Errorf("%d feed page statements found, want %d (each feed anonymous and signed in)", feedPages, 2*len(feeds))
	}
}
