package storage_test

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/binary"
	"errors"
	"image"
	"image/color"
	"image/jpeg"
	"image/png"
	"io"
	"net/http"
	"net/http/httptest"
	"regexp"
	"runtime"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/minio/minio-go/v7"

	"tiktok/internal/testsvc"
	"tiktok/storage"
)

// The Store contract: every implementation passes the same table of tests. Local runs on a
// temporary folder; S3 on a fresh bucket of a real S3 server (testsvc: versitygw, or the
// server of TEST_S3_ENDPOINT), with the smallest part size S3 allows so that a few MiB
// exercise multipart uploads.

// testPart is the S3 store's part size in these tests.
const testPart = storage.MinPartSize

// backend is one Store under test, with the means to look at it from outside.
type backend struct {
	name string
	open func(t *testing.T) (storage.Store, inspector)
}

// inspector sees a store as its clients and its operator do.
type inspector interface {
	// fetch gets a stored file where clients get it (the local store's Handler, the bucket's
	// public URL), with an optional Range header.
	fetch(t *testing.T, obj storage.Object, rangeHeader string) (status int, body []byte, contentType string)
	// left lists everything the store holds: files (and temporary files), objects, and
	// unfinished multipart uploads.
	left(t *testing.T) []string
	// name is the pattern of the names Save gives in folder.
	name(folder storage.Folder) *regexp.Regexp
}

var backends = []backend{
	{"local", func(t *testing.T) (storage.Store, inspector) {
		dir := t.TempDir()
		st, err := storage.NewLocal(dir)
		if err != nil {
			t.Fatal(err)
		}
		st.SigningKey = storage.DirectUploadKey("contract-test-secret")
		return st, localInspector{st, dir, localServer(t, st)}
	}},
	{"s3", func(t *testing.T) (storage.Store, inspector) {
		b := testsvc.S3(t)
		opts := b.Options()
		opts.PartSize = testPart
		st, err := storage.NewS3(context.Background(), opts)
		if err != nil {
			t.Fatal(err)
		}
		return st, s3Inspector{b}
	}},
}

type localInspector struct {
	st     *storage.Local
	dir    string
	server string // where the local store's signed PUTs go, as the API's router sends them
}

func (l localInspector) fetch(t *testing.T, obj storage.Object, rangeHeader string) (int, []byte, string) {
	req := httptest.NewRequest(http.MethodGet, obj.URL, nil)
	if rangeHeader != "" {
		req.Header.Set("Range", rangeHeader)
	}
	w := httptest.NewRecorder()
	http.StripPrefix(storage.URLPrefix, l.st.Handler()).ServeHTTP(w, req)
	return w.Code, w.Body.Bytes(), w.Header().Get("Content-Type")
}

func (l localInspector) left(t *testing.T) []string { return filesUnder(t, l.dir) }

func (l localInspector) name(storage.Folder) *regexp.Regexp {
	return regexp.MustCompile(`^[0-9a-f]{32}\.[a-z0-9]+$`) // one flat folder
}

type s3Inspector struct{ b testsvc.S3Bucket }

func (s s3Inspector) fetch(t *testing.T, obj storage.Object, rangeHeader string) (int, []byte, string) {
	req, err := http.NewRequest(http.MethodGet, obj.URL, nil) // anonymous, as a browser asks
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
	body, err := io.ReadAll(res.Body)
	if err != nil {
		t.Fatal(err)
	}
	return res.StatusCode, body, res.Header.Get("Content-Type")
}

func (s s3Inspector) left(t *testing.T) []string {
	ctx := context.Background()
	var out []string
	for o := range s.b.Client.ListObjects(ctx, s.b.Bucket, minio.ListObjectsOptions{Recursive: true}) {
		if o.Err != nil {
			t.Fatal(o.Err)
		}
		out = append(out, o.Key)
	}
	for u := range s.b.Client.ListIncompleteUploads(ctx, s.b.Bucket, "", true) {
		if u.Err != nil {
			t.Fatal(u.Err)
		}
		out = append(out, "unfinished upload of "+u.Key)
	}
	sort.Strings(out)
	return out
}

