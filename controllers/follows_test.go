package controllers_test

import (
	"math/rand/v2"
	"sync"
	"testing"

	"tiktok/internal/apitest"
	"tiktok/internal/testdb"
)

func TestFollowAndUnfollow(t *testing.T) {
	api := apitest.New(t, db)
	a, b := api.NewUser("follower"), api.NewUser("followed")
	follow := apitest.Path("/api/users/%d/follow", b.ID)

	steps := []struct {
		name      string
		method    string
		path      string
		token     string
		status    int
		code      string
		message   string
		followers float64
		following bool
	}{
		{name: "follow", method: "POST", path: follow, token: a.Token, status: 200, message: "User followed successfully", followers: 1, following: true},
		{name: "following twice keeps one follow", method: "POST", path: follow, token: a.Token, status: 200, message: "User followed successfully", followers: 1, following: true},
		{name: "unfollow", method: "DELETE", path: follow, token: a.Token, status: 200, message: "User unfollowed successfully", followers: 0, following: false},
		{name: "unfollowing twice is fine", method: "DELETE", path: follow, token: a.Token, status: 200, message: "User unfollowed successfully", followers: 0, following: false},
		{name: "yourself", method: "POST", path: apitest.Path("/api/users/%d/follow", a.ID), token: a.Token, status: 400, code: "cannot_follow_self"},
		{name: "unfollow yourself", method: "DELETE", path: apitest.Path("/api/users/%d/follow", a.ID), token: a.Token, status: 400, code: "cannot_follow_self"},
		{name: "a missing user", method: "POST", path: "/api/users/2147483647/follow", token: a.Token, status: 404, code: "not_found"},
		{name: "unfollow a missing user", method: "DELETE", path: "/api/users/2147483647/follow", token: a.Token, status: 404, code: "not_found"},
		{name: "bad id", method: "POST", path: "/api/users/abc/follow", token: a.Token, status: 400, code: "invalid_id"},
		{name: "no token", method: "POST", path: follow, status: 401, code: "token_missing"},
		{name: "no token to unfollow", method: "DELETE", path: follow, status: 401, code: "token_missing"},
	}
	for _, s := range steps {
		t.Run(s.name, func(t *testing.T) {
			res := api.Do(s.method, s.path, nil, s.token)
			if s.code != "" {
				res.Error(s.status, s.code)
				return
			}
			m := res.Status(s.status).Map()
			if m["message"] != s.message || m["followerCount"] != s.followers || m["isFollowing"] != s.following {
				t.Fatalf("answer = %s", res.Body)
			}
		})
	}
	testdb.AssertCountersExact(t, db)
}

