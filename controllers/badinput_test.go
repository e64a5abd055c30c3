package controllers_test

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"io"
	"maps"
	"mime/multipart"
	"net/http"
	"net/http/httptest"
	"net/textproto"
	"net/url"
	"os"
	"slices"
	"strings"
	"syscall"
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

// badText are the values no text field takes, as a JSON string's content (escaped where JSON
// must escape them) and as raw bytes for multipart forms and query strings.
var badText = []struct {
	name, json, raw string
}{
	{"NUL", `\u0000`, "\x00"},
	{"invalid UTF-8", "\xff", "\xff"},
	{"control character", `\u0001`, "\x01"},
	{"C1 control character", `\u0085`, "\u0085"},
	{"DEL", `\u007f`, "\x7f"},
}

// lineBreaks are refused in single-line fields and kept in multi-line ones.
var lineBreaks = []struct {
	name, json, raw string
}{
	{"newline", `\n`, "\n"},
	{"tab", `\t`, "\t"},
}

// multiLine are the fields that may hold newlines and tabs (API.md, Conventions).
var multiLine = map[string]bool{"bio": true, "caption": true, "content": true}

// spoiled is e's valid body as JSON with field set to "a" + bad + "b", bad spliced in raw
// (json.Marshal would replace invalid UTF-8).
func spoiled(t *testing.T, e jsonEndpoint, field, bad string) []byte {
	t.Helper()
	const marker = "SPOILED_HERE"
	body := maps.Clone(e.valid)
	body[field] = "a" + marker + "b"
	return bytes.Replace([]byte(mustJSON(body)), []byte(marker), []byte(bad), 1)
}

// wantFieldError checks a 400 validation_failed whose errors name field.
func wantFieldError(t *testing.T, r *apitest.Response, field string) {
	t.Helper()
	var e errorJSON
	r.Error(http.StatusBadRequest, "validation_failed").Decode(&e)
	if e.Errors[field] == "" {
		t.Fatalf("errors %v do not name %q; body %s", e.Errors, field, r.Body)
	}
}

func TestBadTextIsRefusedNamingTheField(t *testing.T) {
	api := apitest.New(t, db)
	for _, e := range jsonEndpoints(t, api) {
		for _, field := range e.fields {
			for _, bad := range badText {
				t.Run(e.name()+" "+field+" "+bad.name, func(t *testing.T) {
					api.T = t
					wantFieldError(t, api.Do(e.method, e.path, spoiled(t, e, field, bad.json), e.token), field)
				})
			}
			for _, br := range lineBreaks {
				t.Run(e.name()+" "+field+" "+br.name, func(t *testing.T) {
					api.T = t
					r := api.Do(e.method, e.path, spoiled(t, e, field, br.json), e.token)
					if !multiLine[field] {
						wantFieldError(t, r, field)
						return
					}
					var body errorJSON
					if r.Code >= 500 || (json.Unmarshal(r.Body, &body) == nil && body.Errors[field] != "") {
						t.Fatalf("a %s in %s was refused: %d %s", br.name, field, r.Code, r.Body)
					}
				})
			}
		}
	}

	u := api.NewUser("text")
	t.Run("a field name in another case is still checked", func(t *testing.T) {
		api.T = t
		wantFieldError(t, api.Do("PUT", path("/api/users/%d", u.ID), `{"BIO": "a\u0000b"}`, u.Token), "BIO")
	})
	t.Run("a nested string is checked under its field", func(t *testing.T) {
		api.T = t
		wantFieldError(t, api.Do("PUT", path("/api/users/%d", u.ID), `{"name": "n", "extra": {"deep": ["ok", "a\u0000b"]}}`, u.Token), "extra.deep")
	})
	t.Run("multi-line fields keep their newlines", func(t *testing.T) {
		api.T = t
		m := api.Do("PUT", path("/api/users/%d", u.ID), map[string]any{"bio": "one\ntwo\tthree\r\nfour"}, u.Token).Status(http.StatusOK).Map()
		if m["bio"] != "one\ntwo\tthree\r\nfour" {
			t.Fatalf("bio = %q", m["bio"])
		}
	})

	multipartForms := []struct {
		method, path string
		fields       []string
		file         formPart
	}{
		{"POST", "/api/videos", []string{"caption", "audioName"},
			formPart{field: "video", filename: "clip.mp4", contentType: "video/mp4", data: smallMP4(100)}},
		{"PUT", path("/api/users/%d", u.ID), []string{"name", "bio", "avatar"},
			formPart{field: "avatar", filename: "a.png", contentType: "image/png", data: pngFile}},
	}
	for _, f := range multipartForms {
		for _, field := range f.fields {
			values := append(slices.Clone(badText), lineBreaks...)
			for _, bad := range values {
				if multiLine[field] && slices.Contains(lineBreaks, bad) {
					continue
				}
				t.Run("multipart "+f.method+" "+f.path+" "+field+" "+bad.name, func(t *testing.T) {
					api.T = t
					parts := []formPart{f.file, {field: field, data: []byte("a" + bad.raw + "b")}}
					if field == "avatar" {
						parts = parts[1:] // a text avatar is a URL; the file would win over it
					}
					wantFieldError(t, serveForm(api, f.method, f.path, u.Token, parts...), field)
					if left := storedFiles(t, api); len(left) != 0 {
						t.Fatalf("files left behind: %v", left)
					}
				})
			}
		}
	}

	queries := []struct {
		method, path, param string
	}{
		{"GET", "/api/users?search=", "search"},
		{"GET", "/api/users?page=", "page"},
		{"GET", "/api/videos?limit=", "limit"},
		{"GET", "/api/videos?cursor=", "cursor"},
		{"GET", "/api/videos?sort=", "sort"},
		{"GET", "/api/comments?cursor=", "cursor"},
		{"POST", "/api/users/logout?all=", "all"},
	}
	for _, q := range queries {
		for _, bad := range append(slices.Clone(badText), lineBreaks...) {
			t.Run(q.method+" "+q.path+" "+bad.name, func(t *testing.T) {
				api.T = t
				value := "true"
				if q.param == "search" || q.param == "cursor" {
					value = "abc"
				}
				target := q.path + url.QueryEscape(value[:1]+bad.raw+value[1:])
				wantFieldError(t, api.Do(q.method, target, nil, u.Token), q.param)
			})
		}
	}
}

