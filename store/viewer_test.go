package store_test

import (
	"encoding/json"
	"strings"
	"testing"

	"tiktok/store"
)

// The viewer fields (viewer.go): what the caller itself did, never what others did, and
// nothing at all for an anonymous caller.

// viewerFixture: the viewer follows author a (not b) and likes a's first video and a's
// comment on it; other likes a's second video and b's comment, and follows the viewer.
type viewerFixture struct {
	viewer, other, a, b     int32
	liked, likedByOther     int32 // a's videos
	unfollowedVideo         int32 // b's video
	likedComment, bsComment int32 // on the liked video
	aEmail                  string
}

func newViewerFixture(t *testing.T) viewerFixture {
	t.Helper()
	st := store.New(db)
	a := newUser(t, "a")
	f := viewerFixture{viewer: newUser(t, "viewer").ID, other: newUser(t, "other").ID, a: a.ID, b: newUser(t, "b").ID,
		aEmail: a.Email}
	f.liked, f.likedByOther = newVideo(t, f.a).ID, newVideo(t, f.a).ID
	f.unfollowedVideo = newVideo(t, f.b).ID
	f.likedComment, f.bsComment = newComment(t, f.a, f.liked).ID, newComment(t, f.b, f.liked).ID
	for _, l := range []struct {
		target     store.LikeTarget
		user, item int32
	}{
		{store.VideoLikes, f.viewer, f.liked}, {store.VideoLikes, f.other, f.likedByOther},
		{store.CommentLikes, f.viewer, f.likedComment}, {store.CommentLikes, f.other, f.bsComment},
	} {
		_, err := st.Likes.Set(ctx, l.target, store.Caller{ID: l.user}, l.item, true)
		must(t, err)
	}
	for _, fl := range [][2]int32{{f.viewer, f.a}, {f.other, f.viewer}, {f.b, f.a}} {
		_, err := st.Follows.Set(ctx, store.Caller{ID: fl[0]}, fl[1], true)
		must(t, err)
	}
	return f
}

func TestVideoViewerFieldsShowOnlyTheViewersOwnLike(t *testing.T) {
	f := newViewerFixture(t)
	st := store.New(db)
	// Every way of reading a video, as one function from (viewer, video) to its view.
	readers := map[string]func(t *testing.T, viewer, id int32) store.VideoView{
		"Get": func(t *testing.T, viewer, id int32) store.VideoView {
			v, err := st.Videos.Get(ctx, viewer, id)
			must(t, err)
			return v
		},
		"ByUser": func(t *testing.T, viewer, id int32) store.VideoView {
			var owner int32
			must(t, db.Raw(`SELECT user_id FROM videos WHERE id = ?`, id).Scan(&owner).Error)
			p, err := st.Videos.ByUser(ctx, viewer, owner, store.PageRequest{Limit: store.MaxLimit})
			must(t, err)
			return findVideo(t, p.Items, id)
		},
		"LikedBy": func(t *testing.T, viewer, id int32) store.VideoView {
			var liker int32
			must(t, db.Raw(`SELECT min(user_id) FROM video_likes WHERE video_id = ?`, id).Scan(&liker).Error)
			if liker == 0 {
				t.Fatalf("nobody liked video %d: it is in no liked list", id)
			}
			p, err := st.Videos.LikedBy(ctx, viewer, liker, store.PageRequest{Limit: store.MaxLimit})
			must(t, err)
			return findVideo(t, p.Items, id)
		},
	}
	yes, no := true, false
	for _, c := range []struct {
		name          string
		viewer, video int32
		liked         bool
		isFollowing   *bool
	}{
		{"the viewer's liked video of a followed author", f.viewer, f.liked, true, &yes},
		{"a video someone else liked is not liked", f.viewer, f.likedByOther, false, &yes},
		{"an author the viewer does not follow", f.viewer, f.unfollowedVideo, false, &no},
		{"an anonymous viewer likes nothing and follows no one", 0, f.liked, false, nil},
		{"the other user's like, seen by them", f.other, f.likedByOther, true, &no},
	} {
		for name, read := range readers {
			t.Run(c.name+"/"+name, func(t *testing.T) {
				if name == "LikedBy" && c.video == f.unfollowedVideo {
					return // nobody liked it: it is in no liked list
				}
				v := read(t, c.viewer, c.video)
				if v.IsLiked != c.liked {
					t.Errorf("isLiked %v, want %v", v.IsLiked, c.liked)
				}
				if v.Likes == nil {
					t.Fatal("likes is nil: it must marshal as [], not null")
				}
				if c.liked && (len(v.Likes) != 1 || v.Likes[0].UserID != c.viewer) {
					t.Errorf("likes %v, want only the viewer's", v.Likes)
				}
				if !c.liked && len(v.Likes) != 0 {
					t.Errorf("likes %v, want []", v.Likes)
				}
				if !samePtr(v.User.IsFollowing, c.isFollowing) {
					t.Errorf("user.isFollowing %v, want %v", show(v.User.IsFollowing), show(c.isFollowing))
				}
				b, _ := json.Marshal(v)
				if !c.liked && !strings.Contains(string(b), `"likes":[]`) {
					t.Errorf("JSON %s has no empty likes array", b)
				}
				if c.isFollowing == nil && strings.Contains(string(b), "isFollowing") {
					t.Errorf("JSON %s has isFollowing for an anonymous viewer", b)
				}
			})
		}
	}
}