func TestFollowListsPaginate(t *testing.T) {
	api := apitest.New(t, db)
	star := api.NewUser("star")
	viewer := api.NewUser("viewer")
	const n = 23
	fans := make([]*apitest.User, n)
	for i := range fans {
		fans[i] = api.NewUser("fan")
		api.Do("POST", apitest.Path("/api/users/%d/follow", star.ID), nil, fans[i].Token).Status(200)
		api.Do("POST", apitest.Path("/api/users/%d/follow", fans[i].ID), nil, star.Token).Status(200)
	}
	for i := 0; i < n; i += 3 {
		api.Do("POST", apitest.Path("/api/users/%d/follow", fans[i].ID), nil, viewer.Token).Status(200)
	}
	// Many follows share one timestamp: the id must break the tie without skipping or repeating.
	if rows := testdb.MustRun(t, db, `UPDATE follows SET created_at = '2025-03-25 17:11:38.123' WHERE (following_id = ? OR follower_id = ?) AND ? IN (follower_id, following_id)`, star.ID, star.ID, star.ID); rows != 2*n {
		t.Fatalf("setup: %d follows share the timestamp, want %d", rows, 2*n)
	}
	if rows := testdb.MustRun(t, db, `UPDATE follows SET created_at = '2025-03-26 10:00:00.000' WHERE following_id = ? AND follower_id IN (?, ?)`, star.ID, fans[3].ID, fans[4].ID); rows != 2 {
		t.Fatalf("setup: %d later follows, want 2", rows)
	}

	type page struct {
		Followers  []map[string]any `json:"followers"`
		Following  []map[string]any `json:"following"`
		Pagination struct {
			NextCursor  *string `json:"nextCursor"`
			HasNextPage bool    `json:"hasNextPage"`
		} `json:"pagination"`
	}
	for _, list := range []string{"followers", "following"} {
		t.Run(list+" pages through everyone once, newest first", func(t *testing.T) {
			seen := map[float64]bool{}
			var order []float64
			cursor := ""
			for pages := 0; ; pages++ {
				if pages > 5 {
					t.Fatal("too many pages")
				}
				var p page
				res := api.Do("GET", apitest.Path("/api/users/%d/%s?limit=10%s", star.ID, list, cursor), nil, viewer.Token).Status(200)
				assertOnlyEmail(t, res.Body, "")
				res.Decode(&p)
				items := p.Followers
				if list == "following" {
					items = p.Following
				}
				for _, it := range items {
					id := it["id"].(float64)
					if seen[id] {
						t.Fatalf("user %v listed twice", id)
					}
					seen[id] = true
					order = append(order, id)
					if _, ok := it["isFollowing"]; !ok {
						t.Fatalf("no isFollowing for a viewer: %v", it)
					}
					for _, k := range []string{"username", "name", "avatar"} {
						if _, ok := it[k]; !ok {
							t.Fatalf("no %s: %v", k, it)
						}
					}
				}
				if !p.Pagination.HasNextPage {
					if p.Pagination.NextCursor != nil || len(items) != n%10 {
						t.Fatalf("last page: %d items, cursor %v", len(items), p.Pagination.NextCursor)
					}
					break
				}
				if len(items) != 10 || p.Pagination.NextCursor == nil {
					t.Fatalf("page of %d items, cursor %v", len(items), p.Pagination.NextCursor)
				}
				cursor = "&cursor=" + *p.Pagination.NextCursor
			}
			if len(seen) != n {
				t.Fatalf("saw %d users, want %d", len(seen), n)
			}
			if list == "followers" {
				// The two later follows first, higher id first; then the rest by id descending.
				if order[0] != float64(fans[4].ID) || order[1] != float64(fans[3].ID) {
					t.Fatalf("order starts %v", order[:3])
				}
				for i := 3; i < len(order); i++ {
					if order[i] > order[i-1] {
						t.Fatalf("not newest first at %d: %v", i, order)
					}
				}
			}
		})
	}

	t.Run("isFollowing is the viewer's", func(t *testing.T) {
		var p page
		api.Do("GET", apitest.Path("/api/users/%d/followers?limit=50", star.ID), nil, viewer.Token).Status(200).Decode(&p)
		want := map[float64]bool{}
		for i := 0; i < n; i += 3 {
			want[float64(fans[i].ID)] = true
		}
		if len(p.Followers) != n {
			t.Fatalf("%d followers, want %d", len(p.Followers), n)
		}
		for _, it := range p.Followers {
			if it["isFollowing"] != want[it["id"].(float64)] {
				t.Fatalf("isFollowing wrong for %v", it)
			}
		}
		var anon page
		api.Do("GET", apitest.Path("/api/users/%d/followers", star.ID), nil, "").Status(200).Decode(&anon)
		if _, ok := anon.Followers[0]["isFollowing"]; ok {
			t.Fatal("isFollowing for an anonymous caller")
		}
	})
	t.Run("a bare item id is a cursor: the page starts after it", func(t *testing.T) {
		var first, after page
		api.Do("GET", apitest.Path("/api/users/%d/followers?limit=5", star.ID), nil, "").Status(200).Decode(&first)
		third := int32(first.Followers[2]["id"].(float64))
		api.Do("GET", apitest.Path("/api/users/%d/followers?limit=2&cursor=%d", star.ID, third), nil, "").Status(200).Decode(&after)
		if len(after.Followers) != 2 || after.Followers[0]["id"] != first.Followers[3]["id"] || after.Followers[1]["id"] != first.Followers[4]["id"] {
			t.Fatalf("after %d: %v, first page %v", third, after.Followers, first.Followers)
		}
	})
	t.Run("limit is clamped to 50", func(t *testing.T) {
		var p page
		api.Do("GET", apitest.Path("/api/users/%d/followers?limit=100000000000000000000", star.ID), nil, "").Status(200).Decode(&p)
		if len(p.Followers) != n {
			t.Fatalf("%d items", len(p.Followers))
		}
	})
	t.Run("an empty list", func(t *testing.T) {
		res := api.Do("GET", apitest.Path("/api/users/%d/followers", viewer.ID), nil, "").Status(200)
		if string(res.Body) != `{"followers":[],"pagination":{"nextCursor":null,"hasNextPage":false}}` {
			t.Fatalf("body = %s", res.Body)
		}
	})
	errs := []struct {
		name, path string
		status     int
		code       string
	}{
		{"missing user", "/api/users/2147483647/followers", 404, "not_found"},
		{"bad id", "/api/users/x/following", 400, "invalid_id"},
		{"limit not a number", apitest.Path("/api/users/%d/followers?limit=ten", star.ID), 400, "validation_failed"},
		{"garbage cursor", apitest.Path("/api/users/%d/followers?cursor=@@@", star.ID), 400, "validation_failed"},
		{"bare id of no follower", apitest.Path("/api/users/%d/followers?cursor=2147483647", star.ID), 400, "validation_failed"},
	}
	for _, e := range errs {
		t.Run(e.name, func(t *testing.T) {
			api.Do("GET", e.path, nil, "").Error(e.status, e.code)
		})
	}
}

