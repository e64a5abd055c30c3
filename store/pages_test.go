package store_test

import (
	"encoding/base64"
	"fmt"
	"math"
	"slices"
	"strconv"
	"testing"
	"time"

	"tiktok/errs"
	"tiktok/internal/testdb"
	"tiktok/store"
)

// Every list of the store is a keyset page of fetchPage (page.go). These tests run each list
// over rows that share timestamps and compare what it gives with the same list ordered by
// plain SQL.

// list is one list of the store, seen as ids: its items' ids and its page fields.
type list struct {
	name  string
	fetch func(st *store.Store, req store.PageRequest) (store.Page[int32], error)
	// want is the list in its order, by a query written independently of the store's.
	want     string
	wantArgs []any
	// outsider is an id of the list's kind of item that is not in the list.
	outsider int32
	byScore  bool // the trending list: its cursors are scores, not times
	offset   bool // the list has the offset mode (every list but the following feed)
}

func (l list) wantIDs(t testing.TB) []int32 {
	t.Helper()
	return ids(t, l.want, l.wantArgs...)
}

// toIDs is p with its items replaced by their ids.
func toIDs[T any](p store.Page[T], err error, id func(T) int32) (store.Page[int32], error) {
	out := store.Page[int32]{Items: []int32{}, NextCursor: p.NextCursor, HasNextPage: p.HasNextPage, OffsetMode: p.OffsetMode,
		Total: p.Total, TotalPages: p.TotalPages, CurrentPage: p.CurrentPage}
	for _, it := range p.Items {
		out.Items = append(out.Items, id(it))
	}
	return out, err
}

func videoID(v store.VideoView) int32     { return v.ID }
func commentID(c store.CommentView) int32 { return c.ID }
func userID(u store.UserSummary) int32    { return u.ID }

// listFixture: the viewer follows authors a and b (not c), and eight crowd users; a, b and c
// have videos three to a timestamp, the same timestamps for all three; the crowd follows a,
// likes and comments on a's newest video, two to a timestamp; the viewer likes eight videos,
// two to a timestamp. Timestamps are an hour ahead, so the fixture tops the global lists.
type listFixture struct {
	viewer, a, b, c int32
	crowd           []int32
	video           int32 // a's newest video
	otherVideo      int32 // a video of c: in no scoped list of the viewer's
	otherComment    int32 // a comment on c's video
	lonely          int32 // a user nobody follows
}

func newListFixture(t testing.TB) listFixture {
	t.Helper()
	st := store.New(db)
	base := time.Now().UTC().Truncate(time.Second).Add(time.Hour)
	f := listFixture{viewer: newUser(t, "viewer").ID, a: newUser(t, "a").ID, b: newUser(t, "b").ID, c: newUser(t, "c").ID,
		lonely: newUser(t, "lonely").ID}
	aVideos := insertVideos(t, f.a, 9, 3, base)
	bVideos := insertVideos(t, f.b, 6, 3, base)
	cVideos := insertVideos(t, f.c, 3, 3, base)
	f.video = aVideos[0]
	for _, author := range []int32{f.a, f.b} {
		if _, err := st.Follows.Set(ctx, store.Caller{ID: f.viewer}, author, true); err != nil {
			t.Fatal(err)
		}
	}
	f.crowd = newUsers(t, "crowd", 8)
	for i, u := range f.crowd {
		at := sharedTime(base, i)
		must(t, db.Exec(`INSERT INTO follows (follower_id, following_id, created_at) VALUES (?, ?, ?), (?, ?, ?)`,
			u, f.a, at, f.viewer, u, at).Error)
		must(t, db.Exec(`INSERT INTO video_likes (user_id, video_id, created_at) VALUES (?, ?, ?)`, u, f.video, at).Error)
		must(t, db.Exec(`INSERT INTO comments (user_id, video_id, content, created_at, updated_at) VALUES (?, ?, 'hi', ?, ?)`,
			u, f.video, at, at).Error)
	}
	for i, v := range append(aVideos[:4:4], bVideos[:4]...) {
		must(t, db.Exec(`INSERT INTO video_likes (user_id, video_id, created_at) VALUES (?, ?, ?)`, f.viewer, v, sharedTime(base, i)).Error)
	}
	f.otherVideo = cVideos[0]
	f.otherComment = newComment(t, f.a, cVideos[0]).ID
	return f
}

