package store_test

import (
	"slices"
	"testing"

	"tiktok/errs"
	"tiktok/models"
	"tiktok/store"
)

// Who may change what, and the stored files a delete hands back for removal.

func text(s string) *string { return &s }

func TestOnlyTheOwnerEditsOrDeletesAVideo(t *testing.T) {
	st := store.New(db)
	owner, stranger := newUser(t, "owner").ID, newUser(t, "stranger").ID
	video := &models.Video{UserID: owner, VideoURL: "https://cdn.example.com/" + unique("v") + ".mp4", Caption: text("before")}
	must(t, errOnly(st.Videos.Create(ctx, video)))
	caption := func() *string {
		v, err := st.Videos.Get(ctx, 0, video.ID)
		must(t, err)
		return v.Caption
	}
	edit := store.VideoUpdate{Caption: store.TextChange{Set: true, Value: text("after")}}

	wantKind(t, st.Videos.Update(ctx, stranger, video.ID, edit), errs.KindForbidden)
	if c := caption(); c == nil || *c != "before" {
		t.Fatalf("a refused edit changed the caption to %v", show(c))
	}
	_, err := st.Videos.Delete(ctx, stranger, video.ID)
	wantKind(t, err, errs.KindForbidden)
	must(t, st.Videos.Exists(ctx, video.ID))

	must(t, st.Videos.Update(ctx, owner, video.ID, edit))
	if c := caption(); c == nil || *c != "after" {
		t.Fatalf("the owner's edit left the caption %v", show(c))
	}
	must(t, st.Videos.Update(ctx, owner, video.ID, store.VideoUpdate{Caption: store.TextChange{Set: true}}))
	if c := caption(); c != nil {
		t.Fatalf("clearing the caption left %q", *c)
	}

	const missing = 2147483647
	wantKind(t, st.Videos.Update(ctx, owner, missing, edit), errs.KindNotFound)
	_, err = st.Videos.Delete(ctx, owner, missing)
	wantKind(t, err, errs.KindNotFound)
}

func TestVideosDeleteReturnsItsStoredFiles(t *testing.T) {
	st := store.New(db)
	owner := newUser(t, "owner").ID
	for _, c := range []struct {
		name      string
		thumbnail *string
	}{
		{"a video with a thumbnail", text("https://cdn.example.com/" + unique("t") + ".jpg")},
		{"a video without one", nil},
	} {
		t.Run(c.name, func(t *testing.T) {
			v := &models.Video{UserID: owner, VideoURL: "https://cdn.example.com/" + unique("v") + ".mp4", ThumbnailURL: c.thumbnail}
			must(t, errOnly(st.Videos.Create(ctx, v)))
			files, err := st.Videos.Delete(ctx, owner, v.ID)
			must(t, err)
			want := []string{v.VideoURL}
			if c.thumbnail != nil {
				want = append(want, *c.thumbnail)
			}
			if got := fileURLs(files); !slices.Equal(got, want) {
				t.Fatalf("files %q, want %q", got, want)
			}
			wantKind(t, st.Videos.Exists(ctx, v.ID), errs.KindNotFound)
		})
	}
}

func TestWhoMayEditAndDeleteAComment(t *testing.T) {
	st := store.New(db)
	videoOwner, author, stranger := newUser(t, "owner").ID, newUser(t, "author").ID, newUser(t, "stranger").ID
	video := newVideo(t, videoOwner).ID
	content := func(id int32) string {
		c, err := st.Comments.Get(ctx, 0, id)
		must(t, err)
		return c.Content
	}
	comment := newComment(t, author, video)
	for _, editor := range []int32{stranger, videoOwner} {
		wantKind(t, st.Comments.Update(ctx, editor, comment.ID, "changed"), errs.KindForbidden)
		if got := content(comment.ID); got != comment.Content {
			t.Fatalf("a refused edit changed the content to %q", got)
		}
	}
	must(t, st.Comments.Update(ctx, author, comment.ID, "edited"))
	if got := content(comment.ID); got != "edited" {
		t.Fatalf("the author's edit left %q", got)
	}
	wantKind(t, st.Comments.Update(ctx, author, 2147483647, "x"), errs.KindNotFound)

	for _, c := range []struct {
		name    string
		deleter int32
		allowed bool
	}{
		{"a stranger may not delete it", stranger, false},
		{"the video's owner may delete another's comment", videoOwner, true},
		{"its author may delete it", author, true},
	} {
		t.Run(c.name, func(t *testing.T) {
			id := newComment(t, author, video).ID
			err := st.Comments.Delete(ctx, c.deleter, id)
			left := countOf(t, `SELECT count(*) FROM comments WHERE id = ?`, id)
			if c.allowed && (err != nil || left != 0) {
				t.Fatalf("error %v, %d rows left", err, left)
			}
			if !c.allowed {
				wantKind(t, err, errs.KindForbidden)
				if left != 1 {
					t.Fatal("a refused delete removed the comment")
				}
			}
		})
	}
	wantKind(t, st.Comments.Delete(ctx, author, 2147483647), errs.KindNotFound)
}

