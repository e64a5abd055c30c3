package middleware

import (
	"context"
	"sync"
	"time"

	"github.com/gin-gonic/gin"

	"tiktok/auth"
	"tiktok/errs"
)

// Limiter counts events per key in a sliding window (auth.Limiter, defined there because the
// login lockout, a Gin-free service, uses it too). It is an interface so that a shared store
// (Redis) can replace the in-memory one when several instances run behind a load balancer:
// each instance would otherwise allow the full limit.
type Limiter = auth.Limiter

// NewLimiter returns the in-memory limiter allowing max events per window for each key, or
// one that allows everything when max is 0 (the settings' way to turn a limit off).
func NewLimiter(max int, window time.Duration) Limiter {
	if max <= 0 {
		return Unlimited{}
	}
	return NewMemoryLimiter(max, window, time.Now)
}

// Unlimited is a Limiter that never limits.
type Unlimited struct{}

// Hit always allows.
func (Unlimited) Hit(context.Context, string) (bool, time.Duration, error) { return true, 0, nil }

// Reset does nothing.
func (Unlimited) Reset(context.Context, string) error { return nil }

// MemoryLimiter is a sliding-window log kept in memory: for each key, the times of the events
// still inside the window (at most max of them, so memory per key is bounded).
type MemoryLimiter struct {
	max    int
	window time.Duration
	now    func() time.Time

	mu        sync.Mutex
	events    map[string][]time.Time
	lastSweep time.Time
}

// NewMemoryLimiter returns a MemoryLimiter; now is the clock (tests pass a fake one to move
// past the window without sleeping).
func NewMemoryLimiter(max int, window time.Duration, now func() time.Time) *MemoryLimiter {
	return &MemoryLimiter{max: max, window: window, now: now, events: map[string][]time.Time{}, lastSweep: now()}
}

// live drops the events of key that left the window and returns the rest. Callers hold mu.
func (l *MemoryLimiter) live(key string, now time.Time) []time.Time {
	ev := l.events[key]
	cut := 0
	for cut < len(ev) && !ev[cut].After(now.Add(-l.window)) {
		cut++
	}
	ev = ev[cut:]
	if len(ev) == 0 {
		delete(l.events, key)
	} else {
		l.events[key] = ev
	}
	return ev
}

// sweep forgets keys idle for a whole window, so one-off clients do not pile up. It runs at
// most once per window, under mu.
func (l *MemoryLimiter) sweep(now time.Time) {
	if now.Sub(l.lastSweep) < l.window {
		return
	}
	l.lastSweep = now
	for k, ev := range l.events {
		if len(ev) == 0 || !ev[len(ev)-1].After(now.Add(-l.window)) {
			delete(l.events, k)
		}
	}
}

// Hit implements Limiter; the mutex makes its check and count one step.
func (l *MemoryLimiter) Hit(_ context.Context, key string) (bool, time.Duration, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	now := l.now()
	l.sweep(now)
	ev := l.live(key, now)
	if len(ev) >= l.max {
		return false, ev[0].Add(l.window).Sub(now), nil
	}
	l.events[key] = append(ev, now)
	return true, 0, nil
}

// Reset implements Limiter.
func (l *MemoryLimiter) Reset(_ context.Context, key string) error {
	l.mu.Lock()
	defer l.mu.Unlock()
	delete(l.events, key)
	return nil
}

// RateLimitByIP counts every request per client IP (as Gin resolves it from TRUSTED_PROXIES)
// and answers 429 with Retry-After past the limit. prefix keeps the counts of different
// routes apart when they share a store.
func RateLimitByIP(l Limiter, prefix string) gin.HandlerFunc {
	return func(c *gin.Context) {
		ok, retry, err := l.Hit(c.Request.Context(), prefix+":"+c.ClientIP())
		if err != nil {
			_ = c.Error(err)
			c.Abort()
			return
		}
		if !ok {
			_ = c.Error(errs.RateLimited(retry))
			c.Abort()
			return
		}
		c.Next()
	}
}
