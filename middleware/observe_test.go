package middleware

import (
	"bytes"
	"encoding/json"
	"log/slog"
	"math/rand/v2"
	"net/http"
	"net/http/httptest"
	"regexp"
	"strings"
	"sync"
	"testing"

	"github.com/gin-gonic/gin"
	"github.com/prometheus/client_golang/prometheus"
)

// The pattern saneRequestID replaced; the two must agree on every input.
var requestIDPattern = regexp.MustCompile(`^[A-Za-z0-9._:\-]{1,128}$`)

func TestSaneRequestIDMatchesThePattern(t *testing.T) {
	inputs := []string{"", "a", "A-b_c.d:e", strings.Repeat("x", 128), strings.Repeat("x", 129),
		"with space", "slash/", "é", "tab\t", "new\nline", "x\x00", "0123456789abcdef", "-", ":::", "a+b", "%41"}
	r := rand.New(rand.NewPCG(1, 2))
	const alphabet = "abcXYZ019._:-/ +%é\x00\n"
	for range 5000 {
		b := make([]byte, r.IntN(140))
		for i := range b {
			b[i] = alphabet[r.IntN(len(alphabet))]
		}
		inputs = append(inputs, string(b))
	}
	for _, in := range inputs {
		if got, want := saneRequestID(in), requestIDPattern.MatchString(in); got != want {
			t.Fatalf("saneRequestID(%q) = %v, the pattern says %v", in, got, want)
		}
	}
}

func TestNewRequestIDsAre32HexAndDistinct(t *testing.T) {
	seen := map[string]bool{}
	for range 1000 {
		id := newRequestID()
		if len(id) != 32 || strings.Trim(id, "0123456789abcdef") != "" || seen[id] {
			t.Fatalf("bad or repeated request id %q", id)
		}
		seen[id] = true
	}
}

// newObservedEngine is the head of the API's chain (request id, logger, metrics) with a route
// answering the status its :status parameter names.
func newObservedEngine(log *slog.Logger, reg prometheus.Registerer) *gin.Engine {
	gin.SetMode(gin.TestMode)
	e := gin.New()
	e.Use(RequestIDMiddleware(), Logger(log), NewMetrics(reg).Middleware())
	e.GET("/answer/:status", func(c *gin.Context) {
		switch c.Param("status") {
		case "500":
			c.String(http.StatusInternalServerError, "boom")
		case "404":
			c.String(http.StatusNotFound, "none")
		default:
			c.String(http.StatusOK, "hello")
		}
	})
	return e
}

func serve(h http.Handler, path, requestID string) *httptest.ResponseRecorder {
	req := httptest.NewRequest("GET", path, nil)
	req.RemoteAddr = "192.0.2.7:5555"
	if requestID != "" {
		req.Header.Set(HeaderRequestID, requestID)
	}
	w := httptest.NewRecorder()
	h.ServeHTTP(w, req)
	return w
}

func logLines(t *testing.T, buf *bytes.Buffer) []map[string]any {
	t.Helper()
	var out []map[string]any
	for _, line := range strings.Split(strings.TrimSpace(buf.String()), "\n") {
		if line == "" {
			continue
		}
		var m map[string]any
		if err := json.Unmarshal([]byte(line), &m); err != nil {
			t.Fatalf("log line %q: %v", line, err)
		}
		out = append(out, m)
	}
	buf.Reset()
	return out
}

