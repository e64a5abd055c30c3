package controllers_test

import (
	"net/http"
	"strings"
	"testing"

	"tiktok/internal/apitest"
)

func TestCommentEndpoints(t *testing.T) {
	api := apitest.New(t, db)
	owner, author, other := api.NewUser("owner"), api.NewUser("author"), api.NewUser("other")
	v := postVideo(api, owner, "commented")
	gone := postVideo(api, owner, "gone")
	api.Do("DELETE", path("/api/videos/%d", gone.ID), nil, owner.Token).Status(http.StatusOK)
	cm := postComment(api, author, v.ID, "first")
	byOwner := postComment(api, author, v.ID, "the video's owner may delete this")
	goneComment := postComment(api, author, v.ID, "deleted")
	api.Do("DELETE", path("/api/comments/%d", goneComment.ID), nil, author.Token).Status(http.StatusOK)

	decode := func(r *apitest.Response) commentJSON {
		var out commentJSON
		r.Decode(&out)
		return out
	}
	runCases(t, api, []endpointCase{
		// POST /api/comments
		{name: "create with a numeric videoId trims the content", method: "POST", path: "/api/comments",
			body: map[string]any{"videoId": v.ID, "content": "  nice  "}, token: other.Token, status: http.StatusCreated,
			check: func(t *testing.T, r *apitest.Response) {
				got := decode(r)
				if got.Content != "nice" || got.UserID != other.ID || got.VideoID != v.ID || got.User.ID != other.ID || got.IsLiked || got.LikeCount != 0 {
					t.Errorf("comment: %s", r.Body)
				}
				m := r.Map()
				for _, k := range []string{"id", "content", "userId", "videoId", "createdAt", "updatedAt", "user", "likeCount", "_count", "isLiked"} {
					if _, ok := m[k]; !ok {
						t.Errorf("Comment lacks %q: %s", k, r.Body)
					}
				}
			}},
		{name: "create with videoId as a numeric string", method: "POST", path: "/api/comments",
			body: map[string]any{"videoId": apitest.ID(v.ID), "content": "string id"}, token: other.Token, status: http.StatusCreated},
		{name: "create ignores userId in the body", method: "POST", path: "/api/comments",
			body: map[string]any{"videoId": v.ID, "content": "x", "userId": owner.ID}, token: other.Token, status: http.StatusCreated,
			check: func(t *testing.T, r *apitest.Response) {
				if decode(r).UserID != other.ID {
					t.Errorf("mass assignment: %s", r.Body)
				}
			}},
		{name: "create with 2000 characters is fine", method: "POST", path: "/api/comments",
			body: map[string]any{"videoId": v.ID, "content": strings.Repeat("ü", 2000)}, token: other.Token, status: http.StatusCreated},
		{name: "create with 2001 characters is 400", method: "POST", path: "/api/comments",
			body: map[string]any{"videoId": v.ID, "content": strings.Repeat("ü", 2001)}, token: other.Token, status: http.StatusBadRequest, code: "validation_failed"},
		{name: "create with only spaces is 400", method: "POST", path: "/api/comments",
			body: map[string]any{"videoId": v.ID, "content": "   "}, token: other.Token, status: http.StatusBadRequest, code: "validation_failed"},
		{name: "create without content is 400", method: "POST", path: "/api/comments",
			body: map[string]any{"videoId": v.ID}, token: other.Token, status: http.StatusBadRequest, code: "validation_failed"},
		{name: "create without videoId is 400", method: "POST", path: "/api/comments",
			body: map[string]any{"content": "x"}, token: other.Token, status: http.StatusBadRequest, code: "validation_failed"},
		{name: "create with a non-numeric videoId is 400", method: "POST", path: "/api/comments",
			body: map[string]any{"videoId": "abc", "content": "x"}, token: other.Token, status: http.StatusBadRequest, code: "validation_failed"},
		{name: "create on a missing video is 404", method: "POST", path: "/api/comments",
			body: map[string]any{"videoId": gone.ID, "content": "x"}, token: other.Token, status: http.StatusNotFound, code: "not_found"},
		{name: "create without a token is 401", method: "POST", path: "/api/comments",
			body: map[string]any{"videoId": v.ID, "content": "x"}, status: http.StatusUnauthorized, code: "token_missing"},
		{name: "create with malformed JSON is 400", method: "POST", path: "/api/comments",
			body: "{", token: other.Token, status: http.StatusBadRequest, code: "invalid_json"},

		// GET /api/comments/:id
		{name: "read answers the comment", method: "GET", path: path("/api/comments/%d", cm.ID), status: http.StatusOK,
			check: func(t *testing.T, r *apitest.Response) {
				if got := decode(r); got.ID != cm.ID || got.Content != "first" || got.User.IsFollowing != nil {
					t.Errorf("comment: %s", r.Body)
				}
			}},
		{name: "read of a missing comment is 404", method: "GET", path: path("/api/comments/%d", goneComment.ID), status: http.StatusNotFound, code: "not_found"},
		{name: "read with a non-numeric id is 400", method: "GET", path: "/api/comments/abc", status: http.StatusBadRequest, code: "invalid_id"},

		// PUT /api/comments/:id
		{name: "author edits", method: "PUT", path: path("/api/comments/%d", cm.ID),
			body: map[string]any{"content": " edited "}, token: author.Token, status: http.StatusOK,
			check: func(t *testing.T, r *apitest.Response) {
				if got := decode(r); got.Content != "edited" || got.UpdatedAt < got.CreatedAt {
					t.Errorf("edit: %s", r.Body)
				}
			}},
		{name: "the video's owner cannot edit someone's comment (403)", method: "PUT", path: path("/api/comments/%d", cm.ID),
			body: map[string]any{"content": "x"}, token: owner.Token, status: http.StatusForbidden, code: "forbidden"},
		{name: "another user cannot edit (403)", method: "PUT", path: path("/api/comments/%d", cm.ID),
			body: map[string]any{"content": "x"}, token: other.Token, status: http.StatusForbidden, code: "forbidden"},
		{name: "edit to empty is 400", method: "PUT", path: path("/api/comments/%d", cm.ID),
			body: map[string]any{"content": ""}, token: author.Token, status: http.StatusBadRequest, code: "validation_failed"},
		{name: "edit of a missing comment is 404", method: "PUT", path: path("/api/comments/%d", goneComment.ID),
			body: map[string]any{"content": "x"}, token: author.Token, status: http.StatusNotFound, code: "not_found"},
		{name: "edit with a non-numeric id is 400", method: "PUT", path: "/api/comments/1e3",
			body: map[string]any{"content": "x"}, token: author.Token, status: http.StatusBadRequest, code: "invalid_id"},
		{name: "edit without a token is 401", method: "PUT", path: path("/api/comments/%d", cm.ID),
			body: map[string]any{"content": "x"}, status: http.StatusUnauthorized, code: "token_missing"},

		// POST / DELETE /api/comments/:id/like
		{name: "like a comment", method: "POST", path: path("/api/comments/%d/like", cm.ID),
			token: other.Token, status: http.StatusOK, check: wantLike("Comment liked successfully", "liked", 1, true)},
		{name: "liking a comment twice keeps one like", method: "POST", path: path("/api/comments/%d/like", cm.ID),
			token: other.Token, status: http.StatusOK, check: wantLike("Comment liked successfully", "liked", 1, true)},
		{name: "the liker sees isLiked on the comment", method: "GET", path: path("/api/comments/%d", cm.ID),
			token: other.Token, status: http.StatusOK,
			check: func(t *testing.T, r *apitest.Response) {
				if got := decode(r); !got.IsLiked || got.LikeCount != 1 || got.Count.Likes != 1 || got.User.IsFollowing == nil {
					t.Errorf("viewer fields: %s", r.Body)
				}
			}},
		{name: "like of a missing comment is 404", method: "POST", path: path("/api/comments/%d/like", goneComment.ID),
			token: other.Token, status: http.StatusNotFound, code: "not_found"},
		{name: "like without a token is 401", method: "POST", path: path("/api/comments/%d/like", cm.ID),
			status: http.StatusUnauthorized, code: "token_missing"},
		{name: "unlike a comment", method: "DELETE", path: path("/api/comments/%d/like", cm.ID),
			token: other.Token, status: http.StatusOK, check: wantLike("Comment unliked successfully", "unliked", 0, false)},
		{name: "unliking a comment twice is fine", method: "DELETE", path: path("/api/comments/%d/like", cm.ID),
			token: other.Token, status: http.StatusOK, check: wantLike("Comment unliked successfully", "unliked", 0, false)},
		{name: "unlike of a missing comment is 404", method: "DELETE", path: path("/api/comments/%d/like", goneComment.ID),
			token: other.Token, status: http.StatusNotFound, code: "not_found"},
		{name: "unlike with a non-numeric id is 400", method: "DELETE", path: "/api/comments/x/like",
			token: other.Token, status: http.StatusBadRequest, code: "invalid_id"},

		// Lists
		{name: "video comments list, newest first", method: "GET", path: path("/api/videos/%d/comments", v.ID), status: http.StatusOK,
			check: func(t *testing.T, r *apitest.Response) {
				var out commentListJSON
				r.Decode(&out)
				if len(out.Comments) < 2 || out.Comments[len(out.Comments)-1].ID != cm.ID || out.Pagination.TotalComments != nil {
					t.Errorf("list: %s", r.Body)
				}
			}},
		{name: "video comments in page mode have totals", method: "GET", path: path("/api/videos/%d/comments?page=1&limit=2", v.ID), status: http.StatusOK,
			check: func(t *testing.T, r *apitest.Response) {
				var out commentListJSON
				r.Decode(&out)
				total := countOf(t, `SELECT count(*) FROM comments WHERE video_id = ?`, v.ID)
				p := out.Pagination
				if p.TotalComments == nil || *p.TotalComments != total || *p.TotalPages != int((total+1)/2) || *p.CurrentPage != 1 || !p.HasNextPage || len(out.Comments) != 2 {
					t.Errorf("page mode: %s (total %d)", r.Body, total)
				}
			}},
		{name: "all comments list", method: "GET", path: "/api/comments?limit=1", status: http.StatusOK,
			check: func(t *testing.T, r *apitest.Response) {
				var out commentListJSON
				r.Decode(&out)
				if len(out.Comments) != 1 || !out.Pagination.HasNextPage || out.Pagination.NextCursor == nil {
					t.Errorf("list: %s", r.Body)
				}
			}},
		{name: "all comments with a bad cursor is 400", method: "GET", path: "/api/comments?cursor=zzz", status: http.StatusBadRequest, code: "validation_failed"},
		{name: "all comments with a bad limit is 400", method: "GET", path: "/api/comments?limit=-1", status: http.StatusBadRequest, code: "validation_failed"},

		// DELETE /api/comments/:id
		{name: "another user cannot delete (403)", method: "DELETE", path: path("/api/comments/%d", cm.ID),
			token: other.Token, status: http.StatusForbidden, code: "forbidden"},
		{name: "the video's owner deletes someone's comment", method: "DELETE", path: path("/api/comments/%d", byOwner.ID),
			token: owner.Token, status: http.StatusOK,
			check: func(t *testing.T, r *apitest.Response) {
				if r.Map()["message"] != "Comment deleted successfully" {
					t.Errorf("body %s", r.Body)
				}
			}},
		{name: "the author deletes", method: "DELETE", path: path("/api/comments/%d", cm.ID), token: author.Token, status: http.StatusOK},
		{name: "delete of a missing comment is 404", method: "DELETE", path: path("/api/comments/%d", cm.ID),
			token: author.Token, status: http.StatusNotFound, code: "not_found"},
		{name: "delete with a non-numeric id is 400", method: "DELETE", path: "/api/comments/abc",
			token: author.Token, status: http.StatusBadRequest, code: "invalid_id"},
		{name: "delete without a token is 401", method: "DELETE", path: path("/api/comments/%d", cm.ID),
			status: http.StatusUnauthorized, code: "token_missing"},
	})
	// Counters equal their rows after all of that.
	if got, want := countOf(t, `SELECT comment_count FROM video_counts WHERE id = ?`, v.ID), countOf(t, `SELECT count(*) FROM comments WHERE video_id = ?`, v.ID); got != want {
		t.Errorf("comment_count %d, COUNT(*) %d", got, want)
	}
}

