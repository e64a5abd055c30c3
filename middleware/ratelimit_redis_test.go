package middleware_test

import (
	"bytes"
	"context"
	"log/slog"
	"net"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus/testutil"

	"tiktok/internal/testsvc"
	"tiktok/middleware"
)

// instance is the Redis side of one server instance: a client of its own, as a second
// process would have, on the test's Redis and key prefix.
func instance(t testing.TB, url, prefix string, o middleware.RedisOptions) *middleware.RedisLimits {
	t.Helper()
	client, err := middleware.NewRedisClient(url)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = client.Close() })
	o.KeyPrefix = prefix
	return middleware.NewRedisLimits(client, o)
}

func hit(t testing.TB, l middleware.Limiter, key string) (bool, time.Duration) {
	t.Helper()
	ok, retry, err := l.Hit(context.Background(), key)
	if err != nil {
		t.Fatalf("Hit(%q): %v", key, err)
	}
	return ok, retry
}

// Two instances on one Redis count against one budget: what one allowed, the other does not
// allow again, a refusal says when to come back, and a Reset on either clears it for both.
func TestRedisLimitersOfTwoInstancesShareOneBudget(t *testing.T) {
	r := testsvc.Redis(t)
	a := instance(t, r.URL, r.Prefix, middleware.RedisOptions{}).Limiter("login-fails", 10, 15*time.Minute)
	b := instance(t, r.URL, r.Prefix, middleware.RedisOptions{}).Limiter("login-fails", 10, 15*time.Minute)
	for i := range 10 {
		l := a
		if i%2 == 1 {
			l = b
		}
		if ok, _ := hit(t, l, "login:user:1"); !ok {
			t.Fatalf("attempt %d of 10 refused", i+1)
		}
	}
	for name, l := range map[string]middleware.Limiter{"A": a, "B": b} {
		ok, retry := hit(t, l, "login:user:1")
		// GCRA frees one slot every window/max: 15m/10 = 90s.
		if ok || retry <= 80*time.Second || retry > 90*time.Second {
			t.Fatalf("11th attempt on %s: allowed=%v retry=%v, want refused with about 90s", name, ok, retry)
		}
	}
	if ok, _ := hit(t, b, "login:user:2"); !ok {
		t.Fatal("keys are not independent")
	}
	if err := b.Reset(context.Background(), "login:user:1"); err != nil {
		t.Fatal(err)
	}
	if ok, _ := hit(t, a, "login:user:1"); !ok {
		t.Fatal("a Reset on B did not clear the count A sees")
	}

	// Different limits on the same key do not share counts.
	other := instance(t, r.URL, r.Prefix, middleware.RedisOptions{}).Limiter("register-ip", 1, time.Minute)
	if ok, _ := hit(t, other, "login:user:2"); !ok {
		t.Fatal("a limit of another name shares the key's count")
	}
	if _, ok := instance(t, r.URL, r.Prefix, middleware.RedisOptions{}).Limiter("off", 0, time.Minute).(middleware.Unlimited); !ok {
		t.Fatal("max 0 must turn the limit off")
	}
}

// Hits made at once from many goroutines of two instances get exactly the limit between them.
func TestRedisLimiterAllowsNoMoreThanTheLimitAtOnce(t *testing.T) {
	r := testsvc.Redis(t)
	const max, attempts = 25, 200
	limiters := []middleware.Limiter{
		instance(t, r.URL, r.Prefix, middleware.RedisOptions{Timeout: 5 * time.Second}).Limiter("login-ip", max, time.Hour),
		instance(t, r.URL, r.Prefix, middleware.RedisOptions{Timeout: 5 * time.Second}).Limiter("login-ip", max, time.Hour),
	}
	var allowed, refused atomic.Int32
	var wg sync.WaitGroup
	start := make(chan struct{})
	for i := range attempts {
		wg.Go(func() {
			<-start
			ok, retry, err := limiters[i%2].Hit(context.Background(), "203.0.113.7")
			switch {
			case err != nil:
				t.Error(err)
			case ok:
				allowed.Add(1)
			case retry <= 0:
				t.Errorf("refused with retry %v", retry)
			default:
				refused.Add(1)
			}
		})
	}
	close(start)
	wg.Wait()
	if allowed.Load() != max || refused.Load() != attempts-max {
		t.Fatalf("%d allowed and %d refused of %d hits at once, want %d and %d", allowed.Load(), refused.Load(), attempts, max, attempts-max)
	}
}

