package storage_test

import (
	"bytes"
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"os"
	"strings"
	"testing"

	"tiktok/storage"
)

var (
	pngBytes  = append([]byte("\x89PNG\r\n\x1a\n"), bytes.Repeat([]byte{1}, 100)...)
	jpegBytes = append([]byte{0xFF, 0xD8, 0xFF, 0xE0}, bytes.Repeat([]byte{2}, 100)...)
	mp4Bytes  = append([]byte("\x00\x00\x00\x18ftypisom"), bytes.Repeat([]byte{3}, 100)...)
	movBytes  = append([]byte("\x00\x00\x00\x14ftypqt  "), bytes.Repeat([]byte{3}, 100)...)
	webmBytes = append([]byte("\x1a\x45\xdf\xa3\x9f\x42\x86\x81\x01\x42\x82\x84webm"), bytes.Repeat([]byte{4}, 100)...)
	gifBytes  = append([]byte("GIF89a"), bytes.Repeat([]byte{5}, 100)...)
	webpBytes = append([]byte("RIFF\x00\x00\x00\x00WEBPVP8 "), bytes.Repeat([]byte{6}, 100)...)
)

func TestSniff(t *testing.T) {
	cases := []struct {
		name string
		data []byte
		want string
	}{
		{"png", pngBytes, "image/png"},
		{"jpeg", jpegBytes, "image/jpeg"},
		{"gif", gifBytes, "image/gif"},
		{"webp", webpBytes, "image/webp"},
		{"mp4", mp4Bytes, "video/mp4"},
		{"quicktime", movBytes, "video/quicktime"},
		{"webm", webmBytes, "video/webm"},
		{"html is refused", []byte("<html><script>alert(1)</script>"), ""},
		{"svg is refused", []byte("<svg xmlns='http://www.w3.org/2000/svg'/>"), ""},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			if got, _ := storage.Sniff(c.data); got != c.want {
				t.Fatalf("Sniff = %q, want %q", got, c.want)
			}
		})
	}
}

func files(t *testing.T, dir string) []string {
	t.Helper()
	es, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, e := range es {
		names = append(names, e.Name())
	}
	return names
}

func TestSaveRefusesAndLeavesNothingBehind(t *testing.T) {
	dir := t.TempDir()
	st, err := storage.NewLocal(dir)
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	if _, err := st.Save(ctx, bytes.NewReader(pngBytes), storage.AvatarsFolder, 50); !errors.Is(err, storage.ErrTooLarge) {
		t.Fatalf("too large: err = %v", err)
	}
	if _, err := st.Save(ctx, bytes.NewReader(mp4Bytes), storage.AvatarsFolder, 1<<20); !errors.Is(err, storage.ErrUnsupported) {
		t.Fatalf("video as image: err = %v", err)
	}
	if _, err := st.Save(ctx, strings.NewReader("hello"), storage.AvatarsFolder, 1<<20); !errors.Is(err, storage.ErrUnsupported) {
		t.Fatalf("text: err = %v", err)
	}
	if _, err := st.Save(ctx, strings.NewReader(""), storage.AvatarsFolder, 1<<20); !errors.Is(err, storage.ErrEmpty) {
		t.Fatalf("empty: err = %v", err)
	}
	if got := files(t, dir); len(got) != 0 {
		t.Fatalf("files left behind: %v", got)
	}
	obj, err := st.Save(ctx, bytes.NewReader(pngBytes), storage.ThumbnailsFolder, int64(len(pngBytes)))
	if err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(obj.URL, "/uploads/") || !strings.HasSuffix(obj.Name, ".png") || obj.Size != int64(len(pngBytes)) {
		t.Fatalf("obj = %+v", obj)
	}
	if name, ok := st.NameFromURL(obj.URL); !ok || name != obj.Name {
		t.Fatalf("NameFromURL(%q) = %q, %v", obj.URL, name, ok)
	}
	if _, ok := st.NameFromURL("https://example.com/a.png"); ok {
		t.Fatal("foreign URL taken for ours")
	}

	// Served with range support and the sniffed type.
	srv := http.StripPrefix(storage.URLPrefix, st.Handler())
	req := httptest.NewRequest(http.MethodGet, obj.URL, nil)
	req.Header.Set("Range", "bytes=0-7")
	w := httptest.NewRecorder()
	srv.ServeHTTP(w, req)
	if w.Code != http.StatusPartialContent || w.Body.String() != "\x89PNG\r\n\x1a\n" || w.Header().Get("Content-Type") != "image/png" {
		t.Fatalf("range GET: %d %q %q", w.Code, w.Body.String(), w.Header().Get("Content-Type"))
	}
	for _, bad := range []string{"/uploads/../etc/passwd", "/uploads/.upload-123", "/uploads/x.png"} {
		w := httptest.NewRecorder()
		srv.ServeHTTP(w, httptest.NewRequest(http.MethodGet, bad, nil))
		if w.Code != http.StatusNotFound {
			t.Fatalf("%s: %d", bad, w.Code)
		}
	}
	if err := st.Delete(ctx, obj.Name); err != nil {
		t.Fatal(err)
	}
	if got := files(t, dir); len(got) != 0 {
		t.Fatalf("files after delete: %v", got)
	}
}
