package routes_test

import (
	"encoding/json"
	"fmt"
	mrand "math/rand/v2"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"testing"
	"time"

	"tiktok/config"
	"tiktok/internal/contract"
	"tiktok/internal/testsvc"
	"tiktok/middleware"
	"tiktok/routes"
)

// instanceRouter is one server instance: its own router and Redis client, over the test
// database and the Redis at url, with the default RATE_* limits, its keys under prefix.
func instanceRouter(t *testing.T, url, prefix string, edit ...func(*config.Config)) http.Handler {
	t.Helper()
	cfg := testConfig(t)
	cfg.BcryptCost = 4 // the limits are the subject, not bcrypt's cost
	cfg.RedisURL = url
	for _, e := range edit {
		e(&cfg)
	}
	client, err := middleware.NewRedisClient(url)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = client.Close() })
	limits := middleware.NewRedisLimits(client, middleware.RedisOptions{KeyPrefix: prefix, RetryEvery: 100 * time.Millisecond})
	r, err := routes.New(routes.Deps{Config: cfg, DB: db, Limiters: routes.RedisLimiters(cfg, limits)})
	if err != nil {
		t.Fatal(err)
	}
	return contract.Wrap(t, r)
}

// from sends a JSON request from the client at ip.
func from(r http.Handler, ip, method, path, body string) *httptest.ResponseRecorder {
	req := httptest.NewRequest(method, path, strings.NewReader(body))
	req.Header.Set("Content-Type", "application/json")
	req.RemoteAddr = ip + ":40000"
	w := httptest.NewRecorder()
	r.ServeHTTP(w, req)
	return w
}

func login(r http.Handler, ip, email, password string) *httptest.ResponseRecorder {
	return from(r, ip, "POST", "/api/users/login", fmt.Sprintf(`{"email":%q,"password":%q}`, email, password))
}

func register(t *testing.T, r http.Handler, ip string) string {
	t.Helper()
	name := "u" + randomToken(12)
	w := from(r, ip, "POST", "/api/users/register",
		fmt.Sprintf(`{"username":%q,"email":"%s@example.com","password":"correct horse battery"}`, name, name))
	if w.Code != http.StatusCreated {
		t.Fatalf("register = %d %s", w.Code, w.Body)
	}
	return name + "@example.com"
}

// randomIP is a client address of the test's own (TEST-NET-2 and -3 are documentation
// ranges), so per-IP counts of other tests on the same Redis never mix in.
func randomIP() string {
	return fmt.Sprintf("198.51.%d.%d", mrand.IntN(256), 1+mrand.IntN(254))
}

func wantRateLimited(t *testing.T, what string, w *httptest.ResponseRecorder) {
	t.Helper()
	if w.Code != http.StatusTooManyRequests {
		t.Fatalf("%s = %d %s, want 429", what, w.Code, w.Body)
	}
	if e := decodeError(t, w); e.Code != "rate_limited" {
		t.Fatalf("%s: code %q, want rate_limited", what, e.Code)
	}
	if s, err := strconv.Atoi(w.Header().Get("Retry-After")); err != nil || s < 1 {
		t.Fatalf("%s: Retry-After %q, want a number of seconds", what, w.Header().Get("Retry-After"))
	}
}

