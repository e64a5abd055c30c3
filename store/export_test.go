package store

import (
	"context"
	"time"

	"gorm.io/gorm"
)

// SearchRead runs fn in a search's read transaction with this statement timeout.
func SearchRead(s *Store, ctx context.Context, timeout string, fn func(tx *gorm.DB) error) error {
	search := *s.Search
	search.timeout = timeout
	return search.read(ctx, fn)
}

// SearchThrough is s's search with the users' similarity tier forced through GiST (gist) or
// GIN (statistics that estimate no candidate), for the tests that both paths agree.
func SearchThrough(s *Store, gist bool) *Search {
	search := *s.Search
	c := &trigramCache{loadedAt: time.Now()}
	if !gist {
		c.stats = &trigramStats{columns: map[string]trigramColumn{usernameTrigramStats: {}, nameTrigramStats: {}}}
	}
	search.trigrams = c
	return &search
}

// SimilarPath is the path similarPath chooses for these trigrams and statistics (column:
// statistics name; freqs: trigram -> fraction of the rows).
func SimilarPath(rows float64, freqs map[string]float64, rare float64, trigrams []string) (gist bool) {
	stats := &trigramStats{rows: rows, columns: map[string]trigramColumn{usernameTrigramStats: {freq: freqs, rare: rare}}}
	return stats.similarPath(usernameTrigramStats, trigrams)
}
