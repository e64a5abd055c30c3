package controllers_test

import (
	"context"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"

	"tiktok/database"
	"tiktok/internal/apitest"
	"tiktok/internal/testdb"
	"tiktok/internal/testsvc"
	"tiktok/middleware"
	"tiktok/store"
	"tiktok/viewcount"
)

// Views (API.md, "Views and bookmarks"): once per viewer per video per 30 minutes, counted off
// the request path and written in batches.

func viewsOf(t testing.TB, id int32) int64 {
	t.Helper()
	return countOf(t, `SELECT views FROM videos WHERE id = ?`, id)
}

// getAs reads the video as an anonymous client with the given address and user agent.
func getAs(api *apitest.API, id int32, addr, userAgent string) *apitest.Response {
	req, _ := http.NewRequest("GET", path("/api/videos/%d", id), nil)
	req.RemoteAddr = addr + ":40000"
	req.Header.Set("User-Agent", userAgent)
	return api.Serve(req)
}

func TestFiveHundredReadsByOneClientCountOnce(t *testing.T) {
	api := apitest.New(t, db)
	alice := api.NewUser("alice")
	v := postVideo(api, alice, "hammered")
	scoreBefore := countOf(t, `SELECT (trending_score * 1e6)::bigint FROM videos WHERE id = ?`, v.ID)
	var wg sync.WaitGroup
	for range 10 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for range 50 {
				getAs(api, v.ID, "203.0.113.7", "refresh-loop/1.0").Status(http.StatusOK)
			}
		}()
	}
	wg.Wait()
	api.FlushViews()
	if n := viewsOf(t, v.ID); n != 1 {
		t.Fatalf("500 reads by one client counted %d views, want 1", n)
	}
	// The trending score moves with the de-duplicated views only (views count in tens, so one
	// view leaves it where it was).
	if after := countOf(t, `SELECT (trending_score * 1e6)::bigint FROM videos WHERE id = ?`, v.ID); after != scoreBefore {
		t.Errorf("trending score moved from %d to %d after one counted view", scoreBefore, after)
	}
	// The same client after the window counts again; a moment before it does not.
	api.Clock.Advance(29 * time.Minute)
	getAs(api, v.ID, "203.0.113.7", "refresh-loop/1.0").Status(http.StatusOK)
	api.FlushViews()
	if n := viewsOf(t, v.ID); n != 1 {
		t.Fatalf("a read 29 minutes later counted: %d views", n)
	}
	api.Clock.Advance(2 * time.Minute)
	getAs(api, v.ID, "203.0.113.7", "refresh-loop/1.0").Status(http.StatusOK)
	api.FlushViews()
	if n := viewsOf(t, v.ID); n != 2 {
		t.Fatalf("a read 31 minutes after the first shows %d views, want 2", n)
	}
}

func TestViewersAreUsersOrAddressAndUserAgent(t *testing.T) {
	api := apitest.New(t, db)
	alice, bob, carol := api.NewUser("alice"), api.NewUser("bob"), api.NewUser("carol")
	v := postVideo(api, alice, "watched")
	// Two users, each reading many times, from the same address: 2.
	for range 20 {
		api.Do("GET", path("/api/videos/%d", v.ID), nil, bob.Token).Status(http.StatusOK)
		api.Do("GET", path("/api/videos/%d", v.ID), nil, carol.Token).Status(http.StatusOK)
	}
	api.FlushViews()
	if n := viewsOf(t, v.ID); n != 2 {
		t.Fatalf("two users counted %d views, want 2", n)
	}
	// Two anonymous clients at one address with different user agents: 2 more; another
	// address with a known user agent: 1 more.
	for range 20 {
		getAs(api, v.ID, "198.51.100.1", "Firefox").Status(http.StatusOK)
		getAs(api, v.ID, "198.51.100.1", "Chrome").Status(http.StatusOK)
		getAs(api, v.ID, "198.51.100.2", "Chrome").Status(http.StatusOK)
	}
	api.FlushViews()
	if n := viewsOf(t, v.ID); n != 5 {
		t.Fatalf("views = %d, want 5 (2 users + 3 anonymous clients)", n)
	}
	// Each video is counted on its own.
	w := postVideo(api, alice, "another")
	api.Do("GET", path("/api/videos/%d", w.ID), nil, bob.Token).Status(http.StatusOK)
	api.FlushViews()
	if a, b := viewsOf(t, v.ID), viewsOf(t, w.ID); a != 5 || b != 1 {
		t.Fatalf("views %d and %d, want 5 and 1", a, b)
	}
	// A missing video is 404 and counts nothing anywhere.
	api.Do("GET", "/api/videos/2147483000", nil, bob.Token).Error(http.StatusNotFound, "not_found")
}

