package storage

import (
	"context"
	"time"

	"tiktok/config"
)

// New builds the store the settings choose: the local disk under UPLOAD_DIR (STORAGE=local)
// or the bucket of the S3_* settings (STORAGE=s3). A bucket is checked at once, so a wrong
// endpoint, key or bucket name stops the start with a message naming the setting; outside
// production a missing bucket is created, readable by anyone (see NewS3).
func New(ctx context.Context, c config.Config) (Store, error) {
	if c.Storage != config.StorageS3 {
		local, err := NewLocal(c.UploadDir)
		if err != nil {
			return nil, err
		}
		local.SigningKey = DirectUploadKey(c.JWTSecret)
		return local, nil
	}
	ctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	s3, err := NewS3(ctx, S3Options{
		Endpoint: c.S3Endpoint, Region: c.S3Region, Bucket: c.S3Bucket,
		AccessKey: c.S3AccessKey, SecretKey: c.S3SecretKey,
		PublicBaseURL: c.S3PublicBaseURL, PathStyle: c.S3PathStyle,
		CreateBucket: !c.Production(),
	})
	if err != nil {
		return nil, err
	}
	return s3, nil
}