// lists are every list of the store, as the fixture's viewer sees them.
func (f listFixture) lists() []list {
	v := f.viewer
	return []list{
		{name: "latest videos", offset: true, outsider: math.MaxInt32,
			fetch: func(st *store.Store, r store.PageRequest) (store.Page[int32], error) {
				p, err := st.Videos.Latest(ctx, v, r)
				return toIDs(p, err, videoID)
			},
			want: `SELECT id FROM videos ORDER BY created_at DESC, id DESC`},
		{name: "trending videos", offset: true, byScore: true, outsider: math.MaxInt32,
			fetch: func(st *store.Store, r store.PageRequest) (store.Page[int32], error) {
				p, err := st.Videos.Trending(ctx, v, r)
				return toIDs(p, err, videoID)
			},
			want: `SELECT id FROM videos ORDER BY log(1 + like_count + 2 * comment_count + views / 10) + extract(epoch FROM created_at) / 45000 DESC, id DESC`},
		{name: "videos of a user", offset: true, outsider: f.otherVideo,
			fetch: func(st *store.Store, r store.PageRequest) (store.Page[int32], error) {
				p, err := st.Videos.ByUser(ctx, v, f.a, r)
				return toIDs(p, err, videoID)
			},
			want: `SELECT id FROM videos WHERE user_id = ? ORDER BY created_at DESC, id DESC`, wantArgs: []any{f.a}},
		{name: "videos a user liked", offset: true, outsider: f.otherVideo,
			fetch: func(st *store.Store, r store.PageRequest) (store.Page[int32], error) {
				p, err := st.Videos.LikedBy(ctx, v, f.viewer, r)
				return toIDs(p, err, videoID)
			},
			want: `SELECT video_id FROM video_likes WHERE user_id = ? ORDER BY created_at DESC, video_id DESC`, wantArgs: []any{f.viewer}},
		{name: "following feed", outsider: f.otherVideo,
			fetch: func(st *store.Store, r store.PageRequest) (store.Page[int32], error) {
				p, err := st.Videos.Following(ctx, v, r)
				return toIDs(p, err, videoID)
			},
			want: `SELECT v.id FROM videos v JOIN follows f ON f.following_id = v.user_id WHERE f.follower_id = ?
				ORDER BY v.created_at DESC, v.id DESC`, wantArgs: []any{f.viewer}},
		{name: "all comments", offset: true, outsider: math.MaxInt32,
			fetch: func(st *store.Store, r store.PageRequest) (store.Page[int32], error) {
				p, err := st.Comments.List(ctx, v, r)
				return toIDs(p, err, commentID)
			},
			want: `SELECT id FROM comments ORDER BY created_at DESC, id DESC`},
		{name: "comments of a video", offset: true, outsider: f.otherComment,
			fetch: func(st *store.Store, r store.PageRequest) (store.Page[int32], error) {
				p, err := st.Comments.ForVideo(ctx, v, f.video, r)
				return toIDs(p, err, commentID)
			},
			want: `SELECT id FROM comments WHERE video_id = ? ORDER BY created_at DESC, id DESC`, wantArgs: []any{f.video}},
		{name: "followers", offset: true, outsider: f.c,
			fetch: func(st *store.Store, r store.PageRequest) (store.Page[int32], error) {
				p, err := st.Follows.Followers(ctx, v, f.a, r)
				return toIDs(p, err, userID)
			},
			want: `SELECT follower_id FROM follows WHERE following_id = ? ORDER BY created_at DESC, follower_id DESC`, wantArgs: []any{f.a}},
		{name: "followers of a user nobody follows", offset: true, outsider: f.c,
			fetch: func(st *store.Store, r store.PageRequest) (store.Page[int32], error) {
				p, err := st.Follows.Followers(ctx, v, f.lonely, r)
				return toIDs(p, err, userID)
			},
			want: `SELECT follower_id FROM follows WHERE following_id = ? ORDER BY created_at DESC, follower_id DESC`, wantArgs: []any{f.lonely}},
		{name: "followings", offset: true, outsider: f.c,
			fetch: func(st *store.Store, r store.PageRequest) (store.Page[int32], error) {
				p, err := st.Follows.Following(ctx, v, f.viewer, r)
				return toIDs(p, err, userID)
			},
			want: `SELECT following_id FROM follows WHERE follower_id = ? ORDER BY created_at DESC, following_id DESC`, wantArgs: []any{f.viewer}},
		{name: "likers of a video", offset: true, outsider: f.c,
			fetch: func(st *store.Store, r store.PageRequest) (store.Page[int32], error) {
				p, err := st.Likes.VideoLikers(ctx, v, f.video, r)
				return toIDs(p, err, userID)
			},
			want: `SELECT user_id FROM video_likes WHERE video_id = ? ORDER BY created_at DESC, user_id DESC`, wantArgs: []any{f.video}},
	}
}

