package controllers_test

import (
	"net/http"
	"testing"

	"tiktok/internal/apitest"
)

// jsonEndpoint is a route that takes a JSON body, with the text fields it reads and a body
// it accepts, so a test can spoil one field at a time.
type jsonEndpoint struct {
	method, path string
	token        string
	fields       []string
	valid        map[string]any
}

func (e jsonEndpoint) name() string { return e.method + " " + e.path }

// jsonEndpoints are every route of API.md that reads a JSON body, on fixtures of their own:
// u owns a video and a comment, and the valid bodies would succeed (or fail only after the
// body was read, as login and refresh with unknown credentials do).
func jsonEndpoints(t *testing.T, api *apitest.API) []jsonEndpoint {
	t.Helper()
	u := api.NewUser("bodies")
	v := postVideo(api, u, "a video")
	cm := postComment(api, u, v.ID, "a comment")
	return []jsonEndpoint{
		{"POST", "/api/users/register", "", []string{"username", "email", "password", "name"},
			map[string]any{"username": apitest.Unique("reg"), "email": apitest.Unique("reg") + "@example.com", "password": "long enough", "name": "N"}},
		{"POST", "/api/users/login", "", []string{"email", "username", "password"},
			map[string]any{"email": u.Email, "password": u.Password}},
		{"POST", "/api/users/refresh", "", []string{"refreshToken"},
			map[string]any{"refreshToken": "not-a-token"}},
		{"POST", "/api/users/logout", u.Token, []string{"refreshToken"},
			map[string]any{"refreshToken": "not-a-token"}},
		{"PUT", path("/api/users/%d", u.ID), u.Token, []string{"name", "bio", "avatar"},
			map[string]any{"name": "N", "bio": "B", "avatar": "https://cdn.example.com/a.png"}},
		{"PUT", path("/api/users/%d/password", u.ID), u.Token, []string{"currentPassword", "newPassword"},
			map[string]any{"currentPassword": "wrong password", "newPassword": "another password"}},
		{"POST", "/api/videos", u.Token, []string{"videoUrl", "thumbnailUrl", "caption", "audioName"},
			map[string]any{"videoUrl": "https://cdn.example.com/v.mp4", "thumbnailUrl": "https://cdn.example.com/t.png", "caption": "C", "audioName": "A"}},
		{"PUT", path("/api/videos/%d", v.ID), u.Token, []string{"caption", "audioName"},
			map[string]any{"caption": "C", "audioName": "A"}},
		{"POST", "/api/comments", u.Token, []string{"videoId", "content"},
			map[string]any{"videoId": itoa(int(v.ID)), "content": "C"}},
		{"PUT", path("/api/comments/%d", cm.ID), u.Token, []string{"content"},
			map[string]any{"content": "C"}},
	}
}

func TestNonObjectJSONBodiesAreInvalidJSON(t *testing.T) {
	api := apitest.New(t, db)
	bodies := []string{"null", "[]", `["x"]`, `"x"`, "1", "true", " null ", `{"a":1} x`, "{}{}", `{"caption":"c"} {"caption":"d"}`, `{} null`}
	for _, e := range jsonEndpoints(t, api) {
		for _, body := range bodies {
			t.Run(e.name()+" "+body, func(t *testing.T) {
				api.T = t
				api.Do(e.method, e.path, body, e.token).Error(http.StatusBadRequest, "invalid_json")
			})
		}
	}
}
