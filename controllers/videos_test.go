package controllers_test

import (
	"net/http"
	"slices"
	"strings"
	"testing"
	"time"

	"tiktok/internal/apitest"
	"tiktok/internal/testdb"
)

// endpointCase is one row of API.md for an endpoint: a request and what must come back.
type endpointCase struct {
	name   string
	method string
	path   string
	body   any
	token  string
	status int
	code   string                                  // error code, for error answers
	check  func(t *testing.T, r *apitest.Response) // more checks on the answer
}

func runCases(t *testing.T, api *apitest.API, cases []endpointCase) {
	t.Helper()
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			api.T = t
			r := api.Do(tc.method, tc.path, tc.body, tc.token)
			if tc.code != "" {
				r.Error(tc.status, tc.code)
			} else {
				r.Status(tc.status)
			}
			if tc.check != nil {
				tc.check(t, r)
			}
		})
	}
}

func TestVideoEndpoints(t *testing.T) {
	api := apitest.New(t, db)
	alice, bob := api.NewUser("alice"), api.NewUser("bob")
	v := postVideo(api, alice, "first")
	gone := postVideo(api, alice, "to delete")
	api.Do("DELETE", path("/api/videos/%d", gone.ID), nil, alice.Token).Status(http.StatusOK)

	decodeVideo := func(t *testing.T, r *apitest.Response) videoJSON {
		var out videoJSON
		r.Decode(&out)
		return out
	}
	longCaption := strings.Repeat("é", 2201)
	// More videos than a page may hold, so the clamp has something to cut.
	if n := countOf(t, `SELECT count(*) FROM videos`); n <= 50 {
		insertVideos(t, api.NewUser("bulk").ID, int(51-n), 1, mustTime(t, "2020-01-01T00:00:00Z"))
	}

	runCases(t, api, []endpointCase{
		// POST /api/videos (JSON)
		{name: "create with a URL answers 201 with the Video shape", method: "POST", path: "/api/videos",
			body:  map[string]any{"videoUrl": "https://cdn.example.com/a.mp4", "caption": "  hi  ", "audioName": "song", "thumbnailUrl": "https://cdn.example.com/a.jpg"},
			token: bob.Token, status: http.StatusCreated,
			check: func(t *testing.T, r *apitest.Response) {
				got := decodeVideo(t, r)
				if got.UserID != bob.ID || got.User.ID != bob.ID || got.User.Username != bob.Username {
					t.Errorf("owner: %+v", got)
				}
				if got.Caption == nil || *got.Caption != "hi" || *got.AudioName != "song" || *got.ThumbnailURL != "https://cdn.example.com/a.jpg" {
					t.Errorf("fields: %s", r.Body)
				}
				if got.Views != 0 || got.LikeCount != 0 || got.IsLiked || got.Likes == nil || len(got.Likes) != 0 {
					t.Errorf("a new video starts empty: %s", r.Body)
				}
				if len(got.CreatedAt) != len("2025-03-25T17:11:38.123Z") || !strings.HasSuffix(got.CreatedAt, "Z") {
					t.Errorf("createdAt %q is not RFC 3339 UTC with milliseconds", got.CreatedAt)
				}
				m := r.Map()
				for _, k := range []string{"id", "userId", "caption", "videoUrl", "thumbnailUrl", "audioName", "views", "createdAt", "updatedAt", "user", "likeCount", "commentCount", "_count", "isLiked", "likes"} {
					if _, ok := m[k]; !ok {
						t.Errorf("Video lacks %q: %s", k, r.Body)
					}
				}
			}},
		{name: "create ignores userId, views and counts in the body", method: "POST", path: "/api/videos",
			body:  map[string]any{"videoUrl": "https://cdn.example.com/b.mp4", "userId": alice.ID, "views": 999, "likeCount": 5},
			token: bob.Token, status: http.StatusCreated,
			check: func(t *testing.T, r *apitest.Response) {
				got := decodeVideo(t, r)
				if got.UserID != bob.ID || got.Views != 0 || got.LikeCount != 0 {
					t.Errorf("mass assignment: %s", r.Body)
				}
			}},
		{name: "create without a token is 401", method: "POST", path: "/api/videos",
			body: map[string]any{"videoUrl": "https://cdn.example.com/a.mp4"}, status: http.StatusUnauthorized, code: "token_missing"},
		{name: "create without videoUrl is 400", method: "POST", path: "/api/videos",
			body: map[string]any{"caption": "x"}, token: bob.Token, status: http.StatusBadRequest, code: "validation_failed"},
		{name: "create with a non-http videoUrl is 400", method: "POST", path: "/api/videos",
			body: map[string]any{"videoUrl": "javascript:alert(1)"}, token: bob.Token, status: http.StatusBadRequest, code: "validation_failed"},
		{name: "create pointing at another upload is 400", method: "POST", path: "/api/videos",
			body: map[string]any{"videoUrl": "/uploads/0123456789abcdef0123456789abcdef.mp4"}, token: bob.Token, status: http.StatusBadRequest, code: "validation_failed"},
		{name: "create with a caption over 2200 characters is 400", method: "POST", path: "/api/videos",
			body: map[string]any{"videoUrl": "https://cdn.example.com/a.mp4", "caption": longCaption}, token: bob.Token, status: http.StatusBadRequest, code: "validation_failed"},
		{name: "create with malformed JSON is 400", method: "POST", path: "/api/videos",
			body: `{"videoUrl": `, token: bob.Token, status: http.StatusBadRequest, code: "invalid_json"},
		{name: "create with a caption of the wrong type is 400", method: "POST", path: "/api/videos",
			body: `{"videoUrl": "https://cdn.example.com/a.mp4", "caption": 12}`, token: bob.Token, status: http.StatusBadRequest, code: "validation_failed"},

		// GET /api/videos/:id
		{name: "read answers the video", method: "GET", path: path("/api/videos/%d", v.ID), status: http.StatusOK,
			check: func(t *testing.T, r *apitest.Response) {
				got := decodeVideo(t, r)
				if got.ID != v.ID || got.User.IsFollowing != nil {
					t.Errorf("anonymous read: %s", r.Body)
				}
			}},
		{name: "read of a missing video is 404", method: "GET", path: path("/api/videos/%d", gone.ID), status: http.StatusNotFound, code: "not_found"},
		{name: "read with a non-numeric id is 400", method: "GET", path: "/api/videos/abc", status: http.StatusBadRequest, code: "invalid_id"},
		{name: "read with id 0 is 400", method: "GET", path: "/api/videos/0", status: http.StatusBadRequest, code: "invalid_id"},

		// PUT /api/videos/:id
		{name: "owner edits caption and audio", method: "PUT", path: path("/api/videos/%d", v.ID),
			body:  map[string]any{"caption": "edited", "audioName": "tune", "videoUrl": "https://evil.example.com/x.mp4", "userId": bob.ID},
			token: alice.Token, status: http.StatusOK,
			check: func(t *testing.T, r *apitest.Response) {
				got := decodeVideo(t, r)
				if *got.Caption != "edited" || *got.AudioName != "tune" || got.VideoURL != v.VideoURL || got.UserID != alice.ID {
					t.Errorf("update: %s", r.Body)
				}
			}},
		{name: "owner clears the caption with null", method: "PUT", path: path("/api/videos/%d", v.ID),
			body: `{"caption": null}`, token: alice.Token, status: http.StatusOK,
			check: func(t *testing.T, r *apitest.Response) {
				if got := decodeVideo(t, r); got.Caption != nil || got.AudioName == nil {
					t.Errorf("caption not cleared or audio lost: %s", r.Body)
				}
			}},
		{name: "another user cannot edit (403)", method: "PUT", path: path("/api/videos/%d", v.ID),
			body: map[string]any{"caption": "mine now"}, token: bob.Token, status: http.StatusForbidden, code: "forbidden"},
		{name: "edit of a missing video is 404", method: "PUT", path: path("/api/videos/%d", gone.ID),
			body: map[string]any{"caption": "x"}, token: alice.Token, status: http.StatusNotFound, code: "not_found"},
		{name: "edit with a non-numeric id is 400", method: "PUT", path: "/api/videos/x1",
			body: map[string]any{"caption": "x"}, token: alice.Token, status: http.StatusBadRequest, code: "invalid_id"},
		{name: "edit without a token is 401", method: "PUT", path: path("/api/videos/%d", v.ID),
			body: map[string]any{"caption": "x"}, status: http.StatusUnauthorized, code: "token_missing"},
		{name: "edit with a too long caption is 400", method: "PUT", path: path("/api/videos/%d", v.ID),
			body: map[string]any{"caption": longCaption}, token: alice.Token, status: http.StatusBadRequest, code: "validation_failed"},

		// DELETE /api/videos/:id
		{name: "another user cannot delete (403)", method: "DELETE", path: path("/api/videos/%d", v.ID),
			token: bob.Token, status: http.StatusForbidden, code: "forbidden"},
		{name: "delete of a missing video is 404", method: "DELETE", path: path("/api/videos/%d", gone.ID),
			token: alice.Token, status: http.StatusNotFound, code: "not_found"},
		{name: "delete with a non-numeric id is 400", method: "DELETE", path: "/api/videos/-1",
			token: alice.Token, status: http.StatusBadRequest, code: "invalid_id"},
		{name: "delete without a token is 401", method: "DELETE", path: path("/api/videos/%d", v.ID),
			status: http.StatusUnauthorized, code: "token_missing"},

		// POST / DELETE /api/videos/:id/like
		{name: "like answers the API.md body", method: "POST", path: path("/api/videos/%d/like", v.ID),
			token: bob.Token, status: http.StatusOK, check: wantLike("Video liked successfully", "liked", 1, true)},
		{name: "liking twice keeps one like", method: "POST", path: path("/api/videos/%d/like", v.ID),
			token: bob.Token, status: http.StatusOK, check: wantLike("Video liked successfully", "liked", 1, true)},
		{name: "the liker sees isLiked and likes [{userId}]", method: "GET", path: path("/api/videos/%d", v.ID),
			token: bob.Token, status: http.StatusOK,
			check: func(t *testing.T, r *apitest.Response) {
				got := decodeVideo(t, r)
				if !got.IsLiked || len(got.Likes) != 1 || got.Likes[0].UserID != bob.ID || got.LikeCount != 1 || got.Count.Likes != 1 {
					t.Errorf("viewer fields: %s", r.Body)
				}
				if got.User.IsFollowing == nil || *got.User.IsFollowing {
					t.Errorf("user.isFollowing must be false for a known viewer: %s", r.Body)
				}
			}},
		{name: "others do not see the liker in likes", method: "GET", path: path("/api/videos/%d", v.ID),
			token: alice.Token, status: http.StatusOK,
			check: func(t *testing.T, r *apitest.Response) {
				if got := decodeVideo(t, r); got.IsLiked || len(got.Likes) != 0 || got.LikeCount != 1 {
					t.Errorf("viewer fields: %s", r.Body)
				}
			}},
		{name: "like of a missing video is 404", method: "POST", path: path("/api/videos/%d/like", gone.ID),
			token: bob.Token, status: http.StatusNotFound, code: "not_found"},
		{name: "like without a token is 401", method: "POST", path: path("/api/videos/%d/like", v.ID),
			status: http.StatusUnauthorized, code: "token_missing"},
		{name: "like with a non-numeric id is 400", method: "POST", path: "/api/videos/1.5/like",
			token: bob.Token, status: http.StatusBadRequest, code: "invalid_id"},
		{name: "likers list has the liker", method: "GET", path: path("/api/videos/%d/likes", v.ID), status: http.StatusOK,
			check: func(t *testing.T, r *apitest.Response) {
				var out struct {
					Users []struct {
						ID       int32  `json:"id"`
						Username string `json:"username"`
					} `json:"users"`
					Pagination paginationJSON `json:"pagination"`
				}
				r.Decode(&out)
				if len(out.Users) != 1 || out.Users[0].ID != bob.ID || out.Pagination.HasNextPage || out.Pagination.NextCursor != nil {
					t.Errorf("likers: %s", r.Body)
				}
			}},
		{name: "likers of a missing video is 404", method: "GET", path: path("/api/videos/%d/likes", gone.ID), status: http.StatusNotFound, code: "not_found"},
		{name: "likers with a bad limit is 400", method: "GET", path: path("/api/videos/%d/likes?limit=ten", v.ID), status: http.StatusBadRequest, code: "validation_failed"},
		{name: "unlike answers the API.md body", method: "DELETE", path: path("/api/videos/%d/like", v.ID),
			token: bob.Token, status: http.StatusOK, check: wantLike("Video unliked successfully", "unliked", 0, false)},
		{name: "unliking twice is fine", method: "DELETE", path: path("/api/videos/%d/like", v.ID),
			token: bob.Token, status: http.StatusOK, check: wantLike("Video unliked successfully", "unliked", 0, false)},
		{name: "unlike of a missing video is 404", method: "DELETE", path: path("/api/videos/%d/like", gone.ID),
			token: bob.Token, status: http.StatusNotFound, code: "not_found"},
		{name: "unlike without a token is 401", method: "DELETE", path: path("/api/videos/%d/like", v.ID),
			status: http.StatusUnauthorized, code: "token_missing"},

		// GET /api/videos/:id/comments
		{name: "comments of a missing video is 404", method: "GET", path: path("/api/videos/%d/comments", gone.ID), status: http.StatusNotFound, code: "not_found"},
		{name: "comments with a non-numeric id is 400", method: "GET", path: "/api/videos/abc/comments", status: http.StatusBadRequest, code: "invalid_id"},
		{name: "comments with a bad page is 400", method: "GET", path: path("/api/videos/%d/comments?page=zero", v.ID), status: http.StatusBadRequest, code: "validation_failed"},

		// GET /api/videos
		{name: "feed answers videos and pagination", method: "GET", path: "/api/videos", status: http.StatusOK,
			check: func(t *testing.T, r *apitest.Response) {
				var out videoListJSON
				r.Decode(&out)
				if len(out.Videos) == 0 || out.Pagination.TotalPages != nil {
					t.Errorf("feed: %s", r.Body)
				}
			}},
		{name: "feed with a non-number limit is 400", method: "GET", path: "/api/videos?limit=abc", status: http.StatusBadRequest, code: "validation_failed"},
		{name: "feed with an unknown sort is 400", method: "GET", path: "/api/videos?sort=oldest", status: http.StatusBadRequest, code: "validation_failed"},
		{name: "feed with a garbage cursor is 400", method: "GET", path: "/api/videos?cursor=%21%21", status: http.StatusBadRequest, code: "validation_failed"},
		{name: "trending rejects a latest cursor", method: "GET", path: "/api/videos?sort=trending&cursor=djE6MTcwMDAwMDAwMDAwMDox", status: http.StatusBadRequest, code: "validation_failed"},
		{name: "feed with a cursor of a missing id is 400", method: "GET", path: path("/api/videos?cursor=%d", gone.ID), status: http.StatusBadRequest, code: "validation_failed"},
		{name: "feed clamps a huge limit to 50", method: "GET", path: "/api/videos?limit=100000000000", status: http.StatusOK,
			check: func(t *testing.T, r *apitest.Response) {
				var out videoListJSON
				r.Decode(&out)
				if len(out.Videos) != 50 || !out.Pagination.HasNextPage {
					t.Errorf("%d videos, hasNextPage %v; want 50 and more to come", len(out.Videos), out.Pagination.HasNextPage)
				}
			}},
		{name: "following feed needs a token", method: "GET", path: "/api/videos/following", status: http.StatusUnauthorized, code: "token_missing"},
		{name: "user videos of a missing user is 404", method: "GET", path: "/api/users/2147483647/videos", status: http.StatusNotFound, code: "not_found"},
		{name: "liked videos of a missing user is 404", method: "GET", path: "/api/users/2147483647/liked", status: http.StatusNotFound, code: "not_found"},
		{name: "user videos with a non-numeric id is 400", method: "GET", path: "/api/users/me2/videos", status: http.StatusBadRequest, code: "invalid_id"},

		// DELETE last: the owner deletes
		{name: "owner deletes", method: "DELETE", path: path("/api/videos/%d", v.ID), token: alice.Token, status: http.StatusOK,
			check: func(t *testing.T, r *apitest.Response) {
				if m := r.Map(); m["message"] != "Video deleted successfully" {
					t.Errorf("body %s", r.Body)
				}
			}},
		{name: "a deleted video is 404", method: "GET", path: path("/api/videos/%d", v.ID), status: http.StatusNotFound, code: "not_found"},
	})
}

