package controllers_test

import (
	"bytes"
	"net/http"
	"strings"
	"testing"

	"tiktok/config"
	"tiktok/internal/apitest"
	"tiktok/internal/testdb"
)

// mediaUser is the user fields every media test reads.
type mediaUser struct {
	ID     int32   `json:"id"`
	Avatar *string `json:"avatar"`
}

// Files this server stores are answered under PUBLIC_BASE_URL, wherever a URL of them appears,
// and the URL answered fetches the file.
func TestMediaURLsOfStoredFilesAreAbsolute(t *testing.T) {
	api := apitest.New(t, db)
	base := api.Config.PublicBaseURL
	if base != "http://localhost:8000" {
		t.Fatalf("PUBLIC_BASE_URL defaults to %q, want http://localhost:8000 (PORT 8000)", base)
	}
	alice, bob := api.NewUser("absolute"), api.NewUser("viewer")
	mp4, png := smallMP4(1000), smallPNG(t)

	var v videoJSON
	upload(api, alice.Token,
		formPart{field: "video", filename: "a.mp4", data: mp4},
		formPart{field: "thumbnail", filename: "t.png", data: png}).Status(http.StatusCreated).Decode(&v)
	if !strings.HasPrefix(v.VideoURL, base+"/uploads/") || v.ThumbnailURL == nil || !strings.HasPrefix(*v.ThumbnailURL, base+"/uploads/") {
		t.Fatalf("upload answered videoUrl %q, thumbnailUrl %v: want them under %s/uploads/", v.VideoURL, v.ThumbnailURL, base)
	}
	if got := api.Do("GET", api.MediaPath(v.VideoURL), nil, "").Status(http.StatusOK).Body; !bytes.Equal(got, mp4) {
		t.Fatalf("GET %s: %d bytes, want the %d uploaded", v.VideoURL, len(got), len(mp4))
	}
	// The row keeps the path: a new PUBLIC_BASE_URL needs no rewrite.
	var stored string
	testdb.MustScan(t, db, &stored, `SELECT video_url FROM videos WHERE id = ?`, v.ID)
	if !strings.HasPrefix(stored, "/uploads/") || base+stored != v.VideoURL {
		t.Fatalf("the row keeps %q for the answer %q", stored, v.VideoURL)
	}

	var me mediaUser
	serveForm(api, "PUT", path("/api/users/%d", alice.ID), alice.Token,
		formPart{field: "avatar", filename: "me.png", data: png}).Status(http.StatusOK).Decode(&me)
	if me.Avatar == nil || !strings.HasPrefix(*me.Avatar, base+"/uploads/") {
		t.Fatalf("avatar upload answered %v", me.Avatar)
	}
	avatar := *me.Avatar
	if got := api.Do("GET", api.MediaPath(avatar), nil, "").Status(http.StatusOK).Body; !bytes.Equal(got, png) {
		t.Fatalf("GET %s: not the uploaded image", avatar)
	}
	api.Do("POST", path("/api/users/%d/follow", alice.ID), nil, bob.Token).Status(http.StatusOK)
	api.Do("POST", path("/api/videos/%d/like", v.ID), nil, bob.Token).Status(http.StatusOK)
	api.Do("POST", "/api/comments", map[string]any{"videoId": v.ID, "content": "mine"}, alice.Token).Status(http.StatusCreated)

	// Every answer that carries alice (her avatar) or her video.
	checkAvatar := func(where string, u mediaUser) {
		t.Helper()
		if u.ID == alice.ID && (u.Avatar == nil || *u.Avatar != avatar) {
			t.Errorf("%s: alice's avatar is %v, want %s", where, u.Avatar, avatar)
		}
	}
	var feed struct {
		Videos []struct {
			videoJSON
			User mediaUser `json:"user"`
		} `json:"videos"`
	}
	for _, list := range []string{"/api/videos?limit=50", path("/api/users/%d/videos", alice.ID), path("/api/users/%d/liked", bob.ID)} {
		api.Do("GET", list, nil, bob.Token).Status(http.StatusOK).Decode(&feed)
		found := false
		for _, card := range feed.Videos {
			if card.ID == v.ID {
				found = true
				checkAvatar(list, card.User)
				if card.VideoURL != v.VideoURL || card.ThumbnailURL == nil || *card.ThumbnailURL != *v.ThumbnailURL {
					t.Errorf("%s: video %s / %v, want %s / %s", list, card.VideoURL, card.ThumbnailURL, v.VideoURL, *v.ThumbnailURL)
				}
			}
		}
		if !found {
			t.Errorf("%s: video %d not listed", list, v.ID)
		}
	}
	var one struct {
		videoJSON
		User mediaUser `json:"user"`
	}
	api.Do("GET", path("/api/videos/%d", v.ID), nil, "").Status(http.StatusOK).Decode(&one)
	checkAvatar("GET /api/videos/:id", one.User)
	if one.VideoURL != v.VideoURL {
		t.Errorf("GET /api/videos/:id: videoUrl %s", one.VideoURL)
	}

	var users []mediaUser
	api.Do("GET", "/api/users?search="+alice.Username, nil, "").Status(http.StatusOK).Decode(&users)
	if len(users) != 1 {
		t.Fatalf("GET /api/users?search= found %d users", len(users))
	}
	checkAvatar("GET /api/users", users[0])
	for _, single := range []struct{ where, path, token string }{
		{"GET /api/users/:id", path("/api/users/%d", alice.ID), ""},
		{"GET /api/users/me", "/api/users/me", alice.Token},
	} {
		var u mediaUser
		api.Do("GET", single.path, nil, single.token).Status(http.StatusOK).Decode(&u)
		checkAvatar(single.where, u)
	}
	var lists struct {
		Following []mediaUser `json:"following"`
		Users     []mediaUser `json:"users"`
		Comments  []struct {
			User mediaUser `json:"user"`
		} `json:"comments"`
	}
	api.Do("GET", path("/api/users/%d/following", bob.ID), nil, "").Status(http.StatusOK).Decode(&lists)
	api.Do("GET", path("/api/videos/%d/likes", v.ID), nil, "").Status(http.StatusOK).Decode(&lists)
	api.Do("GET", path("/api/videos/%d/comments", v.ID), nil, "").Status(http.StatusOK).Decode(&lists)
	if len(lists.Following) != 1 || len(lists.Users) != 1 || len(lists.Comments) != 1 {
		t.Fatalf("following %d, likers %d, comments %d", len(lists.Following), len(lists.Users), len(lists.Comments))
	}
	checkAvatar("following", lists.Following[0])
	checkAvatar("likers", lists.Users[0]) // bob: no avatar
	checkAvatar("comments", lists.Comments[0].User)
	var login struct {
		User mediaUser `json:"user"`
	}
	api.Do("POST", "/api/users/login", map[string]string{"email": alice.Email, "password": alice.Password}, "").
		Status(http.StatusOK).Decode(&login)
	checkAvatar("login", login.User)

	// A row written by the Prisma version (or before this change) holds the bare path.
	testdb.MustRun(t, db, `UPDATE users SET avatar = '/uploads/0123456789abcdef0123456789abcdef.png' WHERE id = ?`, bob.ID)
	var old mediaUser
	api.Do("GET", path("/api/users/%d", bob.ID), nil, "").Status(http.StatusOK).Decode(&old)
	if old.Avatar == nil || *old.Avatar != base+"/uploads/0123456789abcdef0123456789abcdef.png" {
		t.Fatalf("an old row's avatar is answered as %v", old.Avatar)
	}
}

