package controllers_test

import (
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

	fresh := apitest.Unique("fresh")
	cases := []struct {
		name, method, path string
		body               any
		token              string
		own                string // the only e-mail allowed in the answer
	}{
		{"register", "POST", "/api/users/register", map[string]string{"username": fresh, "email": fresh + "@example.com", "password": "12345678"}, "", fresh + "@example.com"},
		{"login", "POST", "/api/users/login", map[string]string{"email": me.Email, "password": me.Password}, "", me.Email},
		{"refresh", "POST", "/api/users/refresh", map[string]string{"refreshToken": me.Refresh}, "", ""},
		{"me", "GET", "/api/users/me", nil, me.Token, me.Email},
		{"list, anonymous", "GET", "/api/users?limit=50", nil, "", ""},
		{"list, signed in", "GET", "/api/users?limit=50", nil, me.Token, ""},
		{"search", "GET", "/api/users?search=other", nil, me.Token, ""},
		{"own profile", "GET", apitest.Path("/api/users/%d", me.ID), nil, me.Token, me.Email},
		{"other's profile, signed in", "GET", apitest.Path("/api/users/%d", other.ID), nil, me.Token, ""},
		{"other's profile, anonymous", "GET", apitest.Path("/api/users/%d", other.ID), nil, "", ""},
		{"update", "PUT", apitest.Path("/api/users/%d", me.ID), map[string]string{"bio": "hi"}, me.Token, me.Email},
		{"followers", "GET", apitest.Path("/api/users/%d/followers", me.ID), nil, me.Token, ""},
		{"following", "GET", apitest.Path("/api/users/%d/following", me.ID), nil, me.Token, ""},
		{"follow", "POST", apitest.Path("/api/users/%d/follow", other.ID), nil, me.Token, ""},
		{"unfollow", "DELETE", apitest.Path("/api/users/%d/follow", other.ID), nil, me.Token, ""},
		{"videos", "GET", apitest.Path("/api/users/%d/videos", other.ID), nil, me.Token, ""},
		{"liked", "GET", apitest.Path("/api/users/%d/liked", other.ID), nil, me.Token, ""},
		{"password", "PUT", apitest.Path("/api/users/%d/password", other.ID), map[string]string{"currentPassword": other.Password, "newPassword": "another one 123"}, other.Token, ""},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			res := api.Do(tc.method, tc.path, tc.body, tc.token)
			if res.Code >= 300 {
				t.Fatalf("status %d: %s", res.Code, res.Body)
			}
			assertOnlyEmail(t, res.Body, tc.own)
		})
	}
}
