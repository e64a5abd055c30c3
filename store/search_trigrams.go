package store

import (
	"cmp"
	"encoding/json"
	"slices"
	"sync"
	"time"
)

// The users' similarity tier (userTiers, tier 0) takes the usernames and the names nearest to
// the query through one of two indexes per column, and which is cheaper depends on the query:
//
//   - GIN (users_username_trgm_idx, users_name_trgm_idx) lists the rows sharing enough of the
//     query's trigrams (pg_trgm: at least similarity threshold x their number) and rechecks
//     each: 0.1 ms for "uesr1" or "dnace" on 100k users, but half a second for "usre1", whose
//     trigrams "  u" and " us" every seeded userN has (100k rechecks).
//   - GiST (the _gist_ indexes) returns the nearest first and stops at the bound, but its
//     bounds cannot tell a name sharing two common trigrams from a near one, so it reads the
//     whole index whatever the query: 6-13 ms per column on 100k users.
//
// similarPath estimates the GIN candidates from the trigram frequencies ANALYZE keeps for the
// folded columns (extended statistics on show_trgm of them, database/migrations_search.go,
// search_similar_paths) and takes GIN when they are few. Both paths select the same rows
// (nearest), so the estimate, however stale, decides only the speed. The statistics are read
// with the first statement of a users' search (readTrigrams) at most every trigramStatsMaxAge
// per process; without them (never analyzed, or a role that may not read them) every search
// takes GiST, the bounded cost. With them, where GIN would recheck too many rows, the tier
// reads a window of trigram counts instead (similarRoute, store/search.go similarWindow), and
// GiST only when that window is too wide.

const (
	usernameTrigramStats = "users_username_trgm_stats"
	nameTrigramStats     = "users_name_trgm_stats"
	trigramStatsMaxAge   = 5 * time.Minute
	// similarGINMaxCandidates: a GIN recheck costs about 6 us, a GiST read of 100k names about
	// 10 ms, so GIN up to about this many estimated candidates.
	similarGINMaxCandidates = 2000
)

// trigramStatsQuery is the statistics as one JSON text: the users' row count and, per
// statistics object, its most common trigrams with their frequencies (the fraction of rows
// holding each; after them the minimum, the maximum and the null fraction).
const trigramStatsQuery = `(SELECT json_build_object(
		'rows', (SELECT c.reltuples FROM pg_class c WHERE c.oid = 'users'::regclass),
		'columns', json_object_agg(e.statistics_name, json_build_object(
			'elems', e.most_common_elems::text::text[], 'freqs', e.most_common_elem_freqs)))::text
	FROM pg_stats_ext_exprs e WHERE e.statistics_schemaname = current_schema()
		AND e.statistics_name IN ('` + usernameTrigramStats + `', '` + nameTrigramStats + `')) AS stats`

// trigramStats is one column's (per statistics name) trigram frequencies.
type trigramStats struct {
	rows    float64
	columns map[string]trigramColumn
}

type trigramColumn struct {
	freq map[string]float64
	// rare is the frequency assumed for a trigram not among the most common: the least
	// common one's, which it does not exceed by much.
	rare float64
}

func parseTrigramStats(raw *string) *trigramStats {
	if raw == nil {
		return nil
	}
	var in struct {
		Rows    float64 `json:"rows"`
		Columns map[string]struct {
			Elems []string  `json:"elems"`
			Freqs []float64 `json:"freqs"`
		} `json:"columns"`
	}
	if err := json.Unmarshal([]byte(*raw), &in); err != nil {
		return nil
	}
	out := &trigramStats{rows: in.Rows, columns: map[string]trigramColumn{}}
	for name, c := range in.Columns {
		if len(c.Freqs) != len(c.Elems)+3 || len(c.Elems) == 0 {
			continue
		}
		col := trigramColumn{freq: make(map[string]float64, len(c.Elems)), rare: c.Freqs[len(c.Elems)]}
		for i, e := range c.Elems {
			col.freq[e] = c.Freqs[i]
		}
		out.columns[name] = col
	}
	return out
}