func (s s3Inspector) name(folder storage.Folder) *regexp.Regexp {
	return regexp.MustCompile(`^` + string(folder) + `/[0-9a-f]{32}\.[a-z0-9]+$`)
}

// contractCase is one behaviour every store has.
type contractCase struct {
	name string
	run  func(t *testing.T, st storage.Store, in inspector)
}

func TestStoreContract(t *testing.T) {
	for _, b := range backends {
		t.Run(b.name, func(t *testing.T) {
			for _, c := range contract {
				t.Run(c.name, func(t *testing.T) {
					st, in := b.open(t)
					c.run(t, st, in)
				})
			}
		})
	}
}

var contract = []contractCase{
	{"real files of each type come back byte for byte with their type", func(t *testing.T, st storage.Store, in inspector) {
		for _, f := range []struct {
			folder      storage.Folder
			data        []byte
			contentType string
		}{
			{storage.AvatarsFolder, realPNG(t), "image/png"},
			{storage.ThumbnailsFolder, realJPEG(t), "image/jpeg"},
			{storage.VideosFolder, realMP4(1000), "video/mp4"},
			{storage.VideosFolder, webmBytes, "video/webm"},
			{storage.VideosFolder, movBytes, "video/quicktime"},
			{storage.AvatarsFolder, gifBytes, "image/gif"},
			{storage.ThumbnailsFolder, webpBytes, "image/webp"},
		} {
			obj := save(t, st, f.folder, f.data, 1<<20)
			if obj.ContentType != f.contentType || obj.Size != int64(len(f.data)) {
				t.Fatalf("%s: saved %+v", f.contentType, obj)
			}
			status, body, ct := in.fetch(t, obj, "")
			if status != http.StatusOK || !bytes.Equal(body, f.data) || ct != f.contentType {
				t.Fatalf("%s: GET %s = %d, %d bytes (%d sent), type %q", f.contentType, obj.URL, status, len(body), len(f.data), ct)
			}
		}
	}},
	{"a range request gets 206 and those bytes", func(t *testing.T, st storage.Store, in inspector) {
		data := realMP4(5000)
		obj := save(t, st, storage.VideosFolder, data, 1<<20)
		status, body, _ := in.fetch(t, obj, "bytes=0-3")
		if status != http.StatusPartialContent || !bytes.Equal(body, data[:4]) {
			t.Fatalf("bytes=0-3: %d %q", status, body)
		}
		status, body, _ = in.fetch(t, obj, "bytes=100-199")
		if status != http.StatusPartialContent || !bytes.Equal(body, data[100:200]) {
			t.Fatalf("bytes=100-199: %d, %d bytes", status, len(body))
		}
	}},
	{"a file of several parts comes back whole", func(t *testing.T, st storage.Store, in inspector) {
		size := int64(2*testPart + 12345)
		obj := save(t, st, storage.VideosFolder, nil, size, withReader(newVideoReader(size)))
		if obj.Size != size {
			t.Fatalf("size %d, want %d", obj.Size, size)
		}
		status, body, _ := in.fetch(t, obj, "")
		want := sha256.New()
		_, _ = io.Copy(want, newVideoReader(size))
		if got := sha256.Sum256(body); status != http.StatusOK || !bytes.Equal(got[:], want.Sum(nil)) {
			t.Fatalf("GET = %d, %d bytes, not the bytes saved", status, len(body))
		}
		if left := in.left(t); len(left) != 1 {
			t.Fatalf("the store holds %v, want the one file", left)
		}
	}},
	{"deleting removes the file; deleting it again or a name never given is no error", func(t *testing.T, st storage.Store, in inspector) {
		obj := save(t, st, storage.AvatarsFolder, realPNG(t), 1<<20)
		ctx := context.Background()
		if err := st.Delete(ctx, obj.Name); err != nil {
			t.Fatal(err)
		}
		if status, _, _ := in.fetch(t, obj, ""); status != http.StatusNotFound {
			t.Fatalf("GET after delete = %d", status)
		}
		for _, name := range []string{obj.Name, "avatars/0123456789abcdef0123456789abcdef.png",
			"0123456789abcdef0123456789abcdef.png", "../go.mod", "", "avatars/"} {
			if err := st.Delete(ctx, name); err != nil {
				t.Fatalf("Delete(%q) = %v", name, err)
			}
		}
		if left := in.left(t); len(left) != 0 {
			t.Fatalf("left behind: %v", left)
		}
	}},
	{"bytes of another kind than the folder's are refused before anything is stored", func(t *testing.T, st storage.Store, in inspector) {
		for _, f := range []struct {
			what   string
			folder storage.Folder
			data   []byte
		}{
			{"text named .png", storage.AvatarsFolder, []byte("just some text, whatever the file was called")},
			{"html", storage.ThumbnailsFolder, []byte("<html><script>alert(1)</script></html>")},
			{"svg", storage.AvatarsFolder, []byte("<svg xmlns='http://www.w3.org/2000/svg'/>")},
			{"a video as an avatar", storage.AvatarsFolder, realMP4(100)},
			{"an image as a video", storage.VideosFolder, realPNG(t)},
			{"plain matroska", storage.VideosFolder, []byte("\x1a\x45\xdf\xa3\x9f\x42\x86\x81\x01\x42\x82\x88matroska")},
		} {
			if _, err := st.Save(context.Background(), bytes.NewReader(f.data), f.folder, 1<<20); !errors.Is(err, storage.ErrUnsupported) {
				t.Fatalf("%s: err = %v, want ErrUnsupported", f.what, err)
			}
		}
		if _, err := st.Save(context.Background(), bytes.NewReader(realPNG(t)), storage.Folder("secrets"), 1<<20); err == nil {
			t.Fatal("an unknown folder was accepted")
		}
		if left := in.left(t); len(left) != 0 {
			t.Fatalf("left behind: %v", left)
		}
	}},
	{"exactly the cap is accepted, one byte over is too large and leaves nothing", func(t *testing.T, st storage.Store, in inspector) {
		// A cap within one part, and a cap over several parts (a multipart upload on S3).
		for _, limit := range []int64{1000, 2*testPart + 10} {
			if _, err := st.Save(context.Background(), newVideoReader(limit+1), storage.VideosFolder, limit); !errors.Is(err, storage.ErrTooLarge) {
				t.Fatalf("cap %d, one byte over: err = %v", limit, err)
			}
			if left := in.left(t); len(left) != 0 {
				t.Fatalf("cap %d, one byte over: left behind %v", limit, left)
			}
			if _, err := st.Save(context.Background(), newVideoReader(10*limit), storage.VideosFolder, limit); !errors.Is(err, storage.ErrTooLarge) {
				t.Fatalf("cap %d, ten times over: err = %v", limit, err)
			}
			obj := save(t, st, storage.VideosFolder, nil, limit, withReader(newVideoReader(limit)))
			if obj.Size != limit {
				t.Fatalf("cap %d: saved %d bytes", limit, obj.Size)
			}
			if left := in.left(t); len(left) != 1 {
				t.Fatalf("cap %d: the store holds %v, want the one file", limit, left)
			}
			if err := st.Delete(context.Background(), obj.Name); err != nil {
				t.Fatal(err)
			}
		}
	}},
	{"an empty file is refused as empty", func(t *testing.T, st storage.Store, in inspector) {
		if _, err := st.Save(context.Background(), strings.NewReader(""), storage.AvatarsFolder, 1<<20); !errors.Is(err, storage.ErrEmpty) {
			t.Fatalf("err = %v, want ErrEmpty", err)
		}
		if left := in.left(t); len(left) != 0 {
			t.Fatalf("left behind: %v", left)
		}
	}},
	{"a reader failing mid-stream leaves nothing", func(t *testing.T, st storage.Store, in inspector) {
		broken := errors.New("connection reset by the client")
		// Within the first part, and after two parts were sent.
		for _, after := range []int64{4096, 2*testPart + 100} {
			r := io.MultiReader(io.LimitReader(newVideoReader(after+1000), after), failingReader{broken})
			if _, err := st.Save(context.Background(), r, storage.VideosFolder, 1<<30); !errors.Is(err, broken) {
				t.Fatalf("failing after %d bytes: err = %v, want the reader's", after, err)
			}
			if left := in.left(t); len(left) != 0 {
				t.Fatalf("failing after %d bytes: left behind %v", after, left)
			}
		}
	}},
	{"a cancelled context leaves nothing", func(t *testing.T, st storage.Store, in inspector) {
		for _, after := range []int64{4096, 2*testPart + 100} {
			ctx, cancel := context.WithCancel(context.Background())
			r := &cancellingReader{r: newVideoReader(1 << 30), after: after, cancel: cancel}
			_, err := st.Save(ctx, r, storage.VideosFolder, 1<<30)
			cancel()
			if !errors.Is(err, context.Canceled) {
				t.Fatalf("cancelled after %d bytes: err = %v, want context.Canceled", after, err)
			}
			if left := in.left(t); len(left) != 0 {
				t.Fatalf("cancelled after %d bytes: left behind %v", after, left)
			}
		}
	}},
	{"NameFromURL takes back its own URLs and nothing else", func(t *testing.T, st storage.Store, in inspector) {
		obj := save(t, st, storage.ThumbnailsFolder, realJPEG(t), 1<<20)
		if name, ok := st.NameFromURL(obj.URL); !ok || name != obj.Name {
			t.Fatalf("NameFromURL(%q) = %q, %v; want %q", obj.URL, name, ok, obj.Name)
		}
		base := strings.TrimSuffix(obj.URL, obj.Name)
		hexName := obj.Name[strings.LastIndex(obj.Name, "/")+1:]
		for _, u := range []string{
			"", obj.Name, obj.URL + "?v=2", obj.URL + "#x", obj.URL + "/", obj.URL + ".png",
			strings.ToUpper(obj.URL), " " + obj.URL,
			base + "../" + obj.Name, base + "videos/../" + obj.Name, base + "./" + obj.Name,
			base + "secrets/" + hexName, base + hexName[:31] + ".jpg", base + "../../etc/passwd",
			"https://elsewhere.example.com/" + obj.Name, "https://elsewhere.example.com" + obj.URL,
			"//elsewhere.example.com/" + obj.Name,
			"/uploads/../go.mod", "/uploads/.upload-123", "/uploads/x.png",
		} {
			if name, ok := st.NameFromURL(u); ok {
				t.Errorf("NameFromURL(%q) = %q: taken for ours", u, name)
			}
		}
	}},
	{"files go under their folder with a random name", func(t *testing.T, st storage.Store, in inspector) {
		seen := map[string]bool{}
		for _, f := range []struct {
			folder storage.Folder
			data   []byte
		}{
			{storage.VideosFolder, realMP4(10)}, {storage.VideosFolder, realMP4(10)},
			{storage.ThumbnailsFolder, realJPEG(t)}, {storage.AvatarsFolder, realPNG(t)},
		} {
			obj := save(t, st, f.folder, f.data, 1<<20)
			if !in.name(f.folder).MatchString(obj.Name) || seen[obj.Name] {
				t.Fatalf("%s: name %q (seen before: %v)", f.folder, obj.Name, seen[obj.Name])
			}
			seen[obj.Name] = true
		}
		var names []string
		for n := range seen {
			names = append(names, n)
		}
		sort.Strings(names)
		if left := in.left(t); strings.Join(left, " ") != strings.Join(names, " ") {
			t.Fatalf("the store holds %v, want %v", left, names)
		}
	}},
	{"a 50 MB file streams through with bounded memory", func(t *testing.T, st storage.Store, in inspector) {
		const size = 50 << 20
		growth, alloc, obj := measure(t, func() storage.Object {
			return save(t, st, storage.VideosFolder, nil, size, withReader(newVideoReader(size)))
		})
		t.Logf("50 MB save: peak heap growth %.1f MiB, allocated %.1f MiB in all", float64(growth)/(1<<20), float64(alloc)/(1<<20))
		if obj.Size != size {
			t.Fatalf("saved %d bytes", obj.Size)
		}
		// The file is never held whole: the heap grows by about one part, whatever the size.
		if growth > 32<<20 || alloc > 40<<20 {
			t.Fatalf("saving 50 MB grew the heap by %d bytes and allocated %d: the file is buffered", growth, alloc)
		}
	}},
}

