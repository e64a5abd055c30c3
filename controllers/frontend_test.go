package controllers_test

import (
	"fmt"
	"strings"
	"testing"

	"tiktok/internal/apitest"
	"tiktok/internal/testdb"
)

// The tests of this file pin what the course frontend shows: the Prisma version's texts and
// the places where it reads its fields.

func TestRegisterConflictSaysWhichFieldIsTaken(t *testing.T) {
	api := apitest.New(t, db)
	a, b := api.NewUser("taken_a"), api.NewUser("taken_b")
	fresh := func(p string) string { return apitest.Unique(p) }

	cases := []struct {
		name     string
		username string
		email    string
		message  string
		field    string
	}{
		{"a taken e-mail", fresh("new"), strings.ToUpper(a.Email), "Email already in use", "email"},
		{"a taken username", strings.ToUpper(a.Username), fresh("new") + "@example.com", "Username already in use", "username"},
		// The Prisma version's findFirst compares the e-mail first; so do we, whichever of the
		// two unique indexes PostgreSQL happens to check first.
		{"both taken by one user: the e-mail wins", a.Username, a.Email, "Email already in use", "email"},
		{"both taken by two users: the e-mail wins", a.Username, b.Email, "Email already in use", "email"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			var e struct {
				Message string            `json:"message"`
				Errors  map[string]string `json:"errors"`
			}
			api.Do("POST", "/api/users/register", map[string]string{"username": tc.username, "email": tc.email, "password": "12345678"}, "").
				Error(409, "conflict").Decode(&e)
			if e.Message != tc.message || e.Errors[tc.field] == "" {
				t.Fatalf("message %q, errors %v; want %q naming %s", e.Message, e.Errors, tc.message, tc.field)
			}
		})
	}
}

func TestEveryVideoCarriesSound(t *testing.T) {
	api := apitest.New(t, db)
	author, fan := api.NewUser("dj"), api.NewUser("listener")
	api.Do("POST", apitest.Path("/api/users/%d/follow", author.ID), nil, fan.Token).Status(200)
	var created, silent map[string]any
	api.Do("POST", "/api/videos", map[string]any{"videoUrl": "https://cdn.example.com/" + apitest.Unique("v") + ".mp4",
		"caption": "with a sound", "audioName": "original sound - dj"}, author.Token).Status(201).Decode(&created)
	api.Do("POST", "/api/videos", map[string]any{"videoUrl": "https://cdn.example.com/" + apitest.Unique("v") + ".mp4",
		"caption": "no sound"}, author.Token).Status(201).Decode(&silent)
	id := int32(created["id"].(float64))
	api.Do("POST", apitest.Path("/api/videos/%d/like", id), nil, fan.Token).Status(200)
	// Dated after every other test's videos, so the first page of each feed holds both; gone
	// afterwards, so they do not crowd the other tests' feeds.
	testdb.MustRun(t, db, `UPDATE videos SET created_at = now() + interval '30 days' WHERE user_id = ?`, author.ID)
	t.Cleanup(func() { testdb.MustRun(t, db, `DELETE FROM videos WHERE user_id = ?`, author.ID) })

	// checkSound checks every video of an answer: sound is there and equals audioName.
	checkSound := func(t *testing.T, videos []any, want map[int32]any) {
		t.Helper()
		seen := 0
		for _, x := range videos {
			v := x.(map[string]any)
			sound, ok := v["sound"]
			if !ok || sound != v["audioName"] {
				t.Fatalf("video %v: sound %v (present %v), audioName %v", v["id"], sound, ok, v["audioName"])
			}
			if w, ok := want[int32(v["id"].(float64))]; ok {
				seen++
				if sound != w {
					t.Fatalf("video %v: sound %v, want %v", v["id"], sound, w)
				}
			}
		}
		if seen == 0 {
			t.Fatalf("none of %v in the answer", want)
		}
	}
	both := map[int32]any{id: "original sound - dj", int32(silent["id"].(float64)): nil}
	t.Run("create", func(t *testing.T) { checkSound(t, []any{created, silent}, both) })
	t.Run("edit", func(t *testing.T) {
		edited := api.Do("PUT", apitest.Path("/api/videos/%d", id), map[string]any{"audioName": "remix"}, author.Token).Status(200).Map()
		api.Do("PUT", apitest.Path("/api/videos/%d", id), map[string]any{"audioName": "original sound - dj"}, author.Token).Status(200)
		checkSound(t, []any{edited}, map[int32]any{id: "remix"})
	})
	t.Run("read", func(t *testing.T) {
		checkSound(t, []any{api.Do("GET", apitest.Path("/api/videos/%d", id), nil, "").Status(200).Map()}, both)
	})
	for _, p := range []string{
		"/api/videos?limit=50",
		"/api/videos?page=1&limit=50",
		"/api/videos?sort=trending&limit=50",
		apitest.Path("/api/users/%d/videos", author.ID),
		apitest.Path("/api/users/%d/liked", fan.ID),
		"/api/videos/following",
	} {
		t.Run(p, func(t *testing.T) {
			want := both
			if strings.Contains(p, "/liked") {
				want = map[int32]any{id: "original sound - dj"}
			}
			checkSound(t, api.Do("GET", p, nil, fan.Token).Status(200).Map()["videos"].([]any), want)
		})
	}
}