func TestDeletingAVideoTakesItsLikesCommentsAndCounters(t *testing.T) {
	api := apitest.New(t, db)
	author, fan := api.NewUser("author"), api.NewUser("fan")
	keep := postVideo(api, author, "kept")
	v := postVideo(api, author, "deleted")
	for _, id := range []int32{keep.ID, v.ID} {
		api.Do("POST", path("/api/videos/%d/like", id), nil, fan.Token).Status(http.StatusOK)
	}
	cm := postComment(api, fan, v.ID, "bye")
	api.Do("POST", path("/api/comments/%d/like", cm.ID), nil, author.Token).Status(http.StatusOK)

	var before struct{ VideoCount, LikeCount int32 }
	api.Do("GET", path("/api/users/%d", author.ID), nil, "").Status(http.StatusOK).Decode(&before)
	if before.VideoCount != 2 || before.LikeCount != 2 {
		t.Fatalf("before: %+v", before)
	}
	api.Do("DELETE", path("/api/videos/%d", v.ID), nil, author.Token).Status(http.StatusOK)

	for q, want := range map[string]int64{
		`SELECT count(*) FROM video_likes WHERE video_id = ?`:                                                          0,
		`SELECT count(*) FROM comments WHERE video_id = ?`:                                                             0,
		`SELECT count(*) FROM comment_likes cl WHERE NOT EXISTS (SELECT 1 FROM comments c WHERE c.id = cl.comment_id)`: 0,
	} {
		if n := countOf(t, strings.ReplaceAll(q, "?", apitest.ID(v.ID)), nil...); n != want {
			t.Errorf("%s: %d, want %d", q, n, want)
		}
	}
	var after struct{ VideoCount, LikeCount int32 }
	api.Do("GET", path("/api/users/%d", author.ID), nil, "").Status(http.StatusOK).Decode(&after)
	if after.VideoCount != 1 || after.LikeCount != 1 {
		t.Fatalf("author's counters after the delete: %+v, want 1 video and 1 like", after)
	}
	api.Do("GET", path("/api/comments/%d", cm.ID), nil, "").Error(http.StatusNotFound, "not_found")
}
