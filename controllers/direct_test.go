package controllers_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"image"
	"image/jpeg"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"

	"tiktok/config"
	"tiktok/internal/apitest"
	"tiktok/internal/testdb"
	"tiktok/internal/testsvc"
	"tiktok/routes"
	"tiktok/storage"
	"tiktok/store"
)

// Direct uploads through the real router: sign, PUT the bytes with a real HTTP client to the
// URL answered (this server for the local store, a real versitygw bucket for S3), register.

type signedUpload struct {
	UploadURL   string            `json:"uploadUrl"`
	Method      string            `json:"method"`
	Headers     map[string]string `json:"headers"`
	StoragePath string            `json:"storagePath"`
	ExpiresAt   time.Time         `json:"expiresAt"`
}

// directAPI is a router under test with the server its signed local URLs are sent to.
type directAPI struct {
	*apitest.API
	server string // the router served over real HTTP
}

// public is the URL an answer shows for a stored URL: the local store's /uploads/ paths under
// PUBLIC_BASE_URL, the bucket's as they are.
func (a *directAPI) public(stored string) string {
	if strings.HasPrefix(stored, storage.URLPrefix) {
		return a.Config.PublicBaseURL + stored
	}
	return stored
}

func newDirectAPI(t *testing.T, opts ...apitest.Option) *directAPI {
	api := apitest.New(t, db, opts...)
	srv := httptest.NewServer(api.Router)
	t.Cleanup(srv.Close)
	return &directAPI{API: api, server: srv.URL}
}

// s3Option runs the router on a fresh bucket of the test S3 server.
func s3Option(t *testing.T) apitest.Option {
	b := testsvc.S3(t)
	st, err := storage.NewS3(context.Background(), b.Options())
	if err != nil {
		t.Fatal(err)
	}
	return func(_ *config.Config, d *routes.Deps) { d.Store = st }
}

func (a *directAPI) sign(u *apitest.User, kind, contentType string, size int) signedUpload {
	a.T.Helper()
	var s signedUpload
	a.Do("POST", "/api/uploads", map[string]any{"kind": kind, "contentType": contentType, "size": size}, u.Token).
		Status(http.StatusOK).Decode(&s)
	return s
}

// put sends body to a signed URL with its headers, as a browser does. A local uploadUrl names
// the host the request reached (example.com in a recorder): the same path goes to the server.
func (a *directAPI) put(s signedUpload, body []byte) (int, string) {
	a.T.Helper()
	target := s.UploadURL
	if u, err := url.Parse(s.UploadURL); err == nil && strings.HasPrefix(u.Path, storage.URLPrefix) {
		target = a.server + u.RequestURI()
	}
	req, err := http.NewRequest(s.Method, target, bytes.NewReader(body))
	if err != nil {
		a.T.Fatal(err)
	}
	for k, v := range s.Headers {
		req.Header.Set(k, v)
	}
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		a.T.Fatal(err)
	}
	defer res.Body.Close()
	out, _ := io.ReadAll(res.Body)
	return res.StatusCode, string(out)
}

// upload signs and sends one file, and returns its storage path.
func (a *directAPI) upload(u *apitest.User, kind, contentType string, body []byte) string {
	a.T.Helper()
	s := a.sign(u, kind, contentType, len(body))
	if status, out := a.put(s, body); status != http.StatusOK {
		a.T.Fatalf("PUT %s = %d %s", s.UploadURL, status, out)
	}
	return s.StoragePath
}

func (a *directAPI) exists(path string) bool {
	a.T.Helper()
	_, err := a.Uploads.Stat(context.Background(), path)
	if err != nil && !errors.Is(err, storage.ErrNotFound) {
		a.T.Fatal(err)
	}
	return err == nil
}

func smallJPEG(t *testing.T) []byte {
	var b bytes.Buffer
	if err := jpeg.Encode(&b, image.NewRGBA(image.Rect(0, 0, 4, 4)), nil); err != nil {
		t.Fatal(err)
	}
	return b.Bytes()
}

