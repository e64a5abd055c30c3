package controllers_test

import (
	"bytes"
	"fmt"
	"io"
	"mime/multipart"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"tiktok/internal/apitest"
	"tiktok/internal/testdb"
)

func TestGetUser(t *testing.T) {
	api := apitest.New(t, db)
	u, fan := api.NewUser("star"), api.NewUser("fan")
	api.Do("POST", apitest.Path("/api/users/%d/follow", u.ID), nil, fan.Token).Status(200)

	cases := []struct {
		name        string
		path        string
		token       string
		status      int
		code        string
		email       bool
		isFollowing bool
	}{
		{name: "anonymous sees no e-mail", path: apitest.Path("/api/users/%d", u.ID), status: 200},
		{name: "a follower sees isFollowing", path: apitest.Path("/api/users/%d", u.ID), token: fan.Token, status: 200, isFollowing: true},
		{name: "the user sees their e-mail", path: apitest.Path("/api/users/%d", u.ID), token: u.Token, status: 200, email: true},
		{name: "missing user", path: "/api/users/2147483647", status: 404, code: "not_found"},
		{name: "id not a number", path: "/api/users/abc", status: 400, code: "invalid_id"},
		{name: "id zero", path: "/api/users/0", status: 400, code: "invalid_id"},
		{name: "negative id", path: "/api/users/-1", status: 400, code: "invalid_id"},
		{name: "id with a fraction", path: "/api/users/1.5", status: 400, code: "invalid_id"},
		{name: "id past int32", path: "/api/users/99999999999", status: 400, code: "invalid_id"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			res := api.Do("GET", tc.path, nil, tc.token)
			if tc.code != "" {
				res.Error(tc.status, tc.code)
				return
			}
			res.Status(tc.status)
			m := res.Map()
			for _, k := range []string{"id", "username", "name", "bio", "avatar", "createdAt", "followerCount", "followingCount", "videoCount", "likeCount", "_count", "isFollowing"} {
				if _, ok := m[k]; !ok {
					t.Fatalf("no %q in %s", k, res.Body)
				}
			}
			if _, ok := m["email"]; ok != tc.email {
				t.Fatalf("email shown = %v, want %v: %s", ok, tc.email, res.Body)
			}
			if m["isFollowing"] != tc.isFollowing || m["followerCount"] != float64(1) {
				t.Fatalf("answer = %s", res.Body)
			}
			count := m["_count"].(map[string]any)
			if count["followedBy"] != float64(1) || count["following"] != float64(0) || count["videos"] != float64(0) {
				t.Fatalf("_count = %v", count)
			}
			if ts := m["createdAt"].(string); len(ts) != len("2025-03-25T17:11:38.123Z") || !strings.HasSuffix(ts, "Z") {
				t.Fatalf("createdAt = %q", ts)
			}
		})
	}
}

func TestMe(t *testing.T) {
	api := apitest.New(t, db)
	u := api.NewUser("me")
	m := api.Do("GET", "/api/users/me", nil, u.Token).Status(200).Map()
	if m["id"] != float64(u.ID) || m["email"] != u.Email {
		t.Fatalf("me = %v", m)
	}
	api.Do("GET", "/api/users/me", nil, "").Error(401, "token_missing")
}

