package store_test

import (
	"errors"
	"fmt"
	"slices"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"tiktok/errs"
	"tiktok/models"
	"tiktok/store"
)

func reserve(t *testing.T, st *store.Store, user int32, kind string, age time.Duration) models.Upload {
	t.Helper()
	now := time.Now().UTC()
	u := models.Upload{StoragePath: fmt.Sprintf("videos/%d/%s.mp4", user, unique("p")), UserID: user, Kind: kind,
		ContentType: "video/mp4", Size: 1000, CreatedAt: now.Add(-age), ExpiresAt: now.Add(-age + 15*time.Minute)}
	must(t, st.Uploads.Reserve(ctx, &u))
	return u
}

func TestUploadsRegisterOnceOfTwentyConcurrent(t *testing.T) {
	st := store.New(db)
	u := newUser(t, "uploader")
	up := reserve(t, st, u.ID, "video", 0)
	_, err := st.Uploads.Find(ctx, up.StoragePath, u.ID+1, "video")
	wantKind(t, err, errs.KindNotFound)
	_, err = st.Uploads.Find(ctx, up.StoragePath, u.ID, "avatar")
	wantKind(t, err, errs.KindNotFound)

	var wins, taken atomic.Int32
	var wg sync.WaitGroup
	for range 20 {
		wg.Go(func() {
			err := st.Transact(ctx, func(tx *store.Store) error {
				_, err := tx.Uploads.Register(ctx, up.StoragePath, u.ID, "video")
				return err
			})
			switch {
			case err == nil:
				wins.Add(1)
			case errors.Is(err, store.ErrUploadTaken):
				taken.Add(1)
			default:
				t.Errorf("register: %v", err)
			}
		})
	}
	wg.Wait()
	if wins.Load() != 1 || taken.Load() != 19 {
		t.Fatalf("%d registrations won, %d were refused; want 1 and 19", wins.Load(), taken.Load())
	}
	got, err := st.Uploads.Find(ctx, up.StoragePath, u.ID, "video")
	must(t, err)
	if got.RegisteredAt == nil {
		t.Fatal("the upload is not registered")
	}
	// Another user, another kind, an unknown path: never registered.
	for _, c := range []struct {
		path string
		user int32
		kind string
	}{{up.StoragePath, u.ID + 1, "video"}, {reserve(t, st, u.ID, "video", 0).StoragePath, u.ID, "avatar"}, {"videos/1/nope.mp4", u.ID, "video"}} {
		if _, err := st.Uploads.Register(ctx, c.path, c.user, c.kind); !errors.Is(err, store.ErrUploadTaken) {
			t.Fatalf("Register(%s, %d, %s) = %v", c.path, c.user, c.kind, err)
		}
	}
}

func TestUploadsForgetKeepsTheRowWhileItsURLWorks(t *testing.T) {
	st := store.New(db)
	u := newUser(t, "forget")
	young, old := reserve(t, st, u.ID, "video", 0), reserve(t, st, u.ID, "video", time.Hour)
	must(t, st.Uploads.Forget(ctx, young.StoragePath))
	must(t, st.Uploads.Forget(ctx, old.StoragePath))
	must(t, errOnly(st.Uploads.Find(ctx, young.StoragePath, u.ID, "video")))
	_, err := st.Uploads.Find(ctx, old.StoragePath, u.ID, "video")
	wantKind(t, err, errs.KindNotFound)
}

func TestUploadsSweepDeletesOnlyOldUnregisteredOnesEachOnceAcrossConcurrentSweeps(t *testing.T) {
	st := store.New(db)
	u := newUser(t, "sweep")
	var old []string
	for range 250 { // more than two batches
		old = append(old, reserve(t, st, u.ID, "video", 25*time.Hour).StoragePath)
	}
	young := reserve(t, st, u.ID, "video", time.Hour)
	registered := reserve(t, st, u.ID, "video", 48*time.Hour)
	must(t, errOnly(st.Uploads.Register(ctx, registered.StoragePath, u.ID, "video")))
	broken := old[0] // its object cannot be deleted while the two sweeps run
	storageBack := false

	var mu sync.Mutex
	seen := map[string]int{}
	del := func(p string) error {
		mu.Lock()
		defer mu.Unlock()
		seen[p]++
		if p == broken && !storageBack {
			return errors.New("storage down")
		}
		time.Sleep(time.Millisecond) // hold the batch's locks while the other sweep runs
		return nil
	}
	cutoff := time.Now().Add(-24 * time.Hour)
	var wg sync.WaitGroup
	results := make([]store.SweepResult, 2)
	for i := range results {
		wg.Go(func() {
			var err error
			results[i], err = st.Uploads.SweepUnregistered(ctx, cutoff, del)
			must(t, err)
		})
	}
	wg.Wait()
	// Each object is deleted by one sweep; the broken one's row stays after its failed delete,
	// so the other sweep may try it too (a retry, which fails as well).
	for _, p := range old[1:] {
		if seen[p] != 1 {
			t.Fatalf("%s deleted %d times by two concurrent sweeps", p, seen[p])
		}
	}
	triedBroken := seen[broken]
	if triedBroken != 1 && triedBroken != 2 {
		t.Fatalf("the broken object was tried %d times by two sweeps", triedBroken)
	}
	if seen[young.StoragePath] != 0 || seen[registered.StoragePath] != 0 {
		t.Fatal("the sweep deleted a young or a registered upload")
	}
	if got := results[0].Deleted + results[1].Deleted; got != len(old)-1 || results[0].Failed+results[1].Failed != triedBroken {
		t.Fatalf("sweeps %+v: want %d deleted and %d failed", results, len(old)-1, triedBroken)
	}
	// The failed one stays for the next sweep, which deletes it.
	must(t, errOnly(st.Uploads.Find(ctx, broken, u.ID, "video")))
	storageBack = true
	res, err := st.Uploads.SweepUnregistered(ctx, cutoff, del)
	must(t, err)
	if res.Deleted != 1 || seen[broken] != triedBroken+1 {
		t.Fatalf("next sweep %+v", res)
	}
	if n := countOf(t, `SELECT count(*) FROM uploads WHERE user_id = ?`, u.ID); n != 2 {
		t.Fatalf("%d rows left, want the young and the registered one", n)
	}
}

func TestUploadsRetryDeletes(t *testing.T) {
	st := store.New(db)
	a, b := "videos/"+unique("a")+".mp4", "videos/"+unique("b")+".mp4"
	must(t, st.Uploads.RecordFailedDelete(ctx, a))
	must(t, st.Uploads.RecordFailedDelete(ctx, a))
	must(t, st.Uploads.RecordFailedDelete(ctx, b))
	if n := countOf(t, `SELECT attempts FROM storage_deletes WHERE storage_path = ?`, a); n != 2 {
		t.Fatalf("attempts %d, want 2", n)
	}
	var deleted []string
	res, err := st.Uploads.RetryDeletes(ctx, func(p string) error {
		if p == b {
			return errors.New("still down")
		}
		deleted = append(deleted, p)
		return nil
	})
	must(t, err)
	if !slices.Contains(deleted, a) || res.Failed < 1 {
		t.Fatalf("retry %+v deleted %v", res, deleted)
	}
	if n := countOf(t, `SELECT count(*) FROM storage_deletes WHERE storage_path IN (?, ?)`, a, b); n != 1 {
		t.Fatalf("%d rows left, want b's", n)
	}
	if n := countOf(t, `SELECT attempts FROM storage_deletes WHERE storage_path = ?`, b); n != 2 {
		t.Fatalf("b's attempts %d, want 2", n)
	}
}
