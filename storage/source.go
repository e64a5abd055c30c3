package storage

import (
	"context"
	"errors"
	"fmt"
	"path/filepath"
	"time"
)

// ErrNoSource is Source's answer for a store it cannot give ffmpeg a way into.
var ErrNoSource = errors.New("storage: this store cannot hand its files to ffmpeg")

// Source is where ffmpeg and ffprobe read the stored file called name: its path on the local
// disk, or a GET URL of the bucket signed for ttl. A probe through the signed URL reads only
// the bytes it needs (range requests), never a full download.
func Source(ctx context.Context, st Store, name string, ttl time.Duration) (string, error) {
	switch s := st.(type) {
	case *Local:
		if !validName.MatchString(name) {
			return "", fmt.Errorf("storage: %q is not a stored file's name", name)
		}
		return filepath.Join(s.Dir, filepath.FromSlash(name)), nil
	case *S3:
		if !validKey.MatchString(name) {
			return "", fmt.Errorf("storage: %q is not a stored object's key", name)
		}
		u, err := s.client.PresignedGetObject(ctx, s.bucket, name, ttl, nil)
		if err != nil {
			return "", err
		}
		return u.String(), nil
	}
	return "", ErrNoSource
}
