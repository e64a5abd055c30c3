package store

import (
	"context"

	"gorm.io/gorm"
)

// SearchRead runs fn in a search's read transaction with this statement timeout.
func SearchRead(s *Store, ctx context.Context, timeout string, fn func(tx *gorm.DB) error) error {
	search := *s.Search
	search.timeout = timeout
	return search.read(ctx, fn)
}
