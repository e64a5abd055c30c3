package routes_test

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"mime/multipart"
	"net/http"
	"net/textproto"
	"sort"
	"strings"
	"testing"

	"github.com/minio/minio-go/v7"

	"tiktok/internal/contract"
	"tiktok/internal/testdb"
	"tiktok/internal/testsvc"
)

// With STORAGE=s3 the uploads of the API go to the bucket under their folders, their URLs are
// the bucket's public ones, the files of deleted rows leave the bucket, and /uploads/ has
// nothing to serve.
func TestUploadsGoToTheBucketWithStorageS3(t *testing.T) {
	b := testsvc.S3(t)
	r := contract.Wrap(t, newRouterWithEnv(t, b.Env()))
	id, token := registerAndLogin(t, r)
	mp4 := []byte("\x00\x00\x00\x18ftypisom\x00\x00\x02\x00isomiso2\x00\x00\x00\x10mdatTIKTOKGO")
	png := []byte("\x89PNG\r\n\x1a\n\x00\x00\x00\x0dIHDR\x00\x00\x00\x01\x00\x00\x00\x01\x08\x06\x00\x00\x00\x1f\x15\xc4\x89")

	w := do(r, "POST", "/api/videos", multipartBody(t, "caption=in the bucket", "video=clip.mp4", mp4, "thumbnail=cover.png", png),
		"Authorization", "Bearer "+token, "Content-Type", multipartType)
	var video struct {
		ID           int    `json:"id"`
		VideoURL     string `json:"videoUrl"`
		ThumbnailURL string `json:"thumbnailUrl"`
	}
	if w.Code != http.StatusCreated || json.Unmarshal(w.Body.Bytes(), &video) != nil {
		t.Fatalf("upload = %d %s", w.Code, w.Body)
	}
	if !strings.HasPrefix(video.VideoURL, b.PublicBaseURL+"/videos/") || !strings.HasPrefix(video.ThumbnailURL, b.PublicBaseURL+"/thumbnails/") {
		t.Fatalf("videoUrl %s, thumbnailUrl %s: want the bucket's public URLs under videos/ and thumbnails/", video.VideoURL, video.ThumbnailURL)
	}
	if got := fetch(t, video.VideoURL); !bytes.Equal(got, mp4) {
		t.Fatalf("GET %s = %q", video.VideoURL, got)
	}

	w = do(r, "PUT", fmt.Sprintf("/api/users/%d", id), multipartBody(t, "avatar=me.png", png),
		"Authorization", "Bearer "+token, "Content-Type", multipartType)
	var user struct {
		Avatar string `json:"avatar"`
	}
	if w.Code != http.StatusOK || json.Unmarshal(w.Body.Bytes(), &user) != nil || !strings.HasPrefix(user.Avatar, b.PublicBaseURL+"/avatars/") {
		t.Fatalf("avatar upload = %d %s", w.Code, w.Body)
	}
	key := func(u string) string { return strings.TrimPrefix(u, b.PublicBaseURL+"/") }
	if got, want := objects(t, b), []string{key(user.Avatar), key(video.ThumbnailURL), key(video.VideoURL)}; !equalSorted(got, want) {
		t.Fatalf("the bucket holds %v, want %v", got, want)
	}

	// This server serves no file: the bucket does.
	w = do(r, "GET", "/uploads/"+key(video.VideoURL)[len("videos/"):], nil)
	if e := decodeError(t, w); w.Code != http.StatusNotFound || e.Code != "not_found" {
		t.Fatalf("GET /uploads/<name> = %d %+v", w.Code, e)
	}

	// Deleting the video and replacing the avatar remove their objects.
	if w := do(r, "DELETE", fmt.Sprintf("/api/videos/%d", video.ID), nil, "Authorization", "Bearer "+token); w.Code != http.StatusOK {
		t.Fatalf("delete = %d %s", w.Code, w.Body)
	}
	w = do(r, "PUT", fmt.Sprintf("/api/users/%d", id), multipartBody(t, "avatar=again.png", png),
		"Authorization", "Bearer "+token, "Content-Type", multipartType)
	var again struct {
		Avatar string `json:"avatar"`
	}
	if w.Code != http.StatusOK || json.Unmarshal(w.Body.Bytes(), &again) != nil {
		t.Fatalf("second avatar = %d %s", w.Code, w.Body)
	}
	if got := objects(t, b); !equalSorted(got, []string{key(again.Avatar)}) {
		t.Fatalf("the bucket holds %v, want only the new avatar %s", got, key(again.Avatar))
	}

	// A refused upload leaves nothing in the bucket.
	w = do(r, "POST", "/api/videos", multipartBody(t, "video=fake.mp4", []byte("not a video at all")),
		"Authorization", "Bearer "+token, "Content-Type", multipartType)
	if w.Code != http.StatusUnsupportedMediaType {
		t.Fatalf("a text file as a video = %d %s", w.Code, w.Body)
	}
	if got := objects(t, b); len(got) != 1 {
		t.Fatalf("the bucket holds %v after a refused upload", got)
	}
}

