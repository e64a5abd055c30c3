package store_test

import (
	"context"
	"fmt"
	"slices"
	"testing"
	"time"

	"github.com/jackc/pgx/v5/stdlib"

	"tiktok/database"
	"tiktok/store"
)

// listen LISTENs on the notification channel on a connection of its own and returns what
// arrives until the returned function is called (after a quiet moment).
func listen(t *testing.T) func() []string {
	t.Helper()
	sqlDB, err := db.DB()
	must(t, err)
	conn, err := sqlDB.Conn(ctx)
	must(t, err)
	got := make(chan []string, 1)
	ready := make(chan struct{})
	lctx, stop := context.WithCancel(ctx)
	go func() {
		defer conn.Close()
		var payloads []string
		_ = conn.Raw(func(dc any) error {
			pc := dc.(*stdlib.Conn).Conn()
			if _, err := pc.Exec(lctx, "LISTEN "+database.NotificationChannel); err != nil {
				t.Error(err)
				close(ready)
				return err
			}
			close(ready)
			for {
				n, err := pc.WaitForNotification(lctx)
				if err != nil {
					_, _ = pc.Exec(context.Background(), "UNLISTEN *")
					return nil
				}
				payloads = append(payloads, n.Payload)
			}
		})
		got <- payloads
	}()
	<-ready
	return func() []string {
		time.Sleep(300 * time.Millisecond)
		stop()
		return <-got
	}
}

// TestALikeAnnouncesItsNotificationOnceAfterItsCommit: a like outside any transaction marks
// its own so that the trigger stays silent (a NOTIFY in it would hold the cluster-wide
// notify lock until its fsync) and announces the notification right after the commit: a
// listener gets it exactly once. Inside a caller's transaction, and from plain SQL, the
// trigger announces it at the commit, once too.
func TestALikeAnnouncesItsNotificationOnceAfterItsCommit(t *testing.T) {
	st := store.New(db)
	author, fan := newUser(t, "author"), newUser(t, "fan")
	v1, v2, v3 := newVideo(t, author.ID), newVideo(t, author.ID), newVideo(t, author.ID)
	idOf := func(video int32) string {
		var id int32
		must(t, db.Raw(`SELECT id FROM notifications WHERE actor_id = ? AND type = 'like' AND video_id = ?`, fan.ID, video).Scan(&id).Error)
		return fmt.Sprintf("%d:%d", id, author.ID)
	}

	done := listen(t)
	_, err := st.Likes.Set(ctx, store.VideoLikes, store.Caller{ID: fan.ID}, v1.ID, true)
	must(t, err)
	if got, want := done(), []string{idOf(v1.ID)}; !slices.Equal(got, want) {
		t.Fatalf("a like outside a transaction: announced %q, want %q once", got, want)
	}

	done = listen(t)
	must(t, st.Transact(ctx, func(tx *store.Store) error {
		_, err := tx.Likes.Set(ctx, store.VideoLikes, store.Caller{ID: fan.ID}, v2.ID, true)
		return err
	}))
	if got, want := done(), []string{idOf(v2.ID)}; !slices.Equal(got, want) {
		t.Fatalf("a like inside a transaction: announced %q, want %q once", got, want)
	}

	done = listen(t)
	must(t, db.Exec(`INSERT INTO notifications (user_id, actor_id, type, video_id) VALUES (?, ?, 'like', ?)`, author.ID, fan.ID, v3.ID).Error)
	if got, want := done(), []string{idOf(v3.ID)}; !slices.Equal(got, want) {
		t.Fatalf("a notification written in plain SQL: announced %q, want %q once", got, want)
	}

	// A repeated like notifies nobody again.
	done = listen(t)
	_, err = st.Likes.Set(ctx, store.VideoLikes, store.Caller{ID: fan.ID}, v1.ID, true)
	must(t, err)
	if got := done(); len(got) != 0 {
		t.Fatalf("a repeated like announced %q", got)
	}
}
