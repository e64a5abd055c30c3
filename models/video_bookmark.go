package models

import "time"

// VideoBookmark is a row of the join table "video_bookmarks" (our table; the Prisma version has
// none): a user's saved video, a set member like VideoLike (the composite primary key keeps
// one row per user and video). Videos.BookmarkCount counts them, kept by a trigger. (The
// index of a user's list, newest first, is the migration's own; see
// database/migrations_bookmarks.go.)
type VideoBookmark struct {
	UserID    int32     `gorm:"column:user_id;type:integer;primaryKey;autoIncrement:false"`
	VideoID   int32     `gorm:"column:video_id;type:integer;primaryKey;autoIncrement:false;index:video_bookmarks_video_id_idx"`
	CreatedAt time.Time `gorm:"column:created_at;type:timestamp(3);not null;default:CURRENT_TIMESTAMP"`

	User  *User  `gorm:"foreignKey:UserID;constraint:video_bookmarks_user_id_fkey,OnUpdate:CASCADE,OnDelete:CASCADE"`
	Video *Video `gorm:"foreignKey:VideoID;constraint:video_bookmarks_video_id_fkey,OnUpdate:CASCADE,OnDelete:CASCADE"`
}

// TableName pins the table name.
func (VideoBookmark) TableName() string { return "video_bookmarks" }
