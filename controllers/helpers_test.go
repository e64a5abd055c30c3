package controllers_test

import (
	"encoding/json"
	"regexp"
	"strings"
	"testing"
)

func mustJSON(v any) string {
	b, err := json.Marshal(v)
	if err != nil {
		panic(err)
	}
	return string(b)
}

// assertNoPassword fails if a JSON body has a "password" key anywhere, or a bcrypt hash.
func assertNoPassword(t *testing.T, body []byte) {
	t.Helper()
	var v any
	if err := json.Unmarshal(body, &v); err != nil {
		t.Fatalf("not JSON: %s", body)
	}
	if strings.Contains(string(body), "$2a$") || strings.Contains(string(body), "$2b$") {
		t.Fatalf("a bcrypt hash in %s", body)
	}
	var walk func(any)
	walk = func(v any) {
		switch x := v.(type) {
		case map[string]any:
			for k, e := range x {
				if strings.EqualFold(k, "password") {
					t.Fatalf("a password field in %s", body)
				}
				walk(e)
			}
		case []any:
			for _, e := range x {
				walk(e)
			}
		}
	}
	walk(v)
}

var emailPattern = regexp.MustCompile(`[A-Za-z0-9._%+-]+@[A-Za-z0-9.-]+`)

// assertOnlyEmail fails if body shows an e-mail address other than own ("" allows none): in
// an "email" field or inside any other text. A username is skipped: API.md lets people sign
// up with their e-mail as their username, which makes it public by their own choice.
func assertOnlyEmail(t *testing.T, body []byte, own string) {
	t.Helper()
	assertNoPassword(t, body)
	var v any
	_ = json.Unmarshal(body, &v)
	var walk func(key string, v any)
	walk = func(key string, v any) {
		switch x := v.(type) {
		case map[string]any:
			for k, e := range x {
				walk(k, e)
			}
		case []any:
			for _, e := range x {
				walk(key, e)
			}
		case string:
			if key == "username" {
				return
			}
			if key == "email" && !strings.EqualFold(x, own) {
				t.Fatalf("e-mail %q shown to someone else: %s", x, body)
			}
			for _, e := range emailPattern.FindAllString(x, -1) {
				if !strings.EqualFold(e, own) {
					t.Fatalf("e-mail %q shown to someone else in %q: %s", e, key, body)
				}
			}
		}
	}
	walk("", v)
}