func TestLoggerWritesTheSameFieldsAtTheLevelOfTheStatus(t *testing.T) {
	var buf bytes.Buffer
	e := newObservedEngine(slog.New(slog.NewJSONHandler(&buf, &slog.HandlerOptions{Level: slog.LevelDebug})), prometheus.NewRegistry())
	for _, tc := range []struct{ path, level string }{
		{"/answer/200?token=secret", "INFO"}, {"/answer/404", "WARN"}, {"/answer/500", "ERROR"},
	} {
		w := serve(e, tc.path, "caller-id.1")
		lines := logLines(t, &buf)
		if len(lines) != 1 {
			t.Fatalf("%s: %d log lines, want 1", tc.path, len(lines))
		}
		l := lines[0]
		wantKeys := []string{"time", "level", "msg", "request_id", "method", "path", "route", "status", "bytes", "latency", "client_ip"}
		if len(l) != len(wantKeys) {
			t.Errorf("%s: fields %v, want exactly %v", tc.path, l, wantKeys)
		}
		for _, k := range wantKeys {
			if _, ok := l[k]; !ok {
				t.Errorf("%s: no %q in %v", tc.path, k, l)
			}
		}
		if l["level"] != tc.level || l["msg"] != "request" || l["request_id"] != "caller-id.1" || l["method"] != "GET" ||
			l["path"] != strings.Split(tc.path, "?")[0] || l["route"] != "/answer/:status" ||
			l["status"] != float64(w.Code) || l["bytes"] != float64(w.Body.Len()) || l["client_ip"] != "192.0.2.7" {
			t.Errorf("%s: log line %v", tc.path, l)
		}
		if got := w.Header().Get(HeaderRequestID); got != "caller-id.1" {
			t.Errorf("%s: echoed request id %q", tc.path, got)
		}
	}
}

func TestLoggerAtWarnSkipsRequestsThatWentWell(t *testing.T) {
	var buf bytes.Buffer
	e := newObservedEngine(slog.New(slog.NewJSONHandler(&buf, &slog.HandlerOptions{Level: slog.LevelWarn})), prometheus.NewRegistry())
	serve(e, "/answer/200", "")
	if lines := logLines(t, &buf); len(lines) != 0 {
		t.Fatalf("a 200 at LOG_LEVEL=warn was logged: %v", lines)
	}
	serve(e, "/answer/404", "")
	lines := logLines(t, &buf)
	if len(lines) != 1 || lines[0]["status"] != float64(404) || len(lines[0]["request_id"].(string)) != 32 {
		t.Fatalf("a 404 at LOG_LEVEL=warn: %v", lines)
	}
}

// counts gathers http_requests_total and the observation counts of
// http_request_duration_seconds, by "method route status".
func counts(t *testing.T, reg *prometheus.Registry) (requests, observed map[string]float64) {
	t.Helper()
	families, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	requests, observed = map[string]float64{}, map[string]float64{}
	for _, f := range families {
		for _, m := range f.GetMetric() {
			labels := map[string]string{}
			for _, l := range m.GetLabel() {
				labels[l.GetName()] = l.GetValue()
			}
			key := labels["method"] + " " + labels["route"] + " " + labels["status"]
			switch f.GetName() {
			case "http_requests_total":
				requests[key] = m.GetCounter().GetValue()
			case "http_request_duration_seconds":
				observed[key] = float64(m.GetHistogram().GetSampleCount())
			}
		}
	}
	return requests, observed
}

func TestMetricsCountEveryRequestByItsLabels(t *testing.T) {
	reg := prometheus.NewRegistry()
	e := newObservedEngine(slog.New(slog.DiscardHandler), reg)
	var wg sync.WaitGroup
	for i := range 200 { // concurrent: the series cache is filled by racing requests
		wg.Add(1)
		go func() {
			defer wg.Done()
			serve(e, []string{"/answer/200", "/answer/404", "/answer/500", "/nowhere"}[i%4], "")
		}()
	}
	wg.Wait()
	req := httptest.NewRequest("BREW", "/answer/200", nil)
	e.ServeHTTP(httptest.NewRecorder(), req)
	requests, observed := counts(t, reg)
	want := map[string]float64{
		"GET /answer/:status 200": 50, "GET /answer/:status 404": 50, "GET /answer/:status 500": 50,
		"GET unmatched 404": 50, "OTHER unmatched 404": 1,
	}
	if len(requests) != len(want) {
		t.Errorf("series %v, want %v", requests, want)
	}
	for k, n := range want {
		if requests[k] != n || observed[k] != n {
			t.Errorf("%s: counted %v, observed %v, want %v", k, requests[k], observed[k], n)
		}
	}
}
