package storage_test

import (
	"bytes"
	"context"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/minio/minio-go/v7"

	"tiktok/internal/testsvc"
	"tiktok/storage"
)

// What only the S3 store does: its start-up checks, its retries, and its answer to /uploads/.

func newS3(t *testing.T, opts storage.S3Options) *storage.S3 {
	t.Helper()
	st, err := storage.NewS3(context.Background(), opts)
	if err != nil {
		t.Fatal(err)
	}
	return st
}

func TestS3SaveHoldsOnePartInMemoryWhateverTheSize(t *testing.T) {
	st := newS3(t, testsvc.S3(t).Options()) // the default part size, as the server runs
	const size = 50 << 20
	growth, alloc, obj := measure(t, func() storage.Object {
		return save(t, st, storage.VideosFolder, nil, size, withReader(newVideoReader(size)))
	})
	t.Logf("50 MB in %d MiB parts: peak heap growth %.1f MiB, allocated %.1f MiB in all",
		storage.DefaultPartSize>>20, float64(growth)/(1<<20), float64(alloc)/(1<<20))
	if obj.Size != size || growth > 32<<20 || alloc > 48<<20 {
		t.Fatalf("saved %d bytes; heap grew by %d, %d allocated: the file is buffered", obj.Size, growth, alloc)
	}
}

func TestS3StartChecksTheBucketAndNamesTheSettingToFix(t *testing.T) {
	b := testsvc.S3(t)
	ctx := context.Background()

	wrongKey := b.Options()
	wrongKey.SecretKey = "not-the-secret"
	if _, err := storage.NewS3(ctx, wrongKey); err == nil || !strings.Contains(err.Error(), "S3_SECRET_KEY") {
		t.Errorf("a wrong secret key: err = %v, want one naming S3_SECRET_KEY", err)
	}

	missing := b.Options()
	missing.Bucket = b.Bucket + "-missing"
	if _, err := storage.NewS3(ctx, missing); err == nil || !strings.Contains(err.Error(), "S3_BUCKET="+missing.Bucket) {
		t.Errorf("a missing bucket: err = %v, want one naming S3_BUCKET", err)
	}

	// Outside production the server creates its bucket, readable by anyone at the public URL.
	created := missing
	created.CreateBucket = true
	created.PublicBaseURL = b.Endpoint + "/" + created.Bucket
	st := newS3(t, created)
	t.Cleanup(func() {
		for o := range b.Client.ListObjects(ctx, created.Bucket, minio.ListObjectsOptions{Recursive: true}) {
			_ = b.Client.RemoveObject(ctx, created.Bucket, o.Key, minio.RemoveObjectOptions{})
		}
		_ = b.Client.RemoveBucket(ctx, created.Bucket)
	})
	obj := save(t, st, storage.AvatarsFolder, realPNG(t), 1<<20)
	res, err := http.Get(obj.URL)
	if err != nil {
		t.Fatal(err)
	}
	res.Body.Close()
	if res.StatusCode != http.StatusOK || res.Header.Get("Cache-Control") != "public, max-age=31536000, immutable" {
		t.Fatalf("GET %s = %d, Cache-Control %q", obj.URL, res.StatusCode, res.Header.Get("Cache-Control"))
	}
	// A second start finds the bucket and leaves it as it is.
	newS3(t, created)

	down := b.Options()
	down.Endpoint = "http://" + closedPort(t)
	start := time.Now()
	if _, err := storage.NewS3(ctx, down); err == nil || !strings.Contains(err.Error(), "S3_ENDPOINT") {
		t.Errorf("nothing listening: err = %v, want one naming S3_ENDPOINT", err)
	}
	if d := time.Since(start); d > 10*time.Second {
		t.Errorf("giving up on an endpoint where nothing listens took %v", d)
	}
}

func TestS3DeleteRetriesThroughDroppedConnections(t *testing.T) {
	b := testsvc.S3(t)
	proxy := testsvc.NewProxy(t, strings.TrimPrefix(b.Endpoint, "http://"))
	opts := b.Options()
	opts.Endpoint = "http://" + proxy.Addr
	st := newS3(t, opts)
	ctx := context.Background()

	obj := save(t, st, storage.VideosFolder, realMP4(100), 1<<20)
	proxy.Drop(2)
	if err := st.Delete(ctx, obj.Name); err != nil {
		t.Fatalf("Delete through two dropped connections: %v", err)
	}
	if n := proxy.Dropped(); n != 2 {
		t.Fatalf("%d connections dropped, want 2", n)
	}
	if _, err := b.Client.StatObject(ctx, b.Bucket, obj.Name, minio.StatObjectOptions{}); minio.ToErrorResponse(err).Code != "NoSuchKey" {
		t.Fatalf("the object is still there after Delete: %v", err)
	}

	// A store that stays unreachable: Delete gives up after a few attempts, with the error.
	obj = save(t, st, storage.VideosFolder, realMP4(100), 1<<20)
	proxy.Drop(1000)
	start := time.Now()
	err := st.Delete(ctx, obj.Name)
	if err == nil {
		t.Fatal("Delete through a store that drops every connection succeeded")
	}
	// Four attempts: three waits of 0.1, 0.4 and 1.6 s between them.
	if n, d := proxy.Dropped(), time.Since(start); n < 2 || d < 2*time.Second || d > 10*time.Second {
		t.Fatalf("Delete gave up after %d dropped connections and %v: want a few attempts with backoff, within seconds", n, d)
	}
}

func TestS3LeavesServingToTheBucket(t *testing.T) {
	st := newS3(t, testsvc.S3(t).Options())
	obj := save(t, st, storage.VideosFolder, realMP4(100), 1<<20)
	srv := http.StripPrefix(storage.URLPrefix, st.Handler())
	for _, path := range []string{"/uploads/" + obj.Name, "/uploads/0123456789abcdef0123456789abcdef.mp4", "/uploads/"} {
		w := httptest.NewRecorder()
		srv.ServeHTTP(w, httptest.NewRequest(http.MethodGet, path, nil))
		if w.Code != http.StatusNotFound {
			t.Fatalf("GET %s = %d, want 404: the bucket serves the files", path, w.Code)
		}
	}
	// Each store takes back only its own URLs.
	local, err := storage.NewLocal(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	localObj, err := local.Save(context.Background(), bytes.NewReader(realMP4(100)), storage.VideosFolder, 1<<20)
	if err != nil {
		t.Fatal(err)
	}
	if _, ok := st.NameFromURL(localObj.URL); ok {
		t.Errorf("the S3 store takes the local URL %s", localObj.URL)
	}
	if _, ok := local.NameFromURL(obj.URL); ok {
		t.Errorf("the local store takes the bucket URL %s", obj.URL)
	}
}

// closedPort is an address where nothing listens.
func closedPort(t *testing.T) string {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close()
	return addr
}