func TestListUsers(t *testing.T) {
	api := apitest.New(t, db)
	prefix := strings.ToLower(apitest.Unique("zq"))
	var made []*apitest.User
	for i := range 3 {
		made = append(made, api.NewUser(fmt.Sprintf("%s_%d", prefix, i)))
	}
	viewer := api.NewUser("viewer")
	api.Do("POST", apitest.Path("/api/users/%d/follow", made[0].ID), nil, viewer.Token).Status(200)
	named := api.NewUser("named")
	api.Do("PUT", apitest.Path("/api/users/%d", named.ID), map[string]any{"name": "Percy " + prefix}, named.Token).Status(200)

	type item struct {
		ID          int32          `json:"id"`
		Username    string         `json:"username"`
		Bio         *string        `json:"bio"`
		Count       map[string]int `json:"_count"`
		IsFollowing *bool          `json:"isFollowing"`
	}
	list := func(t *testing.T, query, token string) []item {
		var out []item
		api.Do("GET", "/api/users"+query, nil, token).Status(200).Decode(&out)
		return out
	}

	t.Run("a bare array, search by username prefix in any case", func(t *testing.T) {
		res := api.Do("GET", "/api/users?search="+strings.ToUpper(prefix), nil, "").Status(200)
		if !bytes.HasPrefix(res.Body, []byte("[")) {
			t.Fatalf("not a bare array: %s", res.Body)
		}
		assertOnlyEmail(t, res.Body, "")
		var out []item
		res.Decode(&out)
		if len(out) != 3 || out[0].ID != made[2].ID || out[0].Count == nil || out[0].IsFollowing != nil { // newest first
			t.Fatalf("list = %s", res.Body)
		}
	})
	t.Run("search by name prefix", func(t *testing.T) {
		out := list(t, "?search=percy%20"+prefix, "")
		if len(out) != 1 || out[0].ID != named.ID {
			t.Fatalf("list = %+v", out)
		}
	})
	t.Run("LIKE wildcards are literal", func(t *testing.T) {
		if out := list(t, "?search=%25", ""); len(out) != 0 {
			t.Fatalf("%% matched %d users", len(out))
		}
		if out := list(t, "?search="+strings.ReplaceAll(prefix, "_", "%5F"), ""); len(out) != 3 {
			t.Fatalf("escaped _ matched %d users", len(out))
		}
	})
	t.Run("isFollowing for a viewer", func(t *testing.T) {
		res := api.Do("GET", "/api/users?search="+prefix, nil, viewer.Token).Status(200)
		assertOnlyEmail(t, res.Body, "")
		var out []item
		res.Decode(&out)
		if len(out) != 3 || out[2].IsFollowing == nil || !*out[2].IsFollowing || *out[1].IsFollowing {
			t.Fatalf("list = %s", res.Body)
		}
	})
	t.Run("limit and page", func(t *testing.T) {
		p1 := list(t, "?search="+prefix+"&limit=2", "")
		p2 := list(t, "?search="+prefix+"&limit=2&page=2", "")
		if len(p1) != 2 || len(p2) != 1 || p2[0].ID != made[0].ID {
			t.Fatalf("pages %+v %+v", p1, p2)
		}
		// Enough users that an unclamped limit or a missing default would show.
		if n := countOf(t, `SELECT count(*) FROM users`); n <= 50 {
			tag := apitest.Unique("crowd")
			testdb.MustRun(t, db, `INSERT INTO users (username, email, password)
				SELECT ? || '_' || i, ? || '_' || i || '@example.com', 'x' FROM generate_series(1, ?) i`, tag, tag, 51-n)
		}
		if all := list(t, "?limit=1000", ""); len(all) != 50 {
			t.Fatalf("limit not clamped to 50: %d", len(all))
		}
		if def := list(t, "", ""); len(def) != 10 {
			t.Fatalf("default limit: %d, want 10", len(def))
		}
	})
	for _, bad := range []string{"?limit=abc", "?limit=0", "?limit=-1", "?page=abc", "?page=0", "?search=" + strings.Repeat("a", 101)} {
		t.Run("400 for "+bad[:min(len(bad), 20)], func(t *testing.T) {
			api.Do("GET", "/api/users"+bad, nil, "").Error(400, "validation_failed")
		})
	}
}

