package controllers_test

import (
	"math/rand/v2"
	"net/http"
	"net/http/httptest"
	"sync"
	"testing"

	"tiktok/internal/apitest"
)

// TestConcurrentLikesKeepCountsExact: 100 goroutines, one per user, like and unlike the same
// video and the same comment at once, several times each. No request fails, the counters
// equal COUNT(*), and each user's final state is their last operation.
func TestConcurrentLikesKeepCountsExact(t *testing.T) {
	api := apitest.New(t, db)
	author := api.NewUser("author")
	v := postVideo(api, author, "contested")
	cm := postComment(api, author, v.ID, "contested too")

	const users, rounds = 100, 6
	fans := make([]*apitest.User, users)
	for i := range fans {
		fans[i] = api.NewUser("fan")
	}
	lastVideo := make([]bool, users)
	lastComment := make([]bool, users)
	var wg sync.WaitGroup
	errs := make(chan string, users*rounds*2)
	for i, fan := range fans {
		wg.Add(1)
		go func() {
			defer wg.Done()
			rng := rand.New(rand.NewPCG(uint64(i), 7))
			for range rounds {
				for _, target := range []struct {
					path string
					last *bool
				}{{path("/api/videos/%d/like", v.ID), &lastVideo[i]}, {path("/api/comments/%d/like", cm.ID), &lastComment[i]}} {
					like := rng.IntN(2) == 0
					method := "DELETE"
					if like {
						method = "POST"
					}
					req := httptest.NewRequest(method, target.path, nil)
					req.Header.Set("Authorization", "Bearer "+fan.Token)
					w := httptest.NewRecorder()
					api.Router.ServeHTTP(w, req)
					if w.Code != http.StatusOK {
						errs <- method + " " + target.path + ": " + w.Body.String()
						continue
					}
					*target.last = like
				}
			}
		}()
	}
	wg.Wait()
	close(errs)
	for e := range errs {
		t.Error(e)
	}

	wantVideo, wantComment := 0, 0
	for i, fan := range fans {
		if lastVideo[i] {
			wantVideo++
		}
		if lastComment[i] {
			wantComment++
		}
		if n := countOf(t, `SELECT count(*) FROM video_likes WHERE user_id = ? AND video_id = ?`, fan.ID, v.ID); (n == 1) != lastVideo[i] {
			t.Errorf("user %d: video like present = %v, last operation liked = %v", fan.ID, n == 1, lastVideo[i])
		}
		if n := countOf(t, `SELECT count(*) FROM comment_likes WHERE user_id = ? AND comment_id = ?`, fan.ID, cm.ID); (n == 1) != lastComment[i] {
			t.Errorf("user %d: comment like present = %v, last operation liked = %v", fan.ID, n == 1, lastComment[i])
		}
	}
	checks := []struct {
		name       string
		got, count string
		want       int
	}{
		{"videos.like_count", `SELECT like_count FROM video_counts WHERE id = ?`, `SELECT count(*) FROM video_likes WHERE video_id = ?`, wantVideo},
		{"comments.like_count", `SELECT like_count FROM comment_counts WHERE id = ?`, `SELECT count(*) FROM comment_likes WHERE comment_id = ?`, wantComment},
	}
	for i, c := range checks {
		id := v.ID
		if i == 1 {
			id = cm.ID
		}
		got, rows := countOf(t, c.got, id), countOf(t, c.count, id)
		if got != rows || rows != int64(c.want) {
			t.Errorf("%s = %d, COUNT(*) = %d, last operations say %d", c.name, got, rows, c.want)
		}
	}
	if got, want := countOf(t, `SELECT like_count FROM user_counts WHERE id = ?`, author.ID),
		countOf(t, `SELECT count(*) FROM video_likes l JOIN videos v ON v.id = l.video_id WHERE v.user_id = ?`, author.ID); got != want {
		t.Errorf("author's like_count %d, COUNT(*) %d", got, want)
	}
	// The API answers the same numbers.
	var got videoJSON
	api.Do("GET", path("/api/videos/%d", v.ID), nil, "").Status(http.StatusOK).Decode(&got)
	if got.LikeCount != int32(wantVideo) || got.Count.Likes != int32(wantVideo) {
		t.Errorf("API likeCount %d, want %d", got.LikeCount, wantVideo)
	}
}
