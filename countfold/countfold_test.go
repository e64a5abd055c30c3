package countfold_test

import (
	"context"
	"errors"
	"sync/atomic"
	"testing"
	"time"

	"tiktok/countfold"
)

// TestAFullBatchIsFollowedAtOnceAndAnEmptyOneWaits: the folder folds again at once while it
// finds a backlog (a whole batch), then waits for its interval; Close ends it promptly.
func TestAFullBatchIsFollowedAtOnceAndAnEmptyOneWaits(t *testing.T) {
	var calls atomic.Int64
	fold := func(ctx context.Context, batch int) (int64, error) {
		if calls.Add(1) <= 3 {
			return int64(batch), nil
		}
		return 0, nil
	}
	f := countfold.New(fold, countfold.Options{Interval: time.Hour, Batch: 10})
	f.Start()
	deadline := time.Now().Add(5 * time.Second)
	for calls.Load() < 4 && time.Now().Before(deadline) {
		time.Sleep(time.Millisecond)
	}
	time.Sleep(50 * time.Millisecond)
	if n := calls.Load(); n != 4 {
		t.Fatalf("%d folds, want 3 full ones followed at once and one empty, then a wait", n)
	}
	closed := make(chan struct{})
	go func() { f.Close(); close(closed) }()
	select {
	case <-closed:
	case <-time.After(5 * time.Second):
		t.Fatal("Close did not end the folder")
	}
}

// TestAFailingFoldIsRetriedAndTheTablesAreVacuumed: an error (the database away) does not stop
// the folder, and the delta tables are vacuumed every VacuumEvery.
func TestAFailingFoldIsRetriedAndTheTablesAreVacuumed(t *testing.T) {
	var folds, vacuums atomic.Int64
	fold := func(ctx context.Context, batch int) (int64, error) {
		folds.Add(1)
		return 0, errors.New("connection refused")
	}
	vacuum := func(ctx context.Context) error { vacuums.Add(1); return nil }
	f := countfold.New(fold, countfold.Options{Interval: 5 * time.Millisecond, Vacuum: vacuum, VacuumEvery: 20 * time.Millisecond})
	f.Start()
	time.Sleep(200 * time.Millisecond)
	f.Close()
	if folds.Load() < 5 || vacuums.Load() < 2 {
		t.Fatalf("%d folds and %d vacuums in 200ms", folds.Load(), vacuums.Load())
	}
}
