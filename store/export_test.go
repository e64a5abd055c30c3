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

// SearchWindow is s's search with the users' similarity tier forced through the trigram-count
// window (similarWindow) with this many of the query's trigrams taken as rare (-1: all).
func SearchWindow(s *Store, rare int) *Search {
	search := *s.Search
	search.forceRoute = func(trigrams []string) similarRoute {
		r := trigrams
		if rare >= 0 && rare < len(trigrams) {
			r = trigrams[:rare]
		}
		return similarRoute{gist: true, window: true, trigrams: len(trigrams), rare: r}
	}
	return &search
}

// RareTrigrams is the trigrams the window reads through the GIN array index (rareTrigrams).
func RareTrigrams(rows float64, freqs map[string]float64, rare float64, trigrams []string) []string {
	return trigramColumn{freq: freqs, rare: rare}.rareTrigrams(rows, trigrams)
}

// PauseAnnouncements makes s's announcer hold what it is given, as if an announcement were
// running, until resume; resume then waits until everything held has been sent.
func PauseAnnouncements(s *Store) (resume func()) {
	a := s.announcer
	a.wait()
	a.mu.Lock()
	a.busy = true
	a.mu.Unlock()
	return func() {
		go a.drain()
		a.wait()
	}
}

// WaitForAnnouncements returns when s's announcer has sent everything given to it so far.
func WaitForAnnouncements(s *Store) { s.announcer.wait() }
