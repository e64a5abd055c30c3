// Package storage keeps uploaded files (avatars, videos, thumbnails) behind the Store
// interface: Local on the local disk, served by this server at /uploads/, or S3 in an
// S3-compatible bucket, served by the bucket or a CDN in front of it. New picks one from the
// STORAGE setting; the controllers never know which.
//
// A file's type is decided from its first bytes, never from its name or the client's
// Content-Type; files are streamed (never held whole in memory), get a random name, and a
// failed save leaves nothing behind.
package storage

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"time"
)

// Kind is the class of file a caller accepts.
type Kind int

// The kinds of upload.
const (
	Image Kind = iota // jpeg, png, webp, gif
	Video             // mp4, webm, quicktime
)

// Folder is what an upload is for: it decides the kind of file accepted and, in an object
// store, the folder of its key ("videos/3f9a....mp4"). The local store keeps one flat folder.
type Folder string

// The folders of uploads.
const (
	VideosFolder     Folder = "videos"     // a video's file
	ThumbnailsFolder Folder = "thumbnails" // a video's cover image
	AvatarsFolder    Folder = "avatars"    // a user's picture
)

// Kind is the kind of file the folder accepts; ok is false for a folder not listed above.
func (f Folder) Kind() (kind Kind, ok bool) {
	switch f {
	case VideosFolder:
		return Video, true
	case ThumbnailsFolder, AvatarsFolder:
		return Image, true
	}
	return 0, false
}

// Errors of Save; controllers map them to 413 and 415.
var (
	ErrTooLarge    = errors.New("file too large")
	ErrUnsupported = errors.New("file type not accepted")
	ErrEmpty       = errors.New("file is empty")
)

// Object is a stored file.
type Object struct {
	Name        string // the store's name of the file, e.g. "3f9a....jpg"
	URL         string // where clients fetch it, e.g. "/uploads/3f9a....jpg"
	ContentType string
	Size        int64
}

// Store saves, deletes and serves uploaded files.
type Store interface {
	// Save streams r into a new file of folder if its bytes are of the folder's kind and at
	// most maxBytes long.
	Save(ctx context.Context, r io.Reader, folder Folder, maxBytes int64) (Object, error)
	// Delete removes the file called name; a missing file is not an error.
	Delete(ctx context.Context, name string) error
	// NameFromURL returns the name of the file a URL of this store points to, and false for
	// any other URL (an avatar on another site, say).
	NameFromURL(url string) (string, bool)
	// Handler serves GET and HEAD of /<name>, with range requests so video seeks work.
	Handler() http.Handler

	// URL is where clients fetch the object called key.
	URL(key string) string
	// SignPut signs one PUT of an object of exactly size bytes of contentType at key (a key
	// of NewDirectKey), valid until expires; the store accepts that PUT once.
	SignPut(ctx context.Context, key, contentType string, size int64, expires time.Time) (SignedPut, error)
	// Stat tells the size and type of the object at key; ErrNotFound when there is none.
	Stat(ctx context.Context, key string) (ObjectInfo, error)
	// ReadHead returns the first n bytes of the object at key (fewer if it is shorter), for
	// Sniff; ErrNotFound when there is none.
	ReadHead(ctx context.Context, key string, n int) ([]byte, error)
}

// URLPrefix is where the local store's files are served.
const URLPrefix = "/uploads/"

// Local is a Store on the local disk under Dir. Files of Save lie flat in Dir; direct uploads
// in the subfolders of their keys (videos/12/<hex>.mp4), served at /uploads/<key> too.
type Local struct {
	Dir string
	// NotFound answers for a missing file (http.NotFound when nil); the API sets its JSON 404.
	NotFound http.Handler
	// SigningKey signs the URLs of direct uploads (SignPut) and checks them (ReceivePut);
	// DirectUploadKey derives it from JWT_SECRET, so instances sharing the secret accept
	// each other's URLs. Without it, SignPut fails.
	SigningKey []byte
	// Now is the clock of signed URLs (time.Now when nil); tests move it.
	Now func() time.Time
}

// NewLocal returns a Local store, creating dir if needed.
func NewLocal(dir string) (*Local, error) {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, fmt.Errorf("UPLOAD_DIR %s: %w", dir, err)
	}
	return &Local{Dir: dir}, nil
}

// validName matches the names Save gives (32 hex digits and a known extension) and the keys of
// direct uploads (folder/user id/32 hex digits and a known extension). Anything else (other
// paths, dot-dot, a leading slash, hidden and temporary files) is never opened or deleted.
var validName = regexp.MustCompile(`^(?:(?:videos|thumbnails|avatars)/[1-9][0-9]{0,9}/)?[0-9a-f]{32}\.(jpg|png|webp|gif|mp4|webm|mov)$`)

// Save implements Store. The folder only decides the kind: files are kept flat in Dir, so the
// URLs of rows written before folders existed keep working.
func (l *Local) Save(ctx context.Context, r io.Reader, folder Folder, maxBytes int64) (Object, error) {
	head, contentType, ext, err := readHead(r, folder)
	if err != nil {
		return Object{}, err
	}

	tmp, err := os.CreateTemp(l.Dir, ".upload-*")
	if err != nil {
		return Object{}, err
	}
	committed := false
	defer func() {
		if !committed {
			_ = tmp.Close()
			_ = os.Remove(tmp.Name())
		}
	}()
	// Copy one byte more than allowed, to tell "exactly the cap" from "over it".
	written, err := io.Copy(tmp, io.LimitReader(io.MultiReader(bytes.NewReader(head), ctxReader{ctx, r}), maxBytes+1))
	if err != nil {
		return Object{}, err
	}
	if written > maxBytes {
		return Object{}, ErrTooLarge
	}
	if err := tmp.Close(); err != nil {
		return Object{}, err
	}
	name := randomName() + "." + ext
	if err := os.Rename(tmp.Name(), filepath.Join(l.Dir, name)); err != nil {
		return Object{}, err
	}
	committed = true
	return Object{Name: name, URL: l.URL(name), ContentType: contentType, Size: written}, nil
}