// The account lockout is shared: 10 failed logins through instance A, the 11th through B is
// 429 with Retry-After, even with the right password; a successful login through either
// instance clears the account's count for both.
func TestLoginLockoutIsSharedByTwoInstancesThroughRedis(t *testing.T) {
	rd := testsvc.Redis(t)
	a, b := instanceRouter(t, rd.URL, rd.Prefix), instanceRouter(t, rd.URL, rd.Prefix)
	email := register(t, a, randomIP())

	for i := range 10 {
		if w := login(a, randomIP(), email, "wrong password"); w.Code != http.StatusUnauthorized {
			t.Fatalf("failed login %d through A = %d %s", i+1, w.Code, w.Body)
		}
	}
	wantRateLimited(t, "11th login through B", login(b, randomIP(), email, "wrong password"))
	wantRateLimited(t, "the right password through B after 10 failures", login(b, randomIP(), email, "correct horse battery"))
	wantRateLimited(t, "login through A after 10 failures", login(a, randomIP(), email, "correct horse battery"))

	// Reset: 9 failures split over both, a success through B, then 10 new failures are
	// allowed again before the 11th is refused.
	other := register(t, b, randomIP())
	for i := range 9 {
		r := a
		if i%2 == 1 {
			r = b
		}
		if w := login(r, randomIP(), other, "wrong password"); w.Code != http.StatusUnauthorized {
			t.Fatalf("failed login %d = %d %s", i+1, w.Code, w.Body)
		}
	}
	if w := login(b, randomIP(), other, "correct horse battery"); w.Code != http.StatusOK {
		t.Fatalf("login with the right password after 9 failures = %d %s", w.Code, w.Body)
	}
	for i := range 10 {
		r := b
		if i%2 == 1 {
			r = a
		}
		if w := login(r, randomIP(), other, "wrong password"); w.Code != http.StatusUnauthorized {
			t.Fatalf("failed login %d after the success = %d %s: the success did not clear the count on both", i+1, w.Code, w.Body)
		}
	}
	wantRateLimited(t, "11th failure after the reset", login(a, randomIP(), other, "wrong password"))
}

// The per-IP limits of login (30 a minute) and sign-up (10 a minute) are shared too.
func TestPerIPLimitsAreSharedByTwoInstancesThroughRedis(t *testing.T) {
	rd := testsvc.Redis(t)
	a, b := instanceRouter(t, rd.URL, rd.Prefix), instanceRouter(t, rd.URL, rd.Prefix)

	ip := randomIP()
	for i := range 30 {
		r := a
		if i >= 15 {
			r = b
		}
		// Unknown accounts, each tried once: only the per-IP limit counts them all.
		if w := login(r, ip, fmt.Sprintf("nobody%d_%s@example.com", i, randomToken(6)), "whatever password"); w.Code != http.StatusUnauthorized {
			t.Fatalf("login %d from one IP = %d %s", i+1, w.Code, w.Body)
		}
	}
	wantRateLimited(t, "31st login from one IP, through A", login(a, ip, "x@example.com", "whatever password"))
	wantRateLimited(t, "31st login from one IP, through B", login(b, ip, "x@example.com", "whatever password"))
	if w := login(b, randomIP(), "x@example.com", "whatever password"); w.Code != http.StatusUnauthorized {
		t.Fatalf("login from another IP = %d, want 401: the limit is per IP", w.Code)
	}

	ip = randomIP()
	for i := range 10 {
		r := a
		if i%2 == 1 {
			r = b
		}
		register(t, r, ip)
	}
	wantRateLimited(t, "11th sign-up from one IP, through B", from(b, ip, "POST", "/api/users/register",
		`{"username":"late_one","email":"late_one@example.com","password":"correct horse battery"}`))
}

