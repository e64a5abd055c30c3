package models

import "time"

// Notification is a row of "notifications" (our table; the Prisma version has none): UserID is
// told that ActorID did Type to VideoID / CommentID. Written by the store in the transaction of
// the action (migration 202611300021 has its keys and indexes).
type Notification struct {
	ID        int32      `gorm:"column:id;primaryKey;autoIncrement"`
	UserID    int32      `gorm:"column:user_id;type:integer;not null"`
	ActorID   int32      `gorm:"column:actor_id;type:integer;not null"`
	Type      string     `gorm:"column:type;type:text;not null"`
	VideoID   *int32     `gorm:"column:video_id;type:integer"`
	CommentID *int32     `gorm:"column:comment_id;type:integer"`
	CreatedAt time.Time  `gorm:"column:created_at;type:timestamp(3);not null;default:CURRENT_TIMESTAMP"`
	ReadAt    *time.Time `gorm:"column:read_at;type:timestamp(3)"`
}

// TableName pins the table name.
func (Notification) TableName() string { return "notifications" }

// The notification types of API.md.
const (
	NotifyLike        = "like"
	NotifyComment     = "comment"
	NotifyReply       = "reply"
	NotifyCommentLike = "comment_like"
	NotifyFollow      = "follow"
	NotifyMention     = "mention"
)
