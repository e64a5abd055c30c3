package routes_test

import (
	"context"
	"encoding/json"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/gin-gonic/gin"
	"gorm.io/gorm"

	"tiktok/config"
	"tiktok/database"
	"tiktok/internal/contract"
	"tiktok/internal/testdb"
	"tiktok/middleware"
	"tiktok/routes"
)

func testConfig(t *testing.T) config.Config {
	t.Helper()
	cfg, err := config.Load(func(k string) (string, bool) {
		v, ok := map[string]string{"APP_ENV": "test", "CORS_ORIGINS": "http://localhost:3000"}[k]
		return v, ok
	})
	if err != nil {
		t.Fatal(err)
	}
	cfg.UploadDir = t.TempDir() // not the default ./uploads, which would land in the source tree
	return cfg
}

func newRouter(t *testing.T, db *gorm.DB) *gin.Engine {
	t.Helper()
	r, err := routes.New(routes.Deps{Config: testConfig(t), DB: db})
	if err != nil {
		t.Fatal(err)
	}
	return r
}

type errorJSON struct {
	Message string            `json:"message"`
	Code    string            `json:"code"`
	Errors  map[string]string `json:"errors"`
}

func do(r http.Handler, method, path string, body io.Reader, headers ...string) *httptest.ResponseRecorder {
	req := httptest.NewRequest(method, path, body)
	for i := 0; i+1 < len(headers); i += 2 {
		req.Header.Set(headers[i], headers[i+1])
	}
	w := httptest.NewRecorder()
	r.ServeHTTP(w, req)
	return w
}

func decodeError(t *testing.T, w *httptest.ResponseRecorder) errorJSON {
	t.Helper()
	if ct := w.Header().Get("Content-Type"); !strings.HasPrefix(ct, "application/json") {
		t.Fatalf("error response is %q, not JSON: %s", ct, w.Body)
	}
	var e errorJSON
	if err := json.Unmarshal(w.Body.Bytes(), &e); err != nil {
		t.Fatalf("error body is not JSON: %v: %s", err, w.Body)
	}
	if e.Message == "" || e.Code == "" {
		t.Fatalf("error body lacks message or code: %s", w.Body)
	}
	return e
}

func TestHealthzAndReadyzAnswer200(t *testing.T) {
	r := contract.Wrap(t, newRouter(t, db))
	for _, path := range []string{"/healthz", "/readyz"} {
		w := do(r, "GET", path, nil)
		if w.Code != 200 || !strings.Contains(w.Body.String(), `"status":"ok"`) {
			t.Errorf("GET %s = %d %s", path, w.Code, w.Body)
		}
	}
}

func TestUnknownRouteIsJSON404(t *testing.T) {
	r := contract.Wrap(t, newRouter(t, db))
	for _, req := range [][2]string{{"GET", "/api/nothing-here"}, {"DELETE", "/healthz"}, {"POST", "/"}} {
		w := do(r, req[0], req[1], nil)
		if w.Code != 404 {
			t.Fatalf("%s %s = %d", req[0], req[1], w.Code)
		}
		if e := decodeError(t, w); e.Code != "not_found" {
			t.Errorf("code %q", e.Code)
		}
	}
}

func TestPanicBecomesJSON500WithoutDetails(t *testing.T) {
	r := newRouter(t, db)
	r.GET("/test/panic", func(*gin.Context) { panic("secret internal detail") })
	w := do(r, "GET", "/test/panic", nil, "X-Request-ID", "trace-123")
	if w.Code != 500 {
		t.Fatalf("status %d", w.Code)
	}
	e := decodeError(t, w)
	if e.Code != "internal" || strings.Contains(w.Body.String(), "secret") {
		t.Fatalf("500 body %s", w.Body)
	}
	if w.Header().Get("X-Request-ID") != "trace-123" {
		t.Fatal("a 500 must still carry the request id, to find it in the log")
	}
}

