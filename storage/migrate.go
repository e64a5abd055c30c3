package storage

import (
	"context"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"

	"github.com/minio/minio-go/v7"
)

// What `storage migrate` needs of the stores, beside the Store interface: reading a file of
// the local disk by name, and putting a file of known size into the bucket under a given key.

// OpenStored opens the file called name in the local store. A name Save would not give
// (a path, dot-dot, a hidden file) is fs.ErrNotExist: nothing outside the store is opened.
func (l *Local) OpenStored(name string) (*os.File, error) {
	if !validName.MatchString(name) {
		return nil, fmt.Errorf("%q is not the name of a stored file: %w", name, fs.ErrNotExist)
	}
	return os.Open(filepath.Join(l.Dir, name))
}

// ContentTypeOfName is the Content-Type a stored file is served with, from its name's
// extension ("" for a name Save would not give).
func ContentTypeOfName(name string) string {
	return contentTypeOfExt[filepath.Ext(name)]
}

// ObjectSize reports whether the bucket holds key, and its size.
func (s *S3) ObjectSize(ctx context.Context, key string) (size int64, found bool, err error) {
	err = retry(ctx, func() error {
		info, err := s.client.StatObject(ctx, s.bucket, key, minio.StatObjectOptions{})
		if resp := minio.ToErrorResponse(err); resp.Code == "NoSuchKey" || resp.Code == "NotFound" || resp.StatusCode == 404 {
			found = false
			return nil
		}
		if err != nil {
			return err
		}
		size, found = info.Size, true
		return nil
	})
	return size, found, err
}

// PutFile stores the size bytes of f under key, with contentType and the Cache-Control of
// every stored object (names are random and never reused). It retries what may pass,
// reading f again from its start; an object is written whole or not at all.
func (s *S3) PutFile(ctx context.Context, key string, f io.ReadSeeker, size int64, contentType string) error {
	if !validKey.MatchString(key) {
		return fmt.Errorf("storage: %q is not a key of this store", key)
	}
	opts := minio.PutObjectOptions{ContentType: contentType, CacheControl: immutable, PartSize: uint64(s.part)}
	return retry(ctx, func() error {
		if _, err := f.Seek(0, io.SeekStart); err != nil {
			return err
		}
		_, err := s.client.PutObject(ctx, s.bucket, key, io.LimitReader(f, size), size, opts)
		return err
	})
}
