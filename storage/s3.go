package storage

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"math"
	"net"
	"net/http"
	"net/url"
	"regexp"
	"strings"
	"sync"
	"time"

	"github.com/minio/minio-go/v7"
	"github.com/minio/minio-go/v7/pkg/credentials"
)

// S3Options configure an S3 store.
type S3Options struct {
	// Endpoint is the URL of the S3 API, e.g. http://127.0.0.1:7070 or
	// https://s3.eu-west-1.amazonaws.com; its scheme says whether TLS is used.
	Endpoint  string
	Region    string // us-east-1 when empty
	Bucket    string
	AccessKey string
	SecretKey string
	// PublicBaseURL is where clients fetch objects: the bucket's own URL or a CDN's. An
	// object's URL is PublicBaseURL + "/" + its key.
	PublicBaseURL string
	// PathStyle addresses the bucket as Endpoint/Bucket (MinIO, versitygw, most self-hosted
	// servers) instead of Bucket.Endpoint (AWS's virtual-hosted style).
	PathStyle bool
	// CreateBucket creates a missing bucket at start with a policy that lets anyone read its
	// objects, so that PublicBaseURL works at once (development and tests). Without it a
	// missing bucket stops the start.
	CreateBucket bool
	// PartSize is the size of a multipart upload's parts, and so the memory one upload holds
	// whatever the file's size: DefaultPartSize when zero, at least MinPartSize.
	PartSize int
}

// Part sizes of multipart uploads. S3 refuses parts under 5 MiB (but the last).
const (
	MinPartSize     = 5 << 20
	DefaultPartSize = 8 << 20
)

// retryDelays are the waits before each new attempt of a request that failed in a way that
// may pass (a dropped connection, a 5xx, SlowDown): four attempts over about two seconds.
var retryDelays = []time.Duration{100 * time.Millisecond, 400 * time.Millisecond, 1600 * time.Millisecond}

// immutable is the Cache-Control of stored objects: names are random and never reused.
const immutable = "public, max-age=31536000, immutable"

// S3 is a Store in an S3-compatible bucket. Objects are keyed <folder>/<32 hex digits>.<ext>
// and served by the bucket (or a CDN) at PublicBaseURL, not by this server.
type S3 struct {
	client *minio.Client
	core   minio.Core
	bucket string
	public string
	part   int
	bufs   sync.Pool
	// NotFound answers every request to Handler (http.NotFound when nil); the API sets its
	// JSON 404.
	NotFound http.Handler
}

// validKey matches the keys Save gives and those of direct uploads (with the owner's id after
// the folder). Anything else is never deleted nor taken for ours.
var validKey = regexp.MustCompile(`^(videos|thumbnails|avatars)/(?:[1-9][0-9]{0,9}/)?[0-9a-f]{32}\.(jpg|png|webp|gif|mp4|webm|mov)$`)

// NewS3 connects to the bucket and checks that it is there (creating it if o.CreateBucket).
// Errors name the setting to fix.
func NewS3(ctx context.Context, o S3Options) (*S3, error) {
	endpoint, err := url.Parse(o.Endpoint)
	if err != nil || (endpoint.Scheme != "http" && endpoint.Scheme != "https") || endpoint.Host == "" {
		return nil, fmt.Errorf("S3_ENDPOINT=%q: must be an http(s) URL such as http://127.0.0.1:7070", o.Endpoint)
	}
	if o.Region == "" {
		o.Region = "us-east-1"
	}
	part := o.PartSize
	if part == 0 {
		part = DefaultPartSize
	}
	if part < MinPartSize {
		return nil, fmt.Errorf("storage: a part size of %d bytes is under S3's minimum of %d", part, MinPartSize)
	}
	lookup := minio.BucketLookupDNS
	if o.PathStyle {
		lookup = minio.BucketLookupPath
	}
	client, err := minio.New(endpoint.Host, &minio.Options{
		Creds:        credentials.NewStaticV4(o.AccessKey, o.SecretKey, ""),
		Secure:       endpoint.Scheme == "https",
		Region:       o.Region,
		BucketLookup: lookup,
		// One attempt per call: the store retries what may pass itself (retryDelays), so a
		// failure costs a known, short time.
		MaxRetries: 1,
	})
	if err != nil {
		return nil, fmt.Errorf("S3_ENDPOINT=%q: %w", o.Endpoint, err)
	}
	s := &S3{client: client, core: minio.Core{Client: client}, bucket: o.Bucket,
		public: strings.TrimRight(o.PublicBaseURL, "/"), part: part}
	s.bufs.New = func() any { b := make([]byte, part); return &b }
	if err := s.checkBucket(ctx, o.CreateBucket); err != nil {
		return nil, err
	}
	return s, nil
}

