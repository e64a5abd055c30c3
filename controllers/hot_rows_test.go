package controllers_test

import (
	"context"
	"encoding/json"
	"math/rand/v2"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"tiktok/countfold"
	"tiktok/database"
	"tiktok/internal/apitest"
	"tiktok/internal/testdb"
	"tiktok/store"
)

// TestHotRowsStayExactThroughTheAPI: 100 users at once, through the router, like and unlike
// one viral video, like the 100 videos of one author, follow and unfollow that author and
// bookmark the video, while two folders (two server instances' countfold) fold with tiny
// batches and a checker verifies every counter at random moments. No request fails; every
// like's answer is a possible count (it includes the like itself); at the end the API shows
// the exact counts.
func TestHotRowsStayExactThroughTheAPI(t *testing.T) {
	api := apitest.New(t, db)
	author := api.NewUser("celebrity")
	hot := postVideo(api, author, "viral").ID
	var videos []int32
	testdb.MustScan(t, db, &videos, `INSERT INTO videos (user_id, video_url, caption)
		SELECT ?, 'https://example.com/v.mp4', 'more ' || i FROM generate_series(1, 99) i RETURNING id`, author.ID)
	videos = append(videos, hot)
	const users, rounds = 100, 8
	fans := make([]*apitest.User, users)
	for i := range fans {
		fans[i] = api.NewUser("fan")
	}

	for range 2 {
		f := countfold.New(store.New(db).FoldCounterDeltas, countfold.Options{Interval: 3 * time.Millisecond, Batch: 5})
		f.Start()
		defer f.Close()
	}
	// The checker has connections of its own: it must not queue behind the storm's requests.
	var name string
	testdb.MustScan(t, db, &name, `SELECT current_database()`)
	checkDB, err := database.Open(t.Context(), testdb.URL(name), database.PoolOptions{MaxOpenConns: 1, MaxIdleConns: 1, ConnMaxLifetime: time.Hour}, 5*time.Second, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer func() {
		if sqlDB, err := checkDB.DB(); err == nil {
			_ = sqlDB.Close()
		}
	}()
	ctx, stop := context.WithCancel(t.Context())
	var checker sync.WaitGroup
	var checks atomic.Int64
	checker.Add(1)
	go func() {
		defer checker.Done()
		for ctx.Err() == nil {
			time.Sleep(time.Duration(rand.IntN(20)) * time.Millisecond)
			wrong, err := testdb.WrongCounters(checkDB.WithContext(ctx))
			if err != nil {
				if ctx.Err() == nil {
					t.Errorf("check: %v", err)
				}
				return
			}
			for name, n := range wrong {
				t.Errorf("during the storm: %s wrong on %d rows", name, n)
			}
			checks.Add(1)
		}
	}()

	var wg sync.WaitGroup
	for i, fan := range fans {
		wg.Add(1)
		go func() {
			defer wg.Done()
			r := rand.New(rand.NewPCG(uint64(i), 15))
			for range rounds {
				method, target := "POST", ""
				if r.IntN(3) == 0 {
					method = "DELETE"
				}
				switch r.IntN(4) {
				case 0:
					target = path("/api/videos/%d/like", hot)
				case 1:
					target = path("/api/videos/%d/like", videos[r.IntN(len(videos))])
				case 2:
					target = path("/api/users/%d/follow", author.ID)
				default:
					target = path("/api/videos/%d/bookmark", hot)
				}
				req := httptest.NewRequest(method, target, nil)
				req.Header.Set("Authorization", "Bearer "+fan.Token)
				w := httptest.NewRecorder()
				api.Router.ServeHTTP(w, req)
				if w.Code != http.StatusOK {
					t.Errorf("%s %s: %d %s", method, target, w.Code, w.Body)
					continue
				}
				var answer map[string]any
				if err := json.Unmarshal(w.Body.Bytes(), &answer); err != nil {
					t.Errorf("%s %s: %v", method, target, err)
					continue
				}
				for _, key := range []string{"likeCount", "followerCount", "bookmarkCount"} {
					n, ok := answer[key].(float64)
					if !ok {
						continue
					}
					if n < 0 || n > users || (method == "POST" && n < 1) {
						t.Errorf("%s %s answered %s %v", method, target, key, n)
					}
				}
			}
		}()
	}
	wg.Wait()
	stop()
	checker.Wait()
	if checks.Load() < 3 {
		t.Fatalf("only %d checks ran during the storm", checks.Load())
	}
	testdb.AssertCountersExact(t, db)

	var got videoJSON
	api.Do("GET", path("/api/videos/%d", hot), nil, "").Status(http.StatusOK).Decode(&got)
	if want := countOf(t, `SELECT count(*) FROM video_likes WHERE video_id = ?`, hot); int64(got.LikeCount) != want {
		t.Errorf("API likeCount %d, COUNT(*) %d", got.LikeCount, want)
	}
	var profile struct{ FollowerCount, LikeCount int64 }
	api.Do("GET", path("/api/users/%d", author.ID), nil, "").Status(http.StatusOK).Decode(&profile)
	if want := countOf(t, `SELECT count(*) FROM follows WHERE following_id = ?`, author.ID); profile.FollowerCount != want {
		t.Errorf("API followerCount %d, COUNT(*) %d", profile.FollowerCount, want)
	}
	if want := countOf(t, `SELECT count(*) FROM video_likes l JOIN videos v ON v.id = l.video_id WHERE v.user_id = ?`, author.ID); profile.LikeCount != want {
		t.Errorf("API likeCount of the author %d, COUNT(*) %d", profile.LikeCount, want)
	}
}

// TestALikeIsOneStatement: a like, an unlike, a repeated like, a follow and a bookmark each
// run ONE statement, which checks the token's version too (middleware.RequireToken; no
// transaction, no counter row locked); one that notified someone has it announced after its
// commit, off the request's path.
func TestALikeIsOneStatement(t *testing.T) {
	recording, rec := testdb.Recording(db)
	api := apitest.New(t, recording)
	author, fan := api.NewUser("author"), api.NewUser("fan")
	v := postVideo(api, author, "liked once")
	for _, c := range []struct {
		method, path string
		want         int
	}{
		{"POST", path("/api/videos/%d/like", v.ID), 1},
		{"POST", path("/api/videos/%d/like", v.ID), 1}, // a repeat: its snapshot has the like counted
		{"DELETE", path("/api/videos/%d/like", v.ID), 1},
		{"POST", path("/api/users/%d/follow", author.ID), 1},
		{"POST", path("/api/videos/%d/bookmark", v.ID), 1},
	} {
		rec.Take()
		api.Do(c.method, c.path, nil, fan.Token).Status(http.StatusOK)
		// The notification's announcement goes after the answer, batched with others by the
		// store's announcer (store/announcer.go; its tests count those statements).
		stmts := slices.DeleteFunc(rec.Take(), func(s string) bool { return strings.Contains(s, "announce_notifications(") })
		if len(stmts) != c.want {
			t.Errorf("%s %s ran %d statements, want %d: %q", c.method, c.path, len(stmts), c.want, stmts)
		}
		for _, s := range stmts {
			if strings.Contains(s, "FOR NO KEY UPDATE") || strings.Contains(s, "UPDATE videos") || strings.Contains(s, "UPDATE users") {
				t.Errorf("%s %s locked or updated a counted row: %s", c.method, c.path, s)
			}
		}
	}
}

// TestACommentsStatements pins what a comment costs: ONE statement (the token's version, the
// video's owner, the users' key-share locks, the insert, the notifications and the comment read
// back; it was the token check and a transaction of five). The read-back asks nothing
// about the viewer: a comment not yet committed has no likes and its author does not follow
// themselves; the answer says so.
func TestACommentsStatements(t *testing.T) {
	recording, rec := testdb.Recording(db)
	api := apitest.New(t, recording)
	author, fan := api.NewUser("author"), api.NewUser("fan")
	v := postVideo(api, author, "commented")
	rec.Take()
	var c struct {
		IsLiked *bool `json:"isLiked"`
		User    struct {
			IsFollowing *bool `json:"isFollowing"`
		} `json:"user"`
	}
	api.Do("POST", "/api/comments", map[string]any{"videoId": v.ID, "content": "first"}, fan.Token).Status(http.StatusCreated).Decode(&c)
	// The owner's notification is announced after the answer, as a like's is (TestALikeIsOneStatement).
	stmts := slices.DeleteFunc(rec.Take(), func(s string) bool { return strings.Contains(s, "announce_notifications(") })
	if len(stmts) != 1 {
		t.Errorf("a comment ran %d statements, want 1: %q", len(stmts), stmts)
	}
	if c.IsLiked == nil || *c.IsLiked || c.User.IsFollowing == nil || *c.User.IsFollowing {
		t.Errorf("a new comment's isLiked %v and user.isFollowing %v, want false and false", c.IsLiked, c.User.IsFollowing)
	}
}