func TestUpdateProfile(t *testing.T) {
	api := apitest.New(t, db)
	u, other := api.NewUser("editor"), api.NewUser("other")
	path := apitest.Path("/api/users/%d", u.ID)

	cases := []struct {
		name   string
		path   string
		token  string
		body   any
		status int
		code   string
		want   map[string]any // fields of the answer
	}{
		{name: "name, bio and avatar URL", path: path, token: u.Token, body: map[string]any{"name": "Ed", "bio": "hello", "avatar": "https://cdn.example.com/a.png"}, status: 200,
			want: map[string]any{"name": "Ed", "bio": "hello", "avatar": "https://cdn.example.com/a.png"}},
		{name: "absent fields stay", path: path, token: u.Token, body: map[string]any{"bio": "only bio"}, status: 200,
			want: map[string]any{"name": "Ed", "bio": "only bio", "avatar": "https://cdn.example.com/a.png"}},
		{name: "null and empty clear", path: path, token: u.Token, body: map[string]any{"bio": nil, "avatar": ""}, status: 200,
			want: map[string]any{"name": "Ed", "bio": nil, "avatar": nil}},
		{name: "a path in the upload store that is not the current avatar", path: path, token: u.Token, body: map[string]any{"avatar": "/uploads/0123456789abcdef0123456789abcdef.png"}, status: 400, code: "validation_failed"},
		{name: "name of 51 characters", path: path, token: u.Token, body: map[string]any{"name": strings.Repeat("n", 51)}, status: 400, code: "validation_failed"},
		{name: "bio of 501 characters", path: path, token: u.Token, body: map[string]any{"bio": strings.Repeat("b", 501)}, status: 400, code: "validation_failed"},
		{name: "avatar with a javascript: URL", path: path, token: u.Token, body: map[string]any{"avatar": "javascript:alert(1)"}, status: 400, code: "validation_failed"},
		{name: "name of the wrong type", path: path, token: u.Token, body: map[string]any{"name": 5}, status: 400, code: "validation_failed"},
		{name: "malformed JSON", path: path, token: u.Token, body: "{", status: 400, code: "invalid_json"},
		{name: "someone else's profile", path: apitest.Path("/api/users/%d", other.ID), token: u.Token, body: map[string]any{"name": "hacked"}, status: 403, code: "forbidden"},
		{name: "no token", path: path, body: map[string]any{"name": "x"}, status: 401, code: "token_missing"},
		{name: "bad id", path: "/api/users/x1", token: u.Token, body: map[string]any{"name": "x"}, status: 400, code: "invalid_id"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			res := api.Do("PUT", tc.path, tc.body, tc.token)
			if tc.code != "" {
				res.Error(tc.status, tc.code)
				return
			}
			res.Status(tc.status)
			assertOnlyEmail(t, res.Body, u.Email)
			m := res.Map()
			for k, v := range tc.want {
				if got, ok := m[k]; !ok || got != v {
					t.Fatalf("%s = %v (present %v), want %v: %s", k, got, ok, v, res.Body)
				}
			}
		})
	}
	var otherName *string
	testdb.MustScan(t, db, &otherName, `SELECT name FROM users WHERE id = ?`, other.ID)
	if otherName != nil {
		t.Fatal("the 403 changed the other user")
	}
}

