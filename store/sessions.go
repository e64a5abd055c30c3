package store

import (
	"context"
	"time"

	"gorm.io/gorm"

	"tiktok/models"
)

// Sessions holds the refresh tokens of login sessions (our table; the Prisma version has
// none). Tokens are looked up by their SHA-256 hash; the token itself is never stored.
type Sessions struct {
	db *gorm.DB
}

// Create stores a refresh token.
func (s *Sessions) Create(ctx context.Context, t *models.RefreshToken) error {
	return translate(s.db.WithContext(ctx).Create(t).Error)
}

// OwnerOf is the user of the refresh token with this hash, read without a lock (to take the
// user's lock first); ok is false when there is no such token.
func (s *Sessions) OwnerOf(ctx context.Context, hash string) (userID int32, ok bool, err error) {
	var users []int32
	if err := s.db.WithContext(ctx).Raw(`SELECT user_id FROM refresh_tokens WHERE token_hash = ?`, hash).
		Scan(&users).Error; err != nil {
		return 0, false, translate(err)
	}
	if len(users) == 0 {
		return 0, false, nil
	}
	return users[0], true, nil
}

// Lock reads the refresh token with this hash and locks it until the transaction ends, so of
// two refreshes with one token the second waits and then sees it spent; nil when there is
// none.
func (s *Sessions) Lock(ctx context.Context, hash string) (*models.RefreshToken, error) {
	var rows []models.RefreshToken
	if err := s.db.WithContext(ctx).Raw(`SELECT * FROM refresh_tokens WHERE token_hash = ? FOR UPDATE`, hash).
		Scan(&rows).Error; err != nil {
		return nil, translate(err)
	}
	if len(rows) == 0 {
		return nil, nil
	}
	return &rows[0], nil
}

// MarkUsed spends refresh token id.
func (s *Sessions) MarkUsed(ctx context.Context, id int64, at time.Time) error {
	return translate(s.db.WithContext(ctx).Exec(`UPDATE refresh_tokens SET used_at = ? WHERE id = ?`, at, id).Error)
}

// RevokeFamily revokes every token of one session.
func (s *Sessions) RevokeFamily(ctx context.Context, family string, at time.Time) error {
	return translate(s.db.WithContext(ctx).Exec(`UPDATE refresh_tokens SET revoked_at = ? WHERE family_id = ? AND revoked_at IS NULL`,
		at, family).Error)
}

// RevokeFamilyOf revokes the session of the refresh token with this hash if it belongs to
// user; a token of someone else is left alone.
func (s *Sessions) RevokeFamilyOf(ctx context.Context, user int32, hash string, at time.Time) error {
	return translate(s.db.WithContext(ctx).Exec(`UPDATE refresh_tokens SET revoked_at = ?
		WHERE revoked_at IS NULL AND family_id = (
			SELECT family_id FROM refresh_tokens WHERE token_hash = ? AND user_id = ?)`,
		at, hash, user).Error)
}

// RevokeAll revokes every session of user.
func (s *Sessions) RevokeAll(ctx context.Context, user int32, at time.Time) error {
	return translate(s.db.WithContext(ctx).Exec(`UPDATE refresh_tokens SET revoked_at = ? WHERE user_id = ? AND revoked_at IS NULL`,
		at, user).Error)
}