func TestDirectUploadFlow(t *testing.T) {
	for _, backend := range []struct {
		name string
		opts func(t *testing.T) []apitest.Option
	}{
		{"local", func(*testing.T) []apitest.Option { return nil }},
		{"s3", func(t *testing.T) []apitest.Option { return []apitest.Option{s3Option(t)} }},
	} {
		t.Run(backend.name, func(t *testing.T) {
			api := newDirectAPI(t, backend.opts(t)...)
			alice := api.NewUser("direct")
			mp4, png := smallMP4(3000), smallPNG(t)

			s := api.sign(alice, "video", "video/mp4", len(mp4))
			if s.Method != "PUT" || !strings.HasPrefix(s.StoragePath, fmt.Sprintf("videos/%d/", alice.ID)) ||
				!strings.HasSuffix(s.StoragePath, ".mp4") || s.Headers["Content-Type"] != "video/mp4" ||
				time.Until(s.ExpiresAt) < 14*time.Minute || time.Until(s.ExpiresAt) > 16*time.Minute {
				t.Fatalf("signed: %+v", s)
			}
			if n := countOf(t, `SELECT count(*) FROM uploads WHERE storage_path = ? AND user_id = ? AND size = ? AND registered_at IS NULL`,
				s.StoragePath, alice.ID, len(mp4)); n != 1 {
				t.Fatal("no ledger row for the signed upload")
			}
			if status, out := api.put(s, mp4); status != http.StatusOK {
				t.Fatalf("PUT = %d %s", status, out)
			}
			thumb := api.upload(alice, "thumbnail", "image/png", png)

			var v videoJSON
			api.Do("POST", "/api/videos", map[string]any{"videoStoragePath": s.StoragePath, "thumbnailStoragePath": thumb,
				"caption": "straight to storage"}, alice.Token).Status(http.StatusCreated).Decode(&v)
			if v.VideoURL != api.public(api.Uploads.URL(s.StoragePath)) || v.ThumbnailURL == nil || *v.ThumbnailURL != api.public(api.Uploads.URL(thumb)) ||
				v.Caption == nil || *v.Caption != "straight to storage" {
				t.Fatalf("video %+v", v)
			}
			if n := countOf(t, `SELECT count(*) FROM videos WHERE id = ? AND video_storage_path = ? AND thumbnail_storage_path = ?
				AND video_url = ?`, v.ID, s.StoragePath, thumb, api.Uploads.URL(s.StoragePath)); n != 1 {
				t.Fatal("the video row lacks its storage paths")
			}
			if n := countOf(t, `SELECT count(*) FROM uploads WHERE storage_path IN (?, ?) AND registered_at IS NOT NULL`, s.StoragePath, thumb); n != 2 {
				t.Fatalf("%d of 2 uploads registered", n)
			}
			if got := fetchMedia(t, api, v.VideoURL, ""); !bytes.Equal(got, mp4) {
				t.Fatalf("GET %s: %d bytes, not the uploaded ones", v.VideoURL, len(got))
			}
			if got := fetchMedia(t, api, v.VideoURL, "bytes=4-11"); string(got) != "ftypisom" {
				t.Fatalf("range GET %s = %q", v.VideoURL, got)
			}

			// An avatar, then another: the first one's object goes once the second is committed.
			first := api.upload(alice, "avatar", "image/png", png)
			var user struct {
				Avatar string `json:"avatar"`
			}
			api.Do("PUT", apitest.Path("/api/users/%d", alice.ID), map[string]any{"avatarStoragePath": first}, alice.Token).
				Status(http.StatusOK).Decode(&user)
			if user.Avatar != api.public(api.Uploads.URL(first)) || countOf(t, `SELECT count(*) FROM users WHERE id = ? AND avatar_storage_path = ?`, alice.ID, first) != 1 {
				t.Fatalf("avatar %q", user.Avatar)
			}
			second := api.upload(alice, "avatar", "image/jpeg", smallJPEG(t))
			api.Do("PUT", apitest.Path("/api/users/%d", alice.ID), map[string]any{"avatarStoragePath": second, "name": "Alice"}, alice.Token).
				Status(http.StatusOK)
			if api.exists(first) || !api.exists(second) {
				t.Fatalf("after replacing the avatar: first exists %v, second %v", api.exists(first), api.exists(second))
			}

			// Deleting the video deletes its objects; its paths stay registered (never again).
			api.Do("DELETE", apitest.Path("/api/videos/%d", v.ID), nil, alice.Token).Status(http.StatusOK)
			if api.exists(s.StoragePath) || api.exists(thumb) {
				t.Fatal("the video's objects outlived it")
			}
			api.Do("POST", "/api/videos", map[string]any{"videoStoragePath": s.StoragePath}, alice.Token).
				Error(http.StatusBadRequest, "validation_failed")

			// A replay of the signed URL within its quarter hour puts the object back, with no
			// row pointing at it; the sweep deletes it again once the URL has expired (not
			// before: another replay would undo that delete).
			if status, out := api.put(s, mp4); status != http.StatusOK {
				t.Fatalf("replayed PUT = %d %s", status, out)
			}
			if !api.exists(s.StoragePath) {
				t.Fatal("the replayed PUT stored nothing")
			}
			if n := countOf(t, `SELECT count(*) FROM storage_deletes WHERE storage_path = ? AND retry_at > now()`, s.StoragePath); n != 1 {
				t.Fatal("the deleted direct upload is not noted for a delete after its URL expires")
			}
			sweeper := routes.NewStoredFiles(api.Config, api.Uploads, store.New(db), nil)
			if _, _, err := sweeper.Sweep(context.Background(), time.Now().Add(-24*time.Hour)); err != nil {
				t.Fatal(err)
			}
			if !api.exists(s.StoragePath) {
				t.Fatal("the sweep deleted the replayed object while its URL still worked")
			}
			testdb.MustRun(t, db, `UPDATE storage_deletes SET retry_at = now() - interval '1 second' WHERE storage_path = ?`, s.StoragePath)
			if _, _, err := sweeper.Sweep(context.Background(), time.Now().Add(-24*time.Hour)); err != nil {
				t.Fatal(err)
			}
			if api.exists(s.StoragePath) || countOf(t, `SELECT count(*) FROM storage_deletes WHERE storage_path = ?`, s.StoragePath) != 0 {
				t.Fatal("the replayed object outlived its URL's expiry and a sweep")
			}

			// A multipart upload fills the storage path columns too.
			var m videoJSON
			upload(api.API, alice.Token, formPart{field: "video", filename: "a.mp4", contentType: "video/mp4", data: mp4}).
				Status(http.StatusCreated).Decode(&m)
			name, _ := api.Uploads.NameFromURL(strings.TrimPrefix(m.VideoURL, api.Config.PublicBaseURL))
			if name == "" || countOf(t, `SELECT count(*) FROM videos WHERE id = ? AND video_storage_path = ?`, m.ID, name) != 1 {
				t.Fatalf("multipart video %s has no storage path", m.VideoURL)
			}
		})
	}
}

