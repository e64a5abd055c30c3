package middleware_test

import (
	"context"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"tiktok/middleware"
)

type fakeClock struct {
	mu  sync.Mutex
	now time.Time
}

func (c *fakeClock) Now() time.Time      { c.mu.Lock(); defer c.mu.Unlock(); return c.now }
func (c *fakeClock) Add(d time.Duration) { c.mu.Lock(); c.now = c.now.Add(d); c.mu.Unlock() }

func TestMemoryLimiterSlidesItsWindow(t *testing.T) {
	ctx := context.Background()
	clock := &fakeClock{now: time.Unix(1_000_000, 0)}
	l := middleware.NewMemoryLimiter(3, time.Minute, clock.Now)
	for i := range 3 {
		if ok, _, _ := l.Hit(ctx, "k"); !ok {
			t.Fatalf("hit %d refused", i)
		}
		clock.Add(10 * time.Second)
	}
	ok, retry, _ := l.Hit(ctx, "k")
	if ok || retry != 30*time.Second {
		t.Fatalf("4th hit: ok=%v retry=%v, want refused with 30s", ok, retry)
	}
	if ok, _, _ := l.Hit(ctx, "other"); !ok {
		t.Fatal("keys are not independent")
	}
	clock.Add(30 * time.Second) // the first hit leaves the window
	if ok, _, _ := l.Hit(ctx, "k"); !ok {
		t.Fatal("limit did not recover when the oldest hit left the window")
	}
	if ok, _, _ := l.Hit(ctx, "k"); ok {
		t.Fatal("only one slot should have freed")
	}
	_ = l.Reset(ctx, "k")
	if ok, _, _ := l.Hit(ctx, "k"); !ok {
		t.Fatal("Reset did not clear the key")
	}
}

// TestMemoryLimiterAllowsNoMoreThanTheLimitAtOnce: hits made at once on one key get exactly
// the room the limit has left, and every refused one says when to come back.
func TestMemoryLimiterAllowsNoMoreThanTheLimitAtOnce(t *testing.T) {
	ctx := context.Background()
	clock := &fakeClock{now: time.Unix(1_000_000, 0)}
	l := middleware.NewMemoryLimiter(10, time.Minute, clock.Now)
	if ok, _, _ := l.Hit(ctx, "k"); !ok {
		t.Fatal("first hit refused")
	}
	var allowed, refused atomic.Int32
	var wg sync.WaitGroup
	for range 100 {
		wg.Go(func() {
			ok, retry, err := l.Hit(ctx, "k")
			switch {
			case err != nil:
				t.Error(err)
			case ok:
				allowed.Add(1)
			case retry != time.Minute:
				t.Errorf("refused with retry %v, want 1m", retry)
			default:
				refused.Add(1)
			}
		})
	}
	wg.Wait()
	if allowed.Load() != 9 || refused.Load() != 91 {
		t.Fatalf("%d allowed and %d refused of 100 hits with 9 left, want 9 and 91", allowed.Load(), refused.Load())
	}
}

func TestNewLimiterZeroMeansOff(t *testing.T) {
	l := middleware.NewLimiter(0, time.Minute)
	for range 1000 {
		if ok, _, _ := l.Hit(context.Background(), "k"); !ok {
			t.Fatal("a limit of 0 must not limit")
		}
	}
}
