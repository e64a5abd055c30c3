package routes_test

import (
	"testing"
	"time"

	"tiktok/config"
	"tiktok/internal/apitest"
	"tiktok/internal/testdb"
)

// TestTheRouterServesRequestsInTurn: with INFLIGHT_REQUESTS=1, a read stuck in the database
// (the videos table locked by another transaction) holds the instance's one slot, so the next
// read waits its turn before the database (one backend waits on the lock, not two); the health
// check and a request with a body (a login) pass; when the lock goes, both reads are answered.
func TestTheRouterServesRequestsInTurn(t *testing.T) {
	api := apitest.New(t, db, apitest.WithConfig(func(c *config.Config) { c.InflightRequests = 1 }))
	waiting := func() (n int64) {
		testdb.MustScan(t, db, &n, `SELECT count(*) FROM pg_stat_activity WHERE datname = current_database()
			AND wait_event_type = 'Lock' AND query LIKE '%FROM videos v%'`)
		return n
	}
	lock := db.Begin()
	testdb.MustRun(t, lock, `LOCK TABLE videos IN ACCESS EXCLUSIVE MODE`)
	defer lock.Rollback()
	answered := make(chan int, 2)
	read := func() { answered <- api.Do("GET", "/api/videos?limit=1", nil, "").Code }
	go read()
	for deadline := time.Now().Add(10 * time.Second); waiting() == 0; time.Sleep(10 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatal("the first read did not reach the locked table within 10 s")
		}
	}
	go read()
	time.Sleep(300 * time.Millisecond)
	if n := waiting(); n != 1 {
		t.Errorf("%d reads wait on the locked table, want 1 (the second waits its turn in the gate)", n)
	}
	passed := make(chan int, 2)
	go func() { passed <- api.Do("GET", "/healthz", nil, "").Code }()
	go func() {
		passed <- api.Do("POST", "/api/users/login", map[string]string{"email": "nobody@example.com", "password": "wrong"}, "").Code
	}()
	for range 2 {
		select {
		case code := <-passed:
			if code >= 500 {
				t.Errorf("a request that passes the gate answered %d", code)
			}
		case <-time.After(10 * time.Second):
			t.Fatal("the health check or the login waited behind the gate")
		}
	}
	lock.Rollback()
	for range 2 {
		select {
		case code := <-answered:
			if code != 200 {
				t.Errorf("a read answered %d after the lock went, want 200", code)
			}
		case <-time.After(10 * time.Second):
			t.Fatal("the reads were not answered within 10 s of the lock going")
		}
	}
}
