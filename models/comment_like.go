package models

import "time"

// CommentLike is a row of the join table "comment_likes" (Prisma: @@id([userId, commentId])).
type CommentLike struct {
	UserID    int32     `gorm:"column:user_id;type:integer;primaryKey;autoIncrement:false"`
	CommentID int32     `gorm:"column:comment_id;type:integer;primaryKey;autoIncrement:false"`
	CreatedAt time.Time `gorm:"column:created_at;type:timestamp(3);not null;default:CURRENT_TIMESTAMP"`

	User    *User    `gorm:"foreignKey:UserID;constraint:comment_likes_user_id_fkey,OnUpdate:CASCADE,OnDelete:CASCADE"`
	Comment *Comment `gorm:"foreignKey:CommentID;constraint:comment_likes_comment_id_fkey,OnUpdate:CASCADE,OnDelete:CASCADE"`
}

// TableName pins the table name (Prisma: @@map("comment_likes")).
func (CommentLike) TableName() string { return "comment_likes" }
