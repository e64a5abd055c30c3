package models

import "time"

// RefreshToken is one refresh token of a login session (our table; Prisma has no twin).
// Only the SHA-256 hash of the token is stored. Tokens minted by rotating one another share a
// FamilyID, so presenting a spent token again can revoke its whole family.
type RefreshToken struct {
	ID        int64      `gorm:"column:id;primaryKey;autoIncrement"`
	UserID    int32      `gorm:"column:user_id;type:integer;not null;index:refresh_tokens_user_id_idx"`
	FamilyID  string     `gorm:"column:family_id;type:text;not null;index:refresh_tokens_family_id_idx"`
	TokenHash string     `gorm:"column:token_hash;type:text;not null;uniqueIndex:refresh_tokens_token_hash_key"`
	ExpiresAt time.Time  `gorm:"column:expires_at;type:timestamp(3);not null"`
	UsedAt    *time.Time `gorm:"column:used_at;type:timestamp(3)"`
	RevokedAt *time.Time `gorm:"column:revoked_at;type:timestamp(3)"`
	CreatedAt time.Time  `gorm:"column:created_at;type:timestamp(3);not null;default:CURRENT_TIMESTAMP"`

	User *User `gorm:"foreignKey:UserID;constraint:refresh_tokens_user_id_fkey,OnUpdate:CASCADE,OnDelete:CASCADE"`
}

// TableName pins the table name.
func (RefreshToken) TableName() string { return "refresh_tokens" }