// TestReadingAVideoWritesNothing: the request path of GET /api/videos/:id runs only reads (a
// fixed number), and the flush is ONE statement for any number of videos.
func TestReadingAVideoWritesNothing(t *testing.T) {
	recording, rec := testdb.Recording(db)
	api := apitest.New(t, recording)
	alice, bob := api.NewUser("alice"), api.NewUser("bob")
	var ids []int32
	for i := range 5 {
		ids = append(ids, postVideo(api, alice, path("v%d", i)).ID)
	}
	rec.Take()
	for i, id := range ids {
		before := rec.Count()
		api.Do("GET", path("/api/videos/%d", id), nil, bob.Token).Status(http.StatusOK)
		getAs(api, id, "192.0.2.9", "curl").Status(http.StatusOK)
		if n := rec.Count() - before; n != 2+1 { // bob: auth and the read (viewer fields included); anonymous: the read
			t.Errorf("read %d ran %d statements, want 3", i, n)
		}
	}
	for _, stmt := range rec.Take() {
		if !strings.HasPrefix(strings.TrimSpace(stmt), "SELECT") {
			t.Errorf("a read ran a statement that is not a SELECT: %s", stmt)
		}
	}
	for _, id := range ids {
		if n := viewsOf(t, id); n != 0 {
			t.Fatalf("video %d shows %d views before the flush", id, n)
		}
	}
	api.FlushViews()
	stmts := rec.Take()
	if len(stmts) != 1 || !strings.Contains(stmts[0], "UPDATE videos") {
		t.Fatalf("the flush of 5 videos ran %d statements, want one UPDATE: %q", len(stmts), stmts)
	}
	for _, id := range ids {
		if n := viewsOf(t, id); n != 2 {
			t.Errorf("video %d: %d views after the flush, want 2", id, n)
		}
	}
	api.FlushViews()
	if stmts := rec.Take(); len(stmts) != 0 {
		t.Errorf("a flush with nothing counted ran %q", stmts)
	}
	testdb.AssertCountersExact(t, db)
}

// TestCountedViewsShowWithinTheFlushInterval: with the server's own flush (no explicit
// Flush), a counted view shows in views within 5 seconds.
func TestCountedViewsShowWithinTheFlushInterval(t *testing.T) {
	views := viewcount.New(store.New(db).Videos, viewcount.Options{FlushInterval: 200 * time.Millisecond})
	t.Cleanup(func() { _ = views.Close(context.Background()) })
	api := apitest.New(t, db, apitest.WithViews(views))
	alice := api.NewUser("alice")
	v := postVideo(api, alice, "soon")
	getAs(api, v.ID, "192.0.2.10", "x").Status(http.StatusOK)
	deadline := time.Now().Add(5 * time.Second)
	for viewsOf(t, v.ID) != 1 {
		if time.Now().After(deadline) {
			t.Fatal("the counted view did not show within 5 seconds")
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// TestShutdownFlushesTheCountedViews: Close writes what the last interval counted.
func TestShutdownFlushesTheCountedViews(t *testing.T) {
	views := viewcount.New(store.New(db).Videos, viewcount.Options{FlushInterval: time.Hour})
	api := apitest.New(t, db, apitest.WithViews(views))
	alice := api.NewUser("alice")
	v := postVideo(api, alice, "last words")
	for i := range 7 {
		getAs(api, v.ID, "192.0.2.11", path("agent-%d", i)).Status(http.StatusOK)
	}
	if n := viewsOf(t, v.ID); n != 0 {
		t.Fatalf("%d views written before the shutdown with an hour's interval", n)
	}
	if err := views.Close(context.Background()); err != nil {
		t.Fatal(err)
	}
	if n := viewsOf(t, v.ID); n != 7 {
		t.Fatalf("views = %d after the shutdown flush, want 7", n)
	}
	// After Close, reads still answer; their views are not counted (the process is ending).
	getAs(api, v.ID, "192.0.2.12", "late").Status(http.StatusOK)
}

// TestTwoInstancesShareTheDeduplicationThroughRedis: two routers, each with its own counter
// on one Redis, as two server instances; 500 reads by one client spread over both count 1.
func TestTwoInstancesShareTheDeduplicationThroughRedis(t *testing.T) {
	r := testsvc.Redis(t)
	mk := func() *apitest.API {
		views := viewcount.New(store.New(db).Videos, viewcount.Options{FlushInterval: time.Hour, Redis: r.Client, KeyPrefix: r.Prefix})
		t.Cleanup(func() { _ = views.Close(context.Background()) })
		return apitest.New(t, db, apitest.WithViews(views))
	}
	one, two := mk(), mk()
	alice, bob := one.NewUser("alice"), one.NewUser("bob")
	v := postVideo(one, alice, "shared")
	bobToken := bob.Token
	var wg sync.WaitGroup
	for i := range 10 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			api := []*apitest.API{one, two}[i%2]
			for range 25 {
				getAs(api, v.ID, "203.0.113.50", "same-client").Status(http.StatusOK)
				api.Do("GET", path("/api/videos/%d", v.ID), nil, bobToken).Status(http.StatusOK)
			}
		}()
	}
	wg.Wait()
	one.FlushViews()
	two.FlushViews()
	if n := viewsOf(t, v.ID); n != 2 {
		t.Fatalf("1000 reads by two viewers over two instances counted %d views, want 2", n)
	}
	keys, err := r.Client.Keys(context.Background(), r.Prefix+"*").Result()
	if err != nil {
		t.Fatal(err)
	}
	if len(keys) != 2 {
		t.Fatalf("%d de-duplication keys in Redis, want 2: %q", len(keys), keys)
	}
	ttl := r.Client.TTL(context.Background(), keys[0]).Val()
	if ttl < 29*time.Minute || ttl > 30*time.Minute {
		t.Errorf("key TTL %v, want about 30m", ttl)
	}
	if strings.Contains(strings.Join(keys, " "), "203.0.113.50") {
		t.Errorf("a client address is stored in Redis in clear: %q", keys)
	}
}

// TestRedisDownFallsBackToMemory: with Redis stopped, reads answer 200 at once and views are
// de-duplicated in this instance's memory; when Redis is back, it is used again.
func TestRedisDownFallsBackToMemory(t *testing.T) {
	srv := testsvc.StartRedis(t)
	client, err := middleware.NewRedisClient(srv.URL)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = client.Close() })
	views := viewcount.New(store.New(db).Videos, viewcount.Options{FlushInterval: time.Hour, Redis: client, RetryEvery: 50 * time.Millisecond})
	t.Cleanup(func() { _ = views.Close(context.Background()) })
	api := apitest.New(t, db, apitest.WithViews(views))
	alice := api.NewUser("alice")
	v := postVideo(api, alice, "outage")
	srv.Stop()
	for range 50 {
		getAs(api, v.ID, "203.0.113.60", "during-outage").Status(http.StatusOK)
	}
	api.FlushViews()
	if n := viewsOf(t, v.ID); n != 1 {
		t.Fatalf("with Redis down, 50 reads by one client counted %d views, want 1", n)
	}
	srv.Start()
	time.Sleep(100 * time.Millisecond) // past RetryEvery
	getAs(api, v.ID, "203.0.113.61", "after-outage").Status(http.StatusOK)
	api.FlushViews()
	if n := viewsOf(t, v.ID); n != 2 {
		t.Fatalf("views = %d after Redis came back, want 2", n)
	}
	if n := client.DBSize(context.Background()).Val(); n != 1 {
		t.Fatalf("Redis holds %d keys after it came back, want the one new viewer's", n)
	}
}