// fetchMedia GETs a media URL where a client would: this server for /uploads/, else the bucket.
func fetchMedia(t *testing.T, api *directAPI, u, rangeHeader string) []byte {
	t.Helper()
	u = strings.TrimPrefix(u, api.Config.PublicBaseURL)
	if strings.HasPrefix(u, storage.URLPrefix) {
		var headers []string
		if rangeHeader != "" {
			headers = append(headers, "Range: "+rangeHeader)
		}
		return api.Do("GET", u, nil, "", headers...).Body
	}
	req, err := http.NewRequest("GET", u, nil)
	if err != nil {
		t.Fatal(err)
	}
	if rangeHeader != "" {
		req.Header.Set("Range", rangeHeader)
	}
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	body, _ := io.ReadAll(res.Body)
	return body
}

func TestDirectUploadBadInput(t *testing.T) {
	api := newDirectAPI(t, apitest.WithConfig(func(c *config.Config) { c.MaxVideoMB = 1 }))
	alice, bob := api.NewUser("alice"), api.NewUser("bob")
	mp4 := smallMP4(2000)
	ledger := func(u *apitest.User) int64 { return countOf(t, `SELECT count(*) FROM uploads WHERE user_id = ?`, u.ID) }

	t.Run("signing: sizes over the cap, types the kind refuses, odd fields", func(t *testing.T) {
		api.T = t
		before := ledger(alice)
		for _, c := range []struct {
			body   any
			status int
			code   string
		}{
			{map[string]any{"kind": "video", "contentType": "video/mp4", "size": 1<<20 + 1}, 413, "payload_too_large"},
			{map[string]any{"kind": "thumbnail", "contentType": "image/png", "size": 5<<20 + 1}, 413, "payload_too_large"},
			{map[string]any{"kind": "avatar", "contentType": "image/png", "size": 5<<20 + 1}, 413, "payload_too_large"},
			{map[string]any{"kind": "video", "contentType": "image/png", "size": 100}, 415, "unsupported_media_type"},
			{map[string]any{"kind": "avatar", "contentType": "video/mp4", "size": 100}, 415, "unsupported_media_type"},
			{map[string]any{"kind": "avatar", "contentType": "text/html", "size": 100}, 415, "unsupported_media_type"},
			{map[string]any{"kind": "avatar", "contentType": "image/svg+xml", "size": 100}, 415, "unsupported_media_type"},
			{map[string]any{"contentType": "video/mp4", "size": 100}, 400, "validation_failed"},
			{map[string]any{"kind": "music", "contentType": "video/mp4", "size": 100}, 400, "validation_failed"},
			{map[string]any{"kind": "video", "size": 100}, 400, "validation_failed"},
			{map[string]any{"kind": "video", "contentType": "video/mp4"}, 400, "validation_failed"},
			{map[string]any{"kind": "video", "contentType": "video/mp4", "size": 0}, 400, "validation_failed"},
			{map[string]any{"kind": "video", "contentType": "video/mp4", "size": -5}, 400, "validation_failed"},
			{map[string]any{"kind": "video", "contentType": "video/mp4", "size": "100"}, 400, "validation_failed"},
			{map[string]any{"kind": "video", "contentType": "video/mp4", "size": 1.5}, 400, "validation_failed"},
			{"[]", 400, "invalid_json"},
		} {
			api.Do("POST", "/api/uploads", c.body, alice.Token).Error(c.status, c.code)
		}
		api.Do("POST", "/api/uploads", map[string]any{"kind": "video", "contentType": "video/mp4", "size": 10}, "").
			Error(http.StatusUnauthorized, "token_missing")
		if after := ledger(alice); after != before {
			t.Fatalf("refused requests wrote %d ledger rows", after-before)
		}
		// Exactly the cap is fine.
		api.sign(alice, "video", "video/mp4", 1<<20)
	})

	t.Run("a PUT of more or fewer bytes than declared is refused", func(t *testing.T) {
		api.T = t
		s := api.sign(alice, "video", "video/mp4", len(mp4))
		for _, body := range [][]byte{append(append([]byte{}, mp4...), 0), mp4[:len(mp4)-1]} {
			if status, out := api.put(s, body); status != http.StatusForbidden || !strings.Contains(out, storage.CodeUploadSizeMismatch) {
				t.Fatalf("PUT of %d bytes (signed %d) = %d %s", len(body), len(mp4), status, out)
			}
		}
		if api.exists(s.StoragePath) {
			t.Fatal("a refused PUT stored the object")
		}
	})

	registerVideo := func(u *apitest.User, body map[string]any) *apitest.Response {
		return api.Do("POST", "/api/videos", body, u.Token)
	}
	field := func(r *apitest.Response, status int, name string) {
		t.Helper()
		var e struct {
			Code   string            `json:"code"`
			Errors map[string]string `json:"errors"`
		}
		r.Status(status).Decode(&e)
		if status == http.StatusBadRequest && e.Errors[name] == "" {
			t.Fatalf("400 %s does not name %s", r.Body, name)
		}
	}

	t.Run("paths of another user, unknown, registered twice, odd shapes", func(t *testing.T) {
		api.T = t
		path := api.upload(alice, "video", "video/mp4", mp4)
		videos := countOf(t, `SELECT count(*) FROM videos`)
		r404 := registerVideo(bob, map[string]any{"videoStoragePath": path}).Error(http.StatusNotFound, "not_found")
		unknown := fmt.Sprintf("videos/%d/%s.mp4", bob.ID, strings.Repeat("ab", 16))
		r404b := registerVideo(bob, map[string]any{"videoStoragePath": unknown}).Error(http.StatusNotFound, "not_found")
		if string(r404.Body) != string(r404b.Body) {
			t.Fatalf("another user's path and an unknown one answer differently: %s / %s", r404.Body, r404b.Body)
		}
		if countOf(t, `SELECT count(*) FROM videos`) != videos || !api.exists(path) ||
			countOf(t, `SELECT count(*) FROM uploads WHERE storage_path = ? AND registered_at IS NULL`, path) != 1 {
			t.Fatal("a refused registration changed something")
		}
		// Bob's avatar cannot take it either.
		api.Do("PUT", apitest.Path("/api/users/%d", bob.ID), map[string]any{"avatarStoragePath": path}, bob.Token).Status(http.StatusBadRequest)

		hex := strings.Repeat("cd", 16)
		mine := fmt.Sprintf("videos/%d/", alice.ID)
		for _, bad := range []string{"../" + path, "/" + path, mine + "../" + hex + ".mp4", mine + hex + ".mp4\x00",
			mine + hex + ".mp4?x=1", mine + "<script>.mp4", mine + hex + ".MP4", mine + hex + ".exe", " " + path,
			fmt.Sprintf("thumbnails/%d/%s.png", alice.ID, hex), hex + ".mp4", "", "videos/" + hex + ".mp4",
			strings.Replace(path, "/", "\\", -1), strings.Repeat("a", 5000)} {
			field(registerVideo(alice, map[string]any{"videoStoragePath": bad}), http.StatusBadRequest, "videoStoragePath")
		}
		field(registerVideo(alice, map[string]any{"videoStoragePath": path, "thumbnailStoragePath": "/etc/passwd"}),
			http.StatusBadRequest, "thumbnailStoragePath")
		field(registerVideo(alice, map[string]any{"videoStoragePath": path, "videoUrl": "https://example.com/a.mp4"}),
			http.StatusBadRequest, "videoStoragePath")
		api.Do("PUT", apitest.Path("/api/users/%d", alice.ID), map[string]any{"avatarStoragePath": "avatars/../x.png"}, alice.Token).
			Status(http.StatusBadRequest)

		registerVideo(alice, map[string]any{"videoStoragePath": path}).Status(http.StatusCreated)
		field(registerVideo(alice, map[string]any{"videoStoragePath": path}), http.StatusBadRequest, "videoStoragePath")
	})

	t.Run("bytes of the wrong kind are 415 and the object is deleted", func(t *testing.T) {
		api.T = t
		text := bytes.Repeat([]byte("not a video at all "), 50)
		path := api.upload(alice, "video", "video/mp4", text)
		registerVideo(alice, map[string]any{"videoStoragePath": path}).Error(http.StatusUnsupportedMediaType, "unsupported_media_type")
		if api.exists(path) {
			t.Fatal("the refused object is still stored")
		}
		// A JPEG declared as PNG: the bytes decide.
		avatar := api.upload(alice, "avatar", "image/png", smallJPEG(t))
		api.Do("PUT", apitest.Path("/api/users/%d", alice.ID), map[string]any{"avatarStoragePath": avatar}, alice.Token).
			Error(http.StatusUnsupportedMediaType, "unsupported_media_type")
		if api.exists(avatar) {
			t.Fatal("the refused avatar is still stored")
		}
		// The row stays (its URL could bring the object back) until the sweep; the path is dead.
		registerVideo(alice, map[string]any{"videoStoragePath": path}).Status(http.StatusBadRequest)
	})

	t.Run("an object never uploaded is 400", func(t *testing.T) {
		api.T = t
		s := api.sign(alice, "video", "video/mp4", len(mp4))
		field(registerVideo(alice, map[string]any{"videoStoragePath": s.StoragePath}), http.StatusBadRequest, "videoStoragePath")
		// Uploaded afterwards, it registers.
		if status, out := api.put(s, mp4); status != http.StatusOK {
			t.Fatalf("PUT = %d %s", status, out)
		}
		registerVideo(alice, map[string]any{"videoStoragePath": s.StoragePath}).Status(http.StatusCreated)
	})
}

