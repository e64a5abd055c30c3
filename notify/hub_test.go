package notify_test

import (
	"testing"
	"time"

	"gorm.io/gorm"

	"tiktok/internal/testdb"
	"tiktok/notify"
)

var db *gorm.DB

func TestMain(m *testing.M) { testdb.Main(m, &db) }

// newUsers inserts n users and returns their ids.
func newUsers(t *testing.T, n int) []int32 {
	t.Helper()
	var ids []int32
	testdb.MustScan(t, db, &ids, `INSERT INTO users (username, email, password)
		SELECT 'hub' || g || '_' || md5(random()::text), 'hub' || g || '_' || md5(random()::text) || '@example.com', 'x'
		FROM generate_series(1, ?) g RETURNING id`, n)
	return ids
}

func TestASlowStreamIsDroppedWithoutHoldingUpTheOthers(t *testing.T) {
	hub := notify.New(db, notify.Options{Buffer: 2})
	t.Cleanup(func() { hub.Close(); hub.Wait() })
	users := newUsers(t, 6)
	recipient := users[0]
	slow, err := hub.Subscribe(recipient)
	if err != nil {
		t.Fatal(err)
	}
	fast, err := hub.Subscribe(recipient)
	if err != nil {
		t.Fatal(err)
	}
	select {
	case <-hub.Listening():
	case <-time.After(5 * time.Second):
		t.Fatal("the hub did not start listening")
	}
	// The fast stream reads as events come; the slow one never reads.
	received := make(chan notify.Event, 10)
	go func() {
		for ev := range fast.C {
			received <- ev
		}
		close(received)
	}()
	// Five notifications, each committed on its own (each NOTIFY is delivered at its commit).
	for _, actor := range users[1:] {
		testdb.MustRun(t, db, `INSERT INTO notifications (user_id, actor_id, type) VALUES (?, ?, 'follow')`, recipient, actor)
	}
	got := 0
	deadline := time.After(5 * time.Second)
	for got < 5 {
		select {
		case ev, ok := <-received:
			if !ok {
				t.Fatal("the reading stream was dropped")
			}
			if ev.ID == 0 {
				t.Fatalf("event without an id: %+v", ev)
			}
			got++
		case <-deadline:
			t.Fatalf("the reading stream got %d of 5 events", got)
		}
	}
	// The stream that never read had room for 2: it was dropped, its channel closed.
	n := 0
	for range slow.C {
		n++
	}
	if n != 2 || !slow.Dropped() || fast.Dropped() {
		t.Fatalf("slow stream: %d events buffered, dropped %v (fast dropped %v)", n, slow.Dropped(), fast.Dropped())
	}
	if hub.Streams() != 1 {
		t.Fatalf("%d streams subscribed, want 1", hub.Streams())
	}
	hub.Close()
	if _, err := hub.Subscribe(recipient); err != notify.ErrClosed {
		t.Fatalf("Subscribe after Close: %v", err)
	}
}

func TestAHubThatNeverStreamedHoldsNoConnection(t *testing.T) {
	hub := notify.New(db, notify.Options{})
	time.Sleep(50 * time.Millisecond)
	if hub.ListenerPID() != 0 {
		t.Fatal("an unused hub listens")
	}
	hub.Close()
	hub.Wait()
}
