package storage

import (
	"context"
	"errors"
	"fmt"
	"io"
	"math"
	"net/http"
	"strconv"
	"time"

	"github.com/minio/minio-go/v7"
)

// The S3 store's direct uploads: a presigned PUT (signature V4 in the query) whose signed
// headers are Content-Type, Content-Length and If-None-Match: *. The bucket then refuses
// another type, another size, and any PUT to a key that already holds an object, so the URL
// is accepted once (S3 has honoured conditional writes since 2024; versitygw v1.8.0 does, as
// the contract suite checks). Signing is local arithmetic: it needs no request to the bucket.

// URL implements Store.
func (s *S3) URL(key string) string { return s.public + "/" + key }

// SignPut implements Store. The URL lives until expires, rounded up to the second (S3 takes
// 1 s to 7 days).
func (s *S3) SignPut(ctx context.Context, key, contentType string, size int64, expires time.Time) (SignedPut, error) {
	if !directKey.MatchString(key) || size <= 0 {
		return SignedPut{}, fmt.Errorf("storage: cannot sign a PUT of %d bytes to %q", size, key)
	}
	ttl := time.Until(expires)
	ttl = max(time.Second, time.Duration(math.Ceil(ttl.Seconds()))*time.Second)
	h := http.Header{}
	h.Set("Content-Type", contentType)
	h.Set("Content-Length", strconv.FormatInt(size, 10))
	h.Set("If-None-Match", "*")
	u, err := s.client.PresignHeader(ctx, http.MethodPut, s.bucket, key, ttl, nil, h)
	if err != nil {
		return SignedPut{}, unavailable(err)
	}
	// Content-Length is the client's own (browsers refuse to set it): the body's length.
	return SignedPut{URL: u.String(), Method: http.MethodPut,
		Headers:   map[string]string{"Content-Type": contentType, "If-None-Match": "*"},
		ExpiresAt: time.Now().Add(ttl).UTC().Truncate(time.Second)}, nil
}

// Stat implements Store.
func (s *S3) Stat(ctx context.Context, key string) (ObjectInfo, error) {
	if !validKey.MatchString(key) {
		return ObjectInfo{}, ErrNotFound
	}
	var info minio.ObjectInfo
	err := retry(ctx, func() (err error) {
		info, err = s.client.StatObject(ctx, s.bucket, key, minio.StatObjectOptions{})
		return err
	})
	if missing(err) {
		return ObjectInfo{}, ErrNotFound
	}
	if err != nil {
		return ObjectInfo{}, unavailable(err)
	}
	return ObjectInfo{Size: info.Size, ContentType: info.ContentType}, nil
}

// ReadHead implements Store with a ranged GET.
func (s *S3) ReadHead(ctx context.Context, key string, n int) ([]byte, error) {
	if !validKey.MatchString(key) {
		return nil, ErrNotFound
	}
	var head []byte
	err := retry(ctx, func() error {
		opts := minio.GetObjectOptions{}
		if err := opts.SetRange(0, int64(n)-1); err != nil {
			return err
		}
		obj, _, _, err := s.core.GetObject(ctx, s.bucket, key, opts)
		if err != nil {
			return err
		}
		defer obj.Close()
		head, err = io.ReadAll(io.LimitReader(obj, int64(n)))
		return err
	})
	if missing(err) {
		return nil, ErrNotFound
	}
	if minio.ToErrorResponse(err).Code == "InvalidRange" { // an empty object
		return nil, nil
	}
	if err != nil {
		return nil, unavailable(err)
	}
	return head, nil
}

// missing reports whether err says there is no such object.
func missing(err error) bool {
	if err == nil {
		return false
	}
	resp := minio.ToErrorResponse(err)
	return resp.Code == "NoSuchKey" || resp.Code == "NotFound" || resp.StatusCode == http.StatusNotFound
}

// unavailable marks a failure that may pass (the store unreachable, a 5xx) as ErrUnavailable.
func unavailable(err error) error {
	if err == nil || errors.Is(err, ErrUnavailable) || !transient(err) {
		return err
	}
	return fmt.Errorf("%w: %w", ErrUnavailable, err)
}