// A URL a client gave is answered exactly as given.
func TestClientGivenMediaURLsAreUnchanged(t *testing.T) {
	api := apitest.New(t, db)
	u := api.NewUser("givenurl")
	given := "https://cdn.example.com/v/clip.mp4?token=a%20b"
	var v videoJSON
	api.Do("POST", "/api/videos", map[string]any{"videoUrl": given, "thumbnailUrl": "http://img.example.com/uploads/x.jpg"}, u.Token).
		Status(http.StatusCreated).Decode(&v)
	if v.VideoURL != given || v.ThumbnailURL == nil || *v.ThumbnailURL != "http://img.example.com/uploads/x.jpg" {
		t.Fatalf("answered %s / %v", v.VideoURL, v.ThumbnailURL)
	}
	var me mediaUser
	api.Do("PUT", path("/api/users/%d", u.ID), map[string]any{"avatar": "https://i.pravatar.cc/150?u=x"}, u.Token).Status(http.StatusOK).Decode(&me)
	if me.Avatar == nil || *me.Avatar != "https://i.pravatar.cc/150?u=x" {
		t.Fatalf("avatar answered %v", me.Avatar)
	}
}

// Behind a proxy that serves the API under a path, PUBLIC_BASE_URL carries that path.
func TestPublicBaseURLWithAPathPrefix(t *testing.T) {
	api := apitest.New(t, db, apitest.WithConfig(func(c *config.Config) { c.PublicBaseURL = "https://example.com/tiktok-api" }))
	u := api.NewUser("prefixed")
	png := smallPNG(t)
	var me mediaUser
	serveForm(api, "PUT", path("/api/users/%d", u.ID), u.Token, formPart{field: "avatar", filename: "a.png", data: png}).
		Status(http.StatusOK).Decode(&me)
	if me.Avatar == nil || !strings.HasPrefix(*me.Avatar, "https://example.com/tiktok-api/uploads/") {
		t.Fatalf("avatar answered %v", me.Avatar)
	}
	// The proxy strips /tiktok-api: the rest is the file's path here.
	if got := api.Do("GET", api.MediaPath(*me.Avatar), nil, "").Status(http.StatusOK).Body; !bytes.Equal(got, png) {
		t.Fatal("the avatar's URL does not lead to the file")
	}
	// Sent back as the form shows it, the current avatar stays.
	var again mediaUser
	api.Do("PUT", path("/api/users/%d", u.ID), map[string]any{"avatar": *me.Avatar, "bio": "same"}, u.Token).Status(http.StatusOK).Decode(&again)
	if again.Avatar == nil || *again.Avatar != *me.Avatar {
		t.Fatalf("sending the current avatar back answered %v", again.Avatar)
	}
}