func wantLike(message, action string, count int32, liked bool) func(*testing.T, *apitest.Response) {
	return func(t *testing.T, r *apitest.Response) {
		// Every field must be there: a missing likeCount or isLiked would decode as the 0 or
		// false an unlike expects.
		m := r.Map()
		for _, k := range []string{"message", "action", "likeCount", "isLiked"} {
			if _, ok := m[k]; !ok {
				t.Errorf("like answer lacks %q: %s", k, r.Body)
			}
		}
		var got likeJSON
		r.Decode(&got)
		if got != (likeJSON{Message: message, Action: action, LikeCount: count, IsLiked: liked}) {
			t.Errorf("like answer %s, want %q %q %d %v", r.Body, message, action, count, liked)
		}
	}
}

func TestReadsOfDistinctViewersCountOneViewEach(t *testing.T) {
	api := apitest.New(t, db)
	alice := api.NewUser("alice")
	v := postVideo(api, alice, "views")
	for i := 1; i <= 3; i++ {
		getAs(api, v.ID, "192.0.2.1", path("reader-%d", i)).Status(http.StatusOK)
		api.FlushViews()
		var got videoJSON
		api.Do("GET", path("/api/videos/%d", v.ID), nil, alice.Token).Status(http.StatusOK).Decode(&got)
		// The owner's own reads count once, from the second round on.
		if want := int32(i + min(i-1, 1)); got.Views != want {
			t.Fatalf("after %d readers the video shows %d views, want %d", i, got.Views, want)
		}
	}
	// Edits and lists do not count views (the owner's reads above count once: 4 in all).
	api.Do("PUT", path("/api/videos/%d", v.ID), map[string]any{"caption": "x"}, alice.Token).Status(http.StatusOK)
	api.Do("GET", "/api/videos", nil, "").Status(http.StatusOK)
	api.FlushViews()
	if n := countOf(t, `SELECT views FROM videos WHERE id = ?`, v.ID); n != 4 {
		t.Fatalf("views = %d after 3 readers and the owner, want 4", n)
	}
}

