package store_test

import (
	"slices"
	"testing"

	"tiktok/errs"
	"tiktok/store"
)

// A video that is not ready is its owner's alone (API.md, "Media processing"): every public
// list and other users' reads leave it out; the owner's own list and read show it, with its
// status and, for a failed one, the reason.
func TestNotReadyVideosAreTheOwnersAlone(t *testing.T) {
	owner, other := newUser(t, "mediaowner"), newUser(t, "mediaother")
	tag := unique("mediatag")
	sound := unique("mediasound")
	ready := captioned(t, owner.ID, "#"+tag, sound)
	processing := captioned(t, owner.ID, "#"+tag, sound)
	failed := captioned(t, owner.ID, "#"+tag, sound)
	must(t, db.Exec(`UPDATE videos SET status = 'processing' WHERE id = ?`, processing).Error)
	must(t, db.Exec(`UPDATE videos SET status = 'failed', status_reason = 'The file has no video stream' WHERE id = ?`, failed).Error)
	must(t, db.Exec(`INSERT INTO follows (follower_id, following_id) VALUES (?, ?)`, other.ID, owner.ID).Error)
	for _, id := range []int32{ready, processing, failed} {
		must(t, db.Exec(`INSERT INTO video_likes (user_id, video_id) VALUES (?, ?)`, other.ID, id).Error)
	}
	t.Cleanup(func() { db.Exec(`DELETE FROM videos WHERE user_id = ?`, owner.ID) })

	st := store.New(db)
	all := store.PageRequest{Limit: 100}
	idsOf := func(p store.Page[store.VideoView], err error) []int32 {
		t.Helper()
		must(t, err)
		var out []int32
		for _, v := range p.Items {
			out = append(out, v.ID)
		}
		return out
	}
	onlyReady := func(name string, got []int32) {
		t.Helper()
		if !slices.Contains(got, ready) || slices.Contains(got, processing) || slices.Contains(got, failed) {
			t.Errorf("%s = %v, want %d and neither %d (processing) nor %d (failed)", name, got, ready, processing, failed)
		}
	}
	onlyReady("latest", idsOf(st.Videos.Latest(ctx, other.ID, store.PageRequest{Limit: 100})))
	onlyReady("trending", idsOf(st.Videos.Trending(ctx, other.ID, store.PageRequest{Limit: 1000})))
	onlyReady("sound", idsOf(st.Videos.BySound(ctx, other.ID, sound, all)))
	onlyReady("following", idsOf(st.Videos.Following(ctx, other.ID, all)))
	onlyReady("liked", idsOf(st.Videos.LikedBy(ctx, other.ID, other.ID, all)))
	onlyReady("another user's view of the owner's list", idsOf(st.Videos.ByUser(ctx, other.ID, owner.ID, all)))
	onlyReady("anonymous view of the owner's list", idsOf(st.Videos.ByUser(ctx, 0, owner.ID, all)))
	_, page, err := st.Hashtags.Videos(ctx, other.ID, tag, store.TagLatest, all)
	onlyReady("tag page", idsOf(page, err))
	onlyReady("search", idsOf(st.Search.Videos(ctx, other.ID, tag, all)))

	own, err := st.Videos.ByUser(ctx, owner.ID, owner.ID, all)
	must(t, err)
	if len(own.Items) != 3 || own.Items[0].ID != failed || own.Items[0].Status != "failed" ||
		own.Items[0].StatusReason == nil || own.Items[1].Status != "processing" || own.Items[2].Status != "ready" {
		t.Fatalf("owner's list = %+v, want the three with their statuses and the failure's reason", own.Items)
	}
	for _, id := range []int32{processing, failed} {
		if _, err := st.Videos.Get(ctx, other.ID, id); !errs.Is(err, errs.KindNotFound) {
			t.Errorf("another user reads video %d: %v, want not found", id, err)
		}
		if _, err := st.Videos.Get(ctx, 0, id); !errs.Is(err, errs.KindNotFound) {
			t.Errorf("an anonymous reader reads video %d: %v, want not found", id, err)
		}
		if v, err := st.Videos.Get(ctx, owner.ID, id); err != nil || v.ID != id {
			t.Errorf("the owner reads video %d: %v", id, err)
		}
	}
	if v, err := st.Videos.Get(ctx, other.ID, ready); err != nil || v.StatusReason != nil || v.Status != "ready" {
		t.Errorf("another user reads the ready video: %+v %v", v, err)
	}
}
