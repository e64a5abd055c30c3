package routes_test

import (
	"crypto/rand"
	"encoding/hex"
	"fmt"
	mrand "math/rand/v2"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"tiktok/internal/contract"
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
