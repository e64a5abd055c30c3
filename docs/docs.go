// Package docs embeds the OpenAPI description of the API (openapi.yaml, the contract of
// ../shared/API.md in machine-readable form) and the page that renders it, so the server serves
// both without reaching any outside host. Tests validate every HTTP response against it.
package docs

import (
	"context"
	_ "embed"
	"encoding/json"
	"fmt"
	"sync"

	"github.com/getkin/kin-openapi/openapi3"
)

//go:embed openapi.yaml
var specYAML []byte

//go:embed api-docs.html
var docsPage []byte

var load = sync.OnceValues(func() (*openapi3.T, error) {
	loader := openapi3.NewLoader()
	spec, err := loader.LoadFromData(specYAML)
	if err != nil {
		return nil, fmt.Errorf("docs: openapi.yaml does not parse: %w", err)
	}
	if err := spec.Validate(context.Background()); err != nil {
		return nil, fmt.Errorf("docs: openapi.yaml is not valid OpenAPI 3: %w", err)
	}
	return spec, nil
})

// Spec returns the parsed and validated OpenAPI description.
func Spec() (*openapi3.T, error) { return load() }

// SpecJSON returns the description as JSON, as served at GET /api/openapi.json.
var SpecJSON = sync.OnceValues(func() ([]byte, error) {
	spec, err := load()
	if err != nil {
		return nil, err
	}
	return json.Marshal(spec)
})

// Page returns the HTML page served at GET /api/docs; it fetches /api/openapi.json and renders it.
func Page() []byte { return docsPage }