func TestBodiesAreCappedAndMalformedJSONIs400(t *testing.T) {
	r := newRouter(t, db)
	r.POST("/test/echo", middleware.Handler(func(c *gin.Context) error {
		var in struct {
			Name string `json:"name"`
		}
		if err := middleware.BindJSON(c, &in); err != nil {
			return err
		}
		c.JSON(200, in)
		return nil
	}))
	big := `{"name":"` + strings.Repeat("a", 2<<20) + `"}`

	w := do(r, "POST", "/test/echo", strings.NewReader(big), "Content-Type", "application/json")
	if w.Code != 413 || decodeError(t, w).Code != "payload_too_large" {
		t.Fatalf("declared 2 MiB body: %d %s", w.Code, w.Body.String()[:min(200, w.Body.Len())])
	}

	// Without a Content-Length (chunked), the cap applies while reading.
	req := httptest.NewRequest("POST", "/test/echo", io.MultiReader(strings.NewReader(big)))
	req.ContentLength = -1
	rec := httptest.NewRecorder()
	r.ServeHTTP(rec, req)
	if rec.Code != 413 || decodeError(t, rec).Code != "payload_too_large" {
		t.Fatalf("chunked 2 MiB body: %d", rec.Code)
	}

	cases := map[string]struct {
		body, code string
	}{
		"malformed JSON":            {`{"name":`, "invalid_json"},
		"not JSON at all":           {`name=x`, "invalid_json"},
		"empty body":                {``, "invalid_json"},
		"a field of the wrong type": {`{"name": 42}`, "validation_failed"},
	}
	for name, tc := range cases {
		w := do(r, "POST", "/test/echo", strings.NewReader(tc.body), "Content-Type", "application/json")
		if w.Code != 400 || decodeError(t, w).Code != tc.code {
			t.Errorf("%s: %d %s", name, w.Code, w.Body)
		}
	}
	w = do(r, "POST", "/test/echo", strings.NewReader(`{"name":"ok","unknown":1}`))
	if w.Code != 200 {
		t.Errorf("unknown fields must be ignored: %d %s", w.Code, w.Body)
	}
}

func TestRequestIDIsEchoedWhenSaneElseGenerated(t *testing.T) {
	r := newRouter(t, db)
	if got := do(r, "GET", "/healthz", nil, "X-Request-ID", "abc-123").Header().Get("X-Request-ID"); got != "abc-123" {
		t.Errorf("sane id not echoed: %q", got)
	}
	for _, bad := range []string{"", "has spaces in it", strings.Repeat("x", 200), "<script>"} {
		got := do(r, "GET", "/healthz", nil, "X-Request-ID", bad).Header().Get("X-Request-ID")
		if got == "" || got == bad || len(got) != 32 {
			t.Errorf("for %q got id %q, want a fresh 32-hex id", bad, got)
		}
	}
}

// newRouterWithEnv builds the router from a configuration read from env alone (plus
// APP_ENV=test), to test what a variable's default or an unusual value does.
func newRouterWithEnv(t *testing.T, env map[string]string) *gin.Engine {
	t.Helper()
	cfg, err := config.Load(func(k string) (string, bool) {
		if k == "APP_ENV" {
			return "test", true
		}
		v, ok := env[k]
		return v, ok
	})
	if err != nil {
		t.Fatal(err)
	}
	if _, set := env["UPLOAD_DIR"]; !set {
		cfg.UploadDir = t.TempDir()
	}
	r, err := routes.New(routes.Deps{Config: cfg, DB: db})
	if err != nil {
		t.Fatal(err)
	}
	return r
}

// wantHeader fails unless the response has exactly one value for key and it is want ("" means
// the header must be absent).
func wantHeader(t *testing.T, what string, w *httptest.ResponseRecorder, key, want string) {
	t.Helper()
	got := w.Header().Values(key)
	switch {
	case want == "" && len(got) != 0:
		t.Errorf("%s: %s = %q, want none", what, key, got)
	case want != "" && (len(got) != 1 || got[0] != want):
		t.Errorf("%s: %s = %q, want %q", what, key, got, want)
	}
}

const (
	corsAllowMethods  = "GET, POST, PUT, PATCH, DELETE, OPTIONS"
	corsAllowHeaders  = "Authorization, Content-Type, X-Request-ID"
	corsExposeHeaders = "X-Request-ID, Retry-After, WWW-Authenticate"
)

// The CORS middleware is our own, not github.com/gin-contrib/cors: that library answers a
// request from an origin not in the list with a bare 403 (see the README, "Dependencies").
// These tests pin the answers that decision rests on.

