package routes_test

import (
	"strings"
	"testing"

	"tiktok/routes"
)

// The profiles are served on PPROF_ADDR's own listener; the API's router must answer its
// usual 404 for them, whatever PPROF_ADDR says.
func TestAPIRouterDoesNotServePprof(t *testing.T) {
	cfg := testConfig(t)
	cfg.PprofAddr = "127.0.0.1:6060"
	r, err := routes.New(routes.Deps{Config: cfg, DB: db})
	if err != nil {
		t.Fatal(err)
	}
	for _, path := range []string{"/debug/pprof/", "/debug/pprof/heap", "/debug/pprof/profile?seconds=1", "/debug/pprof/cmdline"} {
		w := do(r, "GET", path, nil)
		if w.Code != 404 || strings.Contains(w.Body.String(), "goroutine") {
			t.Errorf("API router: GET %s = %d %.80s, want the JSON 404", path, w.Code, w.Body)
		}
	}
}

func TestPprofHandlerServesTheProfiles(t *testing.T) {
	h := routes.PprofHandler()
	for path, want := range map[string]string{
		"/debug/pprof/":                  "goroutine",
		"/debug/pprof/goroutine?debug=1": "goroutine profile",
		"/debug/pprof/allocs?debug=1":    "heap profile",
		"/debug/pprof/cmdline":           "",
		"/debug/pprof/profile?seconds=1": "",
	} {
		w := do(h, "GET", path, nil)
		if w.Code != 200 || !strings.Contains(w.Body.String(), want) {
			t.Errorf("GET %s = %d %.80s, want 200 with %q", path, w.Code, w.Body, want)
		}
	}
}
