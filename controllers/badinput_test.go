package controllers_test

import (
	"net/http"
	"strings"
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

// errorJSON is the body of an error answer.
type errorJSON struct {
	Message string            `json:"message"`
	Code    string            `json:"code"`
	Errors  map[string]string `json:"errors"`
}

func TestValidationMessageSaysWhatIsWrongWithTheFirstField(t *testing.T) {
	api := apitest.New(t, db)
	u := api.NewUser("messages")
	v := postVideo(api, u, "a video")
	cases := []struct {
		name         string
		method, path string
		body         any
		token        string
		message      string
		fields       []string // every field errors must list
	}{
		{"a short password says so", "POST", "/api/users/register",
			map[string]any{"username": apitest.Unique("short"), "email": apitest.Unique("short") + "@example.com", "password": "1234567"}, "",
			"Password must be at least 8 characters", []string{"password"}},
		{"of several bad fields the first checked is named, all are listed", "POST", "/api/users/register",
			map[string]any{"username": "x", "email": "not an e-mail", "password": "1234567", "name": strings.Repeat("n", 51)}, "",
			"Username must be 3 to 30 letters, digits, dots or underscores (or an e-mail address)", []string{"username", "email", "password", "name"}},
		{"the order is the order of the checks, not of the alphabet", "POST", "/api/users/register",
			map[string]any{"username": apitest.Unique("order"), "email": "bad", "password": "1234567"}, "",
			"Email must be a valid e-mail address", []string{"email", "password"}},
		{"a camelCase field gets a readable label", "PUT", path("/api/users/%d/password", u.ID),
			map[string]any{"newPassword": "short"}, u.Token,
			"Current password is required", []string{"currentPassword", "newPassword"}},
		{"acronyms stay upper case", "POST", "/api/videos",
			map[string]any{"caption": "no url"}, u.Token,
			"Video URL is required (or upload a video file as multipart form data)", []string{"videoUrl"}},
		{"an id field", "POST", "/api/comments",
			map[string]any{"videoId": "seven", "content": " "}, u.Token,
			"Video ID must be a positive whole number", []string{"videoId", "content"}},
		{"a field of the wrong type", "PUT", path("/api/videos/%d", v.ID),
			`{"caption": 5}`, u.Token,
			"Caption has the wrong type", []string{"caption"}},
		{"a query parameter", "GET", "/api/videos?limit=ten", nil, "",
			"Limit must be a positive whole number", []string{"limit"}},
		{"a cursor", "GET", "/api/videos?cursor=bogus", nil, "",
			"Cursor is not valid (send nextCursor back as it came)", []string{"cursor"}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			api.T = t
			// The same request many times: the first field must not depend on map order.
			for range 20 {
				var e errorJSON
				api.Do(tc.method, tc.path, tc.body, tc.token).Error(http.StatusBadRequest, "validation_failed").Decode(&e)
				if e.Message != tc.message {
					t.Fatalf("message %q, want %q; errors %v", e.Message, tc.message, e.Errors)
				}
				if len(e.Errors) != len(tc.fields) {
					t.Fatalf("errors %v, want the fields %v", e.Errors, tc.fields)
				}
				for _, f := range tc.fields {
					if e.Errors[f] == "" {
						t.Fatalf("errors %v do not name %s", e.Errors, f)
					}
				}
			}
		})
	}
}
