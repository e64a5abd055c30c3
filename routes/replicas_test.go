package routes_test

import (
	"bufio"
	"bytes"
	"context"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"gorm.io/gorm"

	"tiktok/config"
	"tiktok/database"
	"tiktok/internal/apitest"
	"tiktok/internal/testdb"
	"tiktok/internal/testsvc"
	"tiktok/routes"
)

// The read replica tests run on a real primary and a real streaming replica of it
// (testsvc.Replica), through the whole router.

// replicaAPI is the router on rdb's primary with rdb's replica serving the replica reads. The
// recorder holds the statements run on the primary directly (not through the replica router).
func replicaAPI(t *testing.T, rdb *testsvc.ReplicaDB, opts database.ReplicaOptions) (*apitest.API, *testdb.Recorder) {
	t.Helper()
	primary := openDB(t, rdb.PrimaryURL)
	replicas, err := database.OpenReplicas(context.Background(), primary, []string{rdb.ReplicaURL}, opts)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(replicas.Close)
	recorded, recorder := testdb.Recording(primary)
	api := apitest.New(t, recorded, func(_ *config.Config, d *routes.Deps) { d.Replicas = replicas })
	return api, recorder
}

func openDB(t *testing.T, url string) *gorm.DB {
	t.Helper()
	db, err := database.Open(context.Background(), url, database.DefaultPool, 10*time.Second, nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if sqlDB, err := db.DB(); err == nil {
			_ = sqlDB.Close()
		}
	})
	return db
}

// readsOn is the tiktok_db_reads_total counter of target, as /metrics shows it.
func readsOn(t *testing.T, api *apitest.API, target string) int {
	t.Helper()
	w := httptest.NewRecorder()
	api.Router.ServeHTTP(w, httptest.NewRequest("GET", "/metrics", nil))
	prefix := `tiktok_db_reads_total{target="` + target + `"} `
	sc := bufio.NewScanner(bytes.NewReader(w.Body.Bytes()))
	for sc.Scan() {
		if v, ok := strings.CutPrefix(sc.Text(), prefix); ok {
			n, err := strconv.ParseFloat(v, 64)
			if err != nil {
				t.Fatalf("metric %s%s: %v", prefix, v, err)
			}
			return int(n)
		}
	}
	return 0
}

type readyz struct {
	Status   string                   `json:"status"`
	Replicas []database.ReplicaStatus `json:"replicas"`
}

func ready(api *apitest.API) readyz {
	var r readyz
	api.Do("GET", "/readyz", nil, "").Status(http.StatusOK).Decode(&r)
	return r
}

