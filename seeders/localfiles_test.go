package main

import (
	"bytes"
	"context"
	"errors"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/minio/minio-go/v7"

	"tiktok/config"
	"tiktok/internal/testsvc"
	"tiktok/storage"
	"tiktok/storage/tobucket"
	"tiktok/store"
)

// The sample data with -local-files is a database as a server on the local disk leaves it:
// `storage migrate` moves all of it into the bucket, and a second run does nothing.
func TestSampleWithLocalFilesMigratesToTheBucketOnce(t *testing.T) {
	h := newHarness(db, config.EnvDevelopment)
	h.env.uploadDir = filepath.Join(t.TempDir(), "uploads")
	h.mustRun(t, "-local-files")
	files, err := os.ReadDir(h.env.uploadDir)
	if err != nil {
		t.Fatal(err)
	}
	const media = sampleUsers + 2*sampleUsers*sampleVideosPerUser // avatars, videos, thumbnails
	if len(files) != media || !strings.Contains(h.stdout.String(), "Wrote 110 media files") {
		t.Fatalf("%d files in UPLOAD_DIR, want %d\n%s", len(files), media, h.stdout.String())
	}
	if n := count(t, db, `SELECT count(*) FROM users WHERE avatar LIKE '/uploads/%.png'`); n != sampleUsers {
		t.Fatalf("%d avatars are local files, want %d", n, sampleUsers)
	}
	if n := count(t, db, `SELECT count(*) FROM videos WHERE video_url LIKE '/uploads/%.mp4' AND thumbnail_url LIKE '/uploads/%.jpg'`); n != 50 {
		t.Fatalf("%d videos have local files, want 50", n)
	}
	// Every file is a type the server accepts, by its bytes.
	for _, f := range files {
		data, err := os.ReadFile(filepath.Join(h.env.uploadDir, f.Name()))
		if err != nil {
			t.Fatal(err)
		}
		if ct, ext := storage.Sniff(data); ext == "" || !strings.HasSuffix(f.Name(), "."+ext) || ct != storage.ContentTypeOfName(f.Name()) {
			t.Fatalf("%s sniffs as %q (%s)", f.Name(), ct, ext)
		}
	}

	b := testsvc.S3(t)
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	bucket, err := storage.NewS3(ctx, b.Options())
	if err != nil {
		t.Fatal(err)
	}
	local, err := storage.NewLocal(h.env.uploadDir)
	if err != nil {
		t.Fatal(err)
	}
	run := func() tobucket.Result {
		var out bytes.Buffer
		res, err := tobucket.Run(ctx, tobucket.Options{Store: store.New(db), Local: local, Bucket: bucket,
			PublicBaseURL: "http://localhost:8000", Out: &out})
		if err != nil {
			t.Fatalf("migrate: %v\n%s", err, out.String())
		}
		return res
	}
	if res := run(); res != (tobucket.Result{Rows: media, Copied: media, Rewritten: media}) {
		t.Fatalf("first run: %+v", res)
	}
	var keys int
	for o := range b.Client.ListObjects(ctx, b.Bucket, minio.ListObjectsOptions{Recursive: true}) {
		if o.Err != nil {
			t.Fatal(o.Err)
		}
		keys++
	}
	if keys != media {
		t.Fatalf("the bucket holds %d objects, want %d", keys, media)
	}
	if n := count(t, db, `SELECT count(*) FROM users WHERE avatar = ? || '/' || avatar_storage_path AND avatar_storage_path LIKE 'avatars/%'`, b.PublicBaseURL); n != sampleUsers {
		t.Fatalf("%d avatars point at the bucket with their path, want %d", n, sampleUsers)
	}
	if n := count(t, db, `SELECT count(*) FROM videos WHERE video_url = ? || '/' || video_storage_path AND video_storage_path LIKE 'videos/%'
		AND thumbnail_url = ? || '/' || thumbnail_storage_path AND thumbnail_storage_path LIKE 'thumbnails/%'`, b.PublicBaseURL, b.PublicBaseURL); n != 50 {
		t.Fatalf("%d videos point at the bucket with their paths, want 50", n)
	}
	// user1's avatar, fetched where its row now says, is the file's bytes.
	var avatar string
	if err := db.Raw(`SELECT avatar FROM users WHERE username = 'user1'`).Scan(&avatar).Error; err != nil {
		t.Fatal(err)
	}
	res, err := http.Get(avatar)
	if err != nil {
		t.Fatal(err)
	}
	got, _ := io.ReadAll(res.Body)
	res.Body.Close()
	want, err := os.ReadFile(filepath.Join(h.env.uploadDir, avatar[strings.LastIndex(avatar, "/")+1:]))
	if err != nil || res.StatusCode != 200 || !bytes.Equal(got, want) || res.Header.Get("Content-Type") != "image/png" {
		t.Fatalf("GET %s: %d %q, %d bytes; want the file's %d bytes", avatar, res.StatusCode, res.Header.Get("Content-Type"), len(got), len(want))
	}

	if res := run(); res != (tobucket.Result{}) {
		t.Fatalf("second run: %+v, want nothing done", res)
	}
}

// Without the flag the sample keeps the Prisma seed's URLs of other sites and writes no file.
func TestSampleWithoutLocalFilesWritesNoFile(t *testing.T) {
	h := newHarness(db, config.EnvDevelopment)
	h.env.uploadDir = filepath.Join(t.TempDir(), "uploads")
	h.mustRun(t)
	if _, err := os.Stat(h.env.uploadDir); !os.IsNotExist(err) {
		t.Fatalf("UPLOAD_DIR was made: %v", err)
	}
	if n := count(t, db, `SELECT count(*) FROM videos WHERE video_url LIKE 'https://example.com/videos/%'`); n != 50 {
		t.Fatalf("%d videos keep the sample's URLs", n)
	}
}

func TestLocalFilesIsForTheSampleOnly(t *testing.T) {
	var usage *usageError
	if _, err := parseFlags([]string{"-local-files", "-users", "10"}, io.Discard); !errors.As(err, &usage) || !strings.Contains(err.Error(), "-local-files") {
		t.Fatalf("-local-files with the scale mode: %v", err)
	}
}