func TestDirectRegistrationOfOnePathByTwentyRequestsWinsOnce(t *testing.T) {
	api := newDirectAPI(t)
	alice := api.NewUser("racer")
	path := api.upload(alice, "video", "video/mp4", smallMP4(1000))
	var wg sync.WaitGroup
	codes := make([]int, 20)
	for i := range codes {
		wg.Go(func() {
			codes[i] = api.Do("POST", "/api/videos", map[string]any{"videoStoragePath": path}, alice.Token).Code
		})
	}
	wg.Wait()
	created := 0
	for _, c := range codes {
		switch c {
		case http.StatusCreated:
			created++
		case http.StatusBadRequest:
		default:
			t.Fatalf("answers %v: want 201 or 400 only", codes)
		}
	}
	if created != 1 || countOf(t, `SELECT count(*) FROM videos WHERE video_storage_path = ?`, path) != 1 {
		t.Fatalf("%d registrations won (%v); want exactly one video", created, codes)
	}
}

// A failure after the object was written and checked (here the insert of the video fails)
// leaves no row and the upload unregistered, its object kept: the client may try again, and
// the sweep deletes it if it never does.
func TestDirectRegistrationFailingInTheTransactionLeavesTheUploadUnregistered(t *testing.T) {
	api := newDirectAPI(t)
	alice := api.NewUser("failing")
	path := api.upload(alice, "video", "video/mp4", smallMP4(1000))
	poison := apitest.Unique("boom")
	mustExec(t, `CREATE OR REPLACE FUNCTION test_refuse_video() RETURNS trigger AS $$
		BEGIN IF NEW.caption = '`+poison+`' THEN RAISE EXCEPTION 'injected failure'; END IF; RETURN NEW; END $$ LANGUAGE plpgsql`)
	mustExec(t, `CREATE TRIGGER test_refuse_video_`+poison+` BEFORE INSERT ON videos FOR EACH ROW EXECUTE FUNCTION test_refuse_video()`)
	t.Cleanup(func() { mustExec(t, `DROP TRIGGER test_refuse_video_`+poison+` ON videos`) })

	// Served past the contract check: the description lists no 500, the one status no client
	// can act on.
	req := httptest.NewRequest("POST", "/api/videos", strings.NewReader(`{"videoStoragePath":"`+path+`","caption":"`+poison+`"}`))
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Authorization", "Bearer "+alice.Token)
	w := httptest.NewRecorder()
	api.Router.ServeHTTP(w, req)
	if w.Code != http.StatusInternalServerError || !strings.Contains(w.Body.String(), `"code":"internal"`) {
		t.Fatalf("injected failure answered %d %s", w.Code, w.Body)
	}
	if countOf(t, `SELECT count(*) FROM videos WHERE video_storage_path = ?`, path) != 0 ||
		countOf(t, `SELECT count(*) FROM uploads WHERE storage_path = ? AND registered_at IS NULL`, path) != 1 || !api.exists(path) {
		t.Fatal("the failed registration left a row, or registered the path, or lost the object")
	}
	api.Do("POST", "/api/videos", map[string]any{"videoStoragePath": path, "caption": "again"}, alice.Token).Status(http.StatusCreated)
}

