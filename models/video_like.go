package models

import "time"

// VideoLike is a row of the join table "video_likes" (Prisma: @@id([userId, videoId])).
// The composite primary key makes a like a set member: liking twice keeps one row.
type VideoLike struct {
	UserID    int32     `gorm:"column:user_id;type:integer;primaryKey;autoIncrement:false"`
	VideoID   int32     `gorm:"column:video_id;type:integer;primaryKey;autoIncrement:false"`
	CreatedAt time.Time `gorm:"column:created_at;type:timestamp(3);not null;default:CURRENT_TIMESTAMP"`

	User  *User  `gorm:"foreignKey:UserID;constraint:video_likes_user_id_fkey,OnUpdate:CASCADE,OnDelete:CASCADE"`
	Video *Video `gorm:"foreignKey:VideoID;constraint:video_likes_video_id_fkey,OnUpdate:CASCADE,OnDelete:CASCADE"`
}

// TableName pins the table name (Prisma: @@map("video_likes")).
func (VideoLike) TableName() string { return "video_likes" }