// Stopping Redis degrades the limits as documented: every request still gets its answer (no
// 500), /readyz says "redis":"unreachable" but stays 200, each instance holds the limits on
// its own, and when Redis is back they are shared again.
func TestStoppingRedisDegradesTheLimitsToEachInstance(t *testing.T) {
	server := testsvc.StartRedis(t)
	a, b := instanceRouter(t, server.URL, "t:"), instanceRouter(t, server.URL, "t:")
	email := register(t, a, randomIP())
	readyz := func(r http.Handler, want string) {
		t.Helper()
		w := from(r, randomIP(), "GET", "/readyz", "")
		var body map[string]string
		if w.Code != http.StatusOK || json.Unmarshal(w.Body.Bytes(), &body) != nil || body["redis"] != want || body["database"] != "ok" {
			t.Fatalf("/readyz = %d %s, want 200 with database ok and redis %s", w.Code, w.Body, want)
		}
	}
	readyz(a, "ok")

	for range 4 {
		login(a, randomIP(), email, "wrong password") // shared: 4 of 10 used
	}
	server.Stop()
	readyz(a, "unreachable")
	// Each instance now counts in its own memory, from zero: 10 failures each, then 429.
	for name, r := range map[string]http.Handler{"A": a, "B": b} {
		for i := range 10 {
			if w := login(r, randomIP(), email, "wrong password"); w.Code != http.StatusUnauthorized {
				t.Fatalf("Redis down: failed login %d through %s = %d %s", i+1, name, w.Code, w.Body)
			}
		}
		wantRateLimited(t, "Redis down: 11th failure through "+name, login(r, randomIP(), email, "wrong password"))
	}
	// Sign-up still works (its per-IP count is held in memory).
	register(t, b, randomIP())
	if w := from(a, randomIP(), "GET", "/metrics", ""); !strings.Contains(w.Body.String(), `rate_limit_redis_fallbacks_total{limit="login-fails"}`) ||
		!strings.Contains(w.Body.String(), "rate_limit_redis_degraded 1") {
		t.Fatalf("/metrics does not show the fallback:\n%s", grepLines(w.Body.String(), "rate_limit"))
	}

	server.Start() // empty: nothing was saved
	other := register(t, a, randomIP())
	deadline := time.Now().Add(5 * time.Second)
	for {
		// Some request after RetryEvery finds Redis again; readyz pings it on its own.
		time.Sleep(150 * time.Millisecond)
		login(a, randomIP(), "nobody@example.com", "x")
		login(b, randomIP(), "nobody@example.com", "x")
		w := from(a, randomIP(), "GET", "/metrics", "")
		v := from(b, randomIP(), "GET", "/metrics", "")
		if strings.Contains(w.Body.String(), "rate_limit_redis_degraded 0") && strings.Contains(v.Body.String(), "rate_limit_redis_degraded 0") {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("the instances did not go back to Redis after it came back")
		}
	}
	readyz(b, "ok")
	for i := range 10 {
		r := a
		if i%2 == 1 {
			r = b
		}
		if w := login(r, randomIP(), other, "wrong password"); w.Code != http.StatusUnauthorized {
			t.Fatalf("after recovery: failed login %d = %d %s", i+1, w.Code, w.Body)
		}
	}
	wantRateLimited(t, "after recovery: the 11th failure, through B", login(b, randomIP(), other, "wrong password"))
}

// REDIS_URL alone (no limiters given) puts the limits in Redis: /readyz reports it, /metrics
// has the fallback series, and the routes are limited as usual.
func TestRedisURLSwitchesTheLimitsToRedis(t *testing.T) {
	rd := testsvc.Redis(t)
	cfg := testConfig(t)
	cfg.RedisURL = rd.URL
	cfg.RateLoginPerIP = 0 // default key prefix, shared with anything else on this Redis: count nothing here
	cfg.RateRegisterPerIP, cfg.RateLoginFailsPerAccount = 0, 0
	limiters, err := routes.NewLimiters(cfg, nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = limiters.Close() })
	if limiters.Redis == nil {
		t.Fatal("REDIS_URL is set but the limiters are not in Redis")
	}
	r, err := routes.New(routes.Deps{Config: cfg, DB: db, Limiters: limiters})
	if err != nil {
		t.Fatal(err)
	}
	w := do(contract.Wrap(t, r), "GET", "/readyz", nil)
	if w.Code != 200 || !strings.Contains(w.Body.String(), `"redis":"ok"`) {
		t.Fatalf("/readyz = %d %s", w.Code, w.Body)
	}
	if w := do(r, "GET", "/metrics", nil); !strings.Contains(w.Body.String(), "rate_limit_redis_degraded 0") {
		t.Fatalf("/metrics lacks the Redis gauge:\n%s", grepLines(w.Body.String(), "rate_limit"))
	}

	// Without REDIS_URL: memory, and /readyz says nothing of Redis.
	cfg.RedisURL = ""
	mem, err := routes.NewLimiters(cfg, nil)
	if err != nil || mem.Redis != nil || mem.Close() != nil {
		t.Fatalf("without REDIS_URL: %+v, %v", mem, err)
	}
	w = do(newRouter(t, db), "GET", "/readyz", nil)
	if strings.Contains(w.Body.String(), "redis") {
		t.Fatalf("/readyz without Redis = %s", w.Body)
	}
}

func grepLines(s, sub string) string {
	var out []string
	for _, l := range strings.Split(s, "\n") {
		if strings.Contains(l, sub) {
			out = append(out, l)
		}
	}
	return strings.Join(out, "\n")
}