func mustExec(t *testing.T, q string, args ...any) {
	t.Helper()
	if err := db.Exec(q, args...).Error; err != nil {
		t.Fatal(err)
	}
}

func TestSweepDeletesOnlyOldUnregisteredUploadsAndRetriesFailedDeletes(t *testing.T) {
	api := newDirectAPI(t)
	alice := api.NewUser("sweep")
	png := smallPNG(t)
	old := []string{api.upload(alice, "avatar", "image/png", png), api.upload(alice, "thumbnail", "image/png", png)}
	young := api.upload(alice, "avatar", "image/png", png)
	registered := api.upload(alice, "video", "video/mp4", smallMP4(100))
	api.Do("POST", "/api/videos", map[string]any{"videoStoragePath": registered}, alice.Token).Status(http.StatusCreated)
	neverPut := api.sign(alice, "avatar", "image/png", 10).StoragePath
	mustExec(t, `UPDATE uploads SET created_at = created_at - interval '25 hours' WHERE storage_path IN ?`,
		append([]string{registered, neverPut}, old...))
	// A file whose delete failed earlier.
	orphan, err := api.Uploads.Save(context.Background(), bytes.NewReader(png), storage.AvatarsFolder, 1<<20)
	if err != nil {
		t.Fatal(err)
	}
	mustExec(t, `INSERT INTO storage_deletes (storage_path) VALUES (?)`, orphan.Name)

	files := routes.NewStoredFiles(api.Config, api.Uploads, store.New(db), nil)
	cutoff := time.Now().Add(-24 * time.Hour)
	var wg sync.WaitGroup
	results := make([]store.SweepResult, 2)
	retried := make([]store.SweepResult, 2)
	for i := range results {
		wg.Go(func() {
			var err error
			results[i], retried[i], err = files.Sweep(context.Background(), cutoff)
			if err != nil {
				t.Error(err)
			}
		})
	}
	wg.Wait()
	if n := results[0].Deleted + results[1].Deleted; n != len(old)+1 || results[0].Failed+results[1].Failed != 0 {
		t.Fatalf("two concurrent sweeps deleted %d uploads (%+v), want each of %d once", n, results, len(old)+1)
	}
	if n := retried[0].Deleted + retried[1].Deleted; n != 1 {
		t.Fatalf("retried deletes %+v, want the one once", retried)
	}
	for _, p := range old {
		if api.exists(p) || countOf(t, `SELECT count(*) FROM uploads WHERE storage_path = ?`, p) != 0 {
			t.Fatalf("%s outlived the sweep", p)
		}
	}
	if !api.exists(young) || !api.exists(registered) || api.exists(orphan.Name) ||
		countOf(t, `SELECT count(*) FROM uploads WHERE storage_path IN (?, ?)`, young, registered) != 2 ||
		countOf(t, `SELECT count(*) FROM storage_deletes WHERE storage_path = ?`, orphan.Name) != 0 {
		t.Fatal("the sweep took a young or registered upload, or kept the failed delete")
	}
}