func TestUpdateProfileIgnoresMassAssignment(t *testing.T) {
	api := apitest.New(t, db)
	u, other, fan := api.NewUser("mass"), api.NewUser("other"), api.NewUser("fan")
	api.Do("POST", apitest.Path("/api/users/%d/follow", u.ID), nil, fan.Token).Status(200)
	type row struct {
		ID                          int32
		Username, Email, Password   string
		FollowerCount, TokenVersion int32
		FollowingCount, VideoCount  int32
		LikeCount                   int32
	}
	load := func() row {
		var r row
		testdb.MustScan(t, db, &r, `SELECT u.id, u.username, u.email, u.password, c.follower_count, u.token_version, c.following_count, c.video_count, c.like_count
			FROM users u JOIN user_counts c ON c.id = u.id WHERE u.id = ?`, u.ID)
		return r
	}
	before := load()
	if before.ID != u.ID || before.Username != u.Username || before.Password == "" || before.FollowerCount != 1 {
		t.Fatalf("the row read back is not the user's: %+v", before)
	}
	res := api.Do("PUT", apitest.Path("/api/users/%d", u.ID), map[string]any{
		"id": other.ID, "username": "renamed", "email": other.Email, "password": "new password 123",
		"followerCount": 999, "followingCount": 999, "videoCount": 999, "likeCount": 999, "tokenVersion": 42,
		"_count": map[string]int{"followedBy": 999}, "createdAt": "2000-01-01T00:00:00.000Z",
		"name": "Only this",
	}, u.Token).Status(200)
	assertOnlyEmail(t, res.Body, u.Email)
	after := load()
	if before != after {
		t.Fatalf("protected fields changed:\nbefore %+v\nafter  %+v", before, after)
	}
	m := res.Map()
	if m["name"] != "Only this" || m["email"] != u.Email || m["followerCount"] != float64(1) {
		t.Fatalf("answer = %s", res.Body)
	}
	api.Do("POST", "/api/users/login", map[string]string{"email": u.Email, "password": u.Password}, "").Status(200)
	api.Do("GET", "/api/users/me", nil, u.Token).Status(200)
	seen := api.Do("GET", apitest.Path("/api/users/%d", other.ID), nil, "").Status(200).Map()
	if name, ok := seen["name"]; !ok || name != nil || seen["username"] != other.Username {
		t.Fatalf("the other user changed: %v", seen)
	}
}

// multipartBody builds a multipart form with text fields and at most one file.
func multipartBody(t *testing.T, fields map[string]string, fileField, fileName string, file []byte) (*bytes.Buffer, string) {
	t.Helper()
	var buf bytes.Buffer
	w := multipart.NewWriter(&buf)
	for k, v := range fields {
		_ = w.WriteField(k, v)
	}
	if fileField != "" {
		fw, err := w.CreateFormFile(fileField, fileName)
		if err != nil {
			t.Fatal(err)
		}
		_, _ = fw.Write(file)
	}
	_ = w.Close()
	return &buf, w.FormDataContentType()
}

var pngFile = append([]byte("\x89PNG\r\n\x1a\n"), bytes.Repeat([]byte{7}, 2000)...)

func uploadedFiles(t *testing.T, dir string) []string {
	t.Helper()
	es, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	var out []string
	for _, e := range es {
		out = append(out, e.Name())
	}
	return out
}