func TestCommentViewerFields(t *testing.T) {
	f := newViewerFixture(t)
	st := store.New(db)
	yes, no := true, false
	for _, c := range []struct {
		name            string
		viewer, comment int32
		liked           bool
		isFollowing     *bool
	}{
		{"the viewer's liked comment by a followed author", f.viewer, f.likedComment, true, &yes},
		{"a comment someone else liked, by an author not followed", f.viewer, f.bsComment, false, &no},
		{"an anonymous viewer", 0, f.likedComment, false, nil},
		{"the other user's like, seen by them", f.other, f.bsComment, true, &no},
	} {
		t.Run(c.name, func(t *testing.T) {
			one, err := st.Comments.Get(ctx, c.viewer, c.comment)
			must(t, err)
			page, err := st.Comments.ForVideo(ctx, c.viewer, f.liked, store.PageRequest{Limit: store.MaxLimit})
			must(t, err)
			var listed *store.CommentView
			for i := range page.Items {
				if page.Items[i].ID == c.comment {
					listed = &page.Items[i]
				}
			}
			if listed == nil {
				t.Fatalf("comment %d is not in its video's comments", c.comment)
			}
			for name, v := range map[string]store.CommentView{"Get": one, "ForVideo": *listed} {
				if v.IsLiked != c.liked || !samePtr(v.User.IsFollowing, c.isFollowing) {
					t.Errorf("%s: isLiked %v user.isFollowing %v, want %v %v",
						name, v.IsLiked, show(v.User.IsFollowing), c.liked, show(c.isFollowing))
				}
			}
		})
	}
}

func TestProfileShowsTheEmailOnlyToItsOwnerAndWhetherTheViewerFollows(t *testing.T) {
	f := newViewerFixture(t)
	st := store.New(db)
	for _, c := range []struct {
		name         string
		viewer, user int32
		email        bool
		isFollowing  bool
	}{
		{name: "the owner sees their e-mail", viewer: f.a, user: f.a, email: true},
		{name: "a follower sees no e-mail and that they follow", viewer: f.viewer, user: f.a, isFollowing: true},
		{name: "an anonymous viewer sees neither", viewer: 0, user: f.a},
		{name: "following is one way: the followed does not follow back", viewer: f.a, user: f.viewer},
		{name: "a user the viewer does not follow", viewer: f.viewer, user: f.b},
	} {
		t.Run(c.name, func(t *testing.T) {
			p, err := st.Users.Profile(ctx, c.viewer, c.user)
			must(t, err)
			if c.email != (p.Email != nil) || (c.email && *p.Email != f.aEmail) {
				t.Errorf("email %v, want shown: %v", show(p.Email), c.email)
			}
			if p.IsFollowing != c.isFollowing {
				t.Errorf("isFollowing %v, want %v", p.IsFollowing, c.isFollowing)
			}
			b, _ := json.Marshal(p)
			if !c.email && strings.Contains(string(b), "email") {
				t.Errorf("JSON %s shows an e-mail", b)
			}
		})
	}
}

func TestUserSummariesOfListsSayWhetherTheViewerFollowsEach(t *testing.T) {
	f := newViewerFixture(t)
	st := store.New(db)
	// a's followers are the viewer and b; other follows the viewer, not b.
	yes, no := true, false
	for _, c := range []struct {
		name   string
		viewer int32
		want   map[int32]*bool
	}{
		{"a viewer who follows one of them", f.other, map[int32]*bool{f.viewer: &yes, f.b: &no}},
		{"an anonymous viewer", 0, map[int32]*bool{f.viewer: nil, f.b: nil}},
		{"one of the followers themselves", f.viewer, map[int32]*bool{f.viewer: &no, f.b: &no}},
	} {
		t.Run(c.name, func(t *testing.T) {
			p, err := st.Follows.Followers(ctx, c.viewer, f.a, store.PageRequest{Limit: 10})
			must(t, err)
			if len(p.Items) != len(c.want) {
				t.Fatalf("%d followers, want %d", len(p.Items), len(c.want))
			}
			for _, u := range p.Items {
				want, ok := c.want[u.ID]
				if !ok || !samePtr(u.IsFollowing, want) {
					t.Errorf("follower %d: isFollowing %v, want %v", u.ID, show(u.IsFollowing), show(want))
				}
			}
			likers, err := st.Likes.VideoLikers(ctx, c.viewer, f.liked, store.PageRequest{Limit: 10})
			must(t, err)
			if len(likers.Items) != 1 || likers.Items[0].ID != f.viewer || !samePtr(likers.Items[0].IsFollowing, c.want[f.viewer]) {
				t.Errorf("likers %+v, want the viewer with isFollowing %v", likers.Items, show(c.want[f.viewer]))
			}
		})
	}
}

func findVideo(t *testing.T, vs []store.VideoView, id int32) store.VideoView {
	t.Helper()
	for _, v := range vs {
		if v.ID == id {
			return v
		}
	}
	t.Fatalf("video %d is not in the list", id)
	return store.VideoView{}
}

// samePtr reports whether a and b are both nil or point at equal values.
func samePtr[T comparable](a, b *T) bool {
	return (a == nil && b == nil) || (a != nil && b != nil && *a == *b)
}

// show prints a pointer's value, or nil.
func show[T any](p *T) any {
	if p == nil {
		return nil
	}
	return *p
}