func TestUpdateProfileWithAvatarMustBeCurrentRefusesAnotherPath(t *testing.T) {
	st := store.New(db)
	u := newUser(t, "user")
	mine := "/uploads/" + unique("mine") + ".jpg"
	old, after, err := st.Users.UpdateProfile(ctx, u.ID, store.ProfileUpdate{
		Name: store.TextChange{Set: true, Value: text("Me")}, Avatar: store.TextChange{Set: true, Value: &mine}})
	must(t, err)
	if old != nil || after.Avatar == nil || *after.Avatar != mine || after.Name == nil || *after.Name != "Me" {
		t.Fatalf("first update: old %v, after %+v", old, after)
	}
	for _, c := range []struct {
		name   string
		avatar *string
	}{
		{"someone else's file", text("/uploads/" + unique("theirs") + ".jpg")},
		{"no avatar", nil},
	} {
		t.Run(c.name, func(t *testing.T) {
			_, _, err := st.Users.UpdateProfile(ctx, u.ID, store.ProfileUpdate{AvatarMustBeCurrent: true,
				Name: store.TextChange{Set: true, Value: text("Changed")}, Avatar: store.TextChange{Set: true, Value: c.avatar}})
			wantKind(t, err, errs.KindInvalid, "avatar")
			got, err := st.Users.Get(ctx, u.ID)
			must(t, err)
			if got.Avatar == nil || *got.Avatar != mine || got.Name == nil || *got.Name != "Me" {
				t.Fatalf("a refused update changed the user: avatar %v name %v", show(got.Avatar), show(got.Name))
			}
		})
	}
	t.Run("the current path is accepted", func(t *testing.T) {
		old, after, err := st.Users.UpdateProfile(ctx, u.ID, store.ProfileUpdate{AvatarMustBeCurrent: true,
			Bio: store.TextChange{Set: true, Value: text("hi")}, Avatar: store.TextChange{Set: true, Value: text(mine)}})
		must(t, err)
		if old == nil || old.URL != mine || after.Bio == nil || *after.Bio != "hi" || *after.Avatar != mine {
			t.Fatalf("old %v, after %+v", old, after)
		}
	})
	t.Run("a new avatar returns the old one for deletion", func(t *testing.T) {
		next := "https://cdn.example.com/" + unique("a") + ".jpg"
		old, after, err := st.Users.UpdateProfile(ctx, u.ID, store.ProfileUpdate{Avatar: store.TextChange{Set: true, Value: &next}})
		must(t, err)
		if old == nil || old.URL != mine || *after.Avatar != next {
			t.Fatalf("old %v, after %v", old, show(after.Avatar))
		}
	})
	_, _, err = st.Users.UpdateProfile(ctx, 2147483647, store.ProfileUpdate{})
	wantKind(t, err, errs.KindNotFound)
}

func TestUsersDeleteReturnsEveryStoredFileOfTheUser(t *testing.T) {
	st := store.New(db)
	u := newUser(t, "user")
	avatar := "/uploads/" + unique("avatar") + ".jpg"
	_, _, err := st.Users.UpdateProfile(ctx, u.ID, store.ProfileUpdate{Avatar: store.TextChange{Set: true, Value: &avatar}})
	must(t, err)
	want := []string{avatar}
	for _, thumb := range []*string{text("/uploads/" + unique("t") + ".jpg"), nil} {
		v := &models.Video{UserID: u.ID, VideoURL: "/uploads/" + unique("v") + ".mp4", ThumbnailURL: thumb}
		must(t, errOnly(st.Videos.Create(ctx, v)))
		want = append(want, v.VideoURL)
		if thumb != nil {
			want = append(want, *thumb)
		}
	}
	deleted, err := st.Users.Delete(ctx, u.ID)
	must(t, err)
	files := fileURLs(deleted)
	slices.Sort(files)
	slices.Sort(want)
	if !slices.Equal(files, want) {
		t.Fatalf("files %q, want %q", files, want)
	}
	_, err = st.Users.Get(ctx, u.ID)
	wantKind(t, err, errs.KindNotFound)
	_, err = st.Users.Delete(ctx, u.ID)
	wantKind(t, err, errs.KindNotFound)
}

func TestFilesReferencedKeepsOnlyURLsStillInUse(t *testing.T) {
	st := store.New(db)
	u := newUser(t, "user")
	avatar, shared, thumb, unused := "/uploads/"+unique("a")+".jpg", "/uploads/"+unique("s")+".mp4",
		"/uploads/"+unique("t")+".jpg", "/uploads/"+unique("x")+".mp4"
	_, _, err := st.Users.UpdateProfile(ctx, u.ID, store.ProfileUpdate{Avatar: store.TextChange{Set: true, Value: &avatar}})
	must(t, err)
	first := &models.Video{UserID: u.ID, VideoURL: shared, ThumbnailURL: &thumb}
	second := &models.Video{UserID: u.ID, VideoURL: shared}
	must(t, errOnly(st.Videos.Create(ctx, first)))
	must(t, errOnly(st.Videos.Create(ctx, second)))
	all := []string{avatar, shared, thumb, unused}
	check := func(want ...string) {
		t.Helper()
		got, err := st.Files.Referenced(ctx, all)
		must(t, err)
		slices.Sort(got)
		slices.Sort(want)
		if !slices.Equal(got, want) {
			t.Fatalf("referenced %q, want %q", got, want)
		}
	}
	check(avatar, shared, thumb)
	_, err = st.Videos.Delete(ctx, u.ID, first.ID)
	must(t, err)
	check(avatar, shared) // the other video still plays the shared file
	_, _, err = st.Users.UpdateProfile(ctx, u.ID, store.ProfileUpdate{Avatar: store.TextChange{Set: true}})
	must(t, err)
	check(shared)
	_, err = st.Videos.Delete(ctx, u.ID, second.ID)
	must(t, err)
	check()
	if got, err := st.Files.Referenced(ctx, nil); err != nil || len(got) != 0 {
		t.Fatalf("no URLs: %q %v", got, err)
	}
}

func fileURLs(files []store.StoredFile) []string {
	var urls []string
	for _, f := range files {
		urls = append(urls, f.URL)
	}
	return urls
}
