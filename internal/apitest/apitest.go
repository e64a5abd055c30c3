// Package apitest drives the real router against a test database: build the API, make JSON
// requests, register and log in users. Controller tests of every resource share it.
//
//	api := apitest.New(t, db)
//	alice := api.NewUser("alice")
//	res := api.Do("GET", "/api/users/me", nil, alice.Token)
//	res.Status(http.StatusOK)
package apitest

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/gin-gonic/gin"
	"gorm.io/gorm"

	"tiktok/auth"
	"tiktok/config"
	"tiktok/internal/contract"
	"tiktok/middleware"
	"tiktok/notify"
	"tiktok/routes"
	"tiktok/storage"
	"tiktok/store"
	"tiktok/viewcount"
)

// Secret is the JWT secret of test routers.
const Secret = "test-secret-test-secret-test-secret-0123"

// Password is the password NewUser gives every user.
const Password = "correct horse battery"

// Clock is a settable clock shared by the token issuer and the limiters of a test router.
type Clock struct {
	mu  sync.Mutex
	now time.Time
}

// NewClock returns a clock that starts at the real time and moves only with Advance.
func NewClock() *Clock { return &Clock{now: time.Now()} }

// Now returns the clock's time.
func (c *Clock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

// Advance moves the clock forward.
func (c *Clock) Advance(d time.Duration) {
	c.mu.Lock()
	c.now = c.now.Add(d)
	c.mu.Unlock()
}

// API is a router under test.
type API struct {
	T      testing.TB
	DB     *gorm.DB
	Config config.Config
	Router *gin.Engine
	Tokens *auth.Tokens
	Clock  *Clock
	Store  *storage.Local // nil when an option set another store
	// Uploads is the store the router uses (Store, or the one an option set).
	Uploads storage.Store
	// Notifications is the router's listener of new notifications (closed with the test).
	Notifications *notify.Hub
	// Views is the router's view counter: Flush writes the views counted so far.
	Views *viewcount.Counter
}

// WithViews makes the router count views with v (a counter shared by two routers, or one on
// Redis).
func WithViews(v *viewcount.Counter) Option {
	return func(_ *config.Config, d *routes.Deps) { d.Views = v }
}

// FlushViews writes the views counted so far, failing the test on an error.
func (a *API) FlushViews() {
	a.T.Helper()
	if err := a.Views.Flush(context.Background()); err != nil {
		a.T.Fatalf("flush views: %v", err)
	}
}

func routesStore(db *gorm.DB) viewcount.Writer { return store.New(db).Videos }

// Option changes the configuration or dependencies before the router is built.
type Option func(*config.Config, *routes.Deps)

// WithConfig edits the configuration (rate limits, bcrypt cost...).
func WithConfig(edit func(*config.Config)) Option {
	return func(c *config.Config, _ *routes.Deps) { edit(c) }
}

// New builds the router on db with test settings: bcrypt cost 4, no rate limits, uploads in
// a temporary directory, a fixed JWT secret and a clock the test can move.
func New(t testing.TB, db *gorm.DB, opts ...Option) *API {
	t.Helper()
	gin.SetMode(gin.TestMode)
	cfg, err := config.Load(func(string) (string, bool) { return "", false })
	if err != nil {
		t.Fatal(err)
	}
	cfg.AppEnv = config.EnvTest
	cfg.JWTSecret = Secret
	cfg.BcryptCost = 4
	cfg.RateLoginPerIP, cfg.RateLoginFailsPerAccount, cfg.RateRegisterPerIP = 0, 0, 0
	cfg.UploadDir = t.TempDir()

	clock := NewClock()
	// Internal errors reach the test's output, so a 500 explains itself.
	deps := routes.Deps{DB: db, Log: slog.New(slog.NewTextHandler(testWriter{t}, &slog.HandlerOptions{Level: slog.LevelError}))}
	for _, o := range opts {
		o(&cfg, &deps)
	}
	deps.Config = cfg
	if deps.Notifications == nil {
		deps.Notifications = routes.NewNotificationHub(cfg, db, deps.Log)
	}
	hub := deps.Notifications
	t.Cleanup(func() { hub.Close(); hub.Wait() })
	// An option may set another store (a bucket); the local one is the default.
	var store *storage.Local
	if deps.Store == nil {
		local, err := storage.NewLocal(cfg.UploadDir)
		if err != nil {
			t.Fatal(err)
		}
		store, deps.Store = local, local
	}
	deps.Tokens = auth.NewTokens(cfg.JWTSecret, cfg.JWTExpiresIn)
	deps.Tokens.Now = clock.Now
	if deps.Limiters == nil {
		deps.Limiters = clockedLimiters(cfg, clock)
	}
	if deps.Views == nil {
		// The view counter of the settings, de-duplicating on the test clock. It writes only
		// when the test calls FlushViews, and when the test ends (as main's shutdown does):
		// a timed flush would land among the statements a test counts.
		deps.Views = viewcount.New(routesStore(db), viewcount.Options{Window: cfg.ViewWindow,
			FlushInterval: 24 * time.Hour, MaxKeys: cfg.ViewDedupMaxKeys, Now: clock.Now})
		views := deps.Views
		t.Cleanup(func() { _ = views.Close(context.Background()) })
	}
	r, err := routes.New(deps)
	if err != nil {
		t.Fatal(err)
	}
	return &API{T: t, DB: db, Config: cfg, Router: r, Tokens: deps.Tokens, Clock: clock, Store: store, Uploads: deps.Store,
		Notifications: hub, Views: deps.Views}
}

// testWriter sends log lines to t.Log.
type testWriter struct{ t testing.TB }

func (w testWriter) Write(p []byte) (int, error) {
	w.t.Log(strings.TrimSpace(string(p)))
	return len(p), nil
}

// clockedLimiters builds the limiters of the settings on the test clock, so a test can move
// past a window without sleeping.
func clockedLimiters(c config.Config, clock *Clock) *routes.Limiters {
	mk := func(max int, window time.Duration) middleware.Limiter {
		if max == 0 {
			return middleware.Unlimited{}
		}
		return middleware.NewMemoryLimiter(max, window, clock.Now)
	}
	return &routes.Limiters{
		LoginPerIP:        mk(c.RateLoginPerIP, time.Minute),
		LoginFailsAccount: mk(c.RateLoginFailsPerAccount, 15*time.Minute),
		RegisterPerIP:     mk(c.RateRegisterPerIP, time.Minute),
	}
}

// Response is a recorded answer.
type Response struct {
	t      testing.TB
	Code   int
	Header http.Header
	Body   []byte
}

// Status fails the test unless the answer has status want, and returns r.
func (r *Response) Status(want int) *Response {
	r.t.Helper()
	if r.Code != want {
		r.t.Fatalf("status %d, want %d; body: %s", r.Code, want, r.Body)
	}
	return r
}

// Error checks an error answer: its status and its code.
func (r *Response) Error(status int, code string) *Response {
	r.t.Helper()
	r.Status(status)
	var e struct {
		Message string `json:"message"`
		Code    string `json:"code"`
	}
	r.Decode(&e)
	if e.Code != code || e.Message == "" {
		r.t.Fatalf("error code %q (message %q), want %q; body: %s", e.Code, e.Message, code, r.Body)
	}
	return r
}

// Decode unmarshals the body into dst, failing the test on bad JSON.
func (r *Response) Decode(dst any) {
	r.t.Helper()
	if err := json.Unmarshal(r.Body, dst); err != nil {
		r.t.Fatalf("decode %s: %v", r.Body, err)
	}
}

// Map decodes the body as a JSON object.
func (r *Response) Map() map[string]any {
	r.t.Helper()
	var m map[string]any
	r.Decode(&m)
	return m
}

// Do sends a request with a JSON body (nil for none, a string or []byte as is) and a bearer
// token ("" for none). Extra headers come as "Name: value" strings.
func (a *API) Do(method, path string, body any, token string, headers ...string) *Response {
	a.T.Helper()
	var rd io.Reader
	switch b := body.(type) {
	case nil:
	case string:
		rd = strings.NewReader(b)
	case []byte:
		rd = bytes.NewReader(b)
	default:
		j, err := json.Marshal(b)
		if err != nil {
			a.T.Fatal(err)
		}
		rd = bytes.NewReader(j)
	}
	req := httptest.NewRequest(method, path, rd)
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	for _, h := range headers {
		k, v, _ := strings.Cut(h, ":")
		req.Header.Set(strings.TrimSpace(k), strings.TrimSpace(v))
	}
	return a.Serve(req)
}

// MediaPath is the path on this router of a media URL the API answered: the URL must be
// absolute, under PUBLIC_BASE_URL (which may carry a path prefix a proxy strips), or the test
// fails.
func (a *API) MediaPath(u string) string {
	a.T.Helper()
	path, ok := strings.CutPrefix(u, a.Config.PublicBaseURL)
	if a.Config.PublicBaseURL == "" || !ok || !strings.HasPrefix(path, "/uploads/") {
		a.T.Fatalf("media URL %q is not under PUBLIC_BASE_URL %s/uploads/", u, a.Config.PublicBaseURL)
	}
	return path
}

// Serve sends a prepared request. Every answer is also checked against the OpenAPI
// description (docs/openapi.yaml): a status or body the description does not allow fails the
// test, so the description cannot drift from the code.
func (a *API) Serve(req *http.Request) *Response {
	a.T.Helper()
	w := httptest.NewRecorder()
	a.Router.ServeHTTP(w, req)
	if err := contract.Check(req, w.Code, w.Header(), w.Body.Bytes()); err != nil {
		a.T.Errorf("contract: %v", err)
	}
	return &Response{t: a.T, Code: w.Code, Header: w.Header(), Body: w.Body.Bytes()}
}

// User is a registered, logged-in test user.
type User struct {
	ID       int32
	Username string
	Email    string
	Password string
	Token    string
	Refresh  string
}

// Unique returns prefix with a random suffix, so tests sharing a database never collide.
func Unique(prefix string) string {
	b := make([]byte, 4)
	_, _ = rand.Read(b)
	return prefix + "_" + hex.EncodeToString(b)
}

// NewUser registers a user named after prefix (made unique) and logs them in.
func (a *API) NewUser(prefix string) *User {
	a.T.Helper()
	name := Unique(prefix)
	u := &User{Username: name, Email: name + "@example.com", Password: Password}
	var reg struct {
		User struct {
			ID int32 `json:"id"`
		} `json:"user"`
	}
	a.Do("POST", "/api/users/register", map[string]string{"username": u.Username, "email": u.Email, "password": u.Password}, "").
		Status(http.StatusCreated).Decode(&reg)
	u.ID = reg.User.ID
	a.Login(u)
	return u
}

// Login logs u in again, replacing its tokens.
func (a *API) Login(u *User) {
	a.T.Helper()
	var login struct {
		Token        string `json:"token"`
		RefreshToken string `json:"refreshToken"`
	}
	a.Do("POST", "/api/users/login", map[string]string{"email": u.Email, "password": u.Password}, "").
		Status(http.StatusOK).Decode(&login)
	u.Token, u.Refresh = login.Token, login.RefreshToken
}

// Path formats a path with user ids and other values: Path("/api/users/%d/follow", id).
func Path(format string, args ...any) string { return fmt.Sprintf(format, args...) }

// ID formats an id for a path.
func ID(id int32) string { return strconv.Itoa(int(id)) }
