package routes_test

import (
	"crypto/rand"
	"encoding/hex"
	"fmt"
	mrand "math/rand/v2"
	"strings"
	"testing"
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
