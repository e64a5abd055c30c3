package routes_test

import (
	"bufio"
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	mrand "math/rand/v2"
	"net"
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
	// Another transaction holds the video's row, so the edit below waits on its lock.
	video, release := lockedVideo(t, r, token)

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
	release()

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

// slowRequest sends a request over a raw connection to addr the way a slow or stalled client
// does: the request line and headers at once, then the body chunk bytes at a time, one chunk
// every interval, until the body is sent or the server starts answering. It returns the
// answer. A server that never answers fails the test after a generous wait.
func slowRequest(t *testing.T, addr, head string, body []byte, chunk int, interval time.Duration) (*http.Response, []byte) {
	t.Helper()
	conn, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	if _, err := io.WriteString(conn, head); err != nil {
		t.Fatal(err)
	}
	answering := make(chan struct{})
	sent := make(chan struct{})
	go func() {
		defer close(sent)
		for i := 0; i < len(body); i += chunk {
			select {
			case <-answering:
				return // a server that answered early closes the connection; stop writing to it
			case <-time.After(interval):
			}
			if _, err := conn.Write(body[i:min(i+chunk, len(body))]); err != nil {
				return
			}
		}
	}()
	defer func() { <-sent }()

	_ = conn.SetReadDeadline(time.Now().Add(60 * time.Second))
	br := bufio.NewReader(conn)
	if _, err := br.Peek(1); err != nil {
		close(answering)
		t.Fatalf("no answer to a slow body: %v", err)
	}
	close(answering)
	resp, err := http.ReadResponse(br, nil)
	if err != nil {
		t.Fatalf("reading the answer: %v", err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatalf("reading the answer's body: %v", err)
	}
	return resp, b
}

// A body that arrives too slowly must not hold a connection (and a goroutine, and a database
// connection if the handler got one) for the server's whole ReadTimeout: each request's body
// has a deadline that fits its route, BODY_READ_TIMEOUT for JSON and UPLOAD_READ_TIMEOUT for
// the multipart uploads, and past it the client gets a JSON 408.
func TestSlowBodiesMeetTheirRoutesDeadline(t *testing.T) {
	multipartBody := func(boundary string) []byte {
		return []byte("--" + boundary + "\r\nContent-Disposition: form-data; name=\"bio\"\r\n\r\n" +
			strings.Repeat("slow upload ", 10) + "\r\n--" + boundary + "--\r\n")
	}
	const boundary = "XyZzY"
	check408 := func(t *testing.T, what, method, path string, resp *http.Response, body []byte) {
		t.Helper()
		if resp.StatusCode != http.StatusRequestTimeout {
			t.Fatalf("%s: %d %s, want 408", what, resp.StatusCode, body)
		}
		var e errorJSON
		if err := json.Unmarshal(body, &e); err != nil || e.Code != "request_timeout" || e.Message == "" {
			t.Fatalf("%s: body %s, want the JSON error request_timeout", what, body)
		}
		req := httptest.NewRequest(method, path, nil)
		if err := contract.Check(req, resp.StatusCode, resp.Header, body); err != nil {
			t.Errorf("%s: %v", what, err)
		}
	}

	t.Run("a JSON body past BODY_READ_TIMEOUT is 408", func(t *testing.T) {
		r := newRouterWithEnv(t, map[string]string{"BODY_READ_TIMEOUT": "1s", "UPLOAD_READ_TIMEOUT": "1h", "BCRYPT_COST": "4"})
		srv := httptest.NewServer(r)
		defer srv.Close()
		body := []byte(`{"email":"slow@example.com","password":"` + strings.Repeat("p", 900) + `"}`)
		head := fmt.Sprintf("POST /api/users/login HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: %d\r\n\r\n", len(body))
		resp, got := slowRequest(t, srv.Listener.Addr().String(), head, body, 1, 100*time.Millisecond)
		check408(t, "login", "POST", "/api/users/login", resp, got)
	})

	t.Run("a JSON body to an upload route keeps the JSON deadline", func(t *testing.T) {
		r := newRouterWithEnv(t, map[string]string{"BODY_READ_TIMEOUT": "1s", "UPLOAD_READ_TIMEOUT": "1h", "BCRYPT_COST": "4"})
		srv := httptest.NewServer(r)
		defer srv.Close()
		id, token := registerAndLogin(t, r)
		body := []byte(`{"bio":"` + strings.Repeat("b", 200) + `"}`)
		path := fmt.Sprintf("/api/users/%d", id)
		head := fmt.Sprintf("PUT %s HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer %s\r\nContent-Type: application/json\r\nContent-Length: %d\r\n\r\n",
			path, token, len(body))
		resp, got := slowRequest(t, srv.Listener.Addr().String(), head, body, 1, 100*time.Millisecond)
		check408(t, "JSON profile edit", "PUT", path, resp, got)
	})

	t.Run("a multipart upload past UPLOAD_READ_TIMEOUT is 408", func(t *testing.T) {
		r := newRouterWithEnv(t, map[string]string{"BODY_READ_TIMEOUT": "1h", "UPLOAD_READ_TIMEOUT": "1s", "BCRYPT_COST": "4"})
		srv := httptest.NewServer(r)
		defer srv.Close()
		id, token := registerAndLogin(t, r)
		body := multipartBody(boundary)
		path := fmt.Sprintf("/api/users/%d", id)
		head := fmt.Sprintf("PUT %s HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer %s\r\nContent-Type: multipart/form-data; boundary=%s\r\nContent-Length: %d\r\n\r\n",
			path, token, boundary, len(body))
		resp, got := slowRequest(t, srv.Listener.Addr().String(), head, body, 1, 100*time.Millisecond)
		check408(t, "multipart profile edit", "PUT", path, resp, got)
	})

	t.Run("a video stalled mid-file is 408 and leaves no file", func(t *testing.T) {
		dir := t.TempDir()
		r := newRouterWithEnv(t, map[string]string{"BODY_READ_TIMEOUT": "1h", "UPLOAD_READ_TIMEOUT": "1s",
			"BCRYPT_COST": "4", "UPLOAD_DIR": dir})
		srv := httptest.NewServer(r)
		defer srv.Close()
		_, token := registerAndLogin(t, r)
		video := append([]byte("\x00\x00\x00\x18ftypisom\x00\x00\x02\x00isomiso2"), make([]byte, 4096)...)
		body := append([]byte("--"+boundary+"\r\nContent-Disposition: form-data; name=\"video\"; filename=\"v.mp4\"\r\n"+
			"Content-Type: video/mp4\r\n\r\n"), video...)
		body = append(body, "\r\n--"+boundary+"--\r\n"...)
		head := fmt.Sprintf("POST /api/videos HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer %s\r\nContent-Type: multipart/form-data; boundary=%s\r\nContent-Length: %d\r\n\r\n",
			token, boundary, len(body))
		// The headers and the first kilobyte at once, then a trickle.
		resp, got := slowRequest(t, srv.Listener.Addr().String(), head, body, 1024, 500*time.Millisecond)
		check408(t, "video upload", "POST", "/api/videos", resp, got)
		entries, err := os.ReadDir(dir)
		if err != nil || len(entries) != 0 {
			t.Fatalf("files left by a timed-out upload: %v %v", entries, err)
		}
	})

	t.Run("a multipart upload may take longer than BODY_READ_TIMEOUT", func(t *testing.T) {
		r := newRouterWithEnv(t, map[string]string{"BODY_READ_TIMEOUT": "1s", "UPLOAD_READ_TIMEOUT": "1h", "BCRYPT_COST": "4"})
		srv := httptest.NewServer(r)
		defer srv.Close()
		id, token := registerAndLogin(t, r)
		body := multipartBody(boundary)
		path := fmt.Sprintf("/api/users/%d", id)
		head := fmt.Sprintf("PUT %s HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer %s\r\nContent-Type: multipart/form-data; boundary=%s\r\nContent-Length: %d\r\n\r\n",
			path, token, boundary, len(body))
		start := time.Now()
		// About 2.5 s of dribbling: past the JSON deadline, far within the upload's.
		resp, got := slowRequest(t, srv.Listener.Addr().String(), head, body, len(body)/50+1, 50*time.Millisecond)
		if resp.StatusCode != http.StatusOK || !strings.Contains(string(got), "slow upload") {
			t.Fatalf("slow multipart edit after %v: %d %s, want 200", time.Since(start), resp.StatusCode, got)
		}
	})
}

// The body deadline bounds the sending of the body, not the work after it: once the body is
// in, the handler may take longer than BODY_READ_TIMEOUT (here it waits on a row lock) and
// still answers. (net/http watches the connection while a handler runs, to notice a client
// that goes away; a deadline that reached that watch, or a deadline on the request's context,
// would cancel the request when it passed.)
func TestBodyDeadlineDoesNotCutTheHandlerShort(t *testing.T) {
	r := newRouterWithEnv(t, map[string]string{"BODY_READ_TIMEOUT": "1s", "BCRYPT_COST": "4"})
	srv := httptest.NewServer(r)
	defer srv.Close()
	_, token := registerAndLogin(t, r)
	video, release := lockedVideo(t, r, token)
	req, err := http.NewRequest("PUT", fmt.Sprintf("%s/api/videos/%d", srv.URL, video.ID), strings.NewReader(`{"caption":"late"}`))
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Authorization", "Bearer "+token)
	type answer struct {
		status int
		body   string
		err    error
	}
	answered := make(chan answer, 1)
	go func() {
		resp, err := srv.Client().Do(req)
		if err != nil {
			answered <- answer{err: err}
			return
		}
		defer resp.Body.Close()
		b, err := io.ReadAll(resp.Body)
		answered <- answer{resp.StatusCode, string(b), err}
	}()
	waitFor(t, "the edit to wait on the row lock", func() bool {
		var waiting int
		testdb.MustScan(t, db, &waiting, `SELECT count(*) FROM pg_stat_activity
			WHERE datname = current_database() AND wait_event_type = 'Lock' AND query ILIKE '%videos%'`)
		return waiting > 0
	})
	time.Sleep(2 * time.Second) // past the body's deadline: only a lower bound matters here
	release()
	a := <-answered
	if a.err != nil || a.status != 200 || !strings.Contains(a.body, `"caption":"late"`) {
		t.Fatalf("an edit that waited past BODY_READ_TIMEOUT after its body was in: %d %s %v", a.status, a.body, a.err)
	}
}

// lockedVideo posts a video as token's user and has another transaction lock its row until
// release (or the test's end), so a request that writes it waits on the lock.
func lockedVideo(t *testing.T, r http.Handler, token string) (video struct{ ID int }, release func()) {
	t.Helper()
	w := do(r, "POST", "/api/videos", strings.NewReader(`{"videoUrl":"https://cdn.example.com/clip.mp4"}`),
		"Content-Type", "application/json", "Authorization", "Bearer "+token)
	if w.Code != 201 || json.Unmarshal(w.Body.Bytes(), &video) != nil {
		t.Fatalf("create video = %d %s", w.Code, w.Body)
	}
	lock := db.Begin()
	release = func() { lock.Rollback() }
	t.Cleanup(release)
	testdb.MustRun(t, lock, `SELECT id FROM videos WHERE id = ? FOR UPDATE`, video.ID)
	return video, release
}
