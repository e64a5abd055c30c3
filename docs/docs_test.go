package docs

import (
	"encoding/json"
	"testing"
)

func TestTheDescriptionIsValidOpenAPI(t *testing.T) {
	spec, err := Spec()
	if err != nil {
		t.Fatal(err)
	}
	ops := 0
	for _, item := range spec.Paths.Map() {
		ops += len(item.Operations())
	}
	// API.md lists 48 API operations (with POST /api/uploads, the three hashtag reads, search
	// and its type-ahead, the replies of a comment, the five of notifications, bookmark,
	// unbookmark and one's own bookmarks); with the operational ones (health, readiness,
	// metrics, this description, its page, uploads and their signed PUT) that makes 55.
	if spec.OpenAPI != "3.0.3" || ops != 55 {
		t.Fatalf("openapi %s with %d operations", spec.OpenAPI, ops)
	}
	raw, err := SpecJSON()
	if err != nil {
		t.Fatal(err)
	}
	var back map[string]any
	if err := json.Unmarshal(raw, &back); err != nil || back["openapi"] != "3.0.3" {
		t.Fatalf("served JSON does not round-trip: %v", err)
	}
}