// A URL into this server's own storage, given as text, would claim a file stored for someone
// else (and delete it with the row): it is refused, naming the field, and nothing is written.
func TestURLsIntoOwnStorageAreRefusedAsText(t *testing.T) {
	const bucket = "https://bucket.example.com/tiktok"
	api := apitest.New(t, db, apitest.WithConfig(func(c *config.Config) { c.S3PublicBaseURL = bucket }))
	owner, thief := api.NewUser("owner"), api.NewUser("thief")
	var v videoJSON
	upload(api, owner.Token, formPart{field: "video", filename: "a.mp4", data: smallMP4(100)}).Status(http.StatusCreated).Decode(&v)
	name := strings.TrimPrefix(v.VideoURL, api.Config.PublicBaseURL+"/uploads/")

	own := []string{
		v.VideoURL,
		"/uploads/" + name,
		"HTTP://LOCALHOST:8000/uploads/" + name,
		"http://localhost:8000/%75ploads/" + name,
		"http://localhost:8000/uploads/" + name + "?x=1",
		"http://localhost:8000/uploads/anything-at-all",
		bucket + "/videos/0123456789abcdef0123456789abcdef.mp4",
		"https://BUCKET.example.com/tiktok/avatars/x.png",
	}
	videosBefore := countOf(t, `SELECT count(*) FROM videos WHERE user_id = ?`, thief.ID)
	for _, u := range own {
		for _, field := range []string{"videoUrl", "thumbnailUrl"} {
			body := map[string]any{"videoUrl": "https://cdn.example.com/ok.mp4", field: u}
			res := api.Do("POST", "/api/videos", body, thief.Token).Error(http.StatusBadRequest, "validation_failed")
			var e struct {
				Errors map[string]string `json:"errors"`
			}
			res.Decode(&e)
			if !strings.Contains(e.Errors[field], "videoStoragePath") && !strings.Contains(e.Errors[field], "thumbnailStoragePath") {
				t.Errorf("%s=%s: errors %v, want the field named with the way to register a stored file", field, u, e.Errors)
			}
		}
		res := api.Do("PUT", path("/api/users/%d", thief.ID), map[string]any{"avatar": u}, thief.Token).Error(http.StatusBadRequest, "validation_failed")
		if !strings.Contains(string(res.Body), "avatarStoragePath") {
			t.Errorf("avatar=%s: %s", u, res.Body)
		}
	}
	if n := countOf(t, `SELECT count(*) FROM videos WHERE user_id = ?`, thief.ID); n != videosBefore {
		t.Fatalf("refused requests wrote %d videos", n-videosBefore)
	}
	var avatar *string
	testdb.MustScan(t, db, &avatar, `SELECT avatar FROM users WHERE id = ?`, thief.ID)
	if avatar != nil {
		t.Fatalf("refused requests set the avatar to %s", *avatar)
	}
	// Look-alikes on other hosts are someone else's URLs, taken as given.
	for _, u := range []string{"http://localhost:8001/uploads/" + name, "https://bucket.example.com/tiktok-other/x.mp4", "http://example.com/uploads/" + name} {
		api.Do("POST", "/api/videos", map[string]any{"videoUrl": u}, thief.Token).Status(http.StatusCreated)
	}
	// The owner's file is still there.
	api.Do("GET", api.MediaPath(v.VideoURL), nil, "").Status(http.StatusOK)
}
