package models

import "time"

// User is a row of "users" (Prisma: model User @@map("users")).
//
// FollowerCount, FollowingCount, VideoCount and LikeCount (likes received on all the user's
// videos) are kept equal to the COUNT(*) of their rows by database triggers, whoever writes.
// TokenVersion is bumped to revoke every access token of the user at once.
type User struct {
	ID       int32   `gorm:"column:id;primaryKey;autoIncrement"`
	Username string  `gorm:"column:username;type:text;not null;uniqueIndex:users_username_key"`
	Email    string  `gorm:"column:email;type:text;not null;uniqueIndex:users_email_key"`
	Password string  `gorm:"column:password;type:text;not null"`
	Name     *string `gorm:"column:name;type:text"`
	Bio      *string `gorm:"column:bio;type:text"`
	Avatar   *string `gorm:"column:avatar;type:text"`
	// AvatarStoragePath names the avatar's file in the store of uploads; NULL for a URL
	// hosted elsewhere.
	AvatarStoragePath *string   `gorm:"column:avatar_storage_path;type:text"`
	CreatedAt         time.Time `gorm:"column:created_at;type:timestamp(3);not null;default:CURRENT_TIMESTAMP"`
	UpdatedAt         time.Time `gorm:"column:updated_at;type:timestamp(3);not null;default:CURRENT_TIMESTAMP"`
	FollowerCount     int32     `gorm:"column:follower_count;type:integer;not null;default:0;<-:false"`
	FollowingCount    int32     `gorm:"column:following_count;type:integer;not null;default:0;<-:false"`
	VideoCount        int32     `gorm:"column:video_count;type:integer;not null;default:0;<-:false"`
	LikeCount         int32     `gorm:"column:like_count;type:integer;not null;default:0;<-:false"`
	TokenVersion      int32     `gorm:"column:token_version;type:integer;not null;default:0"`
}

// TableName pins the table name (Prisma: @@map("users")).
func (User) TableName() string { return "users" }