func TestCORSAllowsConfiguredOriginsAndAnswersPreflight(t *testing.T) {
	r := contract.Wrap(t, newRouter(t, db)) // CORS_ORIGINS=http://localhost:3000
	const origin = "http://localhost:3000"

	w := do(r, "OPTIONS", "/api/videos", nil, "Origin", origin,
		"Access-Control-Request-Method", "POST", "Access-Control-Request-Headers", "authorization,content-type")
	if w.Code != 204 || w.Body.Len() != 0 {
		t.Fatalf("preflight = %d %q, want 204 and no body", w.Code, w.Body)
	}
	wantHeader(t, "preflight", w, "Access-Control-Allow-Origin", origin)
	wantHeader(t, "preflight", w, "Vary", "Origin")
	wantHeader(t, "preflight", w, "Access-Control-Allow-Methods", corsAllowMethods)
	wantHeader(t, "preflight", w, "Access-Control-Allow-Headers", corsAllowHeaders)
	wantHeader(t, "preflight", w, "Access-Control-Max-Age", "600")
	wantHeader(t, "preflight", w, "Access-Control-Allow-Credentials", "")

	// The actual request: the origin echoed, and the headers a script may read named.
	w = do(r, "GET", "/healthz", nil, "Origin", origin)
	if w.Code != 200 {
		t.Fatalf("GET /healthz = %d", w.Code)
	}
	wantHeader(t, "GET", w, "Access-Control-Allow-Origin", origin)
	wantHeader(t, "GET", w, "Vary", "Origin")
	wantHeader(t, "GET", w, "Access-Control-Expose-Headers", corsExposeHeaders)
	wantHeader(t, "GET", w, "Access-Control-Allow-Methods", "") // preflight only
	wantHeader(t, "GET", w, "Access-Control-Max-Age", "")

	// Error responses carry the CORS headers too, so the frontend can read their message.
	w = do(r, "GET", "/api/nothing-here", nil, "Origin", origin)
	if w.Code != 404 || decodeError(t, w).Code != "not_found" {
		t.Fatalf("unknown route with an Origin = %d %s", w.Code, w.Body)
	}
	wantHeader(t, "404", w, "Access-Control-Allow-Origin", origin)
	wantHeader(t, "404", w, "Access-Control-Expose-Headers", corsExposeHeaders)
}

// CORS is enforced by browsers: the server does not refuse a request from an origin not in
// the list, it only leaves out Access-Control-Allow-Origin (a browser then hides the answer
// from the page). Curl, mobile apps and server-side callers that send an Origin keep working.
func TestCORSServesOtherOriginsWithoutAllowOrigin(t *testing.T) {
	r := contract.Wrap(t, newRouter(t, db)) // CORS_ORIGINS=http://localhost:3000
	for _, origin := range []string{"https://evil.example", "http://localhost:3001", "null"} {
		w := do(r, "GET", "/healthz", nil, "Origin", origin)
		if w.Code != 200 || !strings.Contains(w.Body.String(), `"status":"ok"`) {
			t.Errorf("GET /healthz from %s = %d %s, want it served as usual", origin, w.Code, w.Body)
		}
		wantHeader(t, origin, w, "Access-Control-Allow-Origin", "")
		wantHeader(t, origin, w, "Vary", "Origin")

		w = do(r, "GET", "/api/nothing-here", nil, "Origin", origin)
		if w.Code != 404 || decodeError(t, w).Code != "not_found" {
			t.Errorf("unknown route from %s = %d %s, want the usual JSON 404", origin, w.Code, w.Body)
		}
		wantHeader(t, origin, w, "Access-Control-Allow-Origin", "")

		// Its preflight is still a 204, but without the origin the browser refuses to go on.
		w = do(r, "OPTIONS", "/api/videos", nil, "Origin", origin, "Access-Control-Request-Method", "POST")
		if w.Code != 204 {
			t.Errorf("preflight from %s = %d", origin, w.Code)
		}
		wantHeader(t, origin+" preflight", w, "Access-Control-Allow-Origin", "")
	}
}

func TestCORSDefaultsToAnyOrigin(t *testing.T) {
	r := contract.Wrap(t, newRouterWithEnv(t, nil)) // no CORS_ORIGINS: "*"
	w := do(r, "GET", "/healthz", nil, "Origin", "https://anything.example")
	if w.Code != 200 {
		t.Fatalf("GET /healthz = %d", w.Code)
	}
	wantHeader(t, "GET", w, "Access-Control-Allow-Origin", "*")
	wantHeader(t, "GET", w, "Access-Control-Expose-Headers", corsExposeHeaders)
	wantHeader(t, "GET", w, "Access-Control-Allow-Credentials", "") // bearer tokens, not cookies

	w = do(r, "OPTIONS", "/api/auth/login", nil, "Origin", "https://anything.example", "Access-Control-Request-Method", "POST")
	if w.Code != 204 {
		t.Fatalf("preflight = %d", w.Code)
	}
	wantHeader(t, "preflight", w, "Access-Control-Allow-Origin", "*")
	wantHeader(t, "preflight", w, "Access-Control-Allow-Methods", corsAllowMethods)
	wantHeader(t, "preflight", w, "Access-Control-Allow-Headers", corsAllowHeaders)
	wantHeader(t, "preflight", w, "Access-Control-Max-Age", "600")
}