// Keys come from clients (an e-mail or username of any bytes and length): each is kept apart,
// and none makes a long or unprintable Redis key.
func TestRedisLimiterKeysStayShortAndApartWhateverTheClientSends(t *testing.T) {
	r := testsvc.Redis(t)
	l := instance(t, r.URL, r.Prefix, middleware.RedisOptions{}).Limiter("login-fails", 1, time.Hour)
	keys := []string{"login:name:bob", "login:name:bob\n", "login:name:bob ", "login:name:bob\x00x", "login:name:bob*",
		"login:name:" + strings.Repeat("a", 1<<20), "login:name:" + strings.Repeat("a", 1<<20-1) + "b", "login:name:ｂｏｂ",
		"login:name:\xff\xfe", "",
		// A plain key shaped like the hash of another must not collide with it.
		"h:" + strings.Repeat("0", 64)}
	for _, k := range keys {
		if ok, _ := hit(t, l, k); !ok {
			t.Fatalf("first hit on %.40q refused: it shares a count with another key", k)
		}
	}
	for _, k := range keys {
		if ok, _ := hit(t, l, k); ok {
			t.Fatalf("second hit on %.40q allowed", k)
		}
	}
	stored, err := r.Client.Keys(context.Background(), "*"+r.Prefix+"*").Result()
	if err != nil {
		t.Fatal(err)
	}
	if len(stored) != len(keys) {
		t.Fatalf("%d keys in Redis for %d client keys: %q", len(stored), len(keys), stored)
	}
	for _, k := range stored {
		if len(k) > 140 || strings.ContainsFunc(k, func(c rune) bool { return c < 0x21 || c > 0x7e }) {
			t.Fatalf("Redis key %q is long or unprintable", k)
		}
	}
}

// syncLog collects log lines from several goroutines.
type syncLog struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (s *syncLog) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.buf.Write(p)
}

func (s *syncLog) count(sub string) int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return strings.Count(s.buf.String(), sub)
}

// With Redis stopped, every limit still answers (no error), held by each instance in its own
// memory with the same max: degraded to the limits of one instance, neither open nor closed.
// The outage is logged once, not per request, and counted; when Redis is back the limits are
// shared again.
func TestRedisDownFallsBackToEachInstancesMemoryAndComesBack(t *testing.T) {
	server := testsvc.StartRedis(t)
	logs := &syncLog{}
	opts := middleware.RedisOptions{RetryEvery: 100 * time.Millisecond, Log: slog.New(slog.NewTextHandler(logs, nil))}
	const max = 5
	ga := instance(t, server.URL, "t:", opts)
	gb := instance(t, server.URL, "t:", opts)
	a, b := ga.Limiter("login-ip", max, time.Hour), gb.Limiter("login-ip", max, time.Hour)
	ctx := context.Background()

	for range 3 {
		hit(t, a, "ip")
	}
	server.Stop()
	for i := range max {
		if ok, _ := hit(t, a, "ip"); !ok {
			t.Fatalf("Redis down: hit %d of %d on A refused; each instance should allow the limit in memory", i+1, max)
		}
	}
	for range 20 {
		ok, retry := hit(t, a, "ip")
		if ok || retry <= 0 {
			t.Fatalf("Redis down: A allowed past the limit (ok=%v retry=%v): a down Redis must not open the limit", ok, retry)
		}
	}
	for i := range max {
		if ok, _ := hit(t, b, "ip"); !ok {
			t.Fatalf("Redis down: hit %d on B refused; B counts on its own", i+1)
		}
	}
	if ok, _ := hit(t, b, "ip"); ok {
		t.Fatal("Redis down: B allowed past the limit")
	}
	if err := a.Reset(ctx, "ip"); err != nil {
		t.Fatalf("Reset with Redis down: %v (a login must not fail because Redis is away)", err)
	}
	if ok, _ := hit(t, a, "ip"); !ok {
		t.Fatal("Reset with Redis down did not clear the instance's own count")
	}
	if !ga.Degraded() || !gb.Degraded() {
		t.Fatal("the limiters do not report the outage")
	}
	if n := logs.count("Redis does not answer"); n != 2 { // one per instance
		t.Fatalf("%d warnings for %d decisions during the outage, want one per instance:\n%s", n, 2*max+22, logs.buf.String())
	}
	if n := testutil.ToFloat64(ga.Collectors()[0]); n < 20 {
		t.Fatalf("rate_limit_redis_fallbacks_total = %v on A, want every decision of the outage counted", n)
	}
	if testutil.ToFloat64(ga.Collectors()[1]) != 1 {
		t.Fatal("rate_limit_redis_degraded is not 1 during the outage")
	}

	server.Start() // empty: nothing was saved
	time.Sleep(150 * time.Millisecond)
	// The probe after RetryEvery finds Redis; from then on the budget is shared again.
	deadline := time.Now().Add(5 * time.Second)
	for ga.Degraded() || gb.Degraded() {
		hit(t, a, "other")
		hit(t, b, "other")
		if time.Now().After(deadline) {
			t.Fatal("the limiters did not go back to Redis after it came back")
		}
		time.Sleep(20 * time.Millisecond)
	}
	for i := range max {
		l := a
		if i%2 == 1 {
			l = b
		}
		if ok, _ := hit(t, l, "ip2"); !ok {
			t.Fatalf("after recovery: hit %d refused", i+1)
		}
	}
	if ok, _ := hit(t, a, "ip2"); ok {
		t.Fatal("after recovery the instances do not share the budget again")
	}
	if ok, _ := hit(t, b, "ip2"); ok {
		t.Fatal("after recovery the instances do not share the budget again")
	}
	if logs.count("Redis answers again") != 2 || testutil.ToFloat64(ga.Collectors()[1]) != 0 {
		t.Fatalf("the recovery is not logged or the gauge not reset:\n%s", logs.buf.String())
	}
}