func TestUpdateProfileMultipart(t *testing.T) {
	api := apitest.New(t, db)
	u := api.NewUser("avatar")
	put := func(fields map[string]string, fileField, fileName string, file []byte) *apitest.Response {
		body, ct := multipartBody(t, fields, fileField, fileName, file)
		req := httptest.NewRequest("PUT", apitest.Path("/api/users/%d", u.ID), body)
		req.Header.Set("Content-Type", ct)
		req.Header.Set("Authorization", "Bearer "+u.Token)
		return api.Serve(req)
	}

	res := put(map[string]string{"name": "Pic", "bio": "with a picture"}, "avatar", "me.txt", pngFile).Status(200)
	m := res.Map()
	avatar, _ := m["avatar"].(string)
	if m["name"] != "Pic" || m["bio"] != "with a picture" || !strings.HasPrefix(avatar, api.Config.PublicBaseURL+"/uploads/") || !strings.HasSuffix(avatar, ".png") {
		t.Fatalf("answer = %s", res.Body)
	}
	got := api.Do("GET", avatar, nil, "").Status(200)
	if !bytes.Equal(got.Body, pngFile) || got.Header.Get("Content-Type") != "image/png" {
		t.Fatalf("served %d bytes as %q", len(got.Body), got.Header.Get("Content-Type"))
	}
	ranged := api.Do("GET", avatar, nil, "", "Range: bytes=0-3").Status(206)
	if string(ranged.Body) != "\x89PNG" {
		t.Fatalf("range = %q", ranged.Body)
	}

	t.Run("sending the current avatar back keeps it", func(t *testing.T) {
		res := api.Do("PUT", apitest.Path("/api/users/%d", u.ID), map[string]any{"avatar": avatar, "bio": "same pic"}, u.Token).Status(200)
		if res.Map()["avatar"] != avatar {
			t.Fatalf("answer = %s", res.Body)
		}
	})
	t.Run("someone else's uploaded file cannot be taken, so it cannot be deleted", func(t *testing.T) {
		thief := api.NewUser("thief")
		api.Do("PUT", apitest.Path("/api/users/%d", thief.ID), map[string]any{"avatar": avatar}, thief.Token).Error(400, "validation_failed")
	})
	t.Run("a new avatar replaces the old file", func(t *testing.T) {
		res := put(nil, "avatar", "b.png", pngFile).Status(200)
		if next, _ := res.Map()["avatar"].(string); next == avatar || !strings.HasPrefix(next, api.Config.PublicBaseURL+"/uploads/") {
			t.Fatalf("avatar %q after replacing %q: %s", next, avatar, res.Body)
		}
		if files := uploadedFiles(t, api.Config.UploadDir); len(files) != 1 {
			t.Fatalf("files = %v", files)
		}
		api.Do("GET", avatar, nil, "").Error(404, "not_found")
	})
	t.Run("text is not an image: 415 and no file left", func(t *testing.T) {
		put(nil, "avatar", "evil.png", []byte("<script>alert(1)</script>")).Error(415, "unsupported_media_type")
		if files := uploadedFiles(t, api.Config.UploadDir); len(files) != 1 {
			t.Fatalf("files = %v", files)
		}
	})
	t.Run("one byte over 5 MB: 413 from the store and no file left", func(t *testing.T) {
		big := append(append([]byte{}, pngFile...), bytes.Repeat([]byte{1}, 5<<20-len(pngFile)+1)...)
		put(nil, "avatar", "big.png", big).Error(413, "payload_too_large")
		if files := uploadedFiles(t, api.Config.UploadDir); len(files) != 1 {
			t.Fatalf("files = %v", files)
		}
	})
	t.Run("exactly 5 MB is accepted", func(t *testing.T) {
		exact := append(append([]byte{}, pngFile...), bytes.Repeat([]byte{1}, 5<<20-len(pngFile))...)
		put(nil, "avatar", "exact.png", exact).Status(200)
	})
	t.Run("a body far over the cap without Content-Length: 413 and no file left", func(t *testing.T) {
		huge := append(append([]byte{}, pngFile...), bytes.Repeat([]byte{1}, 6<<20)...)
		body, ct := multipartBody(t, nil, "avatar", "huge.png", huge)
		req := httptest.NewRequest("PUT", apitest.Path("/api/users/%d", u.ID), io.MultiReader(body)) // hides the length
		req.ContentLength = -1
		req.Header.Set("Content-Type", ct)
		req.Header.Set("Authorization", "Bearer "+u.Token)
		api.Serve(req).Error(413, "payload_too_large")
		if files := uploadedFiles(t, api.Config.UploadDir); len(files) != 1 {
			t.Fatalf("files = %v", files)
		}
	})
	t.Run("a bad text field with a file: 400 and no file left", func(t *testing.T) {
		body, ct := multipartBody(t, map[string]string{"name": strings.Repeat("n", 51)}, "avatar", "a.png", pngFile)
		req := httptest.NewRequest("PUT", apitest.Path("/api/users/%d", u.ID), body)
		req.Header.Set("Content-Type", ct)
		req.Header.Set("Authorization", "Bearer "+u.Token)
		api.Serve(req).Error(400, "validation_failed")
		if files := uploadedFiles(t, api.Config.UploadDir); len(files) != 1 {
			t.Fatalf("files = %v", files)
		}
	})
	t.Run("avatar as a URL text field", func(t *testing.T) {
		res := put(map[string]string{"avatar": "https://cdn.example.com/x.jpg"}, "", "", nil).Status(200)
		if res.Map()["avatar"] != "https://cdn.example.com/x.jpg" {
			t.Fatalf("answer = %s", res.Body)
		}
		if files := uploadedFiles(t, api.Config.UploadDir); len(files) != 0 {
			t.Fatalf("old avatar file kept: %v", files)
		}
	})
	t.Run("uploads never serve paths outside the store", func(t *testing.T) {
		for _, p := range []string{"/uploads/../go.mod", "/uploads/" + filepath.Base(api.Config.UploadDir), "/uploads/"} {
			if code := api.Do("GET", p, nil, "").Code; code != 404 {
				t.Fatalf("%s: %d", p, code)
			}
		}
	})
}

