package controllers_test

import (
	"encoding/json"
	"testing"

	"tiktok/internal/apitest"
)

// TestNoUserResponseLeaksSecrets walks every endpoint that returns users: none may show a
// password (or its hash), and none may show an e-mail but the caller's own.
func TestNoUserResponseLeaksSecrets(t *testing.T) {
	api := apitest.New(t, db)
	me, other := api.NewUser("me"), api.NewUser("other")
	api.Do("POST", apitest.Path("/api/users/%d/follow", me.ID), nil, other.Token).Status(200)
	api.Do("POST", apitest.Path("/api/users/%d/follow", other.ID), nil, me.Token).Status(200)
	// A video of other's, which other likes, so their video and liked lists show a user too.
	v := postVideo(api, other, "mine")
	api.Do("POST", apitest.Path("/api/videos/%d/like", v.ID), nil, other.Token).Status(200)

	fresh := apitest.Unique("fresh")
	cases := []struct {
		name, method, path string
		body               any
		token              string
		own                string // the only e-mail allowed in the answer
		users              bool   // the answer shows at least one user, so the walk has something to check
	}{
		{"register", "POST", "/api/users/register", map[string]string{"username": fresh, "email": fresh + "@example.com", "password": "12345678"}, "", fresh + "@example.com", true},
		{"login", "POST", "/api/users/login", map[string]string{"email": me.Email, "password": me.Password}, "", me.Email, true},
		{"refresh", "POST", "/api/users/refresh", map[string]string{"refreshToken": me.Refresh}, "", "", false},
		{"me", "GET", "/api/users/me", nil, me.Token, me.Email, true},
		{"list, anonymous", "GET", "/api/users?limit=50", nil, "", "", true},
		{"list, signed in", "GET", "/api/users?limit=50", nil, me.Token, "", true},
		{"search", "GET", "/api/users?search=other", nil, me.Token, "", true},
		{"own profile", "GET", apitest.Path("/api/users/%d", me.ID), nil, me.Token, me.Email, true},
		{"other's profile, signed in", "GET", apitest.Path("/api/users/%d", other.ID), nil, me.Token, "", true},
		{"other's profile, anonymous", "GET", apitest.Path("/api/users/%d", other.ID), nil, "", "", true},
		{"update", "PUT", apitest.Path("/api/users/%d", me.ID), map[string]string{"bio": "hi"}, me.Token, me.Email, true},
		{"followers", "GET", apitest.Path("/api/users/%d/followers", me.ID), nil, me.Token, "", true},
		{"following", "GET", apitest.Path("/api/users/%d/following", me.ID), nil, me.Token, "", true},
		{"follow", "POST", apitest.Path("/api/users/%d/follow", other.ID), nil, me.Token, "", false},
		{"unfollow", "DELETE", apitest.Path("/api/users/%d/follow", other.ID), nil, me.Token, "", false},
		{"videos", "GET", apitest.Path("/api/users/%d/videos", other.ID), nil, me.Token, "", true},
		{"liked", "GET", apitest.Path("/api/users/%d/liked", other.ID), nil, me.Token, "", true},
		{"password", "PUT", apitest.Path("/api/users/%d/password", other.ID), map[string]string{"currentPassword": other.Password, "newPassword": "another one 123"}, other.Token, "", false},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			res := api.Do(tc.method, tc.path, tc.body, tc.token)
			if res.Code >= 300 {
				t.Fatalf("status %d: %s", res.Code, res.Body)
			}
			assertOnlyEmail(t, res.Body, tc.own)
			if tc.users && countKeys(t, res.Body, "username") == 0 {
				t.Fatalf("no user in the answer, so nothing was checked: %s", res.Body)
			}
		})
	}
}

// countKeys counts the objects anywhere in a JSON body that have the key.
func countKeys(t *testing.T, body []byte, key string) int {
	t.Helper()
	var v any
	if err := json.Unmarshal(body, &v); err != nil {
		t.Fatalf("not JSON: %s", body)
	}
	n := 0
	var walk func(any)
	walk = func(v any) {
		switch x := v.(type) {
		case map[string]any:
			if _, ok := x[key]; ok {
				n++
			}
			for _, e := range x {
				walk(e)
			}
		case []any:
			for _, e := range x {
				walk(e)
			}
		}
	}
	walk(v)
	return n
}
