package store_test

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"strconv"
	"testing"
	"time"

	"tiktok/errs"
	"tiktok/models"
	"tiktok/store"
)

// The fixtures of every test file: rows made through the store's own methods where it has
// them, plain SQL only for bulk rows that must share a timestamp. Names are unique, since
// every test of the package shares one database.

var ctx = context.Background()

// unique returns prefix with a random suffix.
func unique(prefix string) string {
	b := make([]byte, 4)
	_, _ = rand.Read(b)
	return prefix + "_" + hex.EncodeToString(b)
}

func must(t testing.TB, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}

// newUser creates a user named after prefix through Users.Create.
func newUser(t testing.TB, prefix string) *models.User {
	t.Helper()
	name := unique(prefix)
	u := &models.User{Username: name, Email: name + "@example.com", Password: "x"}
	must(t, store.New(db).Users.Create(ctx, u))
	return u
}

// newVideo creates a video of owner through Videos.Create.
func newVideo(t testing.TB, owner int32) *models.Video {
	t.Helper()
	v := &models.Video{UserID: owner, VideoURL: "https://cdn.example.com/" + unique("v") + ".mp4"}
	must(t, errOnly(store.New(db).Videos.Create(ctx, v)))
	return v
}

// newComment creates a comment of user on video through Comments.Create.
func newComment(t testing.TB, user, video int32) *models.Comment {
	t.Helper()
	c := &models.Comment{VideoID: video, Content: unique("c")}
	must(t, errOnly(store.New(db).Comments.Create(ctx, store.Caller{ID: user}, c)))
	return c
}

// insertVideos inserts n videos of user, sameTime of them sharing each created_at, one
// second apart going back from base; it returns their ids in insertion order.
func insertVideos(t testing.TB, user int32, n, sameTime int, base time.Time) []int32 {
	t.Helper()
	var ids []int32
	must(t, db.Raw(`INSERT INTO videos (user_id, video_url, created_at, updated_at)
		SELECT ?, 'https://cdn.example.com/bulk.mp4', ?::timestamp - (g / ?) * interval '1 second', now()
		FROM generate_series(0, ? - 1) g ORDER BY g RETURNING id`, user, base.UTC(), sameTime, n).Scan(&ids).Error)
	return ids
}

// newUsers creates n users through Users.Create.
func newUsers(t testing.TB, prefix string, n int) []int32 {
	t.Helper()
	ids := make([]int32, n)
	for i := range ids {
		ids[i] = newUser(t, prefix).ID
	}
	return ids
}

// sharedTime is the created_at of the i-th bulk row: pairs of rows share one, a second apart.
func sharedTime(base time.Time, i int) time.Time {
	return base.Add(-time.Duration(i/2) * time.Second).UTC()
}

// ids runs a query selecting one id column, in its order.
func ids(t testing.TB, q string, args ...any) []int32 {
	t.Helper()
	var out []int32
	must(t, db.Raw(q, args...).Scan(&out).Error)
	if out == nil {
		out = []int32{}
	}
	return out
}

// countOf runs a query selecting one count.
func countOf(t testing.TB, q string, args ...any) int64 {
	t.Helper()
	var n int64
	must(t, db.Raw(q, args...).Scan(&n).Error)
	return n
}

// wantKind fails unless err is an errs.Error of kind, with a reason for each of fields.
func wantKind(t testing.TB, err error, kind errs.Kind, fields ...string) *errs.Error {
	t.Helper()
	var e *errs.Error
	if !errors.As(err, &e) {
		t.Fatalf("error %v (%T), want an errs.Error of kind %d", err, err, kind)
	}
	if e.Kind != kind {
		t.Fatalf("error %v has kind %d, want %d", err, e.Kind, kind)
	}
	for _, f := range fields {
		if e.Fields[f] == "" {
			t.Fatalf("error %v names fields %v, want %q", err, e.Fields, f)
		}
	}
	return e
}

// createComment creates a comment of user on video, as a fresh user's token would (version 0).
func createComment(st *store.Store, user, video int32) (store.CommentView, error) {
	return st.Comments.Create(ctx, store.Caller{ID: user}, &models.Comment{VideoID: video, Content: unique("c")})
}

func itoa(n int) string { return strconv.Itoa(n) }

// errOnly drops the view a create returns, for checks that only need its error.
func errOnly[T any](_ T, err error) error { return err }