// serveForm sends a multipart form to method path.
func serveForm(api *apitest.API, method, target, token string, parts ...formPart) *apitest.Response {
	var body bytes.Buffer
	w := multipart.NewWriter(&body)
	for _, p := range parts {
		h := textproto.MIMEHeader{}
		if p.filename != "" {
			h.Set("Content-Disposition", `form-data; name="`+p.field+`"; filename="`+p.filename+`"`)
			h.Set("Content-Type", p.contentType)
		} else {
			h.Set("Content-Disposition", `form-data; name="`+p.field+`"`)
		}
		pw, _ := w.CreatePart(h)
		_, _ = pw.Write(p.data)
	}
	_ = w.Close()
	req := httptest.NewRequest(method, target, &body)
	req.Header.Set("Content-Type", w.FormDataContentType())
	req.Header.Set("Authorization", "Bearer "+token)
	return api.Serve(req)
}

func TestCursorsOutOfRangeAreRefusedOnEveryList(t *testing.T) {
	api := apitest.New(t, db)
	u := api.NewUser("cursors")
	v := postVideo(api, u, "a video")
	b64 := func(s string) string { return base64.RawURLEncoding.EncodeToString([]byte(s)) }
	// Past PostgreSQL's timestamps (year 318857), before year 1, and scores no float holds.
	byTime := []string{b64("v1:9999999999999999:1"), b64("v1:-9999999999999999:1"), b64("v1:253402300800000:1")}
	byScore := []string{b64("s1:1e999:1"), b64("s1:-1e999:1"), b64("s1:NaN:1"), b64("v1:9999999999999999:1")}
	lists := []struct {
		path    string
		cursors []string
	}{
		{"/api/videos", byTime},
		{"/api/videos?sort=trending", byScore},
		{"/api/videos/following", byTime},
		{path("/api/users/%d/videos", u.ID), byTime},
		{path("/api/users/%d/liked", u.ID), byTime},
		{path("/api/users/%d/followers", u.ID), byTime},
		{path("/api/users/%d/following", u.ID), byTime},
		{path("/api/videos/%d/likes", v.ID), byTime},
		{path("/api/videos/%d/comments", v.ID), byTime},
		{"/api/comments", byTime},
	}
	for _, l := range lists {
		for _, cursor := range l.cursors {
			t.Run(l.path+" "+cursor, func(t *testing.T) {
				api.T = t
				var e errorJSON
				api.Do("GET", l.path+sep(l.path)+"cursor="+cursor, nil, u.Token).Error(http.StatusBadRequest, "validation_failed").Decode(&e)
				if len(e.Errors) != 1 || e.Errors["cursor"] == "" || !strings.HasPrefix(e.Message, "Cursor ") {
					t.Fatalf("answer %+v does not name the cursor", e)
				}
			})
		}
	}
}

