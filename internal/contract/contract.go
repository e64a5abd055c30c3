// Package contract keeps the code and the OpenAPI description (docs/openapi.yaml) together in
// tests: every response an HTTP test receives can be validated against the description, and
// the router's route table can be compared with the description's operations.
package contract

import (
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"regexp"
	"slices"
	"strings"
	"sync"
	"testing"

	"github.com/getkin/kin-openapi/openapi3filter"
	"github.com/getkin/kin-openapi/routers"
	"github.com/getkin/kin-openapi/routers/gorillamux"

	"tiktok/docs"
)

var router = sync.OnceValues(func() (routers.Router, error) {
	spec, err := docs.Spec()
	if err != nil {
		return nil, err
	}
	return gorillamux.NewRouter(spec)
})

// Check validates one response against the operation the request matches. A status the
// operation does not list is an error too, so the description has to name every outcome.
// Requests that match no operation must answer the JSON 404 error.
func Check(req *http.Request, status int, header http.Header, body []byte) error {
	r, err := router()
	if err != nil {
		return err
	}
	probe := req.Clone(context.Background())
	probe.Host, probe.URL.Host, probe.URL.Scheme = "", "", ""
	route, pathParams, err := r.FindRoute(probe)
	if err != nil {
		if status == http.StatusNotFound && strings.Contains(string(body), `"code":"not_found"`) {
			return nil // an unknown route, answered as API.md says
		}
		if req.Method == http.MethodOptions && status == http.StatusNoContent {
			return nil // a CORS preflight
		}
		return fmt.Errorf("%s %s (%d) matches no operation of the description: %v", req.Method, req.URL.Path, status, err)
	}
	input := &openapi3filter.ResponseValidationInput{
		RequestValidationInput: &openapi3filter.RequestValidationInput{
			Request: probe, PathParams: pathParams, Route: route,
			Options: &openapi3filter.Options{AuthenticationFunc: openapi3filter.NoopAuthenticationFunc},
		},
		Status: status,
		Header: header,
		Options: &openapi3filter.Options{
			IncludeResponseStatus: true,
			MultiError:            true,
			// Pages, metrics and media files are checked for their status only.
			ExcludeResponseBody: !strings.HasPrefix(header.Get("Content-Type"), "application/json"),
		},
	}
	input.SetBodyBytes(body)
	if err := openapi3filter.ValidateResponse(context.Background(), input); err != nil {
		return fmt.Errorf("%s %s answered %d with a body the description does not allow: %v\nbody: %.600s",
			req.Method, req.URL.Path, status, err, body)
	}
	return nil
}

// Wrap returns a handler that serves through h and checks each response with Check,
// reporting mismatches as test errors. HTTP tests build their router through it.
func Wrap(t testing.TB, h http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, req)
		if err := Check(req, rec.Code, rec.Header(), rec.Body.Bytes()); err != nil {
			t.Errorf("contract: %v", err)
		}
		for k, v := range rec.Header() {
			w.Header()[k] = v
		}
		w.WriteHeader(rec.Code)
		_, _ = w.Write(rec.Body.Bytes())
	})
}

// Route is one method and path of the router, in Gin's syntax (/api/videos/:id).
type Route struct{ Method, Path string }

var ginParam = regexp.MustCompile(`[:*]([A-Za-z_]+)`)

// patternParam is a path parameter with a gorilla pattern ({name:.*}, a name with slashes),
// which is Gin's *name.
var patternParam = regexp.MustCompile(`\{([A-Za-z_]+):[^}]*\}`)

// Compare lists the router's routes that the description lacks and the description's
// operations that the router lacks. Gin's :param and *param become {param}.
func Compare(routes []Route) (undocumented, unrouted []string) {
	spec, err := docs.Spec()
	if err != nil {
		return []string{err.Error()}, nil
	}
	var described []string
	for path, item := range spec.Paths.Map() {
		for method := range item.Operations() {
			described = append(described, method+" "+patternParam.ReplaceAllString(path, "{$1}"))
		}
	}
	var routed []string
	for _, r := range routes {
		if r.Method == http.MethodHead {
			continue // Gin adds HEAD beside some GETs (static files); it is not part of the contract
		}
		routed = append(routed, r.Method+" "+ginParam.ReplaceAllString(r.Path, "{$1}"))
	}
	for _, r := range routed {
		if !slices.Contains(described, r) {
			undocumented = append(undocumented, r)
		}
	}
	for _, d := range described {
		if !slices.Contains(routed, d) {
			unrouted = append(unrouted, d)
		}
	}
	slices.Sort(undocumented)
	slices.Sort(unrouted)
	return undocumented, unrouted
}