// checkBucket makes sure the bucket exists and the keys work.
func (s *S3) checkBucket(ctx context.Context, create bool) error {
	var exists bool
	err := retry(ctx, func() (err error) {
		exists, err = s.client.BucketExists(ctx, s.bucket)
		return err
	})
	if err != nil {
		return fmt.Errorf("cannot check the bucket S3_BUCKET=%s at S3_ENDPOINT=%s: %w%s", s.bucket, s.client.EndpointURL(), err, keyHint(err))
	}
	if exists {
		return nil
	}
	if !create {
		return fmt.Errorf("the bucket S3_BUCKET=%s does not exist at S3_ENDPOINT=%s: create it, readable at S3_PUBLIC_BASE_URL (outside production the server creates it)", s.bucket, s.client.EndpointURL())
	}
	if err := s.client.MakeBucket(ctx, s.bucket, minio.MakeBucketOptions{}); err != nil {
		if code := minio.ToErrorResponse(err).Code; code != "BucketAlreadyOwnedByYou" && code != "BucketAlreadyExists" {
			return fmt.Errorf("cannot create the bucket S3_BUCKET=%s: %w%s", s.bucket, err, keyHint(err))
		}
	}
	if err := s.client.SetBucketPolicy(ctx, s.bucket, PublicReadPolicy(s.bucket)); err != nil {
		return fmt.Errorf("cannot make the new bucket S3_BUCKET=%s readable by anyone: %w", s.bucket, err)
	}
	return nil
}

// PublicReadPolicy is the bucket policy that lets anyone (a browser, a CDN) read the bucket's
// objects, but not list them: names are random, so only the URLs the API hands out lead to
// a file.
func PublicReadPolicy(bucket string) string {
	return `{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Principal":"*",` +
		`"Action":["s3:GetObject"],"Resource":["arn:aws:s3:::` + bucket + `/*"]}]}`
}

func keyHint(err error) string {
	switch minio.ToErrorResponse(err).Code {
	case "AccessDenied", "InvalidAccessKeyId", "SignatureDoesNotMatch":
		return " (check S3_ACCESS_KEY and S3_SECRET_KEY)"
	}
	return ""
}

// Save implements Store. The file goes to the bucket as it arrives: a file that fits in one
// part is one PUT, a larger one a multipart upload of PartSize parts, so one upload holds one
// part in memory whatever the file's size and nothing touches the local disk. A file over
// maxBytes, a failed read or a cancelled ctx aborts the upload: no object is left.
func (s *S3) Save(ctx context.Context, r io.Reader, folder Folder, maxBytes int64) (Object, error) {
	obj, err := s.save(ctx, r, folder, maxBytes)
	return obj, unavailable(err)
}

func (s *S3) save(ctx context.Context, r io.Reader, folder Folder, maxBytes int64) (Object, error) {
	head, contentType, ext, err := readHead(r, folder)
	if err != nil {
		return Object{}, err
	}
	key := string(folder) + "/" + randomName() + "." + ext
	src := &capReader{r: io.MultiReader(bytes.NewReader(head), ctxReader{ctx, r}), max: maxBytes}
	pooled := s.bufs.Get().(*[]byte)
	defer s.bufs.Put(pooled)
	buf := *pooled
	// A file whose cap fits in one part is read whole (plus one byte, to see it is over).
	if maxBytes < math.MaxInt64 && maxBytes+1 < int64(len(buf)) {
		buf = buf[:maxBytes+1]
	}
	opts := minio.PutObjectOptions{ContentType: contentType, CacheControl: immutable}

	n, end, err := fill(src, buf)
	if err != nil {
		return Object{}, err
	}
	size := int64(n)
	if end {
		err = retry(ctx, func() error {
			_, err := s.core.PutObject(ctx, s.bucket, key, bytes.NewReader(buf[:n]), size, "", "", opts)
			return err
		})
		if err != nil {
			// The server may have stored it before the failure reached us.
			s.discard(ctx, key, "")
			return Object{}, err
		}
	} else if size, err = s.putMultipart(ctx, key, src, buf, n, opts); err != nil {
		return Object{}, err
	}
	return Object{Name: key, URL: s.URL(key), ContentType: contentType, Size: size}, nil
}