// walk pages through l with limit, following NextCursor, and returns the ids in the order it
// met them. It checks every page's fields on the way.
func walk(t *testing.T, l list, limit int) []int32 {
	t.Helper()
	st := store.New(db)
	var got []int32
	cursor := ""
	for n := 1; ; n++ {
		if n > 1000 {
			t.Fatal("the walk does not end")
		}
		p, err := l.fetch(st, store.PageRequest{Limit: limit, Cursor: cursor})
		if err != nil {
			t.Fatalf("page %d (cursor %q): %v", n, cursor, err)
		}
		if p.HasNextPage != (p.NextCursor != nil) {
			t.Fatalf("page %d: hasNextPage %v with nextCursor %v", n, p.HasNextPage, p.NextCursor)
		}
		if len(p.Items) > limit {
			t.Fatalf("page %d has %d items, limit %d", n, len(p.Items), limit)
		}
		if n > 1 && len(p.Items) == 0 {
			t.Fatalf("page %d is empty: the page before promised a next page", n)
		}
		got = append(got, p.Items...)
		if !p.HasNextPage {
			return got
		}
		if len(p.Items) != limit {
			t.Fatalf("page %d has %d items and a next page, limit %d", n, len(p.Items), limit)
		}
		cursor = *p.NextCursor
	}
}

func TestWalkingAListWithAnyLimitVisitsEachItemOnceInOrder(t *testing.T) {
	f := newListFixture(t)
	for _, l := range f.lists() {
		want := l.wantIDs(t)
		for limit := 1; limit <= 7; limit++ {
			t.Run(fmt.Sprintf("%s/limit %d", l.name, limit), func(t *testing.T) {
				if got := walk(t, l, limit); !slices.Equal(got, want) {
					t.Fatalf("walked\n %v\nwant\n %v", got, want)
				}
			})
		}
	}
}

func TestABareNumericCursorStartsRightAfterThatItem(t *testing.T) {
	f := newListFixture(t)
	st := store.New(db)
	for _, l := range f.lists() {
		t.Run(l.name, func(t *testing.T) {
			want := l.wantIDs(t)
			// Every item of a scoped list; the top of a global list, where the fixture is.
			for k := range min(len(want), 30) {
				p, err := l.fetch(st, store.PageRequest{Limit: 3, Cursor: strconv.Itoa(int(want[k]))})
				if err != nil {
					t.Fatalf("cursor %d: %v", want[k], err)
				}
				end := min(k+4, len(want))
				if !slices.Equal(p.Items, want[k+1:end]) || p.HasNextPage != (end < len(want)) {
					t.Fatalf("cursor %d (item %d): %v hasNextPage %v, want %v hasNextPage %v",
						want[k], k, p.Items, p.HasNextPage, want[k+1:end], end < len(want))
				}
			}
		})
	}
}

func TestCursorsOfNoItemOrOfAnotherKindOfListAreInvalid(t *testing.T) {
	f := newListFixture(t)
	st := store.New(db)
	latest, err := st.Videos.Latest(ctx, 0, store.PageRequest{Limit: 1})
	must(t, err)
	trending, err := st.Videos.Trending(ctx, 0, store.PageRequest{Limit: 1})
	must(t, err)
	if latest.NextCursor == nil || trending.NextCursor == nil {
		t.Fatal("the video lists have a single page")
	}
	b64 := func(s string) string { return base64.RawURLEncoding.EncodeToString([]byte(s)) }
	for _, l := range f.lists() {
		otherKind := *trending.NextCursor
		if l.byScore {
			otherKind = *latest.NextCursor
		}
		for _, c := range []struct{ name, cursor string }{
			{"the id of an item not in the list", strconv.Itoa(int(l.outsider))},
			{"id zero", "0"},
			{"a number past int32", "99999999999"},
			{"not base64", "@@@"},
			{"base64 of no cursor", b64("hello")},
			{"a cursor with a bad time", b64("v1:x:1")},
			{"a cursor with a bad score", b64("s1:NaN:1")},
			{"a cursor of the other kind of list", otherKind},
		} {
			t.Run(l.name+"/"+c.name, func(t *testing.T) {
				_, err := l.fetch(st, store.PageRequest{Limit: 3, Cursor: c.cursor})
				wantKind(t, err, errs.KindInvalid, "cursor")
			})
		}
	}
}

