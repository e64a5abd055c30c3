package storage_test

import (
	"bytes"
	"context"
	"errors"
	"io"
	"io/fs"
	"net/http"
	"net/http/httptest"
	"net/url"
	"path/filepath"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	"tiktok/errs"
	"tiktok/storage"
)

// The direct-upload half of the Store contract: a signed PUT is accepted once, with exactly the
// signed size and type, before it expires; the object is then seen by Stat, ReadHead and the
// clients' URL like any other.

// localServer serves the local store over HTTP as the API does: PUT /uploads/<key> takes a
// signed upload (errors as status + code), GET serves files.
func localServer(t *testing.T, st *storage.Local) string {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Method != http.MethodPut {
			http.StripPrefix(storage.URLPrefix, st.Handler()).ServeHTTP(w, r)
			return
		}
		key := strings.TrimPrefix(r.URL.Path, storage.URLPrefix)
		err := st.ReceivePut(r.Context(), key, r.URL.Query(), r.Header.Get("Content-Type"), r.ContentLength, r.Body)
		var kind *errs.Error
		switch {
		case err == nil:
			w.WriteHeader(http.StatusOK)
		case errors.As(err, &kind) && kind.Kind == errs.KindForbidden:
			w.Header().Set("X-Code", kind.Code)
			w.WriteHeader(http.StatusForbidden)
		default:
			w.WriteHeader(http.StatusInternalServerError)
		}
	}))
	t.Cleanup(srv.Close)
	return srv.URL
}

