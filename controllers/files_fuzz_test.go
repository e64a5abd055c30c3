package controllers

import (
	"bytes"
	"errors"
	"io"
	"log/slog"
	"mime/multipart"
	"net/http"
	"net/http/httptest"
	"os"
	"strings"
	"testing"
	"testing/iotest"

	"github.com/gin-gonic/gin"

	"tiktok/errs"
	"tiktok/middleware"
	"tiktok/storage"
)

// fuzzBoundary is the boundary of every fuzzed form: the fuzzer varies the body, not the
// header, so that its inputs reach the parts.
const fuzzBoundary = "fuzzboundary"

// fuzzForm builds a form body from text fields and files (field, file name, bytes).
func fuzzForm(texts [][2]string, files ...[3]string) []byte {
	var b bytes.Buffer
	w := multipart.NewWriter(&b)
	_ = w.SetBoundary(fuzzBoundary)
	for _, t := range texts {
		_ = w.WriteField(t[0], t[1])
	}
	for _, f := range files {
		fw, _ := w.CreateFormFile(f[0], f[1])
		_, _ = fw.Write([]byte(f[2]))
	}
	_ = w.Close()
	return b.Bytes()
}

// FuzzStoredFilesRead feeds any body, read in chunks of any size, to the multipart reader with
// a real store on disk. Invariants: it never panics; a failure is a client's error kind (400,
// 413 or 415), never internal, and leaves no file (not even a temporary one) behind; a
// success stores files within their caps, of the right kind, and its text fields pass the
// text rules.
func FuzzStoredFilesRead(f *testing.F) {
	png := "\x89PNG\r\n\x1a\n" + string(bytes.Repeat([]byte{7}, 100))
	mp4 := "\x00\x00\x00\x18ftypisom\x00\x00\x02\x00isomiso2" + string(bytes.Repeat([]byte{0x42}, 200))
	whole := fuzzForm([][2]string{{"caption", "one\ntwo"}, {"bio", "hi"}}, [3]string{"video", "a.mp4", mp4}, [3]string{"thumbnail", "t.png", png})
	for _, body := range [][]byte{
		whole,
		whole[:len(whole)-2], // cut inside the closing delimiter's dashes
		whole[:len(whole)-4-len(fuzzBoundary)],
		whole[:len(whole)/2],
		fuzzForm(nil),
		fuzzForm([][2]string{{"caption", "a\x00b"}, {"bio", "\xff"}}, [3]string{"video", "a.mp4", mp4}),
		fuzzForm([][2]string{{"caption", string(bytes.Repeat([]byte("x"), maxTextPart+1))}}),
		fuzzForm(nil, [3]string{"video", "a.mp4", "not a video"}),
		fuzzForm(nil, [3]string{"video", "a.mp4", mp4 + string(make([]byte, 2048))}),
		fuzzForm(nil, [3]string{"video", "a.mp4", mp4}, [3]string{"video", "b.mp4", mp4}),
		fuzzForm(nil, [3]string{"thumbnail", "t.png", ""}),
		[]byte("--" + fuzzBoundary + "\r\n"),
		[]byte("--" + fuzzBoundary + "--"),
		[]byte("garbage"),
		{},
	} {
		f.Add(body, uint8(0))
		f.Add(body, uint8(1))
		f.Add(body, uint8(7))
	}
	gin.SetMode(gin.TestMode)
	// One store for every input (a fresh directory each time would cost more than the input):
	// each input must leave it empty, which is the invariant anyway.
	dir := f.TempDir()
	local, err := storage.NewLocal(dir)
	if err != nil {
		f.Fatal(err)
	}
	f.Fuzz(func(t *testing.T, body []byte, chunk uint8) {
		files := &StoredFiles{Uploads: local, Log: slog.New(slog.DiscardHandler)}
		var caption, bio optionalText
		form := uploadForm{
			fileFields: map[string]fileField{
				"video":     {folder: storage.VideosFolder, limit: 1024},
				"thumbnail": {folder: storage.ThumbnailsFolder, limit: 512},
			},
			textFields: map[string]*optionalText{"caption": &caption, "bio": &bio},
		}
		w := httptest.NewRecorder()
		c, _ := gin.CreateTestContext(w)
		var rd io.Reader = bytes.NewReader(body)
		switch chunk % 3 {
		case 1:
			rd = iotest.OneByteReader(rd) // delimiters split across every read
		case 2:
			rd = iotest.HalfReader(rd)
		}
		c.Request = httptest.NewRequest("POST", "/", rd)
		c.Request.Header.Set("Content-Type", "multipart/form-data; boundary="+fuzzBoundary)
		c.Request.Body = http.MaxBytesReader(w, c.Request.Body, 4096)

		saved, err := files.read(c, form)
		left, _ := os.ReadDir(dir)
		if err != nil {
			var e *errs.Error
			if !errors.As(err, &e) || (e.Kind != errs.KindInvalid && e.Kind != errs.KindTooLarge && e.Kind != errs.KindUnsupportedMedia) {
				t.Fatalf("%q: not a client's error: %v", body, err)
			}
			if len(left) != 0 {
				t.Fatalf("%q: %v failed and left %d files", body, err, len(left))
			}
			return
		}
		if len(left) != len(saved) {
			t.Fatalf("%q: %d files stored, %d on disk", body, len(saved), len(left))
		}
		for field, obj := range saved {
			spec := form.fileFields[field]
			if obj.Size < 1 || obj.Size > spec.limit || (spec.folder == storage.VideosFolder) != strings.HasPrefix(obj.ContentType, "video/") {
				t.Fatalf("%q: %s stored as %+v", body, field, obj)
			}
		}
		for field, text := range map[string]optionalText{"caption": caption, "bio": bio} {
			if text.Set && text.Value != nil && middleware.TextProblem(field, *text.Value) != "" {
				t.Fatalf("%q: %s = %q passed", body, field, *text.Value)
			}
		}
		files.remove(c.Request.Context(), saved)
		if left, _ := os.ReadDir(dir); len(left) != 0 {
			t.Fatalf("%q: %d files left after remove", body, len(left))
		}
	})
}
