package store

import (
	"context"
	"encoding/base64"
	"math"
	"regexp"
	"strconv"
	"strings"
	"time"

	"gorm.io/gorm"

	"tiktok/errs"
)

// Limits of a cursor page (API.md, Pagination).
const (
	DefaultLimit = 10
	MaxLimit     = 50
)

// PageRequest asks for one page of a list: Limit items after Cursor (as the previous page's
// NextCursor gave it, or a bare item id), or, when Page > 0, the Page-th page of Limit items
// by offset (the Prisma version's ?page=, which also counts the whole list). The cursor is
// ignored in offset mode.
type PageRequest struct {
	Limit  int
	Cursor string
	Page   int
}

// Page is one page of a list. Total and TotalPages are set in offset mode only.
type Page[T any] struct {
	Items       []T
	NextCursor  *string
	HasNextPage bool
	OffsetMode  bool
	Total       int64
	TotalPages  int
	CurrentPage int
}

// position is a place in a list: (At, ID) for lists ordered by time, (Score, ID) for the
// trending list.
type position struct {
	At    time.Time
	Score float64
	ID    int32
	// Tier is the leading key of a tiered list (keyset.tiered): higher tiers come first.
	Tier int32
}

// keyset is the order of a list: two columns, both descending, the second an id that breaks
// ties, served by an index that leads with them (after the list's equality conditions).
type keyset struct {
	first, second string
	// byScore says first is a float score, not a time: it changes the cursor's encoding.
	byScore bool
	// tiered says the list is ordered by (tier, score, id), all descending: a few ordered
	// parts (the search's match tiers), each by its score (byScore is implied). Its statement
	// writes the condition of each part itself from the cursor's three values.
	tiered bool
	// ascending turns the order around: oldest first (a comment's replies), the cursor
	// condition becoming (first, second) > (?, ?).
	ascending bool
}

// listSpec describes one list; fetchPage does the rest (cursor or offset mode, limit + 1,
// trimming, the next cursor, the total). A list runs a fixed number of statements whatever
// the page size: [the bare cursor's position,] [the count,] the page.
type listSpec struct {
	keys keyset
	// columns is the select list; fetchPage appends the time key as sort_at for lists by time.
	// columnArgs are the arguments of its placeholders, if any.
	columns    string
	columnArgs []any
	from       string
	where      string
	args       []any
	// countFrom is the FROM of the offset mode's count, when the page's joins are not needed
	// to count (default from).
	countFrom string
	// resolve finds the position of the item a bare numeric cursor names; ok is false when it
	// is not in this list.
	resolve func(ctx context.Context, id int32) (p position, ok bool, err error)
	// statement, when set, writes the page's statement itself, for a list whose keyset
	// condition must sit inside a subquery (the following feed). It selects columns first
	// (their columnArgs are put before the args it returns). keyset is "" on the first page,
	// else "(first, second) < (?, ?)" with its two arguments first in args; limit is the
	// number of rows to select (see planLimit).
	statement func(columns, keyset string, args []any, limit int) (string, []any)
}