// measure runs save while it samples the heap, and returns the peak growth of the heap in use
// and the bytes allocated meanwhile.
func measure(t *testing.T, save func() storage.Object) (growth, alloc uint64, obj storage.Object) {
	runtime.GC()
	var before runtime.MemStats
	runtime.ReadMemStats(&before)
	var peak uint64
	done := make(chan struct{})
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		tick := time.NewTicker(5 * time.Millisecond)
		defer tick.Stop()
		for {
			var m runtime.MemStats
			runtime.ReadMemStats(&m)
			peak = max(peak, m.HeapInuse)
			select {
			case <-done:
				return
			case <-tick.C:
			}
		}
	}()
	obj = save()
	close(done)
	wg.Wait()
	var after runtime.MemStats
	runtime.ReadMemStats(&after)
	if peak > before.HeapInuse {
		growth = peak - before.HeapInuse
	}
	return growth, after.TotalAlloc - before.TotalAlloc, obj
}

type saveOption func(*io.Reader)

func withReader(r io.Reader) saveOption { return func(dst *io.Reader) { *dst = r } }

// save stores data (or the reader of an option) and fails the test on an error.
func save(t *testing.T, st storage.Store, folder storage.Folder, data []byte, limit int64, opts ...saveOption) storage.Object {
	t.Helper()
	var r io.Reader = bytes.NewReader(data)
	for _, o := range opts {
		o(&r)
	}
	obj, err := st.Save(context.Background(), r, folder, limit)
	if err != nil {
		t.Fatalf("Save to %s: %v", folder, err)
	}
	return obj
}