// putMultipart uploads buf[:n] and the rest of src, a part at a time through buf. On any
// failure it aborts the upload and removes the key.
func (s *S3) putMultipart(ctx context.Context, key string, src io.Reader, buf []byte, n int, opts minio.PutObjectOptions) (size int64, err error) {
	var uploadID string
	err = retry(ctx, func() (err error) {
		uploadID, err = s.core.NewMultipartUpload(ctx, s.bucket, key, opts)
		return err
	})
	if err != nil {
		return 0, err
	}
	defer func() {
		if err != nil {
			s.discard(ctx, key, uploadID)
		}
	}()
	var parts []minio.CompletePart
	end := false
	for number := 1; n > 0; number++ {
		var part minio.ObjectPart
		err = retry(ctx, func() (err error) {
			part, err = s.core.PutObjectPart(ctx, s.bucket, key, uploadID, number,
				bytes.NewReader(buf[:n]), int64(n), minio.PutObjectPartOptions{})
			return err
		})
		if err != nil {
			return 0, err
		}
		parts = append(parts, minio.CompletePart{PartNumber: number, ETag: part.ETag})
		size += int64(n)
		if end {
			break
		}
		if n, end, err = fill(src, buf); err != nil {
			return 0, err
		}
	}
	err = retry(ctx, func() error {
		_, err := s.core.CompleteMultipartUpload(ctx, s.bucket, key, uploadID, parts, opts)
		return err
	})
	return size, err
}

// discard cleans up after a failed save: it aborts the multipart upload, if any, and deletes
// the key, in case the server completed it before the failure reached us. It runs even when
// ctx was cancelled (that may be why the save failed).
func (s *S3) discard(ctx context.Context, key, uploadID string) {
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 30*time.Second)
	defer cancel()
	if uploadID != "" {
		_ = retry(ctx, func() error {
			err := s.core.AbortMultipartUpload(ctx, s.bucket, key, uploadID)
			if minio.ToErrorResponse(err).Code == "NoSuchUpload" {
				return nil
			}
			return err
		})
	}
	_ = s.Delete(ctx, key)
}

// Delete implements Store: a missing object is no error, and a failure that may pass is
// retried a few times with backoff before it is returned.
func (s *S3) Delete(ctx context.Context, name string) error {
	if !validKey.MatchString(name) {
		return nil
	}
	return unavailable(retry(ctx, func() error {
		err := s.client.RemoveObject(ctx, s.bucket, name, minio.RemoveObjectOptions{})
		if minio.ToErrorResponse(err).Code == "NoSuchKey" {
			return nil
		}
		return err
	}))
}

// NameFromURL implements Store: it takes exactly the URLs Save gives, PublicBaseURL + "/" + a
// key of ours, and nothing else (another host, a path with dots, a query, /uploads/...).
func (s *S3) NameFromURL(u string) (string, bool) {
	key, ok := strings.CutPrefix(u, s.public+"/")
	if !ok || !validKey.MatchString(key) {
		return "", false
	}
	return key, true
}

// Handler implements Store. The bucket (or a CDN) serves the files at PublicBaseURL, so this
// server has none to serve: every request to /uploads/ is a 404. Rows written while the files
// were on this server's disk keep URLs the bucket cannot answer; they need their files copied
// into the bucket and their URLs rewritten.
func (s *S3) Handler() http.Handler {
	if s.NotFound != nil {
		return s.NotFound
	}
	return http.NotFoundHandler()
}

// retry runs op until it succeeds, fails in a way that will not pass, or has failed
// len(retryDelays)+1 times.
func retry(ctx context.Context, op func() error) error {
	for attempt := 0; ; attempt++ {
		err := op()
		if err == nil || attempt == len(retryDelays) || !transient(err) {
			return err
		}
		t := time.NewTimer(retryDelays[attempt])
		select {
		case <-ctx.Done():
			t.Stop()
			return err
		case <-t.C:
		}
	}
}

// transient reports whether a failed request may succeed if sent again: a connection that
// could not be made or broke, a server error, throttling.
func transient(err error) bool {
	if errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded) {
		return false
	}
	if resp := minio.ToErrorResponse(err); resp.Code != "" || resp.StatusCode != 0 {
		switch resp.Code {
		case "SlowDown", "RequestTimeout", "InternalError", "ServiceUnavailable":
			return true
		}
		return resp.StatusCode >= 500 || resp.StatusCode == http.StatusTooManyRequests
	}
	var netErr net.Error
	return errors.As(err, &netErr) || errors.Is(err, io.ErrUnexpectedEOF) || errors.Is(err, io.EOF)
}

// fill reads src into buf until buf is full or src ends (end is then true).
func fill(src io.Reader, buf []byte) (n int, end bool, err error) {
	for n < len(buf) {
		m, err := src.Read(buf[n:])
		n += m
		if errors.Is(err, io.EOF) {
			return n, true, nil
		}
		if err != nil {
			return n, false, err
		}
	}
	return n, false, nil
}

// capReader fails with ErrTooLarge, for good, once more than max bytes have come through.
type capReader struct {
	r    io.Reader
	max  int64
	read int64
}

func (c *capReader) Read(p []byte) (int, error) {
	if c.read > c.max {
		return 0, ErrTooLarge
	}
	n, err := c.r.Read(p)
	c.read += int64(n)
	if c.read > c.max {
		return n, ErrTooLarge
	}
	return n, err
}
