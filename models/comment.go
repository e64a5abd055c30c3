package models

import "time"

// Comment is a row of "comments" (Prisma: model Comment @@map("comments")). LikeCount is
// maintained by a trigger on comment_likes.
// Replies are comments too (parent_id, reply_to_user_id, reply_count: migration 202611300020).
type Comment struct {
	ID        int32     `gorm:"column:id;primaryKey;autoIncrement"`
	Content   string    `gorm:"column:content;type:text;not null"`
	UserID    int32     `gorm:"column:user_id;type:integer;not null"`
	VideoID   int32     `gorm:"column:video_id;type:integer;not null"`
	CreatedAt time.Time `gorm:"column:created_at;type:timestamp(3);not null;default:CURRENT_TIMESTAMP"`
	UpdatedAt time.Time `gorm:"column:updated_at;type:timestamp(3);not null;default:CURRENT_TIMESTAMP"`
	LikeCount int32     `gorm:"column:like_count;type:integer;not null;default:0;<-:false"`
	// ParentID is the top-level comment a reply sits under (nil for a top-level comment);
	// ReplyToUserID the author the reply answers. ReplyCount is kept by a trigger.
	ParentID      *int32 `gorm:"column:parent_id;type:integer"`
	ReplyToUserID *int32 `gorm:"column:reply_to_user_id;type:integer"`
	ReplyCount    int32  `gorm:"column:reply_count;type:integer;not null;default:0;<-:false"`

	User  *User  `gorm:"foreignKey:UserID;constraint:comments_user_id_fkey,OnUpdate:CASCADE,OnDelete:CASCADE"`
	Video *Video `gorm:"foreignKey:VideoID;constraint:comments_video_id_fkey,OnUpdate:CASCADE,OnDelete:CASCADE"`
}

// TableName pins the table name (Prisma: @@map("comments")).
func (Comment) TableName() string { return "comments" }