// A cache may keep a response and hand it to a later request (the /uploads files are cacheable
// for a year): one made without an Origin, or for another origin, must not be reused for an
// allowed origin, and the reverse. With a list, every response says Vary: Origin; with "*",
// every response carries the same Access-Control-Allow-Origin, so nothing varies.
func TestCORSResponsesAreSafeToCache(t *testing.T) {
	list := newRouter(t, db) // CORS_ORIGINS=http://localhost:3000
	w := do(list, "GET", "/healthz", nil)
	wantHeader(t, "list, no Origin", w, "Vary", "Origin")
	wantHeader(t, "list, no Origin", w, "Access-Control-Allow-Origin", "")
	wantHeader(t, "list, no Origin", w, "Access-Control-Expose-Headers", "")

	star := newRouterWithEnv(t, nil)
	for what, headers := range map[string][]string{"*, no Origin": nil, "*, an Origin": {"Origin", "https://anything.example"}} {
		w := do(star, "GET", "/healthz", nil, headers...)
		wantHeader(t, what, w, "Access-Control-Allow-Origin", "*")
		wantHeader(t, what, w, "Access-Control-Expose-Headers", corsExposeHeaders)
		wantHeader(t, what, w, "Vary", "")
	}
}

// Browsers send an origin without a trailing slash; one written in CORS_ORIGINS with a slash
// ("http://localhost:3000/", as copied from the address bar) still matches.
func TestCORSOriginListIgnoresTrailingSlash(t *testing.T) {
	r := newRouterWithEnv(t, map[string]string{"CORS_ORIGINS": "http://localhost:3000/, https://app.example.com"})
	for _, origin := range []string{"http://localhost:3000", "https://app.example.com"} {
		w := do(r, "GET", "/healthz", nil, "Origin", origin)
		wantHeader(t, origin, w, "Access-Control-Allow-Origin", origin)
		wantHeader(t, origin, w, "Vary", "Origin")
	}
	wantHeader(t, "another origin", do(r, "GET", "/healthz", nil, "Origin", "https://other.example"),
		"Access-Control-Allow-Origin", "")
}

// Only an OPTIONS request naming Access-Control-Request-Method is a preflight. Any other
// OPTIONS request goes to the routes like any method: no route takes OPTIONS, so it is the
// usual JSON 404.
func TestCORSOptionsWithoutRequestMethodIsNotAPreflight(t *testing.T) {
	r := contract.Wrap(t, newRouter(t, db))
	w := do(r, "OPTIONS", "/api/videos", nil, "Origin", "http://localhost:3000")
	if w.Code != 404 || decodeError(t, w).Code != "not_found" {
		t.Fatalf("OPTIONS without Access-Control-Request-Method = %d %s, want the JSON 404", w.Code, w.Body)
	}
	wantHeader(t, "OPTIONS", w, "Access-Control-Allow-Origin", "http://localhost:3000")
	wantHeader(t, "OPTIONS", w, "Access-Control-Allow-Methods", "")
}

func TestMetricsCountRequestsByRouteAndStatus(t *testing.T) {
	r := newRouter(t, db)
	do(r, "GET", "/healthz", nil)
	do(r, "GET", "/no/such/route", nil)
	body := do(r, "GET", "/metrics", nil).Body.String()
	for _, want := range []string{
		`http_requests_total{method="GET",route="/healthz",status="200"} 1`,
		`http_requests_total{method="GET",route="unmatched",status="404"} 1`,
		`http_request_duration_seconds_bucket{method="GET",route="/healthz",status="200",le=`,
		`go_sql_max_open_connections{db_name="tiktok"}`,
	} {
		if !strings.Contains(body, want) {
			t.Errorf("/metrics lacks %s", want)
		}
	}
}

// proxy is a TCP proxy to the test database that the test can cut and restore, to play a
// database outage without stopping the shared server.
type proxy struct {
	addr, target string
	mu           sync.Mutex
	ln           net.Listener
	conns        []net.Conn
}