func TestStorageDownIs503AndADeleteThatFailsIsLeftForTheSweep(t *testing.T) {
	b := testsvc.S3(t)
	proxy := testsvc.NewProxy(t, strings.TrimPrefix(b.Endpoint, "http://"))
	opts := b.Options()
	opts.Endpoint = "http://" + proxy.Addr
	st, err := storage.NewS3(context.Background(), opts)
	if err != nil {
		t.Fatal(err)
	}
	api := newDirectAPI(t, func(_ *config.Config, d *routes.Deps) { d.Store = st })
	alice := api.NewUser("down")
	mp4 := smallMP4(1000)

	path := api.upload(alice, "video", "video/mp4", mp4)
	var v videoJSON
	upload(api.API, alice.Token, formPart{field: "video", filename: "a.mp4", contentType: "video/mp4", data: mp4}).
		Status(http.StatusCreated).Decode(&v)
	videos := countOf(t, `SELECT count(*) FROM videos WHERE user_id = ?`, alice.ID)

	proxy.SetDown(true)
	upload(api.API, alice.Token, formPart{field: "video", filename: "b.mp4", contentType: "video/mp4", data: mp4}).
		Error(http.StatusServiceUnavailable, "unavailable")
	api.Do("POST", "/api/videos", map[string]any{"videoStoragePath": path}, alice.Token).Error(http.StatusServiceUnavailable, "unavailable")
	if countOf(t, `SELECT count(*) FROM videos WHERE user_id = ?`, alice.ID) != videos ||
		countOf(t, `SELECT count(*) FROM uploads WHERE storage_path = ? AND registered_at IS NULL`, path) != 1 {
		t.Fatal("a request failing on storage wrote rows")
	}
	// The row goes; its object's delete fails and is left for the sweep, never a 500.
	api.Do("DELETE", apitest.Path("/api/videos/%d", v.ID), nil, alice.Token).Status(http.StatusOK)
	name, _ := st.NameFromURL(v.VideoURL)
	if countOf(t, `SELECT count(*) FROM storage_deletes WHERE storage_path = ?`, name) != 1 {
		t.Fatal("the failed delete was not noted for the sweep")
	}

	proxy.SetDown(false)
	files := routes.NewStoredFiles(api.Config, st, store.New(db), nil)
	if _, retried, err := files.Sweep(context.Background(), time.Now().Add(-24*time.Hour)); err != nil || retried.Deleted < 1 {
		t.Fatalf("sweep after the store came back: %+v %v", retried, err)
	}
	if api.exists(name) || countOf(t, `SELECT count(*) FROM storage_deletes WHERE storage_path = ?`, name) != 0 {
		t.Fatal("the sweep did not finish the failed delete")
	}
	api.Do("POST", "/api/videos", map[string]any{"videoStoragePath": path}, alice.Token).Status(http.StatusCreated)
}