// waitReplica waits until the readiness probe reports the replica in state want.
func waitReplica(t *testing.T, api *apitest.API, want string) readyz {
	t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for {
		r := ready(api)
		if len(r.Replicas) != 1 {
			t.Fatalf("/readyz lists %d replicas, want 1", len(r.Replicas))
		}
		if r.Replicas[0].Status == want {
			return r
		}
		if time.Now().After(deadline) {
			t.Fatalf("the replica is still %q, not %q, after 20s", r.Replicas[0].Status, want)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

type feedPage struct {
	Videos []struct {
		ID int32 `json:"id"`
	} `json:"videos"`
}

func feedHas(t *testing.T, api *apitest.API, id int32) bool {
	t.Helper()
	var page feedPage
	api.Do("GET", "/api/videos?limit=50", nil, "").Status(http.StatusOK).Decode(&page)
	for _, v := range page.Videos {
		if v.ID == id {
			return true
		}
	}
	return false
}

func newVideo(t *testing.T, api *apitest.API, u *apitest.User, caption string) int32 {
	t.Helper()
	var v struct {
		ID int32 `json:"id"`
	}
	api.Do("POST", "/api/videos", map[string]string{"videoUrl": "https://cdn.example.com/v.mp4", "caption": caption}, u.Token).
		Status(http.StatusCreated).Decode(&v)
	return v.ID
}

// With replay paused the replica shows the database as it was, and every answer says where it
// came from: the feed, another user's profile and the lists from the replica (the new video
// and the new name are missing there), the answers that show the caller's own write and
// everything in auth from the primary.
func TestReadsGoToTheReplicaAndReadYourWritesToThePrimary(t *testing.T) {
	rdb := testsvc.Replica(t)
	api, _ := replicaAPI(t, rdb, database.ReplicaOptions{MaxLag: time.Hour, CheckInterval: 100 * time.Millisecond})
	author, viewer := api.NewUser("author"), api.NewUser("viewer")
	old := newVideo(t, api, author, "before the pause")
	rdb.WaitReplayed(t)
	waitReplica(t, api, database.ReplicaOK)

	before := readsOn(t, api, "replica")
	if !feedHas(t, api, old) {
		t.Fatal("the replicated video is missing from the feed")
	}
	if after := readsOn(t, api, "replica"); after <= before {
		t.Fatalf("tiktok_db_reads_total{target=\"replica\"} stayed at %d across a feed read", after)
	}

	rdb.PauseReplay(t)
	// Writes reach the primary, and their answers are read there: correct at once.
	fresh := newVideo(t, api, author, "after the pause")
	var like struct {
		LikeCount int `json:"likeCount"`
	}
	api.Do("POST", apitest.Path("/api/videos/%d/like", old), nil, viewer.Token).Status(http.StatusOK).Decode(&like)
	if like.LikeCount != 1 {
		t.Fatalf("the like's answer counts %d likes, want 1", like.LikeCount)
	}
	var profile struct {
		Name *string `json:"name"`
	}
	api.Do("PUT", apitest.Path("/api/users/%d", author.ID), map[string]string{"name": "Renamed"}, author.Token).
		Status(http.StatusOK).Decode(&profile)
	if profile.Name == nil || *profile.Name != "Renamed" {
		t.Fatalf("the edit's answer has name %v", profile.Name)
	}
	profile.Name = nil
	api.Do("GET", "/api/users/me", nil, author.Token).Status(http.StatusOK).Decode(&profile)
	if profile.Name == nil || *profile.Name != "Renamed" {
		t.Fatalf("one's own profile right after the edit has name %v", profile.Name)
	}
	var video struct {
		Caption *string `json:"caption"`
	}
	api.Do("GET", apitest.Path("/api/videos/%d", fresh), nil, "").Status(http.StatusOK).Decode(&video)
	if video.Caption == nil || *video.Caption != "after the pause" {
		t.Fatalf("the new video reads as %+v", video)
	}

	// The stale-tolerant reads came from the paused replica.
	if feedHas(t, api, fresh) {
		t.Fatal("the feed shows a video the paused replica has not replayed: it was not read on the replica")
	}
	profile.Name = nil
	api.Do("GET", apitest.Path("/api/users/%d", author.ID), nil, viewer.Token).Status(http.StatusOK).Decode(&profile)
	if profile.Name != nil {
		t.Fatalf("another user's profile shows name %q: it was not read on the paused replica", *profile.Name)
	}
	var likers struct {
		Users []any `json:"users"`
	}
	api.Do("GET", apitest.Path("/api/videos/%d/likes", old), nil, "").Status(http.StatusOK).Decode(&likers)
	if len(likers.Users) != 0 {
		t.Fatalf("the likers list shows %d likers: it was not read on the paused replica", len(likers.Users))
	}

	// Auth never reads the replica: a password change revokes the old token at once.
	oldToken := author.Token
	api.Do("PUT", apitest.Path("/api/users/%d/password", author.ID),
		map[string]string{"currentPassword": author.Password, "newPassword": "an0ther-Passw0rd!"}, author.Token).Status(http.StatusOK)
	api.Do("GET", "/api/videos/following", nil, oldToken).Error(http.StatusUnauthorized, "token_revoked")
	author.Password = "an0ther-Passw0rd!"
	api.Login(author)
	api.Do("GET", "/api/videos/following", nil, author.Token).Status(http.StatusOK)

	rdb.ResumeReplay(t)
	rdb.WaitReplayed(t)
	if !feedHas(t, api, fresh) {
		t.Fatal("the feed misses the new video after the replica caught up")
	}
}

// A replica lagging more than REPLICA_MAX_LAG is skipped: the reads go to the primary, and
// /readyz says so and stays 200.
func TestLaggingReplicaIsSkipped(t *testing.T) {
	rdb := testsvc.Replica(t)
	api, _ := replicaAPI(t, rdb, database.ReplicaOptions{MaxLag: 500 * time.Millisecond, CheckInterval: 100 * time.Millisecond})
	author := api.NewUser("author")
	rdb.WaitReplayed(t)
	waitReplica(t, api, database.ReplicaOK)

	rdb.PauseReplay(t)
	fresh := newVideo(t, api, author, "written while the replica lags")
	r := waitReplica(t, api, database.ReplicaLagging)
	if r.Status != "degraded" || r.Replicas[0].LagSeconds == nil || *r.Replicas[0].LagSeconds <= 0.5 {
		t.Fatalf("/readyz says %+v while the replica lags", r)
	}
	onPrimary := readsOn(t, api, "primary")
	if !feedHas(t, api, fresh) {
		t.Fatal("the feed misses a new video while the lagging replica should be skipped")
	}
	if readsOn(t, api, "primary") <= onPrimary {
		t.Fatal("tiktok_db_reads_total{target=\"primary\"} did not count the feed read")
	}

	rdb.ResumeReplay(t)
	if r := waitReplica(t, api, database.ReplicaOK); r.Status != "ok" {
		t.Fatalf("/readyz says %q with the replica caught up", r.Status)
	}
}

// Stopping the replica while reads run costs no request: a read the dying replica fails runs
// again on the primary. The checker is kept out of it (it checks once an hour) so that it is
// the read path that notices.
func TestStoppingTheReplicaMidRunCostsNoRequest(t *testing.T) {
	rdb := testsvc.Replica(t)
	api, _ := replicaAPI(t, rdb, database.ReplicaOptions{MaxLag: time.Hour, CheckInterval: time.Hour})
	author := api.NewUser("author")
	newVideo(t, api, author, "to read")
	rdb.WaitReplayed(t)
	if r := ready(api); r.Status != "ok" || r.Replicas[0].Status != database.ReplicaOK {
		t.Fatalf("/readyz says %+v before the stop", r)
	}
	onReplica := readsOn(t, api, "replica")

	var stop atomic.Bool
	var reads, failures atomic.Int64
	var wg sync.WaitGroup
	for range 4 {
		wg.Go(func() {
			for !stop.Load() {
				w := httptest.NewRecorder()
				api.Router.ServeHTTP(w, httptest.NewRequest("GET", "/api/videos?limit=5", nil))
				reads.Add(1)
				if w.Code != http.StatusOK {
					failures.Add(1)
					t.Errorf("a feed read answered %d while the replica stopped: %s", w.Code, w.Body)
				}
			}
		})
	}
	time.Sleep(200 * time.Millisecond)
	rdb.StopReplica(t)
	time.Sleep(300 * time.Millisecond)
	stop.Store(true)
	wg.Wait()
	if failures.Load() > 0 || reads.Load() < 10 {
		t.Fatalf("%d of %d reads failed", failures.Load(), reads.Load())
	}
	if readsOn(t, api, "replica") <= onReplica {
		t.Fatal("no read reached the replica before it stopped")
	}
	r := ready(api)
	if r.Status != "degraded" || r.Replicas[0].Status != database.ReplicaDown || r.Replicas[0].LagSeconds != nil {
		t.Fatalf("/readyz says %+v with the replica stopped", r)
	}

	// Back up, a replica is found by its checker and serves again.
	rdb.StartReplica(t)
	api2, _ := replicaAPI(t, rdb, database.ReplicaOptions{MaxLag: time.Hour, CheckInterval: 100 * time.Millisecond})
	waitReplica(t, api2, database.ReplicaOK)
	before := readsOn(t, api2, "replica")
	api2.Do("GET", "/api/videos", nil, "").Status(http.StatusOK)
	if readsOn(t, api2, "replica") <= before {
		t.Fatal("reads did not return to the restarted replica")
	}
}

// A replica nobody answers for at start does not stop the server: it is reported down and
// every read goes to the primary.
func TestUnreachableReplicaAtStartIsDownAndSkipped(t *testing.T) {
	ln := listenAndClose(t)
	var logs syncBuffer
	replicas, err := database.OpenReplicas(context.Background(), db,
		[]string{"postgres://reader:s3cret@" + ln + "/tiktok?sslmode=disable"},
		database.ReplicaOptions{MaxLag: time.Second, Log: slog.New(slog.NewTextHandler(&logs, nil))})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(replicas.Close)
	if out := logs.String(); strings.Contains(out, "s3cret") || !strings.Contains(out, "reader:xxxxx@"+ln) {
		t.Fatalf("the start-up log should name the replica with its password masked: %s", out)
	}
	api := apitest.New(t, db, func(_ *config.Config, d *routes.Deps) { d.Replicas = replicas })
	r := ready(api)
	if r.Status != "degraded" || r.Replicas[0].Status != database.ReplicaDown {
		t.Fatalf("/readyz says %+v", r)
	}
	api.Do("GET", "/api/videos", nil, "").Status(http.StatusOK)
	api.Do("GET", "/api/users?search=a", nil, "").Status(http.StatusOK)
	if readsOn(t, api, "primary") == 0 || readsOn(t, api, "replica") != 0 {
		t.Fatal("reads should all have gone to the primary")
	}
}

// listenAndClose returns a local address where nothing listens.
func listenAndClose(t *testing.T) string {
	t.Helper()
	srv := httptest.NewServer(http.NotFoundHandler())
	addr := strings.TrimPrefix(srv.URL, "http://")
	srv.Close()
	return addr
}

// Every read that may be a moment stale runs on the replica, whatever its mode (first page,
// bare-id cursor, offset page), and nothing else reaches the replica router at all: the
// counters of both targets tell.
func TestExactlyTheListedReadsGoToTheReplica(t *testing.T) {
	rdb := testsvc.Replica(t)
	api, direct := replicaAPI(t, rdb, database.ReplicaOptions{MaxLag: time.Hour, CheckInterval: 100 * time.Millisecond})
	author, viewer := api.NewUser("author"), api.NewUser("viewer")
	video := newVideo(t, api, author, "listed")
	api.Do("POST", apitest.Path("/api/users/%d/follow", author.ID), nil, viewer.Token).Status(http.StatusOK)
	api.Do("POST", apitest.Path("/api/videos/%d/like", video), nil, viewer.Token).Status(http.StatusOK)
	var comment struct {
		ID int32 `json:"id"`
	}
	api.Do("POST", "/api/comments", map[string]any{"videoId": video, "content": "hi"}, viewer.Token).
		Status(http.StatusCreated).Decode(&comment)
	rdb.WaitReplayed(t)
	waitReplica(t, api, database.ReplicaOK)

	onReplica := []string{
		"/api/videos", "/api/videos?sort=trending", apitest.Path("/api/videos?cursor=%d", video), "/api/videos?page=1",
		"/api/videos/following", apitest.Path("/api/videos/following?cursor=%d", video),
		apitest.Path("/api/users/%d", author.ID), "/api/users", "/api/users?search=auth",
		apitest.Path("/api/users/%d/followers", author.ID), apitest.Path("/api/users/%d/following", viewer.ID),
		apitest.Path("/api/users/%d/videos", author.ID), apitest.Path("/api/users/%d/liked", viewer.ID),
		apitest.Path("/api/users/%d/liked?cursor=%d", viewer.ID, video),
		apitest.Path("/api/videos/%d/likes", video), apitest.Path("/api/videos/%d/comments", video),
		"/api/comments", apitest.Path("/api/comments?cursor=%d", comment.ID),
	}
	for _, path := range onReplica {
		replica, primary := readsOn(t, api, "replica"), readsOn(t, api, "primary")
		direct.Take()
		api.Do("GET", path, nil, viewer.Token).Status(http.StatusOK)
		if readsOn(t, api, "replica") == replica || readsOn(t, api, "primary") != primary {
			t.Errorf("GET %s: reads on the replica %d -> %d, on the primary %d -> %d; want only the replica's to grow",
				path, replica, readsOn(t, api, "replica"), primary, readsOn(t, api, "primary"))
		}
		// The token check is the one statement such a request runs on the primary itself.
		for _, stmt := range direct.Take() {
			if !strings.Contains(stmt, "token_version") {
				t.Errorf("GET %s ran on the primary directly: %s", path, stmt)
			}
		}
	}
	onPrimaryOnly := []string{"/api/users/me", apitest.Path("/api/users/%d", viewer.ID),
		apitest.Path("/api/videos/%d", video), apitest.Path("/api/comments/%d", comment.ID)}
	for _, path := range onPrimaryOnly {
		replica, primary := readsOn(t, api, "replica"), readsOn(t, api, "primary")
		api.Do("GET", path, nil, viewer.Token).Status(http.StatusOK)
		if readsOn(t, api, "replica") != replica || readsOn(t, api, "primary") != primary {
			t.Errorf("GET %s went through the replica router; it must read the primary directly", path)
		}
	}
}