func TestInvalidTokenOnPublicRouteAnswersAnonymously(t *testing.T) {
	api := apitest.New(t, db)
	alice := api.NewUser("alice")
	v := postVideo(api, alice, "x")
	api.Do("POST", path("/api/videos/%d/like", v.ID), nil, alice.Token).Status(http.StatusOK)
	r := api.Do("GET", path("/api/videos/%d", v.ID), nil, "not.a.token").Status(http.StatusOK)
	if !strings.Contains(r.Header.Get("WWW-Authenticate"), `error="invalid_token"`) {
		t.Errorf("WWW-Authenticate = %q", r.Header.Get("WWW-Authenticate"))
	}
	var got videoJSON
	r.Decode(&got)
	if got.ID != v.ID || got.LikeCount != 1 {
		t.Fatalf("not the video: %s", r.Body)
	}
	if got.IsLiked || len(got.Likes) != 0 || got.User.IsFollowing != nil {
		t.Errorf("an invalid token must be served as anonymous: %s", r.Body)
	}
}

func TestFollowingFeedAndViewerFields(t *testing.T) {
	api := apitest.New(t, db)
	viewer, followed, stranger := api.NewUser("viewer"), api.NewUser("followed"), api.NewUser("stranger")
	mine := postVideo(api, followed, "followed 1")
	mine2 := postVideo(api, followed, "followed 2")
	postVideo(api, stranger, "stranger")
	api.Do("POST", path("/api/users/%d/follow", followed.ID), nil, viewer.Token).Status(http.StatusOK)
	api.Do("POST", path("/api/videos/%d/like", mine.ID), nil, viewer.Token).Status(http.StatusOK)

	var out videoListJSON
	api.Do("GET", "/api/videos/following", nil, viewer.Token).Status(http.StatusOK).Decode(&out)
	if len(out.Videos) != 2 || out.Videos[0].ID != mine2.ID || out.Videos[1].ID != mine.ID {
		t.Fatalf("following feed: %+v", out.Videos)
	}
	for _, v := range out.Videos {
		if v.User.IsFollowing == nil || !*v.User.IsFollowing {
			t.Errorf("video %d: user.isFollowing should be true", v.ID)
		}
		if liked := v.ID == mine.ID; v.IsLiked != liked || (len(v.Likes) == 1) != liked {
			t.Errorf("video %d: isLiked %v likes %v", v.ID, v.IsLiked, v.Likes)
		}
	}
	var empty videoListJSON
	api.Do("GET", "/api/videos/following", nil, stranger.Token).Status(http.StatusOK).Decode(&empty)
	if len(empty.Videos) != 0 || empty.Videos == nil {
		t.Errorf("a user following nobody gets an empty array: %+v", empty)
	}

	// Liked list: newest like first, with the video's own viewer fields.
	api.Do("POST", path("/api/videos/%d/like", mine2.ID), nil, viewer.Token).Status(http.StatusOK)
	var liked videoListJSON
	api.Do("GET", path("/api/users/%d/liked", viewer.ID), nil, "").Status(http.StatusOK).Decode(&liked)
	if len(liked.Videos) != 2 || liked.Videos[0].ID != mine2.ID || liked.Videos[1].ID != mine.ID {
		t.Fatalf("liked list: %+v", liked.Videos)
	}
	var userVideos videoListJSON
	api.Do("GET", path("/api/users/%d/videos", followed.ID), nil, "").Status(http.StatusOK).Decode(&userVideos)
	if len(userVideos.Videos) != 2 || userVideos.Videos[0].ID != mine2.ID {
		t.Fatalf("user videos: %+v", userVideos.Videos)
	}
}