// fetchPage runs spec's page for req. scan runs the statement and returns its rows; pos gives
// a row's position for the next cursor.
func fetchPage[T any](ctx context.Context, db *gorm.DB, spec listSpec, req PageRequest,
	scan func(db *gorm.DB, sql string, args []any) ([]T, error), pos func(*T) position) (Page[T], error) {
	db = db.WithContext(ctx)
	limit := req.Limit
	page := Page[T]{OffsetMode: req.Page > 0}
	var keysetCond string
	var keysetArgs []any
	if page.OffsetMode {
		from := spec.countFrom
		if from == "" {
			from = spec.from
		}
		count := "SELECT count(*) FROM " + from
		if spec.where != "" {
			count += " WHERE " + spec.where
		}
		if err := db.Raw(count, spec.args...).Find(&page.Total).Error; err != nil {
			return page, err
		}
	} else if req.Cursor != "" {
		after, err := parseCursor(ctx, req.Cursor, spec)
		if err != nil {
			return page, err
		}
		keysetCond = "(" + spec.keys.first + ", " + spec.keys.second + ") < (?, ?)"
		if spec.keys.ascending {
			keysetCond = "(" + spec.keys.first + ", " + spec.keys.second + ") > (?, ?)"
		}
		if spec.keys.tiered {
			keysetCond = "(tier, " + spec.keys.first + ", " + spec.keys.second + ") < (?, ?, ?)"
			keysetArgs = []any{after.Tier, after.Score, after.ID}
		} else if spec.keys.byScore {
			keysetArgs = []any{after.Score, after.ID}
		} else {
			keysetArgs = []any{after.At.UTC(), after.ID}
		}
	}

	var sql string
	var args []any
	if spec.statement != nil {
		var statementArgs []any
		sql, statementArgs = spec.statement(spec.columns, keysetCond, keysetArgs, limit+1)
		args = append(append([]any{}, spec.columnArgs...), statementArgs...)
	} else {
		sql = "SELECT " + spec.columns
		if !spec.keys.byScore {
			sql += ", " + spec.keys.first + " AS sort_at" // the key of a list by time, for its cursor
		}
		sql += " FROM " + spec.from
		where, whereArgs := spec.where, append(append([]any{}, spec.columnArgs...), spec.args...)
		if keysetCond != "" {
			if where != "" {
				where += " AND "
			}
			where += keysetCond
			whereArgs = append(whereArgs, keysetArgs...)
		}
		if where != "" {
			sql += " WHERE " + where
		}
		dir := " DESC"
		if spec.keys.ascending {
			dir = " ASC"
		}
		sql += " ORDER BY " + spec.keys.first + dir + ", " + spec.keys.second + dir + " LIMIT " + planLimit(limit+1)
		args = whereArgs
		if page.OffsetMode {
			sql += " OFFSET ?"
			args = append(args, (req.Page-1)*limit)
		}
	}
	rows, err := scan(db, sql, args)
	if err != nil {
		return page, err
	}

	// The extra row's presence is what says there is a next page.
	if len(rows) > limit {
		rows = rows[:limit]
		next := encodeCursor(pos(&rows[limit-1]), spec.keys.byScore)
		if spec.keys.tiered {
			next = encodeTieredCursor(pos(&rows[limit-1]))
		}
		page.NextCursor, page.HasNextPage = &next, true
	}
	page.Items = rows
	if page.OffsetMode {
		page.CurrentPage = req.Page
		page.TotalPages = int((page.Total + int64(limit) - 1) / int64(limit))
		page.HasNextPage = req.Page < page.TotalPages
		if !page.HasNextPage {
			page.NextCursor = nil
		}
	}
	return page, nil
}

// planLimit writes a page's LIMIT into its statement's text instead of passing it as a
// parameter. pgx prepares each statement text once per connection, and PostgreSQL's plan cache
// then picks between re-planning at every execution and one generic plan, by cost: a generic
// plan cannot see the value of a LIMIT parameter and is costed for 10% of the table (a million
// rows of videos: a thousand times a page, with JIT compilation), so every page was planned
// again, which cost a feed page more of the database's CPU than running it (about 1 ms
// against 0.4 ms, EXPLAIN ANALYZE on the scale data). With the number in the text (a page is
// 1-50 items: at most 50 texts per list) the generic plan costs what a custom one does and
// is kept after five executions. n is an int: nothing but digits reaches the SQL.
func planLimit(n int) string { return strconv.Itoa(n) }

var digits = regexp.MustCompile(`^[0-9]{1,10}$`)

// parseCursor reads a cursor of spec's list: a bare number is an item id, resolved through
// spec.resolve; anything else must be the opaque cursor of the list's kind of key.
func parseCursor(ctx context.Context, s string, spec listSpec) (position, error) {
	if digits.MatchString(s) {
		n, err := strconv.ParseInt(s, 10, 32)
		if err != nil || n < 1 {
			return position{}, badCursor()
		}
		p, ok, err := spec.resolve(ctx, int32(n))
		if err != nil {
			return position{}, err
		}
		if !ok {
			return position{}, badCursor()
		}
		return p, nil
	}
	p, ok := decodeCursor(s, spec.keys.byScore)
	if spec.keys.tiered {
		p, ok = decodeTieredCursor(s)
	}
	if !ok {
		return position{}, badCursor()
	}
	return p, nil
}