// Delete implements Store.
func (l *Local) Delete(_ context.Context, name string) error {
	if !validName.MatchString(name) {
		return nil
	}
	if err := os.Remove(filepath.Join(l.Dir, name)); err != nil && !errors.Is(err, os.ErrNotExist) {
		return err
	}
	return nil
}

// NameFromURL implements Store.
func (l *Local) NameFromURL(url string) (string, bool) {
	name, ok := strings.CutPrefix(url, URLPrefix)
	if !ok || !validName.MatchString(name) {
		return "", false
	}
	return name, true
}

// Handler implements Store with http.ServeContent, which answers Range, If-Modified-Since and
// HEAD. Mount it with http.StripPrefix(URLPrefix, ...).
func (l *Local) Handler() http.Handler {
	notFound := l.NotFound
	if notFound == nil {
		notFound = http.NotFoundHandler()
	}
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		name := strings.TrimPrefix(r.URL.Path, "/")
		if !validName.MatchString(name) {
			notFound.ServeHTTP(w, r)
			return
		}
		f, err := os.Open(filepath.Join(l.Dir, name))
		if err != nil {
			notFound.ServeHTTP(w, r)
			return
		}
		defer f.Close()
		st, err := f.Stat()
		if err != nil || st.IsDir() {
			notFound.ServeHTTP(w, r)
			return
		}
		w.Header().Set("Content-Type", contentTypeOfExt[filepath.Ext(name)])
		w.Header().Set("X-Content-Type-Options", "nosniff")
		// Names are random and never reused, so a stored file never changes.
		w.Header().Set("Cache-Control", "public, max-age=31536000, immutable")
		http.ServeContent(w, r, name, st.ModTime(), f)
	})
}

var contentTypeOfExt = map[string]string{
	".jpg": "image/jpeg", ".png": "image/png", ".webp": "image/webp", ".gif": "image/gif",
	".mp4": "video/mp4", ".webm": "video/webm", ".mov": "video/quicktime",
}

// readHead reads the first bytes of an upload and sniffs them: nothing is stored before the
// type is known to fit the folder.
func readHead(r io.Reader, folder Folder) (head []byte, contentType, ext string, err error) {
	kind, ok := folder.Kind()
	if !ok {
		return nil, "", "", fmt.Errorf("storage: unknown folder %q", folder)
	}
	head = make([]byte, 512)
	n, err := io.ReadFull(r, head)
	if err != nil && !errors.Is(err, io.ErrUnexpectedEOF) && !errors.Is(err, io.EOF) {
		return nil, "", "", err
	}
	head = head[:n]
	if n == 0 {
		return nil, "", "", ErrEmpty
	}
	contentType, ext = Sniff(head)
	if ext == "" || kindOf(contentType) != kind {
		return nil, "", "", ErrUnsupported
	}
	return head, contentType, ext, nil
}

func kindOf(contentType string) Kind {
	if strings.HasPrefix(contentType, "video/") {
		return Video
	}
	return Image
}

// Sniff names the type of a file from its first bytes (512 are enough) and the extension it is
// stored under; both are empty for a type we do not accept.
func Sniff(head []byte) (contentType, ext string) {
	switch {
	case bytes.HasPrefix(head, []byte{0xFF, 0xD8, 0xFF}):
		return "image/jpeg", "jpg"
	case bytes.HasPrefix(head, []byte("\x89PNG\r\n\x1a\n")):
		return "image/png", "png"
	case bytes.HasPrefix(head, []byte("GIF87a")), bytes.HasPrefix(head, []byte("GIF89a")):
		return "image/gif", "gif"
	case len(head) >= 12 && string(head[0:4]) == "RIFF" && string(head[8:12]) == "WEBP":
		return "image/webp", "webp"
	case len(head) >= 12 && string(head[4:8]) == "ftyp":
		// ISO base media: the major brand tells QuickTime from MP4 and its cousins.
		if string(head[8:12]) == "qt  " {
			return "video/quicktime", "mov"
		}
		return "video/mp4", "mp4"
	case len(head) >= 8 && (string(head[4:8]) == "moov" || string(head[4:8]) == "mdat" ||
		string(head[4:8]) == "wide" || string(head[4:8]) == "free"):
		// Old QuickTime files start with an atom other than ftyp.
		return "video/quicktime", "mov"
	case bytes.HasPrefix(head, []byte{0x1A, 0x45, 0xDF, 0xA3}) && bytes.Contains(head, []byte("webm")):
		// EBML header with DocType "webm" (plain Matroska is not accepted).
		return "video/webm", "webm"
	}
	return "", ""
}

func randomName() string {
	b := make([]byte, 16)
	_, _ = rand.Read(b)
	return hex.EncodeToString(b)
}

// ctxReader stops a copy when the request is cancelled (the client went away).
type ctxReader struct {
	ctx context.Context
	r   io.Reader
}

func (c ctxReader) Read(p []byte) (int, error) {
	if err := c.ctx.Err(); err != nil {
		return 0, err
	}
	return c.r.Read(p)
}