// newVideoReader makes size bytes of an MP4-looking file on the fly, without holding them.
func newVideoReader(size int64) io.Reader {
	head := realMP4(0)
	return io.LimitReader(io.MultiReader(bytes.NewReader(head), &patternReader{}), size)
}

// patternReader is an endless, cheap stream of bytes that are not all alike, the same
// whatever the sizes of the reads.
type patternReader struct{ off int }

func (r *patternReader) Read(p []byte) (int, error) {
	for i := range p {
		p[i] = byte(r.off*7 + r.off>>10)
		r.off++
	}
	return len(p), nil
}

type failingReader struct{ err error }

func (f failingReader) Read([]byte) (int, error) { return 0, f.err }

// cancellingReader cancels the save's context once after bytes went through, as a server
// does when its client goes away.
type cancellingReader struct {
	r      io.Reader
	after  int64
	read   int64
	cancel func()
}

func (c *cancellingReader) Read(p []byte) (int, error) {
	n, err := c.r.Read(p)
	c.read += int64(n)
	if c.read >= c.after {
		c.cancel()
	}
	return n, err
}

func realPNG(t *testing.T) []byte {
	var b bytes.Buffer
	if err := png.Encode(&b, testImage()); err != nil {
		t.Fatal(err)
	}
	return b.Bytes()
}