func badCursor() error {
	return errs.InvalidField("cursor", "is not valid (send nextCursor back as it came)")
}

// Cursor encodings: base64url of "v1:<unix ms>:<id>" for lists by time (milliseconds are
// exact: the columns are timestamp(3)), and of "s1:<score>:<id>" for the trending list, the
// score printed in the shortest form that parses back to the same float64, so the next page
// starts exactly after the last item.
const (
	timeCursorPrefix  = "v1"
	scoreCursorPrefix = "s1"
	// tieredCursorPrefix: "t1:<tier>:<score>:<id>", the position in a tiered list.
	tieredCursorPrefix = "t1"
)

// maxTier bounds the tier a cursor may name (the search lists have at most four).
const maxTier = 9

func encodeTieredCursor(p position) string {
	raw := tieredCursorPrefix + ":" + strconv.Itoa(int(p.Tier)) + ":" +
		strconv.FormatFloat(p.Score, 'g', -1, 64) + ":" + strconv.Itoa(int(p.ID))
	return base64.RawURLEncoding.EncodeToString([]byte(raw))
}

func decodeTieredCursor(s string) (position, bool) {
	raw, err := base64.RawURLEncoding.DecodeString(s)
	if err != nil {
		return position{}, false
	}
	parts := strings.Split(string(raw), ":")
	if len(parts) != 4 || parts[0] != tieredCursorPrefix {
		return position{}, false
	}
	tier, err := strconv.Atoi(parts[1])
	if err != nil || tier < 0 || tier > maxTier || parts[1] != strconv.Itoa(tier) {
		return position{}, false
	}
	p, ok := decodeCursor(base64.RawURLEncoding.EncodeToString([]byte(scoreCursorPrefix+":"+parts[2]+":"+parts[3])), true)
	if !ok {
		return position{}, false
	}
	p.Tier = int32(tier)
	return p, true
}

func encodeCursor(p position, byScore bool) string {
	var raw string
	if byScore {
		raw = scoreCursorPrefix + ":" + strconv.FormatFloat(p.Score, 'g', -1, 64)
	} else {
		raw = timeCursorPrefix + ":" + strconv.FormatInt(p.At.UnixMilli(), 10)
	}
	raw += ":" + strconv.Itoa(int(p.ID))
	return base64.RawURLEncoding.EncodeToString([]byte(raw))
}

// Timestamps a cursor may carry: PostgreSQL's timestamp reaches further, but no row of ours
// is outside years 1-9999, and a value past PostgreSQL's range would fail the query.
var (
	minCursorTime = time.Date(1, 1, 1, 0, 0, 0, 0, time.UTC)
	maxCursorTime = time.Date(9999, 12, 31, 23, 59, 59, 999e6, time.UTC)
)

func decodeCursor(s string, byScore bool) (position, bool) {
	raw, err := base64.RawURLEncoding.DecodeString(s)
	if err != nil {
		return position{}, false
	}
	parts := strings.Split(string(raw), ":")
	prefix := timeCursorPrefix
	if byScore {
		prefix = scoreCursorPrefix
	}
	if len(parts) != 3 || parts[0] != prefix {
		return position{}, false
	}
	id, err := strconv.ParseInt(parts[2], 10, 32)
	if err != nil || id < 1 {
		return position{}, false
	}
	p := position{ID: int32(id)}
	if byScore {
		p.Score, err = strconv.ParseFloat(parts[1], 64)
		if err != nil || math.IsNaN(p.Score) || math.IsInf(p.Score, 0) {
			return position{}, false
		}
		return p, true
	}
	ms, err := strconv.ParseInt(parts[1], 10, 64)
	if err != nil {
		return position{}, false
	}
	p.At = time.UnixMilli(ms).UTC()
	if p.At.Before(minCursorTime) || p.At.After(maxCursorTime) {
		return position{}, false
	}
	return p, true
}