// filesUnder lists the files under dir (in its subfolders too), by their paths from dir.
func filesUnder(t *testing.T, dir string) []string {
	t.Helper()
	var out []string
	err := filepath.WalkDir(dir, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if !d.IsDir() {
			rel, _ := filepath.Rel(dir, path)
			out = append(out, filepath.ToSlash(rel))
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	sort.Strings(out)
	return out
}

// putSigned sends body to a signed URL with its headers, as a browser does (Content-Length is
// the body's); the URL of the local store is relative to the server of in.
func putSigned(t *testing.T, in inspector, signed storage.SignedPut, body []byte, header map[string]string) (int, string) {
	t.Helper()
	target := signed.URL
	if l, ok := in.(localInspector); ok {
		target = l.server + signed.URL
	}
	req, err := http.NewRequest(signed.Method, target, bytes.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	for k, v := range signed.Headers {
		req.Header.Set(k, v)
	}
	for k, v := range header {
		req.Header.Set(k, v)
	}
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	out, _ := io.ReadAll(res.Body)
	return res.StatusCode, res.Header.Get("X-Code") + string(out)
}

func sign(t *testing.T, st storage.Store, folder storage.Folder, contentType string, size int64, ttl time.Duration) (string, storage.SignedPut) {
	t.Helper()
	key, err := storage.NewDirectKey(folder, 7, contentType)
	if err != nil {
		t.Fatal(err)
	}
	signed, err := st.SignPut(context.Background(), key, contentType, size, time.Now().Add(ttl))
	if err != nil {
		t.Fatal(err)
	}
	if signed.Method != http.MethodPut || signed.Headers["Content-Type"] != contentType {
		t.Fatalf("signed %+v", signed)
	}
	return key, signed
}

func TestDirectUploadContract(t *testing.T) {
	for _, b := range backends {
		t.Run(b.name, func(t *testing.T) {
			for _, c := range directContract {
				t.Run(c.name, func(t *testing.T) {
					st, in := b.open(t)
					c.run(t, st, in)
				})
			}
		})
	}
}

var directContract = []contractCase{
	{"a signed PUT is accepted once; the object is seen by Stat, ReadHead and a range GET", func(t *testing.T, st storage.Store, in inspector) {
		data := realMP4(5000)
		key, signed := sign(t, st, storage.VideosFolder, "video/mp4", int64(len(data)), 15*time.Minute)
		if status, body := putSigned(t, in, signed, data, nil); status != http.StatusOK {
			t.Fatalf("PUT = %d %s", status, body)
		}
		other := realMP4(5000)
		other[len(other)-1] = 0x43
		if status, _ := putSigned(t, in, signed, other, nil); status < 400 {
			t.Fatalf("a second PUT of the same URL = %d, want a refusal", status)
		}
		info, err := st.Stat(context.Background(), key)
		if err != nil || info.Size != int64(len(data)) {
			t.Fatalf("Stat = %+v, %v", info, err)
		}
		head, err := st.ReadHead(context.Background(), key, storage.HeadBytes)
		if err != nil || !bytes.Equal(head, data[:storage.HeadBytes]) {
			t.Fatalf("ReadHead = %d bytes, %v", len(head), err)
		}
		if ct, _ := storage.Sniff(head); ct != "video/mp4" {
			t.Fatalf("sniffed %q", ct)
		}
		obj := storage.Object{Name: key, URL: st.URL(key)}
		if status, body, _ := in.fetch(t, obj, ""); status != http.StatusOK || !bytes.Equal(body, data) {
			t.Fatalf("GET %s = %d, %d bytes: not the first PUT's bytes", obj.URL, status, len(body))
		}
		if status, body, _ := in.fetch(t, obj, "bytes=100-199"); status != http.StatusPartialContent || !bytes.Equal(body, data[100:200]) {
			t.Fatalf("range GET = %d, %d bytes", status, len(body))
		}
		if name, ok := st.NameFromURL(obj.URL); !ok || name != key {
			t.Fatalf("NameFromURL(%s) = %q, %v", obj.URL, name, ok)
		}
		if err := st.Delete(context.Background(), key); err != nil {
			t.Fatal(err)
		}
		if _, err := st.Stat(context.Background(), key); !errors.Is(err, storage.ErrNotFound) {
			t.Fatalf("Stat after Delete = %v", err)
		}
	}},
	{"a PUT of another size or type is refused and stores nothing", func(t *testing.T, st storage.Store, in inspector) {
		data := realPNG(t)
		key, signed := sign(t, st, storage.AvatarsFolder, "image/png", int64(len(data)), 15*time.Minute)
		for _, c := range []struct {
			what   string
			body   []byte
			header map[string]string
		}{
			{"one byte more", append(append([]byte{}, data...), 0), nil},
			{"one byte less", data[:len(data)-1], nil},
			{"ten times as much", bytes.Repeat(data, 10), nil},
			{"another content type", data, map[string]string{"Content-Type": "image/jpeg"}},
		} {
			if status, _ := putSigned(t, in, signed, c.body, c.header); status < 400 {
				t.Fatalf("%s: PUT = %d, want a refusal", c.what, status)
			}
		}
		if _, err := st.Stat(context.Background(), key); !errors.Is(err, storage.ErrNotFound) {
			t.Fatalf("Stat = %v, want ErrNotFound", err)
		}
		if left := in.left(t); len(left) != 0 {
			t.Fatalf("left behind: %v", left)
		}
		// The right bytes still go through afterwards.
		if status, body := putSigned(t, in, signed, data, nil); status != http.StatusOK {
			t.Fatalf("PUT = %d %s", status, body)
		}
	}},
	{"a PUT after the URL expired is refused", func(t *testing.T, st storage.Store, in inspector) {
		data := realJPEG(t)
		key, signed := sign(t, st, storage.ThumbnailsFolder, "image/jpeg", int64(len(data)), time.Second)
		time.Sleep(2100 * time.Millisecond)
		if status, _ := putSigned(t, in, signed, data, nil); status < 400 {
			t.Fatalf("PUT after expiry = %d", status)
		}
		if _, err := st.Stat(context.Background(), key); !errors.Is(err, storage.ErrNotFound) {
			t.Fatalf("Stat = %v, want ErrNotFound", err)
		}
	}},
	{"ten PUTs racing on one URL: exactly one is accepted", func(t *testing.T, st storage.Store, in inspector) {
		const n = 10
		bodies := make([][]byte, n)
		for i := range bodies {
			bodies[i] = realMP4(2000)
			bodies[i][len(bodies[i])-1] = byte(i)
		}
		key, signed := sign(t, st, storage.VideosFolder, "video/mp4", int64(len(bodies[0])), 15*time.Minute)
		var wg sync.WaitGroup
		statuses := make([]int, n)
		for i := range n {
			wg.Go(func() { statuses[i], _ = putSigned(t, in, signed, bodies[i], nil) })
		}
		wg.Wait()
		winner := -1
		for i, s := range statuses {
			if s == http.StatusOK {
				if winner >= 0 {
					t.Fatalf("PUTs %d and %d were both accepted (%v)", winner, i, statuses)
				}
				winner = i
			}
		}
		if winner < 0 {
			t.Fatalf("no PUT was accepted: %v", statuses)
		}
		head, err := st.ReadHead(context.Background(), key, 1<<20)
		if err != nil || !bytes.Equal(head, bodies[winner]) {
			t.Fatalf("the object is not the accepted PUT's bytes (%v)", err)
		}
	}},
	{"Stat and ReadHead of a missing or foreign key say ErrNotFound", func(t *testing.T, st storage.Store, in inspector) {
		for _, key := range []string{"videos/7/0123456789abcdef0123456789abcdef.mp4", "../go.mod", "/etc/passwd",
			"videos/7/../../go.mod", "", "videos/", "secrets/7/0123456789abcdef0123456789abcdef.mp4"} {
			if _, err := st.Stat(context.Background(), key); !errors.Is(err, storage.ErrNotFound) {
				t.Errorf("Stat(%q) = %v", key, err)
			}
			if _, err := st.ReadHead(context.Background(), key, 16); !errors.Is(err, storage.ErrNotFound) {
				t.Errorf("ReadHead(%q) = %v", key, err)
			}
		}
	}},
}

func TestDirectKeys(t *testing.T) {
	key, err := storage.NewDirectKey(storage.AvatarsFolder, 42, "image/webp")
	if err != nil {
		t.Fatal(err)
	}
	folder, user, ct, ok := storage.ParseDirectKey(key)
	if !ok || folder != storage.AvatarsFolder || user != 42 || ct != "image/webp" || !strings.HasSuffix(key, ".webp") {
		t.Fatalf("ParseDirectKey(%q) = %q %d %q %v", key, folder, user, ct, ok)
	}
	for _, c := range []struct {
		folder storage.Folder
		ct     string
	}{{storage.AvatarsFolder, "video/mp4"}, {storage.VideosFolder, "image/png"}, {storage.VideosFolder, "text/html"},
		{storage.ThumbnailsFolder, "image/svg+xml"}, {"secrets", "image/png"}} {
		if _, err := storage.NewDirectKey(c.folder, 1, c.ct); !errors.Is(err, storage.ErrUnsupported) {
			t.Errorf("NewDirectKey(%s, %s) = %v", c.folder, c.ct, err)
		}
	}
	hex := strings.Repeat("ab", 16)
	for _, bad := range []string{"/videos/1/" + hex + ".mp4", "videos/1/../" + hex + ".mp4", "videos/01/" + hex + ".mp4",
		"videos/0/" + hex + ".mp4", "videos/1/" + hex + ".MP4", "videos/1/" + hex + ".mp4 ", "videos//" + hex + ".mp4",
		"videos/1/2/" + hex + ".mp4", "videos/" + hex + ".mp4", "videos/99999999999/" + hex + ".mp4",
		"videos/1/" + hex + ".mp4%00", "videos\\1\\" + hex + ".mp4", "videos/1/" + hex[:30] + ".mp4"} {
		if _, _, _, ok := storage.ParseDirectKey(bad); ok {
			t.Errorf("ParseDirectKey(%q) accepted", bad)
		}
	}
}

// The local store's refusals of a signed PUT each say why, in a code of their own.
func TestLocalSignedPutRefusalsNameTheirCause(t *testing.T) {
	dir := t.TempDir()
	st, err := storage.NewLocal(dir)
	if err != nil {
		t.Fatal(err)
	}
	st.SigningKey = storage.DirectUploadKey("secret-one")
	now := time.Now()
	st.Now = func() time.Time { return now }
	in := localInspector{st, dir, localServer(t, st)}
	data := realPNG(t)
	key, signed := sign(t, st, storage.AvatarsFolder, "image/png", int64(len(data)), 15*time.Minute)
	u, err := url.Parse(signed.URL)
	if err != nil {
		t.Fatal(err)
	}
	tamper := func(name, value string) storage.SignedPut {
		q := u.Query()
		q.Set(name, value)
		s := signed
		s.URL = u.Path + "?" + q.Encode()
		return s
	}
	otherKey, _ := storage.NewDirectKey(storage.AvatarsFolder, 8, "image/png")
	moved := signed
	moved.URL = strings.Replace(signed.URL, key, otherKey, 1)
	traversal := signed
	traversal.URL = strings.Replace(signed.URL, key, "avatars/7/../../x.png", 1)

	other, err := storage.NewLocal(dir)
	if err != nil {
		t.Fatal(err)
	}
	other.SigningKey = storage.DirectUploadKey("secret-two")
	_, foreign := sign(t, other, storage.AvatarsFolder, "image/png", int64(len(data)), 15*time.Minute)

	for _, c := range []struct {
		what   string
		signed storage.SignedPut
		body   []byte
		header map[string]string
		code   string
	}{
		{"a bigger size in the query", tamper("size", "999999"), data, nil, storage.CodeUploadSignatureInvalid},
		{"a later expiry in the query", tamper("expires", "99999999999"), data, nil, storage.CodeUploadSignatureInvalid},
		{"another type in the query", tamper("type", "image/jpeg"), data, map[string]string{"Content-Type": "image/jpeg"}, storage.CodeUploadSignatureInvalid},
		{"a forged signature", tamper("sig", strings.Repeat("00", 32)), data, nil, storage.CodeUploadSignatureInvalid},
		{"the signature of another key", moved, data, nil, storage.CodeUploadSignatureInvalid},
		{"a path with dot-dot", traversal, data, nil, ""},
		{"another server's secret", foreign, data, nil, storage.CodeUploadSignatureInvalid},
		{"another content type", signed, data, map[string]string{"Content-Type": "image/gif"}, storage.CodeUploadTypeMismatch},
		{"one byte more", signed, append(append([]byte{}, data...), 1), nil, storage.CodeUploadSizeMismatch},
	} {
		status, body := putSigned(t, in, c.signed, c.body, c.header)
		if status == http.StatusOK || (c.code != "" && !strings.HasPrefix(body, c.code)) {
			t.Errorf("%s: %d %q, want a 403 %s", c.what, status, body, c.code)
		}
	}
	if left := filesUnder(t, dir); len(left) != 0 {
		t.Fatalf("left behind: %v", left)
	}
	now = now.Add(16 * time.Minute)
	if status, body := putSigned(t, in, signed, data, nil); status != http.StatusForbidden || !strings.HasPrefix(body, storage.CodeUploadExpired) {
		t.Fatalf("after expiry: %d %q", status, body)
	}
	now = now.Add(-16 * time.Minute)
	if status, body := putSigned(t, in, signed, data, nil); status != http.StatusOK {
		t.Fatalf("PUT = %d %q", status, body)
	}
	if status, body := putSigned(t, in, signed, data, nil); status != http.StatusForbidden || !strings.HasPrefix(body, storage.CodeUploadAlreadyUsed) {
		t.Fatalf("second PUT: %d %q", status, body)
	}
	if left := filesUnder(t, dir); len(left) != 1 || left[0] != key {
		t.Fatalf("the store holds %v, want %s", left, key)
	}
}
