package routes_test

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	mrand "math/rand/v2"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"tiktok/internal/contract"
	"tiktok/internal/testdb"
	"tiktok/routes"
)

// randomToken is n random letters: a valid HTTP method token, and a path segment.
func randomToken(n int) string {
	const letters = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"
	b := make([]byte, n)
	for i := range b {
		b[i] = letters[mrand.IntN(len(letters))]
	}
	return string(b)
}

// /metrics is public, so whatever a client can put in a request must not become a new label
// value: made-up methods and paths collapse to one value each, and the page keeps its size.
func TestMetricsLabelsStayBoundedUnderMadeUpMethodsAndPaths(t *testing.T) {
	r := newRouter(t, db)
	// The normal traffic first, so its series exist before the baseline is measured.
	do(r, "GET", "/healthz", nil)
	do(r, "GET", "/api/videos", nil)
	do(r, "GET", "/no/such/route", nil)
	do(r, "FOO", "/healthz", nil) // the one series a made-up method may add
	do(r, "GET", "/metrics", nil)
	baseline := do(r, "GET", "/metrics", nil).Body.Len()

	for i := range 1000 {
		method := randomToken(64 + mrand.IntN(960))
		suffix := make([]byte, 8)
		_, _ = rand.Read(suffix)
		path := fmt.Sprintf("/%s/%d/%s", randomToken(1+mrand.IntN(200)), i, hex.EncodeToString(suffix))
		if i%2 == 0 {
			path = "/api/videos" + path // under a real prefix, still no route
		}
		do(r, method, path, nil)
	}

	w := do(r, "GET", "/metrics", nil)
	body := w.Body.String()
	// Counters and the runtime's gauges change their digits, never by kilobytes.
	const margin = 8 << 10
	if w.Body.Len() > baseline+margin {
		t.Fatalf("/metrics grew from %d to %d bytes after 1,000 requests with made-up methods and paths",
			baseline, w.Body.Len())
	}
	for _, want := range []string{
		`http_requests_total{method="OTHER",route="unmatched",status="404"} 1001`,
		`http_requests_total{method="GET",route="/healthz",status="200"} 1`,
	} {
		if !strings.Contains(body, want) {
			t.Errorf("/metrics lacks %s", want)
		}
	}
}

// The file server of /uploads answers its errors like the rest of the API: a range past the
// end of the file (a player seeking with a stale length), a malformed range or a failed
// precondition is JSON with a code, not net/http's text/plain line; the headers a client
// needs (Content-Range with the real length) stay.
func TestUploadsErrorsAreJSON(t *testing.T) {
	dir := t.TempDir()
	const name = "0123456789abcdef0123456789abcdef.mp4"
	content := make([]byte, 100)
	if err := os.WriteFile(filepath.Join(dir, name), content, 0o644); err != nil {
		t.Fatal(err)
	}
	raw := newRouterWithEnv(t, map[string]string{"UPLOAD_DIR": dir})
	r := contract.Wrap(t, raw)
	file := "/uploads/" + name

	// The file itself still streams as before, whole or by range.
	if w := do(r, "GET", file, nil); w.Code != 200 || w.Body.Len() != 100 || w.Header().Get("Content-Type") != "video/mp4" {
		t.Fatalf("GET %s = %d, %d bytes, %q", file, w.Code, w.Body.Len(), w.Header().Get("Content-Type"))
	}
	if w := do(r, "GET", file, nil, "Range", "bytes=10-19"); w.Code != 206 || w.Body.Len() != 10 ||
		w.Header().Get("Content-Range") != "bytes 10-19/100" {
		t.Fatalf("range = %d, %d bytes, %q", w.Code, w.Body.Len(), w.Header().Get("Content-Range"))
	}

	cases := []struct {
		name, method string
		headers      []string
		status       int
		code         string
		contentRange string
	}{
		{"a range past the end", "GET", []string{"Range", "bytes=1000-"}, 416, "range_not_satisfiable", "bytes */100"},
		{"a malformed range", "GET", []string{"Range", "bytes=x-y"}, 416, "range_not_satisfiable", ""},
		{"a failed If-Unmodified-Since", "GET", []string{"If-Unmodified-Since", "Mon, 02 Jan 2006 15:04:05 GMT"}, 412, "precondition_failed", ""},
		{"a missing file", "GET", nil, 404, "not_found", ""},
		{"another method", "DELETE", nil, 404, "not_found", ""},
		{"another method", "POST", nil, 404, "not_found", ""},
	}
	for _, tc := range cases {
		path := file
		if tc.name == "a missing file" {
			path = "/uploads/ffffffffffffffffffffffffffffffff.mp4"
		}
		w := do(r, tc.method, path, nil, tc.headers...)
		if w.Code != tc.status {
			t.Errorf("%s: %s %s = %d %q, want %d", tc.name, tc.method, path, w.Code, w.Body, tc.status)
			continue
		}
		if e := decodeError(t, w); e.Code != tc.code {
			t.Errorf("%s: code %q, want %q", tc.name, e.Code, tc.code)
		}
		if got := w.Header().Get("Content-Range"); got != tc.contentRange {
			t.Errorf("%s: Content-Range %q, want %q", tc.name, got, tc.contentRange)
		}
		if cc := w.Header().Get("Cache-Control"); strings.Contains(cc, "immutable") {
			t.Errorf("%s: an error must not be cached for a year: Cache-Control %q", tc.name, cc)
		}
	}

	// HEAD gets the same status and headers, without a body (the description lists GET only).
	w := do(raw, "HEAD", file, nil, "Range", "bytes=1000-")
	if w.Code != 416 || w.Header().Get("Content-Range") != "bytes */100" || !strings.HasPrefix(w.Header().Get("Content-Type"), "application/json") {
		t.Errorf("HEAD with a range past the end = %d, Content-Range %q, Content-Type %q",
			w.Code, w.Header().Get("Content-Range"), w.Header().Get("Content-Type"))
	}
}