func realJPEG(t *testing.T) []byte {
	var b bytes.Buffer
	if err := jpeg.Encode(&b, testImage(), nil); err != nil {
		t.Fatal(err)
	}
	return b.Bytes()
}

func testImage() image.Image {
	img := image.NewRGBA(image.Rect(0, 0, 8, 8))
	img.Set(2, 3, color.RGBA{R: 200, G: 10, B: 10, A: 255})
	return img
}

// realMP4 is a minimal MP4 file: an ftyp box, a moov box with a movie header, and an mdat box
// of mediaBytes bytes.
func realMP4(mediaBytes int) []byte {
	box := func(kind string, payload []byte) []byte {
		out := make([]byte, 8, 8+len(payload))
		binary.BigEndian.PutUint32(out, uint32(8+len(payload)))
		copy(out[4:], kind)
		return append(out, payload...)
	}
	mvhd := make([]byte, 100)
	binary.BigEndian.PutUint32(mvhd[12:], 1000) // timescale
	binary.BigEndian.PutUint32(mvhd[16:], 1000) // duration: 1 s
	return bytes.Join([][]byte{
		box("ftyp", []byte("isom\x00\x00\x02\x00isomiso2mp41")),
		box("moov", box("mvhd", mvhd)),
		box("mdat", bytes.Repeat([]byte{0x42}, mediaBytes)),
	}, nil)
}