func TestTrendingRanksEngagementDecayedByAge(t *testing.T) {
	api := apitest.New(t, db)
	author, fan := api.NewUser("author"), api.NewUser("fan")
	quiet := postVideo(api, author, "quiet")
	loved := postVideo(api, author, "loved")
	api.Do("POST", path("/api/videos/%d/like", loved.ID), nil, fan.Token).Status(http.StatusOK)
	postComment(api, fan, loved.ID, "wow")
	// An old video with far more likes than anything new ranks below them: its age outweighs it.
	old := insertVideos(t, author.ID, 1, 1, mustTime(t, "2020-01-01T00:00:00Z"))[0]
	testdb.MustRun(t, db, `INSERT INTO video_likes (user_id, video_id) VALUES (?, ?)`, author.ID, old)

	pos := map[int32]int{}
	for i, id := range walk(t, api, "/api/videos?sort=trending", 50, videoItems) {
		pos[id] = i + 1
	}
	if pos[loved.ID] == 0 || pos[quiet.ID] == 0 || pos[loved.ID] > pos[quiet.ID] {
		t.Fatalf("the liked and commented video must rank above the quiet one of the same age: loved %d quiet %d", pos[loved.ID], pos[quiet.ID])
	}
	if pos[old] == 0 || pos[old] < pos[quiet.ID] {
		t.Fatalf("a six-year-old video ranks above a new one")
	}
	// The stored score is the documented function of the row's own columns.
	var diff float64
	testdb.MustScan(t, db, &diff, `SELECT abs(trending_score - (log10(1 + like_count + 2*comment_count + views/10) + extract(epoch from created_at)::float8 / 45000))
		FROM videos WHERE id = ?`, loved.ID)
	if diff > 1e-9 {
		t.Fatalf("trending_score differs from the formula by %g", diff)
	}
}

