package store

import (
	"context"

	"gorm.io/gorm"
)

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
		UNION SELECT thumbnail_url FROM videos WHERE thumbnail_url IN ?`, urls, urls, urls).Scan(&used).Error
	return used, translate(err)
}
