package store

import (
	"context"

	"gorm.io/gorm"

	"tiktok/storage"
)

// LocalMedia finds and rewrites the rows whose media are files on this server's disk, for
// `storage migrate` (package storage/tobucket), which moves those files into the bucket.
type LocalMedia struct {
	db *gorm.DB
}

// LocalMedia is the store's LocalMedia.
func (s *Store) LocalMedia() *LocalMedia { return &LocalMedia{db: s.db} }

// MediaColumn is a column holding a media URL, with the column keeping its storage path and
// the bucket folder its files go to. The names are constants, never input.
type MediaColumn struct {
	Name   string // "videos.video_url", for reports
	table  string
	url    string
	path   string
	Folder storage.Folder
}

// The media columns, in the order a migration walks them.
var (
	VideoFileColumn      = MediaColumn{Name: "videos.video_url", table: "videos", url: "video_url", path: "video_storage_path", Folder: storage.VideosFolder}
	VideoThumbnailColumn = MediaColumn{Name: "videos.thumbnail_url", table: "videos", url: "thumbnail_url", path: "thumbnail_storage_path", Folder: storage.ThumbnailsFolder}
	UserAvatarColumn     = MediaColumn{Name: "users.avatar", table: "users", url: "avatar", path: "avatar_storage_path", Folder: storage.AvatarsFolder}
	MediaColumns         = []MediaColumn{VideoFileColumn, VideoThumbnailColumn, UserAvatarColumn}
)

// MediaRef is one row's media URL.
type MediaRef struct {
	ID  int32
	URL string
}

// Page returns up to limit rows after id afterID, by id, whose column holds a URL of this
// server's disk: "/uploads/..." or publicBaseURL + "/uploads/..." (the latter only if a
// client once gave one). It walks the primary key and filters, so the whole walk reads each
// table once, with no index of its own.
func (s *LocalMedia) Page(ctx context.Context, col MediaColumn, publicBaseURL string, afterID int32, limit int) ([]MediaRef, error) {
	local := likeEscaper.Replace(storage.URLPrefix) + "%"
	absolute := local
	if publicBaseURL != "" {
		absolute = likeEscaper.Replace(publicBaseURL+storage.URLPrefix) + "%"
	}
	var refs []MediaRef
	err := s.db.WithContext(ctx).Raw(`SELECT id, `+col.url+` AS url FROM `+col.table+`
		WHERE id > ? AND (`+col.url+` LIKE ? OR `+col.url+` LIKE ?)
		ORDER BY id LIMIT ?`, afterID, local, absolute, limit).Find(&refs).Error
	return refs, translate(err)
}

// Rewrite points the row of ref at url and sets its storage path, if the column still holds
// ref.URL: a row edited meanwhile (a new avatar, say) is left as the edit made it, and
// rewritten is false. updated_at stays: the content did not change, only where it lives.
func (s *LocalMedia) Rewrite(ctx context.Context, col MediaColumn, ref MediaRef, url, storagePath string) (rewritten bool, err error) {
	res := s.db.WithContext(ctx).Exec(`UPDATE `+col.table+` SET `+col.url+` = ?, `+col.path+` = ?
		WHERE id = ? AND `+col.url+` = ?`, url, storagePath, ref.ID, ref.URL)
	if res.Error != nil {
		return false, translate(res.Error)
	}
	return res.RowsAffected == 1, nil
}