func TestPageModeTotalsAreAtTheTopLevel(t *testing.T) {
	api := apitest.New(t, db)
	author, fan := api.NewUser("paged"), api.NewUser("pager")
	// Liked and commented videos climb the trending feed; gone afterwards, so they do not
	// move the other tests' trending pages.
	t.Cleanup(func() { testdb.MustRun(t, db, `DELETE FROM videos WHERE user_id = ?`, author.ID) })
	var videos []int32
	for i := range 3 {
		v := postVideo(api, author, fmt.Sprintf("paged %d", i))
		videos = append(videos, v.ID)
		api.Do("POST", apitest.Path("/api/videos/%d/like", v.ID), nil, fan.Token).Status(200)
		postComment(api, fan, videos[0], fmt.Sprintf("comment %d", i))
	}

	cases := []struct {
		path, total string
		want        int64
	}{
		{"/api/videos", "totalVideos", countOf(t, `SELECT count(*) FROM videos`)},
		{apitest.Path("/api/users/%d/videos", author.ID), "totalVideos", 3},
		{apitest.Path("/api/users/%d/liked", fan.ID), "totalVideos", 3},
		{apitest.Path("/api/videos/%d/comments", videos[0]), "totalComments", 3},
		{"/api/comments", "totalComments", countOf(t, `SELECT count(*) FROM comments`)},
	}
	for _, tc := range cases {
		t.Run(tc.path, func(t *testing.T) {
			body := api.Do("GET", tc.path+"?page=2&limit=2", nil, "").Status(200).Map()
			pages := (tc.want + 1) / 2
			want := map[string]float64{"totalPages": float64(pages), "currentPage": 2, tc.total: float64(tc.want)}
			pagination, _ := body["pagination"].(map[string]any)
			for k, v := range want {
				if body[k] != v {
					t.Errorf("top-level %s = %v, want %v: %.300s", k, body[k], v, mustJSON(body))
				}
				if pagination[k] != v { // still there, for clients that read it there
					t.Errorf("pagination.%s = %v, want %v", k, pagination[k], v)
				}
			}
			cursorMode := api.Do("GET", tc.path+"?limit=2", nil, "").Status(200).Map()
			for k := range want {
				if _, ok := cursorMode[k]; ok {
					t.Errorf("%s sent without ?page=", k)
				}
			}
		})
	}
}

func TestDiscoverUsersListsNewcomersFirst(t *testing.T) {
	api := apitest.New(t, db)
	// More users than a default page, so a list by oldest first would leave the newcomer out.
	if n := countOf(t, `SELECT count(*) FROM users`); n <= 30 {
		tag := apitest.Unique("crowd")
		testdb.MustRun(t, db, `INSERT INTO users (username, email, password)
			SELECT ? || '_' || i, ? || '_' || i || '@example.com', 'x' FROM generate_series(1, ?) i`, tag, tag, 31-n)
	}
	newcomer := api.NewUser("newcomer")

	type item struct {
		ID int32 `json:"id"`
	}
	list := func(query string) []item {
		var out []item
		api.Do("GET", "/api/users"+query, nil, "").Status(200).Decode(&out)
		return out
	}
	t.Run("the discover page (no limit) shows the newcomer first", func(t *testing.T) {
		out := list("")
		if len(out) != 10 || out[0].ID != newcomer.ID {
			t.Fatalf("GET /api/users = %+v, want 10 users with %d first", out, newcomer.ID)
		}
	})
	t.Run("newest first, and pages follow on", func(t *testing.T) {
		var ids []int32
		for page := 1; page <= 3; page++ {
			for _, u := range list(fmt.Sprintf("?limit=7&page=%d", page)) {
				ids = append(ids, u.ID)
			}
		}
		if len(ids) != 21 || ids[0] != newcomer.ID {
			t.Fatalf("three pages of 7: %v", ids)
		}
		for i := 1; i < len(ids); i++ {
			if ids[i] >= ids[i-1] {
				t.Fatalf("not newest first at %d: %v", i, ids)
			}
		}
	})
}

// TestDiscoverUsersReadsAnIndexInOrder EXPLAINs the statements of the users list as
// TestListQueriesUseTheirIndexes does the other lists: with sequential scans and sorts priced
// out, the page must come from an index read in its order (users_pkey backwards), with or
// without a search. The plans on 400,000 users are in docs/performance.md.
func TestDiscoverUsersReadsAnIndexInOrder(t *testing.T) {
	recording, rec := testdb.Recording(db)
	api := apitest.New(t, recording)
	api.NewUser("indexed")
	testdb.MustRun(t, db, `ANALYZE users`)
	for _, p := range []string{"/api/users", "/api/users?limit=50&page=3", "/api/users?search=ind"} {
		rec.Take()
		api.Do("GET", p, nil, "").Status(200)
		ordered := 0
		for _, stmt := range rec.Take() {
			if !strings.Contains(stmt, "FROM users u") || !strings.Contains(stmt, "ORDER BY") {
				continue
			}
			ordered++
			plan := explain(t, stmt)
			if strings.Contains(plan, "Seq Scan") || strings.Contains(plan, "Sort") || !strings.Contains(plan, "Index Scan Backward using users_pkey") {
				t.Errorf("%s: not read from users_pkey in order:\n%s\n%s", p, stmt, plan)
			}
		}
		if ordered != 1 {
			t.Errorf("%s: %d ordered statements on users recorded, want 1", p, ordered)
		}
	}
}