func TestOffsetPagesCountTheWholeList(t *testing.T) {
	f := newListFixture(t)
	st := store.New(db)
	const limit = 4
	for _, l := range f.lists() {
		if !l.offset {
			continue
		}
		t.Run(l.name, func(t *testing.T) {
			want := l.wantIDs(t)
			totalPages := (len(want) + limit - 1) / limit
			for page := 1; page <= totalPages+1; page++ {
				// The cursor is ignored in offset mode, even a malformed one.
				p, err := l.fetch(st, store.PageRequest{Limit: limit, Page: page, Cursor: "@@@"})
				if err != nil {
					t.Fatalf("page %d: %v", page, err)
				}
				from, to := min((page-1)*limit, len(want)), min(page*limit, len(want))
				if !p.OffsetMode || p.Total != int64(len(want)) || p.TotalPages != totalPages || p.CurrentPage != page {
					t.Fatalf("page %d: offset %v total %d pages %d current %d, want total %d pages %d",
						page, p.OffsetMode, p.Total, p.TotalPages, p.CurrentPage, len(want), totalPages)
				}
				if !slices.Equal(p.Items, want[from:to]) {
					t.Fatalf("page %d: %v, want %v", page, p.Items, want[from:to])
				}
				if p.HasNextPage != (page < totalPages) {
					t.Fatalf("page %d of %d: hasNextPage %v", page, totalPages, p.HasNextPage)
				}
				if page >= totalPages && p.NextCursor != nil {
					t.Fatalf("page %d of %d has a next cursor", page, totalPages)
				}
			}
		})
	}
}

func TestTheFollowingFeedIgnoresPage(t *testing.T) {
	f := newListFixture(t)
	st := store.New(db)
	first, err := st.Videos.Following(ctx, f.viewer, store.PageRequest{Limit: 4})
	must(t, err)
	for _, page := range []int{1, 2, 3} {
		p, err := st.Videos.Following(ctx, f.viewer, store.PageRequest{Limit: 4, Page: page})
		must(t, err)
		got, _ := toIDs(p, nil, videoID)
		want, _ := toIDs(first, nil, videoID)
		if p.OffsetMode || p.Total != 0 || p.TotalPages != 0 || p.CurrentPage != 0 || !slices.Equal(got.Items, want.Items) ||
			!p.HasNextPage || p.NextCursor == nil || *p.NextCursor != *first.NextCursor {
			t.Fatalf("page %d: %+v, want the first cursor page %v", page, got, want.Items)
		}
	}
}

// recordingStore is a store whose statements rec records.
func recordingStore() (*store.Store, *testdb.Recorder) {
	recording, rec := testdb.Recording(db)
	return store.New(recording), rec
}

func TestAListRunsTheSameStatementsForLimitOneAndFifty(t *testing.T) {
	f := newListFixture(t)
	st, rec := recordingStore()
	// The most a list may run: [the owner's existence,] [the bare cursor's position,]
	// [the count,] the page, the viewer's likes, the viewer's follows.
	const most = 5
	for _, l := range f.lists() {
		want := l.wantIDs(t)
		if len(want) < 3 {
			continue
		}
		reqs := map[string]store.PageRequest{
			"first page":         {},
			"a bare cursor":      {Cursor: strconv.Itoa(int(want[0]))},
			"an opaque cursor":   {Cursor: cursorAfterFirst(t, l)},
			"the offset's first": {Page: 1},
		}
		for name, req := range reqs {
			if name == "the offset's first" && !l.offset {
				continue
			}
			t.Run(l.name+"/"+name, func(t *testing.T) {
				run := func(limit int) []string {
					req.Limit = limit
					rec.Take()
					p, err := l.fetch(st, req)
					must(t, err)
					if len(p.Items) == 0 {
						t.Fatal("an empty page proves nothing")
					}
					return rec.Take()
				}
				one, fifty := run(1), run(50)
				if len(one) != len(fifty) || len(fifty) > most {
					t.Fatalf("%d statements for a page of 1, %d for 50 (want equal, at most %d):\n%q\n%q",
						len(one), len(fifty), most, one, fifty)
				}
			})
		}
	}
}

// cursorAfterFirst is l's opaque cursor after its first item.
func cursorAfterFirst(t testing.TB, l list) string {
	t.Helper()
	p, err := l.fetch(store.New(db), store.PageRequest{Limit: 1})
	must(t, err)
	return *p.NextCursor
}
