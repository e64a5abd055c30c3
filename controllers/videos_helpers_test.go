package controllers_test

import (
	"fmt"
	"net/http"
	"strings"
	"testing"
	"time"

	"tiktok/internal/apitest"
	"tiktok/internal/testdb"
)

// videoJSON is the Video shape as a client reads it.
type videoJSON struct {
	ID           int32   `json:"id"`
	UserID       int32   `json:"userId"`
	Caption      *string `json:"caption"`
	VideoURL     string  `json:"videoUrl"`
	ThumbnailURL *string `json:"thumbnailUrl"`
	AudioName    *string `json:"audioName"`
	Views        int32   `json:"views"`
	CreatedAt    string  `json:"createdAt"`
	UpdatedAt    string  `json:"updatedAt"`
	User         struct {
		ID          int32   `json:"id"`
		Username    string  `json:"username"`
		Name        *string `json:"name"`
		Avatar      *string `json:"avatar"`
		IsFollowing *bool   `json:"isFollowing"`
	} `json:"user"`
	LikeCount    int32 `json:"likeCount"`
	CommentCount int32 `json:"commentCount"`
	Count        struct {
		Likes    int32 `json:"likes"`
		Comments int32 `json:"comments"`
	} `json:"_count"`
	IsLiked bool `json:"isLiked"`
	Likes   []struct {
		UserID int32 `json:"userId"`
	} `json:"likes"`
}

type paginationJSON struct {
	NextCursor    *string `json:"nextCursor"`
	HasNextPage   bool    `json:"hasNextPage"`
	TotalPages    *int    `json:"totalPages"`
	CurrentPage   *int    `json:"currentPage"`
	TotalVideos   *int64  `json:"totalVideos"`
	TotalComments *int64  `json:"totalComments"`
}

type videoListJSON struct {
	Videos     []videoJSON    `json:"videos"`
	Pagination paginationJSON `json:"pagination"`
}

type commentJSON struct {
	ID        int32  `json:"id"`
	Content   string `json:"content"`
	UserID    int32  `json:"userId"`
	VideoID   int32  `json:"videoId"`
	CreatedAt string `json:"createdAt"`
	UpdatedAt string `json:"updatedAt"`
	User      struct {
		ID          int32  `json:"id"`
		Username    string `json:"username"`
		IsFollowing *bool  `json:"isFollowing"`
	} `json:"user"`
	LikeCount int32 `json:"likeCount"`
	Count     struct {
		Likes int32 `json:"likes"`
	} `json:"_count"`
	IsLiked bool `json:"isLiked"`
}

type commentListJSON struct {
	Comments   []commentJSON  `json:"comments"`
	Pagination paginationJSON `json:"pagination"`
}

type likeJSON struct {
	Message   string `json:"message"`
	Action    string `json:"action"`
	LikeCount int32  `json:"likeCount"`
	IsLiked   bool   `json:"isLiked"`
}

// postVideo creates a video through the API (JSON with a URL) and returns it.
func postVideo(api *apitest.API, u *apitest.User, caption string) videoJSON {
	api.T.Helper()
	var v videoJSON
	api.Do("POST", "/api/videos", map[string]any{"videoUrl": "https://cdn.example.com/" + apitest.Unique("v") + ".mp4",
		"caption": caption}, u.Token).Status(http.StatusCreated).Decode(&v)
	return v
}

// postComment comments on a video through the API.
func postComment(api *apitest.API, u *apitest.User, videoID int32, content string) commentJSON {
	api.T.Helper()
	var cm commentJSON
	api.Do("POST", "/api/comments", map[string]any{"videoId": videoID, "content": content}, u.Token).
		Status(http.StatusCreated).Decode(&cm)
	return cm
}

// insertVideos writes n videos of user straight into the table (much faster than the API for
// big lists): video i is created at base minus (i / sameTime) seconds, so groups of sameTime
// videos share one created_at. It returns the ids in insertion order.
func insertVideos(t testing.TB, userID int32, n, sameTime int, base time.Time) []int32 {
	t.Helper()
	var ids []int32
	testdb.MustScan(t, db, &ids, `INSERT INTO videos (user_id, video_url, caption, created_at, updated_at)
		SELECT ?, 'https://cdn.example.com/bulk.mp4', 'bulk ' || g, ?::timestamp - (g / ?) * interval '1 second', now()
		FROM generate_series(0, ? - 1) g ORDER BY g RETURNING id`, userID, base.UTC(), sameTime, n)
	return ids
}

// countingAPI builds a router whose database handle counts every statement.
func countingAPI(t *testing.T) (*apitest.API, *testdb.Recorder) {
	recording, counter := testdb.Recording(db)
	return apitest.New(t, recording), counter
}

// countOf returns COUNT(*) of a query, failing the test on error.
func countOf(t testing.TB, q string, args ...any) int64 {
	t.Helper()
	var n int64
	testdb.MustScan(t, db, &n, q, args...)
	return n
}

func ptr[T any](v T) *T { return &v }

func path(format string, args ...any) string { return fmt.Sprintf(format, args...) }

func mustTime(t testing.TB, s string) time.Time {
	t.Helper()
	tm, err := time.Parse(time.RFC3339, s)
	if err != nil {
		t.Fatal(err)
	}
	return tm
}

// int32Array is ids as a PostgreSQL array literal (GORM would expand a slice into a list).
func int32Array(ids []int32) string {
	parts := make([]string, len(ids))
	for i, id := range ids {
		parts[i] = fmt.Sprint(id)
	}
	return "{" + strings.Join(parts, ",") + "}"
}
