package store

import (
	"context"
	"database/sql"
	"slices"

	"gorm.io/gorm"
)

// StoredFile is a file a row pointed at: its URL and, for a file in the store of uploads, its
// storage path (the key to delete; the URL may have been written under another base URL).
type StoredFile struct {
	URL  string
	Path *string
}

// Files answers which stored files rows still point at.
type Files struct {
	db *gorm.DB
}

// Referenced returns those of urls that some row still uses (an avatar, a video, a
// thumbnail). No index serves it; it runs only after a delete or an avatar change.
func (s *Files) Referenced(ctx context.Context, urls []string) ([]string, error) {
	if len(urls) == 0 {
		return nil, nil
	}
	var used []string
	err := s.db.WithContext(ctx).Raw(`SELECT avatar FROM users WHERE avatar IN ?
		UNION SELECT video_url FROM videos WHERE video_url IN ?
		UNION SELECT thumbnail_url FROM videos WHERE thumbnail_url IN ?`, urls, urls, urls).Find(&used).Error
	return used, translate(err)
}

// InUse returns those of files that some row still uses, by storage path or by URL.
func (s *Files) InUse(ctx context.Context, files []StoredFile) ([]StoredFile, error) {
	var urls, paths []string
	for _, f := range files {
		urls = append(urls, f.URL)
		if f.Path != nil {
			paths = append(paths, *f.Path)
		}
	}
	if len(urls) == 0 {
		return nil, nil
	}
	if paths == nil {
		paths = []string{}
	}
	var used []string
	err := s.db.WithContext(ctx).Raw(`SELECT avatar FROM users WHERE avatar IN @urls
		UNION SELECT video_url FROM videos WHERE video_url IN @urls
		UNION SELECT thumbnail_url FROM videos WHERE thumbnail_url IN @urls
		UNION SELECT avatar_storage_path FROM users WHERE avatar_storage_path IN @paths
		UNION SELECT video_storage_path FROM videos WHERE video_storage_path IN @paths
		UNION SELECT thumbnail_storage_path FROM videos WHERE thumbnail_storage_path IN @paths`,
		sql.Named("urls", urls), sql.Named("paths", paths)).Find(&used).Error
	if err != nil {
		return nil, translate(err)
	}
	var out []StoredFile
	for _, f := range files {
		if slices.Contains(used, f.URL) || (f.Path != nil && slices.Contains(used, *f.Path)) {
			out = append(out, f)
		}
	}
	return out, nil
}