func TestDeleteUser(t *testing.T) {
	api := apitest.New(t, db)
	u, other := api.NewUser("leaver"), api.NewUser("stayer")
	third := api.NewUser("third")
	// Follows both ways, plus a video and likes so the cascade has work to do.
	api.Do("POST", apitest.Path("/api/users/%d/follow", other.ID), nil, u.Token).Status(200)
	api.Do("POST", apitest.Path("/api/users/%d/follow", u.ID), nil, other.Token).Status(200)
	api.Do("POST", apitest.Path("/api/users/%d/follow", other.ID), nil, third.Token).Status(200)
	var otherVideo, ownVideo int32
	testdb.MustScan(t, db, &otherVideo, `INSERT INTO videos (user_id, video_url) VALUES (?, 'https://example.com/o.mp4') RETURNING id`, other.ID)
	testdb.MustScan(t, db, &ownVideo, `INSERT INTO videos (user_id, video_url) VALUES (?, 'https://example.com/u.mp4') RETURNING id`, u.ID)
	testdb.MustRun(t, db, `INSERT INTO video_likes (user_id, video_id) VALUES (?, ?), (?, ?)`, u.ID, otherVideo, other.ID, ownVideo)
	testdb.MustRun(t, db, `INSERT INTO comments (user_id, video_id, content) VALUES (?, ?, 'bye')`, u.ID, otherVideo)
	// An uploaded avatar, which must go with the account.
	body, ct := multipartBody(t, nil, "avatar", "a.png", pngFile)
	req := httptest.NewRequest("PUT", apitest.Path("/api/users/%d", u.ID), body)
	req.Header.Set("Content-Type", ct)
	req.Header.Set("Authorization", "Bearer "+u.Token)
	api.Serve(req).Status(200)
	// The rows that must go with the account. Each is there now: the checks after the delete
	// cannot pass for want of rows.
	owned := []struct {
		what, query string
		id          int32
	}{
		{"follows by the user", `SELECT count(*) FROM follows WHERE follower_id = ?`, u.ID},
		{"follows of the user", `SELECT count(*) FROM follows WHERE following_id = ?`, u.ID},
		{"videos", `SELECT count(*) FROM videos WHERE user_id = ?`, u.ID},
		{"likes by the user", `SELECT count(*) FROM video_likes WHERE user_id = ?`, u.ID},
		{"likes of the user's video", `SELECT count(*) FROM video_likes WHERE video_id = ?`, ownVideo},
		{"comments", `SELECT count(*) FROM comments WHERE user_id = ?`, u.ID},
		{"refresh tokens", `SELECT count(*) FROM refresh_tokens WHERE user_id = ?`, u.ID},
	}
	for _, o := range owned {
		if countOf(t, o.query, o.id) == 0 {
			t.Fatalf("setup: no %s", o.what)
		}
	}

	cases := []struct {
		name   string
		path   string
		token  string
		status int
		code   string
	}{
		{"someone else's account", apitest.Path("/api/users/%d", other.ID), u.Token, 403, "forbidden"},
		{"no token", apitest.Path("/api/users/%d", u.ID), "", 401, "token_missing"},
		{"bad id", "/api/users/abc", u.Token, 400, "invalid_id"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			api.Do("DELETE", tc.path, nil, tc.token).Error(tc.status, tc.code)
		})
	}

	res := api.Do("DELETE", apitest.Path("/api/users/%d", u.ID), nil, u.Token).Status(200)
	if res.Map()["message"] != "User deleted successfully" {
		t.Fatalf("answer = %s", res.Body)
	}
	api.Do("GET", apitest.Path("/api/users/%d", u.ID), nil, "").Error(404, "not_found")
	api.Do("POST", "/api/users/login", map[string]string{"email": u.Email, "password": u.Password}, "").Error(401, "invalid_credentials")
	for _, o := range owned {
		if n := countOf(t, o.query, o.id); n != 0 {
			t.Errorf("%d %s left", n, o.what)
		}
	}
	m := api.Do("GET", apitest.Path("/api/users/%d", other.ID), nil, "").Status(200).Map()
	if m["followerCount"] != float64(1) || m["followingCount"] != float64(0) || m["likeCount"] != float64(0) {
		t.Fatalf("the other user's counts after the delete: %s", mustJSON(m))
	}
	testdb.AssertCountersExact(t, db)
	if files := uploadedFiles(t, api.Config.UploadDir); len(files) != 0 {
		t.Fatalf("avatar file left: %v", files)
	}
	// Deleting again with the dead token: the token no longer works.
	api.Do("DELETE", apitest.Path("/api/users/%d", u.ID), nil, u.Token).Error(401, "token_revoked")
}