// TestTrendingScrollIsNotDisturbedByWatching: a viewer scrolls the For You feed and watches
// the videos it is served. Each of 40 new videos is one view short of the next step of its
// score, so watching it lifts it past an unwatched twin of the same age. That only moves
// videos already above the cursor, so
// the scroll still serves every video exactly once, in the order it had when it began.
func TestTrendingScrollIsNotDisturbedByWatching(t *testing.T) {
	api := apitest.New(t, db)
	viewer, author, twin := api.NewUser("watcher"), api.NewUser("creator"), api.NewUser("twin")
	base := time.Now().Add(-time.Hour)
	watched := map[int32]bool{}
	for _, id := range insertVideos(t, author.ID, 40, 1, base) {
		watched[id] = true
	}
	// Unwatched videos at the same instants: the watched ones overtake them.
	insertVideos(t, twin.ID, 40, 1, base)
	testdb.MustRun(t, db, `UPDATE videos SET views = 9 WHERE user_id = ?`, author.ID)
	before := idsOf(t, `SELECT id FROM videos WHERE status = 'ready' ORDER BY trending_score DESC, id DESC`)
	var served []int32
	cursor := ""
	for page := 0; ; page++ {
		if page > 1000 {
			t.Fatal("more than 1000 pages")
		}
		u := "/api/videos?sort=trending&limit=7"
		if cursor != "" {
			u += "&cursor=" + cursor
		}
		ids, p := videoItems(api.Do("GET", u, nil, viewer.Token).Status(http.StatusOK))
		served = append(served, ids...)
		for _, id := range ids {
			if watched[id] {
				api.Do("GET", path("/api/videos/%d", id), nil, viewer.Token).Status(http.StatusOK)
			}
		}
		if !p.HasNextPage {
			break
		}
		cursor = *p.NextCursor
	}
	if !slices.Equal(served, before) {
		t.Fatalf("the scroll served %d videos, not the %d of its start once each in order", len(served), len(before))
	}
	api.FlushViews() // the counted views reach the scores
	if after := idsOf(t, `SELECT id FROM videos WHERE status = 'ready' ORDER BY trending_score DESC, id DESC`); slices.Equal(after, before) {
		t.Fatal("watching moved no video: the test proves nothing")
	}
}