// syncBuffer is a log sink the server's goroutines and the test share.
type syncBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *syncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *syncBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

// waitFor polls cond until it holds, failing the test after a generous limit: the events it
// waits for take milliseconds, the limit only stops a broken build from hanging.
func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// registerAndLogin makes a user through the router and returns its id and access token.
func registerAndLogin(t *testing.T, r http.Handler) (int, string) {
	t.Helper()
	name := "u" + randomToken(12)
	w := do(r, "POST", "/api/users/register", strings.NewReader(fmt.Sprintf(
		`{"username":%q,"email":"%s@example.com","password":"correct horse battery"}`, name, name)),
		"Content-Type", "application/json")
	if w.Code != 201 {
		t.Fatalf("register = %d %s", w.Code, w.Body)
	}
	w = do(r, "POST", "/api/users/login", strings.NewReader(fmt.Sprintf(
		`{"email":"%s@example.com","password":"correct horse battery"}`, name)), "Content-Type", "application/json")
	var login struct {
		Token string `json:"token"`
		User  struct {
			ID int `json:"id"`
		} `json:"user"`
	}
	if w.Code != 200 || json.Unmarshal(w.Body.Bytes(), &login) != nil {
		t.Fatalf("login = %d %s", w.Code, w.Body)
	}
	return login.User.ID, login.Token
}

// A client that gives up while its request waits on the database (a tab closed, a fetch
// aborted) is not a server error: the request is logged as closed by the client, counted
// with nginx's 499, and nothing is written to the connection it left.
func TestClientClosingTheRequestIsA499NotAnInternalError(t *testing.T) {
	logs := &syncBuffer{}
	r, err := routes.New(routes.Deps{Config: testConfig(t), DB: db,
		Log: slog.New(slog.NewTextHandler(logs, &slog.HandlerOptions{Level: slog.LevelDebug}))})
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(r)
	defer srv.Close()

	_, token := registerAndLogin(t, r)
	w := do(r, "POST", "/api/videos", strings.NewReader(`{"videoUrl":"https://cdn.example.com/clip.mp4"}`),
		"Content-Type", "application/json", "Authorization", "Bearer "+token)
	var video struct {
		ID int `json:"id"`
	}
	if w.Code != 201 || json.Unmarshal(w.Body.Bytes(), &video) != nil {
		t.Fatalf("create video = %d %s", w.Code, w.Body)
	}

	// Another transaction holds the video's row, so the edit below waits on its lock.
	lock := db.Begin()
	defer lock.Rollback()
	testdb.MustRun(t, lock, `SELECT id FROM videos WHERE id = ? FOR UPDATE`, video.ID)

	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, "PUT", fmt.Sprintf("%s/api/videos/%d", srv.URL, video.ID),
		strings.NewReader(`{"caption":"edited"}`))
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Authorization", "Bearer "+token)
	answered := make(chan error, 1)
	go func() {
		resp, err := srv.Client().Do(req)
		if err == nil {
			resp.Body.Close()
			err = fmt.Errorf("got an answer, %d", resp.StatusCode)
		}
		answered <- err
	}()

	waitFor(t, "the edit to wait on the row lock", func() bool {
		var waiting int
		testdb.MustScan(t, db, &waiting, `SELECT count(*) FROM pg_stat_activity
			WHERE datname = current_database() AND wait_event_type = 'Lock' AND query ILIKE '%videos%'`)
		return waiting > 0
	})
	cancel()
	if err := <-answered; !errors.Is(err, context.Canceled) {
		t.Fatalf("the client's request ended with %v, want its own cancellation", err)
	}
	waitFor(t, "the request's log line", func() bool { return strings.Contains(logs.String(), "route=/api/videos/:id") })
	lock.Rollback()

	var line string
	for _, l := range strings.Split(logs.String(), "\n") {
		if strings.Contains(l, "route=/api/videos/:id") {
			line = l
		}
		if strings.Contains(l, "level=ERROR") || strings.Contains(l, "internal error") {
			t.Errorf("a request the client closed is logged as a server error: %s", l)
		}
	}
	if !strings.Contains(line, "status=499") || !(strings.Contains(line, "level=INFO") || strings.Contains(line, "level=WARN")) {
		t.Errorf("request log line %q, want status 499 at INFO or WARN", line)
	}
	if !strings.Contains(logs.String(), "client closed the request") {
		t.Errorf("no line says the client closed the request:\n%s", logs)
	}

	metrics := do(r, "GET", "/metrics", nil).Body.String()
	if want := `http_requests_total{method="PUT",route="/api/videos/:id",status="499"} 1`; !strings.Contains(metrics, want) {
		t.Errorf("/metrics lacks %s", want)
	}
	if bad := `route="/api/videos/:id",status="500"`; strings.Contains(metrics, bad) {
		t.Errorf("/metrics counts the closed request as a 500: %s", bad)
	}
}