// TestAFailedFlushKeepsItsViews: with the database unreachable (a proxy cut in front of it),
// the flush fails, no read fails, and the views are written by the next flush once the
// database is back; nothing is counted twice.
func TestAFailedFlushKeepsItsViews(t *testing.T) {
	fresh, freshURL := testdb.NewDatabase(t)
	if err := database.Migrate(context.Background(), fresh); err != nil {
		t.Fatal(err)
	}
	u, err := url.Parse(freshURL)
	if err != nil {
		t.Fatal(err)
	}
	proxy := testsvc.NewProxy(t, u.Host)
	u.Host = proxy.Addr
	viaProxy, err := database.Open(context.Background(), u.String(), database.DefaultPool, 5*time.Second, nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if sqlDB, err := viaProxy.DB(); err == nil {
			_ = sqlDB.Close()
		}
	})
	views := viewcount.New(store.New(viaProxy).Videos, viewcount.Options{FlushInterval: time.Hour})
	t.Cleanup(func() { _ = views.Close(context.Background()) })
	api := apitest.New(t, fresh, apitest.WithViews(views))
	alice := api.NewUser("alice")
	v := postVideo(api, alice, "outage")
	viewsOf := func(t *testing.T, id int32) (n int64) {
		testdb.MustScan(t, fresh, &n, `SELECT views FROM videos WHERE id = ?`, id)
		return n
	}
	for i := range 3 {
		getAs(api, v.ID, "192.0.2.20", path("agent-%d", i)).Status(http.StatusOK)
	}
	proxy.SetDown(true)
	if err := views.Flush(context.Background()); err == nil {
		t.Fatal("the flush succeeded with the database unreachable")
	}
	getAs(api, v.ID, "192.0.2.20", "agent-3").Status(http.StatusOK) // reads do not need the counter's database
	if n := viewsOf(t, v.ID); n != 0 {
		t.Fatalf("%d views written during the outage", n)
	}
	proxy.SetDown(false)
	if err := views.Flush(context.Background()); err != nil {
		t.Fatalf("the flush after the outage: %v", err)
	}
	if n := viewsOf(t, v.ID); n != 4 {
		t.Fatalf("views = %d after the outage, want 4 (3 kept from the failed flush + 1)", n)
	}
}
