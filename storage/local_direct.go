package storage

import (
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"net/url"
	"os"
	"path/filepath"
	"strconv"
	"syscall"
	"time"

	"tiktok/errs"
)

// The local store's direct uploads: SignPut hands out a URL of this server,
// PUT /uploads/<key>?expires=&size=&type=&sig=, and ReceivePut takes that PUT once. The
// signature is an HMAC over the method, the key, the exact size, the content type and the
// expiry, so none of them can be changed; the file is created exclusively, so a second PUT of
// the key (a replay within the quarter hour) is refused rather than replacing what may be
// registered already.

// DirectUploadKey derives the key that signs direct-upload URLs from the JWT secret: a key of
// its own, so a signed URL never doubles as a token or the other way round.
func DirectUploadKey(jwtSecret string) []byte {
	m := hmac.New(sha256.New, []byte(jwtSecret))
	m.Write([]byte("direct-uploads"))
	return m.Sum(nil)
}

// Codes of ReceivePut's refusals (403), so a client can tell them apart.
const (
	CodeUploadSignatureInvalid = "upload_signature_invalid"
	CodeUploadExpired          = "upload_expired"
	CodeUploadSizeMismatch     = "upload_size_mismatch"
	CodeUploadTypeMismatch     = "upload_type_mismatch"
	CodeUploadAlreadyUsed      = "upload_already_used"
)

func refused(code, message string) *errs.Error {
	return &errs.Error{Kind: errs.KindForbidden, Code: code, Message: message}
}

func (l *Local) now() time.Time {
	if l.Now != nil {
		return l.Now()
	}
	return time.Now()
}

func (l *Local) signature(key, contentType string, size, expires int64) []byte {
	m := hmac.New(sha256.New, l.SigningKey)
	fmt.Fprintf(m, "PUT\n%s\n%d\n%s\n%d", key, size, contentType, expires)
	return m.Sum(nil)
}

// URL implements Store.
func (l *Local) URL(key string) string { return URLPrefix + key }

// SignPut implements Store: the URL is this server's /uploads/<key> (relative: the API makes
// it absolute for its client), valid until expires (to the second).
func (l *Local) SignPut(_ context.Context, key, contentType string, size int64, expires time.Time) (SignedPut, error) {
	if len(l.SigningKey) == 0 {
		return SignedPut{}, errors.New("storage: the local store has no SigningKey for direct uploads")
	}
	if !directKey.MatchString(key) || size <= 0 {
		return SignedPut{}, fmt.Errorf("storage: cannot sign a PUT of %d bytes to %q", size, key)
	}
	exp := expires.Unix()
	q := url.Values{}
	q.Set("expires", strconv.FormatInt(exp, 10))
	q.Set("size", strconv.FormatInt(size, 10))
	q.Set("type", contentType)
	q.Set("sig", hex.EncodeToString(l.signature(key, contentType, size, exp)))
	return SignedPut{URL: l.URL(key) + "?" + q.Encode(), Method: "PUT",
		Headers: map[string]string{"Content-Type": contentType}, ExpiresAt: time.Unix(exp, 0).UTC()}, nil
}

// ReceivePut takes the PUT of a URL SignPut gave: the signature must hold for key and the
// query, the URL must not have expired, the request's Content-Type and Content-Length must be
// the signed ones and the body exactly that long, and no file may be at key yet. Refusals are
// 403s with a code of their own; a body over the route's cap or too slow keeps the body's
// error (413, 408). Nothing is left behind by a refused or failed PUT.
func (l *Local) ReceivePut(ctx context.Context, key string, query url.Values, contentType string, contentLength int64, body io.Reader) error {
	size, sizeErr := strconv.ParseInt(query.Get("size"), 10, 64)
	exp, expErr := strconv.ParseInt(query.Get("expires"), 10, 64)
	sig, sigErr := hex.DecodeString(query.Get("sig"))
	signed := query.Get("type")
	if len(l.SigningKey) == 0 || !directKey.MatchString(key) || sizeErr != nil || expErr != nil || sigErr != nil ||
		!hmac.Equal(sig, l.signature(key, signed, size, exp)) {
		return refused(CodeUploadSignatureInvalid, "The upload URL is not valid")
	}
	if l.now().Unix() > exp {
		return refused(CodeUploadExpired, "The upload URL has expired; ask for a new one")
	}
	if contentType != signed {
		return refused(CodeUploadTypeMismatch, "The Content-Type must be "+signed+", as signed")
	}
	if contentLength != size {
		return refused(CodeUploadSizeMismatch, fmt.Sprintf("The body must be exactly %d bytes, as signed", size))
	}
	final := filepath.Join(l.Dir, key)
	if _, err := os.Lstat(final); err == nil {
		return refused(CodeUploadAlreadyUsed, "This upload URL has been used already")
	}

	tmp, err := os.CreateTemp(l.Dir, ".put-*")
	if err != nil {
		return err
	}
	defer func() {
		_ = tmp.Close()
		_ = os.Remove(tmp.Name()) // the link below, if made, keeps the file
	}()
	// One byte more than signed tells "exactly" from "more".
	written, err := io.Copy(tmp, io.LimitReader(ctxReader{ctx, body}, size+1))
	if err != nil {
		return err
	}
	if written != size {
		return refused(CodeUploadSizeMismatch, fmt.Sprintf("The body must be exactly %d bytes, as signed", size))
	}
	if err := tmp.Sync(); err != nil {
		return err
	}
	if err := tmp.Close(); err != nil {
		return err
	}
	if err := os.MkdirAll(filepath.Dir(final), 0o755); err != nil {
		return err
	}
	// A hard link never replaces an existing file: of two PUTs racing for the key, one wins.
	if err := os.Link(tmp.Name(), final); err != nil {
		if errors.Is(err, os.ErrExist) || errors.Is(err, syscall.EEXIST) {
			return refused(CodeUploadAlreadyUsed, "This upload URL has been used already")
		}
		return err
	}
	return nil
}

// Stat implements Store.
func (l *Local) Stat(_ context.Context, key string) (ObjectInfo, error) {
	if !validName.MatchString(key) {
		return ObjectInfo{}, ErrNotFound
	}
	st, err := os.Stat(filepath.Join(l.Dir, key))
	if errors.Is(err, os.ErrNotExist) || (err == nil && !st.Mode().IsRegular()) {
		return ObjectInfo{}, ErrNotFound
	}
	if err != nil {
		return ObjectInfo{}, err
	}
	return ObjectInfo{Size: st.Size(), ContentType: contentTypeOfExt[filepath.Ext(key)]}, nil
}

// ReadHead implements Store.
func (l *Local) ReadHead(_ context.Context, key string, n int) ([]byte, error) {
	if !validName.MatchString(key) {
		return nil, ErrNotFound
	}
	f, err := os.Open(filepath.Join(l.Dir, key))
	if errors.Is(err, os.ErrNotExist) {
		return nil, ErrNotFound
	}
	if err != nil {
		return nil, err
	}
	defer f.Close()
	head := make([]byte, n)
	m, err := io.ReadFull(f, head)
	if err != nil && !errors.Is(err, io.ErrUnexpectedEOF) && !errors.Is(err, io.EOF) {
		return nil, err
	}
	return head[:m], nil
}
