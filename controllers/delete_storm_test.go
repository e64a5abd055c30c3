package controllers_test

import (
	"fmt"
	"net/http"
	"sync"
	"testing"

	"tiktok/internal/apitest"
	"tiktok/internal/testdb"
)

// TestDeletingAccountsAmidTheirOwnWritesNeverFails: users delete their accounts while they,
// and the others, post videos, follow, like and comment on one another, all at once. Whatever the
// interleaving, no request fails with a 5xx: a write whose author was deleted meanwhile is
// 401 token_revoked, one whose target went is 404, and nothing deadlocks for good. The
// counters stay exact and nothing of a deleted user is left.
func TestDeletingAccountsAmidTheirOwnWritesNeverFails(t *testing.T) {
	api := apitest.New(t, db)
	const rounds, users, each = 20, 8, 6
	for round := range rounds {
		us := make([]*apitest.User, users)
		videos := make([]int32, users)
		for i := range us {
			us[i] = api.NewUser("storm")
			videos[i] = postVideo(api, us[i], "before the storm").ID
		}
		type answer struct {
			what string
			code int
			body string
		}
		answers := make(chan answer, users*(4*each+1))
		start := make(chan struct{})
		var wg sync.WaitGroup
		send := func(what string, allowed []int, do func() *apitest.Response) {
			wg.Go(func() {
				<-start
				res := do()
				for _, c := range allowed {
					if res.Code == c {
						return
					}
				}
				answers <- answer{what, res.Code, string(res.Body)}
			})
		}
		for i, u := range us {
			// Half of the users leave; the others stay, and their writes about a leaver find
			// it gone (404) or not yet.
			leaves := i%2 == 0
			mine := []int{http.StatusOK}
			created := []int{http.StatusCreated}
			if leaves {
				mine = append(mine, http.StatusUnauthorized)
				created = append(created, http.StatusUnauthorized)
			}
			for k := 1; k <= each; k++ {
				other := (i + k) % users
				targets := append([]int{}, mine...)
				if other%2 == 0 {
					targets = append(targets, http.StatusNotFound)
				}
				send(fmt.Sprintf("user %d posts a video", i), created, func() *apitest.Response {
					return api.Do("POST", "/api/videos", map[string]string{"videoUrl": "https://example.com/storm.mp4"}, u.Token)
				})
				send(fmt.Sprintf("user %d follows user %d", i, other), targets, func() *apitest.Response {
					return api.Do("POST", apitest.Path("/api/users/%d/follow", us[other].ID), nil, u.Token)
				})
				send(fmt.Sprintf("user %d likes a video of user %d", i, other), targets, func() *apitest.Response {
					return api.Do("POST", apitest.Path("/api/videos/%d/like", videos[other]), nil, u.Token)
				})
				commented := append([]int{http.StatusCreated}, targets[1:]...)
				send(fmt.Sprintf("user %d comments on a video of user %d", i, other), commented, func() *apitest.Response {
					return api.Do("POST", "/api/comments", map[string]any{"videoId": videos[other], "content": "storm"}, u.Token)
				})
			}
			if leaves {
				send(fmt.Sprintf("user %d deletes their account", i), []int{http.StatusOK}, func() *apitest.Response {
					return api.Do("DELETE", apitest.Path("/api/users/%d", u.ID), nil, u.Token)
				})
			}
		}
		close(start)
		wg.Wait()
		close(answers)
		for a := range answers {
			t.Errorf("round %d: %s: %d %s", round, a.what, a.code, a.body)
		}
		for i, u := range us {
			if i%2 != 0 {
				continue
			}
			var left int64
			testdb.MustScan(t, db, &left, `SELECT (SELECT count(*) FROM videos WHERE user_id = ?)
				+ (SELECT count(*) FROM follows WHERE follower_id = ? OR following_id = ?)
				+ (SELECT count(*) FROM video_likes WHERE user_id = ?)
				+ (SELECT count(*) FROM comments WHERE user_id = ?)`, u.ID, u.ID, u.ID, u.ID, u.ID)
			if left != 0 {
				t.Errorf("round %d: %d rows of deleted user %d left", round, left, u.ID)
			}
		}
		testdb.AssertCountersExact(t, db)
		if t.Failed() {
			t.FailNow()
		}
	}
}