func (p *proxy) start(t *testing.T) {
	t.Helper()
	ln, err := net.Listen("tcp", p.addr)
	if err != nil {
		t.Fatal(err)
	}
	p.mu.Lock()
	p.ln, p.addr = ln, ln.Addr().String()
	p.mu.Unlock()
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			up, err := net.Dial("tcp", p.target)
			if err != nil {
				c.Close()
				continue
			}
			p.mu.Lock()
			p.conns = append(p.conns, c, up)
			p.mu.Unlock()
			go func() { _, _ = io.Copy(up, c); up.Close() }()
			go func() { _, _ = io.Copy(c, up); c.Close() }()
		}
	}()
}

func (p *proxy) cut() {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.ln.Close()
	for _, c := range p.conns {
		c.Close()
	}
	p.conns = nil
}

func TestDatabaseOutageGives503AndRecovers(t *testing.T) {
	_, dbURL := testdb.NewDatabase(t)
	u, _ := url.Parse(dbURL)
	p := &proxy{addr: "127.0.0.1:0", target: u.Host}
	p.start(t)
	t.Cleanup(p.cut)
	viaProxy := *u
	viaProxy.Host = p.addr
	pdb, err := database.Open(context.Background(), viaProxy.String(), database.DefaultPool, 2*time.Second, nil)
	if err != nil {
		t.Fatal(err)
	}
	if err := database.Migrate(context.Background(), pdb); err != nil {
		t.Fatal(err)
	}
	r := newRouter(t, pdb)
	// A real route that reads the database: its errors come through the store's translation.
	const query = "/api/videos?limit=1"
	if w := do(r, "GET", "/readyz", nil); w.Code != 200 {
		t.Fatalf("readyz before the outage: %d", w.Code)
	}
	if w := do(r, "GET", query, nil); w.Code != 200 {
		t.Fatalf("query before the outage: %d", w.Code)
	}

	p.cut()
	for _, path := range []string{"/readyz", query} {
		w := do(r, "GET", path, nil)
		if w.Code != 503 || decodeError(t, w).Code != "unavailable" {
			t.Fatalf("%s during the outage: %d %s", path, w.Code, w.Body)
		}
	}
	if w := do(r, "GET", "/healthz", nil); w.Code != 200 {
		t.Fatalf("healthz must not depend on the database: %d", w.Code)
	}

	p.start(t) // same address: the database is back
	deadline := time.Now().Add(5 * time.Second)
	for {
		w := do(r, "GET", query, nil)
		if w.Code == 200 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("no recovery after the database came back: %d %s", w.Code, w.Body)
		}
		time.Sleep(100 * time.Millisecond)
	}
	if w := do(r, "GET", "/readyz", nil); w.Code != 200 {
		t.Fatalf("readyz after recovery: %d", w.Code)
	}
}

func TestTheAPIDescribesItself(t *testing.T) {
	r := contract.Wrap(t, newRouter(t, db))
	w := do(r, "GET", "/api/openapi.json", nil)
	var spec struct {
		OpenAPI string         `json:"openapi"`
		Paths   map[string]any `json:"paths"`
	}
	if w.Code != 200 || json.Unmarshal(w.Body.Bytes(), &spec) != nil || spec.OpenAPI != "3.0.3" || spec.Paths["/api/videos"] == nil {
		t.Fatalf("GET /api/openapi.json = %d %.200s", w.Code, w.Body)
	}
	page := do(r, "GET", "/api/docs", nil)
	if page.Code != 200 || !strings.HasPrefix(page.Header().Get("Content-Type"), "text/html") ||
		!strings.Contains(page.Body.String(), `fetch("/api/openapi.json")`) {
		t.Fatalf("GET /api/docs = %d", page.Code)
	}
	if strings.Contains(page.Body.String(), "https://") {
		t.Fatal("the docs page must not load assets from another host")
	}
}

func TestEveryRouteIsDescribedAndEveryOperationRouted(t *testing.T) {
	var routes []contract.Route
	for _, ri := range newRouter(t, db).Routes() {
		routes = append(routes, contract.Route{Method: ri.Method, Path: ri.Path})
	}
	undocumented, unrouted := contract.Compare(routes)
	for _, u := range undocumented {
		t.Errorf("the router serves %s, which openapi.yaml does not describe", u)
	}
	for _, u := range unrouted {
		t.Errorf("openapi.yaml describes %s, which the router does not serve", u)
	}
}