func TestDeleteUserKeepsAFileAnotherRowUses(t *testing.T) {
	api := apitest.New(t, db)
	u, other := api.NewUser("sharer"), api.NewUser("keeper")
	body, ct := multipartBody(t, nil, "avatar", "a.png", pngFile)
	req := httptest.NewRequest("PUT", apitest.Path("/api/users/%d", u.ID), body)
	req.Header.Set("Content-Type", ct)
	req.Header.Set("Authorization", "Bearer "+u.Token)
	avatar := api.Serve(req).Status(200).Map()["avatar"].(string)
	// A row written outside the API (psql, a seeder) points at the same file, by the path rows
	// keep (the answer is that path under PUBLIC_BASE_URL).
	testdb.MustRun(t, db, `INSERT INTO videos (user_id, video_url, thumbnail_url) VALUES (?, 'https://example.com/v.mp4', ?)`, other.ID, api.MediaPath(avatar))
	api.Do("DELETE", apitest.Path("/api/users/%d", u.ID), nil, u.Token).Status(200)
	api.Do("GET", avatar, nil, "").Status(200)
}

func TestUserVideoListsHaveTheirShape(t *testing.T) {
	api := apitest.New(t, db)
	u := api.NewUser("vids")
	for _, list := range []string{"videos", "liked"} {
		t.Run(list, func(t *testing.T) {
			res := api.Do("GET", apitest.Path("/api/users/%d/%s", u.ID, list), nil, "").Status(200)
			if string(res.Body) != `{"videos":[],"pagination":{"nextCursor":null,"hasNextPage":false}}` {
				t.Fatalf("body = %s", res.Body)
			}
			api.Do("GET", apitest.Path("/api/users/2147483647/%s", list), nil, "").Error(404, "not_found")
			api.Do("GET", apitest.Path("/api/users/zz/%s", list), nil, "").Error(400, "invalid_id")
			api.Do("GET", apitest.Path("/api/users/%d/%s?limit=abc", u.ID, list), nil, "").Error(400, "validation_failed")
			api.Do("GET", apitest.Path("/api/users/%d/%s?cursor=!!", u.ID, list), nil, "").Error(400, "validation_failed")
		})
	}
}