// statementCounter is a GORM logger that counts the statements run.
func TestFollowListsRunTheSameStatementsForAnyPageSize(t *testing.T) {
	recording, counter := testdb.Recording(db)
	api := apitest.New(t, recording)
	star, viewer := api.NewUser("star"), api.NewUser("viewer")
	// 50 fans made in SQL: the API would take seconds under -race for the same rows.
	tag := apitest.Unique("fan")
	testdb.MustRun(t, db, `WITH fans AS (
			INSERT INTO users (username, email, password)
			SELECT ? || '_' || i, ? || '_' || i || '@example.com', 'x' FROM generate_series(1, 50) i
			RETURNING id)
		INSERT INTO follows (follower_id, following_id)
			SELECT id, ? FROM fans UNION ALL SELECT ?, id FROM fans`, tag, tag, star.ID, viewer.ID)
	count := func(path string) int64 {
		before := counter.Count()
		api.Do("GET", path, nil, viewer.Token).Status(200)
		return counter.Count() - before
	}
	for _, list := range []string{"followers", "following"} {
		id := star.ID
		if list == "following" {
			id = viewer.ID
		}
		one := count(apitest.Path("/api/users/%d/%s?limit=1", id, list))
		fifty := count(apitest.Path("/api/users/%d/%s?limit=50", id, list))
		t.Logf("%s: %d statements for a page of 1, %d for a page of 50", list, one, fifty)
		if one == 0 || one != fifty || one > 4 {
			t.Fatalf("%s: %d statements for 1 item, %d for 50 (want equal, at most 4: auth, user, page, viewer follows)", list, one, fifty)
		}
	}
	one := count("/api/users?limit=1")
	fifty := count("/api/users?limit=50")
	if one == 0 || one != fifty || one > 3 {
		t.Fatalf("users: %d statements for 1, %d for 50", one, fifty)
	}
}

func TestConcurrentFollowsKeepCountsExact(t *testing.T) {
	api := apitest.New(t, db)
	t.Run("one pair", func(t *testing.T) {
		a, b := api.NewUser("a"), api.NewUser("b")
		var wg sync.WaitGroup
		for i := range 50 {
			wg.Go(func() {
				method := "POST"
				if i%2 == 1 {
					method = "DELETE"
				}
				api.Do(method, apitest.Path("/api/users/%d/follow", b.ID), nil, a.Token).Status(200)
			})
		}
		wg.Wait()
		testdb.AssertCountersExact(t, db)
		// The last answer's count is what the database holds now.
		m := api.Do("POST", apitest.Path("/api/users/%d/follow", b.ID), nil, a.Token).Status(200).Map()
		if m["followerCount"] != float64(1) {
			t.Fatalf("followerCount = %v", m["followerCount"])
		}
	})
	t.Run("many users, both directions", func(t *testing.T) {
		users := make([]*apitest.User, 10)
		for i := range users {
			users[i] = api.NewUser("mesh")
		}
		var wg sync.WaitGroup
		for range 50 {
			wg.Go(func() {
				for range 4 {
					from, to := users[rand.IntN(len(users))], users[rand.IntN(len(users))]
					if from == to {
						continue
					}
					method := "POST"
					if rand.IntN(3) == 0 {
						method = "DELETE"
					}
					api.Do(method, apitest.Path("/api/users/%d/follow", to.ID), nil, from.Token).Status(200)
				}
			})
		}
		wg.Wait()
		testdb.AssertCountersExact(t, db)
	})
}
