package models

import "time"

// Follow is a row of the join table "follows": FollowerID follows FollowingID
// (Prisma: @@id([followerId, followingId])). A CHECK constraint forbids following yourself.
type Follow struct {
	FollowerID  int32     `gorm:"column:follower_id;type:integer;primaryKey;autoIncrement:false"`
	FollowingID int32     `gorm:"column:following_id;type:integer;primaryKey;autoIncrement:false"`
	CreatedAt   time.Time `gorm:"column:created_at;type:timestamp(3);not null;default:CURRENT_TIMESTAMP"`

	Follower  *User `gorm:"foreignKey:FollowerID;constraint:follows_follower_id_fkey,OnUpdate:CASCADE,OnDelete:CASCADE"`
	Following *User `gorm:"foreignKey:FollowingID;constraint:follows_following_id_fkey,OnUpdate:CASCADE,OnDelete:CASCADE"`
}

// TableName pins the table name (Prisma: @@map("follows")).
func (Follow) TableName() string { return "follows" }