// A Redis that accepts connections and never answers costs a request at most the timeout,
// and, until the next retry, the requests after it nothing at all: they go straight to memory
// without sending Redis a byte. Proved by what the silent server receives, not by a stopwatch
// (the machine may be loaded); the wall-clock guards only catch a call that would hang.
func TestHungRedisCostsAtMostTheTimeout(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	var conns sync.WaitGroup
	var mu sync.Mutex
	var held []net.Conn
	var received atomic.Int64 // bytes sent to the silent server
	t.Cleanup(func() {
		_ = ln.Close()
		mu.Lock()
		for _, c := range held {
			_ = c.Close()
		}
		mu.Unlock()
		conns.Wait()
	})
	conns.Go(func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			mu.Lock()
			held = append(held, c)
			mu.Unlock()
			conns.Go(func() { // read everything, answer nothing
				buf := make([]byte, 4096)
				for {
					n, err := c.Read(buf)
					received.Add(int64(n))
					if err != nil {
						return
					}
				}
			})
		}
	})
	const timeout = 100 * time.Millisecond
	const hang = 10 * time.Second // far beyond the timeout: only a call without one takes this long
	g := instance(t, "redis://"+ln.Addr().String()+"/0", "t:", middleware.RedisOptions{Timeout: timeout, RetryEvery: time.Hour})
	l := g.Limiter("login-ip", 2, time.Minute)

	start := time.Now()
	if ok, _ := hit(t, l, "ip"); !ok {
		t.Fatal("first hit refused")
	}
	if took := time.Since(start); took > hang {
		t.Fatalf("the first hit on a hung Redis took %v: the timeout (%v) does not bound it", took, timeout)
	}
	waitFor(t, "the first hit's command to reach the silent server", func() bool { return received.Load() > 0 })
	sent := received.Load()

	hit(t, l, "ip")
	ok, _ := hit(t, l, "ip")
	_ = l.Reset(context.Background(), "ip")
	if ok {
		t.Fatal("the third hit was allowed past the limit of 2: the memory fallback did not count")
	}
	time.Sleep(50 * time.Millisecond) // a command sent by those calls would have arrived by now
	if got := received.Load(); got != sent {
		t.Fatalf("the hits after the failure sent Redis %d more bytes; until the retry they should go straight to memory", got-sent)
	}

	// readyz's ping is bounded by the same timeout.
	start = time.Now()
	if err := g.Ping(context.Background()); err == nil || time.Since(start) > hang {
		t.Fatalf("Ping on a hung Redis: %v after %v", err, time.Since(start))
	}
}

// A request whose client went away gets its own context's error, and does not mark Redis down.
func TestRedisLimiterReportsTheCallersCancellationNotAnOutage(t *testing.T) {
	r := testsvc.Redis(t)
	g := instance(t, r.URL, r.Prefix, middleware.RedisOptions{})
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if _, _, err := g.Limiter("login-ip", 3, time.Minute).Hit(ctx, "ip"); err == nil {
		t.Fatal("a cancelled request got a decision")
	}
	if g.Degraded() {
		t.Fatal("a cancelled request marked Redis down")
	}
}

// BenchmarkLimiterHit compares one decision in memory with one in Redis (a round trip and
// the GCRA script): one caller at a time (the latency a login pays), and callers in parallel
// (the throughput of one instance).
func BenchmarkLimiterHit(b *testing.B) {
	r := testsvc.Redis(b)
	for _, l := range []struct {
		name string
		l    middleware.Limiter
	}{
		{"memory", middleware.NewMemoryLimiter(1_000_000_000, time.Hour, time.Now)},
		{"redis", instance(b, r.URL, r.Prefix, middleware.RedisOptions{}).Limiter("bench", 1_000_000_000, time.Hour)},
	} {
		ctx := context.Background()
		b.Run(l.name+"/serial", func(b *testing.B) {
			for b.Loop() {
				if _, _, err := l.l.Hit(ctx, "ip"); err != nil {
					b.Fatal(err)
				}
			}
		})
		b.Run(l.name+"/parallel", func(b *testing.B) {
			b.RunParallel(func(pb *testing.PB) {
				for pb.Next() {
					if _, _, err := l.l.Hit(ctx, "ip"); err != nil {
						b.Fatal(err)
					}
				}
			})
		})
	}
}

// waitFor polls cond until it holds, failing after a generous limit: the events it waits for
// take milliseconds, the limit only stops a broken build from hanging.
func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(10 * time.Millisecond)
	}
}