func TestMultipartBodyCutShortIsInvalidAndLeavesNoFile(t *testing.T) {
	api := apitest.New(t, db)
	u := api.NewUser("cut")
	forms := []struct {
		method, path string
		parts        []formPart
	}{
		{"POST", "/api/videos", []formPart{
			{field: "caption", data: []byte("cut short")},
			{field: "video", filename: "clip.mp4", contentType: "video/mp4", data: smallMP4(4000)},
			{field: "thumbnail", filename: "t.png", contentType: "image/png", data: pngFile}}},
		{"PUT", path("/api/users/%d", u.ID), []formPart{
			{field: "bio", data: []byte("cut short")},
			{field: "avatar", filename: "a.png", contentType: "image/png", data: pngFile}}},
	}
	for _, f := range forms {
		var full bytes.Buffer
		w := multipart.NewWriter(&full)
		for _, p := range f.parts {
			h := textproto.MIMEHeader{}
			disposition := `form-data; name="` + p.field + `"`
			if p.filename != "" {
				disposition += `; filename="` + p.filename + `"`
				h.Set("Content-Type", p.contentType)
			}
			h.Set("Content-Disposition", disposition)
			pw, _ := w.CreatePart(h)
			_, _ = pw.Write(p.data)
		}
		_ = w.Close()
		body := full.Bytes()
		closing := bytes.LastIndex(body, []byte("\r\n--"+w.Boundary()+"--"))
		lastFile := bytes.LastIndex(body, []byte("\x89PNG"))
		cuts := map[string]int{
			"before the closing boundary":         closing,
			"inside the closing boundary":         closing + 6,
			"after the closing boundary's dashes": closing + len("\r\n--"+w.Boundary()),
			"inside the last file":                lastFile + 100,
			"inside a part's headers":             bytes.Index(body, []byte("Content-Disposition")) + 10,
			"inside the first text":               bytes.Index(body, []byte("cut short")) + 3,
			"right after a boundary line":         lastFile - bytes.Index(reverse(body[:lastFile]), reverse([]byte("--"+w.Boundary()+"\r\n"))),
		}
		// A connection that fails mid-file: reset by the client, or the server's read timeout.
		failures := map[string]error{"EOF": nil, "reset": syscall.ECONNRESET, "read timeout": os.ErrDeadlineExceeded}
		for name, at := range cuts {
			for failure, err := range failures {
				t.Run(f.method+" "+f.path+" cut "+name+" then "+failure, func(t *testing.T) {
					api.T = t
					cut := io.Reader(bytes.NewReader(body[:at]))
					if err != nil {
						cut = io.MultiReader(cut, failingReader{err})
					}
					req := httptest.NewRequest(f.method, f.path, cut)
					req.Header.Set("Content-Type", w.FormDataContentType())
					req.Header.Set("Authorization", "Bearer "+u.Token)
					api.Serve(req).Error(http.StatusBadRequest, "invalid_multipart")
					if left := storedFiles(t, api); len(left) != 0 {
						t.Fatalf("files left behind: %v", left)
					}
				})
			}
		}
	}
	if videos := countOf(t, `SELECT count(*) FROM videos WHERE user_id = ?`, u.ID); videos != 0 {
		t.Fatalf("%d videos made from cut forms", videos)
	}
}

// failingReader fails every read with err.
type failingReader struct{ err error }

func (r failingReader) Read([]byte) (int, error) { return 0, r.err }

func reverse(b []byte) []byte {
	out := slices.Clone(b)
	slices.Reverse(out)
	return out
}