// similarPath reports whether the nearest names of this column are to be read through GiST
// (true) rather than GIN. A GIN candidate holds at least k = ceil(threshold x n) of the n
// query trigrams, so at least one outside the k-1 most frequent: the candidates are at most
// the rows holding those others, summed.
func (t *trigramStats) similarPath(column string, trigrams []string) (gist bool) {
	col, ok := t.column(column)
	if !ok || len(trigrams) == 0 { // no trigram: GIN would read every entry
		return true
	}
	freqs := make([]float64, len(trigrams))
	for i, tri := range trigrams {
		f, ok := col.freq[tri]
		if !ok {
			f = col.rare
		}
		freqs[i] = f
	}
	slices.Sort(freqs)
	slices.Reverse(freqs)
	// ceil(n x 0.2), similarityThreshold, in integers (0.2 x 15 is 3.0000000000000004).
	k := (len(trigrams) + 4) / 5
	sum := 0.0
	for _, f := range freqs[k-1:] {
		sum += f
	}
	return sum*t.rows > similarGINMaxCandidates
}

func (t *trigramStats) column(name string) (trigramColumn, bool) {
	if t == nil {
		return trigramColumn{}, false
	}
	c, ok := t.columns[name]
	return c, ok
}

// trigramCache holds the statistics of a process, refreshed by one search at a time.
type trigramCache struct {
	mu       sync.Mutex
	stats    *trigramStats
	loadedAt time.Time
	loading  bool
}

// take returns the statistics and whether this search is to read them anew.
func (c *trigramCache) take() (*trigramStats, bool) {
	if c == nil {
		return nil, false
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.loading || (!c.loadedAt.IsZero() && time.Since(c.loadedAt) < trigramStatsMaxAge) {
		return c.stats, false
	}
	c.loading = true
	return c.stats, true
}

// store keeps the statistics read (nil: none readable; GiST until the next read).
func (c *trigramCache) store(raw *string) *trigramStats {
	stats := parseTrigramStats(raw)
	c.mu.Lock()
	defer c.mu.Unlock()
	c.stats, c.loadedAt = stats, time.Now()
	return stats
}

// release ends a refresh taken by take, read or not (a failed search leaves it to the next).
func (c *trigramCache) release(refresh bool) {
	if !refresh {
		return
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	c.loading = false
}

// similarRoute is how the similarity tier reads one column's nearest names (nearest).
type similarRoute struct {
	// gist: through GiST rather than GIN.
	gist bool
	// window (with gist): through the trigram-count window first (similarWindow), GiST only
	// when that window holds too many rows. trigrams is the query's trigram count, rare those
	// of its trigrams that few rows hold.
	window   bool
	trigrams int
	rare     []string
}

// similarRoute is GIN when similarPath says so; else, with statistics, the window (which falls
// back to GiST by itself); without them GiST.
func (t *trigramStats) similarRoute(column string, trigrams []string) similarRoute {
	if !t.similarPath(column, trigrams) {
		return similarRoute{}
	}
	col, ok := t.column(column)
	if !ok || len(trigrams) == 0 {
		return similarRoute{gist: true}
	}
	return similarRoute{gist: true, window: true, trigrams: len(trigrams), rare: col.rareTrigrams(t.rows, trigrams)}
}

// rareTrigrams is the largest set of the query's least frequent trigrams whose rows, summed,
// are at most similarGINMaxCandidates: the rows holding any of them are read whole (the GIN
// array index), the others are bounded by their trigram count (similarWindow).
func (col trigramColumn) rareTrigrams(rows float64, trigrams []string) []string {
	sorted := slices.Clone(trigrams)
	freq := func(tri string) float64 {
		if f, ok := col.freq[tri]; ok {
			return f
		}
		return col.rare
	}
	slices.SortStableFunc(sorted, func(a, b string) int { return cmp.Compare(freq(a), freq(b)) })
	sum := 0.0
	for i, tri := range sorted {
		sum += freq(tri) * rows
		if sum > similarGINMaxCandidates {
			return sorted[:i]
		}
	}
	return sorted
}