const boundary = "storage-test-boundary"

var multipartType = "multipart/form-data; boundary=" + boundary

// multipartBody builds a form from "field=value" texts and "field=filename", data file pairs.
func multipartBody(t *testing.T, fields ...any) io.Reader {
	t.Helper()
	var body bytes.Buffer
	w := multipart.NewWriter(&body)
	if err := w.SetBoundary(boundary); err != nil {
		t.Fatal(err)
	}
	for i := 0; i < len(fields); i++ {
		name, value, _ := strings.Cut(fields[i].(string), "=")
		h := textproto.MIMEHeader{}
		if i+1 < len(fields) {
			if data, ok := fields[i+1].([]byte); ok {
				h.Set("Content-Disposition", fmt.Sprintf(`form-data; name=%q; filename=%q`, name, value))
				h.Set("Content-Type", "application/octet-stream")
				pw, _ := w.CreatePart(h)
				_, _ = pw.Write(data)
				i++
				continue
			}
		}
		h.Set("Content-Disposition", fmt.Sprintf(`form-data; name=%q`, name))
		pw, _ := w.CreatePart(h)
		_, _ = pw.Write([]byte(value))
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	return &body
}

// fetch gets a URL as a browser does, without credentials.
func fetch(t *testing.T, url string) []byte {
	t.Helper()
	res, err := http.Get(url)
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	body, err := io.ReadAll(res.Body)
	if err != nil || res.StatusCode != http.StatusOK {
		t.Fatalf("GET %s = %d, %v", url, res.StatusCode, err)
	}
	return body
}

func objects(t *testing.T, b testsvc.S3Bucket) []string {
	t.Helper()
	var keys []string
	for o := range b.Client.ListObjects(context.Background(), b.Bucket, minio.ListObjectsOptions{Recursive: true}) {
		if o.Err != nil {
			t.Fatal(o.Err)
		}
		keys = append(keys, o.Key)
	}
	return keys
}

func equalSorted(a, b []string) bool {
	a, b = append([]string(nil), a...), append([]string(nil), b...)
	sort.Strings(a)
	sort.Strings(b)
	return strings.Join(a, " ") == strings.Join(b, " ")
}

// A failure after the files were written to the bucket (here the video's row is refused by a
// trigger, as a constraint or a lost connection would refuse it) leaves no object and no row:
// the request removes what it stored.
func TestAFailureAfterTheObjectsWereWrittenLeavesNoObjectAndNoRow(t *testing.T) {
	b := testsvc.S3(t)
	r := newRouterWithEnv(t, b.Env())
	_, token := registerAndLogin(t, r)
	poison := "refused-" + randomToken(12)
	testdb.MustRun(t, db, `CREATE OR REPLACE FUNCTION test_refuse_caption() RETURNS trigger AS $$
		BEGIN IF NEW.caption LIKE 'refused-%' THEN RAISE EXCEPTION 'injected failure'; END IF; RETURN NEW; END $$ LANGUAGE plpgsql`)
	testdb.MustRun(t, db, `CREATE TRIGGER test_refuse_caption BEFORE INSERT ON videos FOR EACH ROW EXECUTE FUNCTION test_refuse_caption()`)
	t.Cleanup(func() { testdb.MustRun(t, db, `DROP TRIGGER test_refuse_caption ON videos`) })

	mp4 := []byte("\x00\x00\x00\x18ftypisom\x00\x00\x02\x00isomiso2\x00\x00\x00\x10mdatTIKTOKGO")
	png := []byte("\x89PNG\r\n\x1a\n\x00\x00\x00\x0dIHDR\x00\x00\x00\x01\x00\x00\x00\x01\x08\x06\x00\x00\x00\x1f\x15\xc4\x89")
	w := do(r, "POST", "/api/videos", multipartBody(t, "caption="+poison, "video=clip.mp4", mp4, "thumbnail=cover.png", png),
		"Authorization", "Bearer "+token, "Content-Type", multipartType)
	if w.Code != http.StatusInternalServerError {
		t.Fatalf("upload with its row refused = %d %s, want the injected failure's 500", w.Code, w.Body)
	}
	if got := objects(t, b); len(got) != 0 {
		t.Fatalf("the bucket holds %v after the failed request", got)
	}
	var rows int64
	testdb.MustScan(t, db, &rows, `SELECT count(*) FROM videos WHERE caption = ?`, poison)
	if rows != 0 {
		t.Fatalf("%d rows written by the failed request", rows)
	}
}
