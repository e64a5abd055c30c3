package store

import (
	"cmp"
	"context"
	"encoding/json"
	"errors"
	"math"
	"strconv"
	"strings"

	"github.com/jackc/pgx/v5/pgconn"
	"gorm.io/gorm"

	"tiktok/errs"
	"tiktok/models"
)

// Search serves GET /api/search and /api/search/suggest (API.md, "Discovery"). Every search
// is a stale-tolerant read on the store's reads. The indexes and the extensions are those of
// database/migrations_search.go; the expressions below repeat theirs exactly
// (lower(f_unaccent(username)), the videos' search_vector), or no index could serve them.
//
// Each result list is a keyset page through fetchPage: videos over (trending_score, id), users
// over (tier, score, id), hashtags over (rank, id), all descending. A position is computed from
// the row and the query alone, never from the clock or the page, so the same query orders the
// same rows the same way on every request and a cursor ("s1:<score>:<id>", the trending feed's,
// or "t1:<tier>:<score>:<id>") resumes exactly after the last item. A row whose counters change
// between two pages may move, as it does in the trending feed.
type Search struct {
	db    *gorm.DB
	reads *gorm.DB
	media MediaURLs
	// timeout is the statement timeout of a search ("" is searchStatementTimeout; tests set less).
	timeout string
	// trigrams are the statistics the users' similarity tier chooses its index by (similarPath).
	trigrams *trigramCache
	// forceRoute, in tests only, replaces the statistics' choice of the similarity tier's route.
	forceRoute func(trigrams []string) similarRoute
}

// MaxQueryChars is the longest search text API.md accepts (runes).
const MaxQueryChars = 100

// SuggestLimit is how many users (and hashtags) a type-ahead answer holds at most.
const SuggestLimit = 5

// similarityThreshold is the trigram similarity (pg_trgm) from which a user counts as similar
// to the query. pg_trgm's default, 0.3, misses one swapped pair of letters in a short word:
// similarity('dnace', 'dance') is exactly 0.2. It is set per transaction (SET LOCAL), so the
// connection is left as it was and any pooled connection or replica behaves the same.
const similarityThreshold = "0.2"

// Users come in four tiers (API.md): 3 the exact username, 2 a username starting with the
// query, 1 a name starting with it, 0 a username or name similar to it (pg_trgm). Within the
// tiers 3 to 1 the score is the follower count; within tier 0 it packs, in one float8 that is
// exact (an integer below 2^53), the trigram similarity in thousandths x 2^31, then the
// follower count (< 2^31). Each tier is a branch of a UNION ALL in that order with its own
// LIMIT (userSearchSpec), so a later tier runs only when the earlier ones do not fill the page.
const (
	userName         = `lower(f_unaccent(u.username))`
	userRealName     = `lower(f_unaccent(u.name))`
	userSimilarScore = `(round(greatest(similarity(` + userName + `, @qn),
			COALESCE(similarity(` + userRealName + `, @qn), 0)) * 1000)::bigint * 2147483648 + u.follower_count)::float8`
	// userNameIsQuery is the exact username: equality written as the btree pattern operators
	// (byte-wise, as = is for these strings), which only users_username_folded_idx serves; with
	// "=", PostgreSQL took the GiST trigram index, which answers it in 10 to 30 ms.
	userNameIsQuery = `(` + userName + ` ~>=~ @qn AND ` + userName + ` ~<=~ @qn)`
	// The type-ahead takes prefix matches only (Suggest).
	suggestUserMatch = `(lower(f_unaccent(u.username)) LIKE @pat OR lower(f_unaccent(u.name)) LIKE @pat)`
)

// similarCandidates bounds the similarity tier: the usernames nearest to the query and the
// names nearest to it, this many of each (the <-> distance, through GIN or GiST: nearest),
// then ranked by similarity and followers. Without a bound, a short query
// similar to most names (every seeded user is userN) would rank the whole table.
const similarCandidates = 50

// Hashtags rank by tier (2 the exact tag, 1 a prefix, 0 similar only) x 2^41, then similarity
// in thousandths x 2^31, then video_count; tags no video carries any more are left out.
const (
	hashtagMatch = `(lower(f_unaccent(h.name)) LIKE @pat OR lower(f_unaccent(h.name)) % @qn) AND h.video_count > 0`
	hashtagTier  = `CASE WHEN lower(f_unaccent(h.name)) = @qn THEN 2 WHEN lower(f_unaccent(h.name)) LIKE @pat THEN 1 ELSE 0 END::bigint`
	hashtagRank  = `((` + hashtagTier + `) * 2199023255552
		+ round(similarity(lower(f_unaccent(h.name)), @qn) * 1000)::bigint * 2147483648 + h.video_count)::float8`
	suggestHashtagMatch = `lower(f_unaccent(h.name)) LIKE @pat AND h.video_count > 0`
)

// Videos match when their search_vector (the caption with its tags, weight A, and the
// sound, weight B) matches the query: websearch_to_tsquery never fails on its input (quotes
// make a phrase, -word excludes, "or" is an alternative, every other character is a
// separator). They are ordered by trending_score, the For You feed's engagement-weighted,
// age-decayed score (database/migrations_trending.go): API.md's "relevance weighed by
// engagement" with relevance as the filter. An order that does not depend on the query is what
// an index can hold: for a common word PostgreSQL walks the trending order and stops
// at the page's last match, for a rare one it reads the matches from the GIN index and sorts
// that handful, and a deep page starts at its cursor in the index. ts_rank (the previous order)
// made every page of a common word read and rank all its matches: seconds for "dance". A
// tier "caption matches before sound-only matches" was tried and dropped: the GIN index holds
// no weights, so a caption-only condition is a recheck of every match, and PostgreSQL,
// estimating it like the plain match, walked the whole trending index for a word found only in
// sounds (2 s for "sabrina").
//
// The walk reads the vectors from the index, not the rows: videos_search_walk_idx holds the
// vector beside the order (index-only, 0.1-1% words went from 30-130 ms to 3-4 ms) for every
// vector short enough for a btree entry, videos_search_walk_long_idx the order of the others.
// A page is the two walks' first rows merged (each its own branch with the keyset and the
// LIMIT, PostgreSQL merges them in order), cut, then joined to the rows it lists. The two
// predicates repeat the indexes' exactly (database/migrations_search.go, search_walk), ready
// videos only included.
const (
	videoQuery = `websearch_to_tsquery('simple', f_unaccent(@q))`
	videoMatch = `v.search_vector @@ ` + videoQuery
	// videoShortVector and videoLongVector split the videos between the two walks.
	videoShortVector = `octet_length(v.search_vector::text) <= 1200 AND ` + readyOnly
	videoLongVector  = `octet_length(v.search_vector::text) > 1200 AND ` + readyOnly
)

// searchStatementTimeout bounds every statement of a search (SET LOCAL in its read
// transaction): a query shape the indexes do not serve well, from a hostile client or a
// planner's bad guess, answers 503 after this long instead of holding a connection and a core.
const searchStatementTimeout = "2s"

// read runs fn in a read transaction on the store's reads with the search's settings, all
// local to the transaction (so the pooled connection, primary or replica, is left as it was):
// the trigram similarity threshold, the statement timeout, and plan_cache_mode
// force_custom_plan. The last matters because pgx prepares statements: after five runs
// PostgreSQL may switch to a generic plan made without the query text, and the right plan
// depends on how common the words are (an index walk for a common word, the GIN index and a
// sort for a rare one). A statement cancelled by the timeout is 503 unavailable.
func (s *Search) read(ctx context.Context, fn func(tx *gorm.DB) error) error {
	return s.transaction(ctx, func(tx *gorm.DB) error {
		err := tx.Exec(`SELECT `+searchSettings, similarityThreshold, cmp.Or(s.timeout, searchStatementTimeout)).Error
		if err != nil {
			return err
		}
		return fn(tx)
	})
}

const searchSettings = `set_config('pg_trgm.similarity_threshold', ?, true),
	set_config('statement_timeout', ?, true), set_config('plan_cache_mode', 'force_custom_plan', true)`

// readTrigrams is read for the users' search: the statement of the settings also returns the
// trigrams of q (as the indexes hold them) and, when the cached statistics are older than
// trigramStatsMaxAge, the statistics anew, so a search runs as many statements either way.
func (s *Search) readTrigrams(ctx context.Context, q string, fn func(tx *gorm.DB, stats *trigramStats, trigrams []string) error) error {
	stats, refresh := s.trigrams.take()
	defer s.trigrams.release(refresh)
	return s.transaction(ctx, func(tx *gorm.DB) error {
		sql := `SELECT ` + searchSettings + `, array_to_json(show_trgm(lower(f_unaccent(?))))::text AS trigrams`
		if refresh {
			sql += `, ` + trigramStatsQuery
		} else {
			sql += `, NULL::text AS stats`
		}
		var row struct {
			Trigrams string  `gorm:"column:trigrams"`
			Stats    *string `gorm:"column:stats"`
		}
		err := tx.Raw(sql, similarityThreshold, cmp.Or(s.timeout, searchStatementTimeout), q).Find(&row).Error
		if err != nil {
			return err
		}
		var trigrams []string
		if err := json.Unmarshal([]byte(row.Trigrams), &trigrams); err != nil {
			return err
		}
		if refresh {
			stats = s.trigrams.store(row.Stats)
		}
		return fn(tx, stats, trigrams)
	})
}

// transaction runs fn in a read transaction on the store's reads; a statement cancelled by
// the timeout is 503 unavailable.
func (s *Search) transaction(ctx context.Context, fn func(tx *gorm.DB) error) error {
	err := s.reads.WithContext(ctx).Transaction(fn)
	var pgErr *pgconn.PgError
	if errors.As(err, &pgErr) && pgErr.Code == "57014" && ctx.Err() == nil {
		return errs.Unavailable("The search took too long, please retry or search for something more precise", err)
	}
	return translate(err)
}

// tierKeyset is the condition of one tier's branch on a page after the cursor's position
// (keysetArgs: tier, score, id): "" for every row (a tier below the cursor's, or the first
// page), cond with (score, id) for the cursor's tier, and ok false for a tier above it (that
// branch is left out).
func tierKeyset(tier int32, keysetArgs []any, cond string, score func(float64) any) (sql string, args []any, ok bool) {
	if len(keysetArgs) != 3 {
		return "", nil, true
	}
	switch after := keysetArgs[0].(int32); {
	case tier > after:
		return "", nil, false
	case tier < after:
		return "", nil, true
	}
	return " AND " + cond, []any{score(keysetArgs[1].(float64)), keysetArgs[2]}, true
}

// wholeScore is a tier's score as the integer column it is (followers): the keyset condition
// then compares the column itself, as its index holds it. A cursor's score is one of those
// integers unless it was forged; a forged one only moves where the page starts.
func wholeScore(f float64) any {
	if f >= math.MaxInt32 {
		return int64(math.MaxInt32)
	}
	if f <= math.MinInt32 {
		return int64(math.MinInt32)
	}
	return int64(math.Ceil(f))
}

func floatScore(f float64) any { return f }

// withQuery expands the query placeholders of sql, in order, into bind parameters: @q is the
// text as sent, @qn the text lower-cased without accents (as the indexes hold names), @pat
// the LIKE pattern of the names starting with it (its %, _ and \ escaped after the
// normalization, since a folded character could become one). It returns the SQL and the
// arguments, q once per placeholder. named are further placeholders (@name) bound to values.
func withQuery(sql, q string, named ...namedArg) (string, []any) {
	var b strings.Builder
	var args []any
outer:
	for {
		i := strings.IndexByte(sql, '@')
		if i < 0 {
			b.WriteString(sql)
			return b.String(), args
		}
		b.WriteString(sql[:i])
		rest := sql[i:]
		for _, n := range named {
			if strings.HasPrefix(rest, n.name) {
				b.WriteString(`?`)
				args = append(args, n.value)
				sql = rest[len(n.name):]
				continue outer
			}
		}
		switch {
		case strings.HasPrefix(rest, "@qn"):
			b.WriteString(`lower(f_unaccent(?))`)
			sql = rest[3:]
		case strings.HasPrefix(rest, "@pat"):
			b.WriteString(`(replace(replace(replace(lower(f_unaccent(?)), '\', '\\'), '%', '\%'), '_', '\_') || '%')`)
			sql = rest[4:]
		case strings.HasPrefix(rest, "@q"):
			b.WriteString(`?`)
			sql = rest[2:]
		default:
			b.WriteByte('@')
			sql = rest[1:]
			continue
		}
		args = append(args, q)
	}
}

// namedArg is a placeholder of withQuery other than the query's (its name starts with @ and
// with no letter q).
type namedArg struct {
	name  string
	value any
}

// normalizeQuery trims q; the store answers an empty query with an empty list (the handlers
// refuse it with 400 before).
func normalizeQuery(q string) string { return strings.TrimSpace(q) }

// userHit is a row of a user search.
type userHit struct {
	ID       int32   `gorm:"column:id"`
	Username string  `gorm:"column:username"`
	Name     *string `gorm:"column:name"`
	Avatar   *string `gorm:"column:avatar"`
	Tier     int32   `gorm:"column:tier"`
	Score    float64 `gorm:"column:score"`
}

// userTiers are the branches of the users' search, best tier first: each selects the users of
// its tier (and no other) with their score, ordered by it (each names its columns: the
// first branch of a page names the result's, and that may be any of them), after the keyset condition {after}.
var userTiers = []struct {
	tier  int32
	sql   string
	cond  string
	score func(float64) any
}{
	// The exact username orders by the score (a cast of follower_count): ordered by the column,
	// PostgreSQL may walk users_follower_count_id_idx filtering every user for the one match
	// (it misjudges the folded equality at ~1% of the table: 216 ms on 100k users), where the
	// folded index finds the match or two to sort at once.
	{3, `SELECT u.id, u.username, u.name, u.avatar, 3 AS tier, u.follower_count::float8 AS score FROM users u
		WHERE ` + userNameIsQuery + `{after} ORDER BY u.follower_count::float8 DESC, u.id DESC`,
		`(u.follower_count, u.id) < (?, ?)`, wholeScore},
	{2, `SELECT u.id, u.username, u.name, u.avatar, 2 AS tier, u.follower_count::float8 AS score FROM users u
		WHERE ` + userName + ` LIKE @pat AND ` + userName + ` <> @qn{after} ORDER BY u.follower_count DESC, u.id DESC`,
		`(u.follower_count, u.id) < (?, ?)`, wholeScore},
	{1, `SELECT u.id, u.username, u.name, u.avatar, 1 AS tier, u.follower_count::float8 AS score FROM users u
		WHERE ` + userRealName + ` LIKE @pat AND ` + userName + ` NOT LIKE @pat{after} ORDER BY u.follower_count DESC, u.id DESC`,
		`(u.follower_count, u.id) < (?, ?)`, wholeScore},
	// The similar users among the nearest candidates (similarCandidates), minus the prefix
	// matches of the tiers above.
	{0, `SELECT s.id, s.username, s.name, s.avatar, 0 AS tier, s.score FROM (
			SELECT u.id, u.username, u.name, u.avatar, ` + userSimilarScore + ` AS score FROM users u
			WHERE u.id IN ({nearUsernames} UNION {nearNames})
			AND ` + userName + ` NOT LIKE @pat AND (` + userRealName + ` NOT LIKE @pat) IS NOT FALSE) s
		WHERE true{after} ORDER BY s.score DESC, s.id DESC`,
		`(s.score, s.id) < (?, ?)`, floatScore},
}

var similarLimit = strconv.Itoa(similarCandidates)

// nearest is the similarity tier's candidates in one column (userName or userRealName): the
// similarCandidates nearest to the query among the similar ones, through the index similarPath
// chose. Both forms select the same rows (the same condition and order; ties at the bound
// fall either way, as they did with one form). Through the GiST index the expression is
// written COLLATE "C", the collation of that index alone (database/migrations_search.go,
// search_similar_paths): without it PostgreSQL answered the GIN form's % through the GiST
// index too, reading all of it.
//
// The window route (similarWindow) is the GiST form's answer too, read another way.
func nearest(column string, route similarRoute, rare string) string {
	if route.window {
		return similarWindow(column, route, rare)
	}
	if route.gist {
		column = column + ` COLLATE "C"`
	}
	return `(SELECT u.id FROM users u WHERE ` + column + ` % @qn ORDER BY ` + column + ` <-> @qn LIMIT ` + similarLimit + `)`
}

// similarWindowMaxRows is the most rows the window route reads by trigram count; past it the
// route reads GiST (about what a GiST read of 100k names costs in rechecks).
const similarWindowMaxRows = 2000

// similarWindow is nearest's candidates without reading a whole index when the query's
// trigrams are common (GiST reads all of it then: "usre1", "usera" on 100k userN names).
// With n the query's trigrams, R its rare ones (the rows holding any: the GIN array index
// users_*_trgm_set_idx, few by the statistics) and c = n - |R| the common ones, a name of m
// trigrams holding none of R shares at most min(c, m) with the query, so its similarity
// s/(n+m-s) is at most g(m) = min(c, m)/(n+m-min(c, m)): m/n below c, c/(n+m-c) from c on.
// A name reaching the threshold t thus has t x n <= m <= c/t + c - n, and only those (their
// count is the btree users_*_trgm_count_idx) and the R rows can be among the nearest. The
// window is narrowed further by a probe: the 50th best similarity among the first 200 names
// of the window in count order is a similarity that 50 names reach, so the nearest 50 are
// at least as similar, and the window for that similarity holds them. The candidates are
// then ranked by <-> as in the other forms (the same rows; ties at the bound either way). A
// window of more than similarWindowMaxRows names (a probe that found too few similar names
// among common trigrams) is read through GiST instead: one or the other branch runs.
func similarWindow(column string, route similarRoute, rare string) string {
	n, c := route.trigrams, route.trigrams-len(route.rare)
	count := `array_length(show_trgm(` + column + `), 1)`
	// The threshold's window, one wider on each side (a wider window only costs rows).
	lo0, hi0 := strconv.Itoa(max((n+4)/5-1, 0)), strconv.Itoa(6*c-n+1)
	ns, cs := strconv.Itoa(n), strconv.Itoa(c)
	gist := column + ` COLLATE "C"`
	return `(WITH w AS MATERIALIZED (SELECT greatest(` + lo0 + `, ceil(p.t * ` + ns + ` - 0.001))::int AS lo,
			least(` + hi0 + `, floor(` + cs + ` / p.t + ` + cs + ` - ` + ns + ` + 0.001))::int AS hi
		FROM (SELECT COALESCE((SELECT min(x.s) FROM (SELECT similarity(y.f, @qn)::float8 AS s
			FROM (SELECT ` + column + ` AS f FROM users u WHERE ` + count + ` BETWEEN ` + lo0 + ` AND ` + hi0 + `
				ORDER BY ` + count + ` LIMIT 200) y
			WHERE y.f % @qn ORDER BY 1 DESC LIMIT ` + similarLimit + `) x HAVING count(*) = ` + similarLimit + `), ` + similarityThreshold + `) AS t OFFSET 0) p),
		wide AS MATERIALIZED (SELECT count(*) > ` + strconv.Itoa(similarWindowMaxRows) + ` AS wide FROM (SELECT 1 FROM users u, w
			WHERE ` + count + ` BETWEEN w.lo AND w.hi LIMIT ` + strconv.Itoa(similarWindowMaxRows+1) + `) z)
	(SELECT c.id FROM (SELECT u.id, ` + column + ` AS f FROM users u WHERE NOT (SELECT wide FROM wide)
			AND (show_trgm(` + column + `) && ARRAY(SELECT json_array_elements_text(` + rare + `::json))
				OR ` + count + ` BETWEEN (SELECT lo FROM w) AND (SELECT hi FROM w)) OFFSET 0) c
		WHERE c.f % @qn ORDER BY c.f <-> @qn LIMIT ` + similarLimit + `)
	UNION ALL
	(SELECT u.id FROM users u WHERE (SELECT wide FROM wide) AND ` + gist + ` % @qn ORDER BY ` + gist + ` <-> @qn LIMIT ` + similarLimit + `))`
}

// afterCursor is where a tier's branch takes its keyset condition (tierKeyset).
const afterCursor = "{after}"

// userSearchSpec is the keyset list of the users matching q, by (tier, score, id): the
// tiers' branches under one LIMIT. PostgreSQL's Append runs the branches in the order written
// and stops pulling rows at the LIMIT, so a later tier costs nothing while the earlier ones
// fill the page.
func userSearchSpec(db *gorm.DB, q string, usernames, names similarRoute) listSpec {
	return listSpec{keys: keyset{first: "score", second: "id", byScore: true, tiered: true},
		resolve: func(ctx context.Context, id int32) (position, bool, error) {
			sql, args := withQuery(`SELECT t.tier, CASE WHEN t.tier > 0 THEN u.follower_count::float8 ELSE `+userSimilarScore+` END AS score
				FROM users u CROSS JOIN LATERAL (SELECT CASE WHEN `+userName+` = @qn THEN 3 WHEN `+userName+` LIKE @pat THEN 2
					WHEN `+userRealName+` LIKE @pat THEN 1 ELSE 0 END AS tier) t
				WHERE (`+userName+` LIKE @pat OR `+userRealName+` LIKE @pat OR `+userName+` % @qn OR `+userRealName+` % @qn)`, q)
			sql += ` AND u.id = ?`
			var rows []struct {
				Tier  int32   `gorm:"column:tier"`
				Score float64 `gorm:"column:score"`
			}
			err := db.WithContext(ctx).Raw(sql, append(args, id)...).Find(&rows).Error
			if err != nil || len(rows) == 0 {
				return position{}, false, err
			}
			return position{Tier: rows[0].Tier, Score: rows[0].Score, ID: id}, true, nil
		},
		statement: func(_, _ string, keysetArgs []any, limit int) (string, []any) {
			var branches []string
			var args []any
			for _, t := range userTiers {
				cond, condArgs, ok := tierKeyset(t.tier, keysetArgs, t.cond, t.score)
				if !ok {
					continue
				}
				sql := strings.NewReplacer(afterCursor, cond, "{nearUsernames}", nearest(userName, usernames, "@rareUsernames"),
					"{nearNames}", nearest(userRealName, names, "@rareNames")).Replace(t.sql)
				sql, qArgs := withQuery(sql, q, namedArg{"@rareUsernames", rareJSON(usernames.rare)}, namedArg{"@rareNames", rareJSON(names.rare)})
				branches = append(branches, "("+sql+" LIMIT ?)")
				args = append(append(append(args, qArgs...), condArgs...), limit)
			}
			return `SELECT * FROM (` + strings.Join(branches, " UNION ALL ") + `) s LIMIT ?`, append(args, limit)
		}}
}

// Users is the users matching q (type=users): username and name, exact and prefix matches
// first, then similar ones, more followed first.
func (s *Search) Users(ctx context.Context, viewer int32, q string, req PageRequest) (Page[UserSummary], error) {
	q = normalizeQuery(q)
	if q == "" {
		return Page[UserSummary]{Items: []UserSummary{}}, nil
	}
	req.Page = 0 // keyset pages only
	var page Page[UserSummary]
	err := s.readTrigrams(ctx, q, func(tx *gorm.DB, stats *trigramStats, trigrams []string) error {
		var err error
		spec := userSearchSpec(tx, q, s.route(stats, usernameTrigramStats, trigrams), s.route(stats, nameTrigramStats, trigrams))
		page, err = s.userPage(ctx, tx, viewer, spec, req)
		return err
	})
	if err != nil {
		return Page[UserSummary]{}, err
	}
	return page, nil
}

// route is the similarity tier's route for a column (similarRoute; a test's when it forces one).
func (s *Search) route(stats *trigramStats, column string, trigrams []string) similarRoute {
	if s.forceRoute != nil {
		return s.forceRoute(trigrams)
	}
	return stats.similarRoute(column, trigrams)
}

// rareJSON is the rare trigrams as a JSON array (one bind parameter; similarWindow).
func rareJSON(rare []string) string {
	if rare == nil {
		rare = []string{}
	}
	b, err := json.Marshal(rare)
	if err != nil {
		panic(err) // strings always marshal
	}
	return string(b)
}

func (s *Search) userPage(ctx context.Context, db *gorm.DB, viewer int32, spec listSpec, req PageRequest) (Page[UserSummary], error) {
	hits, err := fetchPage(ctx, db, spec, req, func(db *gorm.DB, sql string, args []any) ([]userHit, error) {
		var rows []userHit
		err := db.Raw(sql, args...).Find(&rows).Error
		return rows, err
	}, func(h *userHit) position { return position{Tier: h.Tier, Score: h.Score, ID: h.ID} })
	if err != nil {
		return Page[UserSummary]{}, err
	}
	users, err := s.summaries(ctx, db, viewer, hits.Items)
	if err != nil {
		return Page[UserSummary]{}, err
	}
	return withItems(hits, users), nil
}

// summaries turns hits into UserSummary shapes with isFollowing (one query for all).
func (s *Search) summaries(ctx context.Context, db *gorm.DB, viewer int32, hits []userHit) ([]UserSummary, error) {
	ids := make([]int32, len(hits))
	for i := range hits {
		ids[i] = hits[i].ID
	}
	following, err := viewerFollows(ctx, db, viewer, ids)
	if err != nil {
		return nil, err
	}
	out := make([]UserSummary, len(hits))
	for i, h := range hits {
		out[i] = s.media.userSummary(&models.User{ID: h.ID, Username: h.Username, Name: h.Name, Avatar: h.Avatar}, following(h.ID))
	}
	return out, nil
}

// Videos is the videos whose caption (tags included) or sound match q (type=videos and
// the videos of type=top), by trending_score: the match is the filter, the For You feed's
// score the order, so the trending index serves it (see videoMatch).
func (s *Search) Videos(ctx context.Context, viewer int32, q string, req PageRequest) (Page[VideoView], error) {
	q = normalizeQuery(q)
	if q == "" {
		return Page[VideoView]{Items: []VideoView{}}, nil
	}
	req.Page = 0 // keyset pages only
	var out Page[VideoView]
	err := s.read(ctx, func(tx *gorm.DB) error {
		spec := listSpec{keys: keyset{first: "v.trending_score", second: "v.id", byScore: true}, columns: videoColumns,
			resolve: func(ctx context.Context, id int32) (position, bool, error) {
				sql, args := withQuery(`SELECT v.trending_score FROM videos v WHERE `+videoMatch+` AND `+readyOnly, q)
				var scores []float64
				err := tx.WithContext(ctx).Raw(sql+` AND v.id = ?`, append(args, id)...).Find(&scores).Error
				if err != nil || len(scores) == 0 {
					return position{}, false, err
				}
				return position{Score: scores[0], ID: id}, true, nil
			},
			// The page is cut before the authors are joined: joined first, PostgreSQL would
			// hash every user to join a page of matches.
			statement: func(columns, keyset string, keysetArgs []any, limit int) (string, []any) {
				var walks []string
				var args []any
				for _, part := range []string{videoShortVector, videoLongVector} {
					sql, qArgs := withQuery(`SELECT v.id, v.trending_score FROM videos v WHERE `+part+` AND `+videoMatch, q)
					args = append(args, qArgs...)
					if keyset != "" {
						sql += " AND " + keyset
						args = append(args, keysetArgs...)
					}
					walks = append(walks, `(`+sql+` ORDER BY v.trending_score DESC, v.id DESC LIMIT ?)`)
					args = append(args, limit)
				}
				return `SELECT ` + columns + ` FROM (SELECT w.id FROM (` + strings.Join(walks, " UNION ALL ") + `) w
						ORDER BY w.trending_score DESC, w.id DESC LIMIT ?) p
					JOIN videos v ON v.id = p.id JOIN users u ON u.id = v.user_id` + videoPending + `
					ORDER BY v.trending_score DESC, v.id DESC`, append(args, limit)
			}}
		var err error
		out, err = videoPage(ctx, tx, s.media, viewer, spec, req)
		return err
	})
	if err != nil {
		return Page[VideoView]{}, err
	}
	return out, nil
}

// HashtagSummary is the Hashtag shape of API.md.
type HashtagSummary struct {
	Name       string `json:"name"`
	VideoCount int32  `json:"videoCount"`
}

type hashtagHit struct {
	ID         int32   `gorm:"column:id"`
	Name       string  `gorm:"column:name"`
	VideoCount int32   `gorm:"column:video_count"`
	Rank       float64 `gorm:"column:rank"`
}

// hashtagText is q as a tag: without its leading #s (people type "#dance").
func hashtagText(q string) string { return strings.TrimSpace(strings.TrimLeft(normalizeQuery(q), "#")) }

// Hashtags is the tags matching q (type=hashtags): the tag itself, then tags starting with
// it, then similar ones, more used first. Like Users, it runs in a read-only transaction for
// the similarity threshold.
func (s *Search) Hashtags(ctx context.Context, q string, req PageRequest) (Page[HashtagSummary], error) {
	q = hashtagText(q)
	if q == "" {
		return Page[HashtagSummary]{Items: []HashtagSummary{}}, nil
	}
	req.Page = 0
	var page Page[HashtagSummary]
	err := s.read(ctx, func(tx *gorm.DB) error {
		var err error
		page, err = hashtagPage(ctx, tx, hashtagSearchSpec(tx, q, hashtagMatch, hashtagRank), req)
		return err
	})
	if err != nil {
		return Page[HashtagSummary]{}, err
	}
	return page, nil
}

func hashtagSearchSpec(db *gorm.DB, q, match, rank string) listSpec {
	inner := `SELECT h.id, h.name, h.video_count, ` + rank + ` AS rank FROM hashtags h WHERE ` + match
	return listSpec{keys: keyset{first: "s.rank", second: "s.id", byScore: true},
		// A tag has no public id, so a bare numeric cursor names nothing in this list.
		resolve: func(context.Context, int32) (position, bool, error) { return position{}, false, nil },
		statement: func(_, keyset string, keysetArgs []any, limit int) (string, []any) {
			sql, args := withQuery(`SELECT s.id, s.name, s.video_count, s.rank FROM (`+inner+`) s`, q)
			if keyset != "" {
				sql += " WHERE " + keyset
				args = append(args, keysetArgs...)
			}
			return sql + " ORDER BY s.rank DESC, s.id DESC LIMIT ?", append(args, limit)
		}}
}

func hashtagPage(ctx context.Context, db *gorm.DB, spec listSpec, req PageRequest) (Page[HashtagSummary], error) {
	hits, err := fetchPage(ctx, db, spec, req, func(db *gorm.DB, sql string, args []any) ([]hashtagHit, error) {
		var rows []hashtagHit
		err := db.Raw(sql, args...).Find(&rows).Error
		return rows, err
	}, func(h *hashtagHit) position { return position{Score: h.Rank, ID: h.ID} })
	if err != nil {
		return Page[HashtagSummary]{}, err
	}
	out := make([]HashtagSummary, len(hits.Items))
	for i, h := range hits.Items {
		out[i] = HashtagSummary{Name: h.Name, VideoCount: h.VideoCount}
	}
	return withItems(hits, out), nil
}

// Suggestions is the type-ahead answer: at most SuggestLimit users whose username or name
// starts with q (the exact username first, then more followed) and as many tags starting with
// it (the tag itself first, then more used).
type Suggestions struct {
	Users    []UserSummary
	Hashtags []HashtagSummary
}

// Suggest answers GET /api/search/suggest. Each list is the exact match (the username, the
// tag) then the other prefix matches by followers or use: two index reads joined by UNION
// ALL, the second in the order of users_follower_count_id_idx / hashtags_video_count_id_idx,
// so a one-letter prefix stops at the fifth match instead of ranking the whole table.
func (s *Search) Suggest(ctx context.Context, viewer int32, q string) (Suggestions, error) {
	q = normalizeQuery(q)
	out := Suggestions{Users: []UserSummary{}, Hashtags: []HashtagSummary{}}
	if q == "" {
		return out, nil
	}
	db := s.reads.WithContext(ctx)
	sql, args := withQuery(`SELECT id, username, name, avatar FROM (
		(SELECT u.id, u.username, u.name, u.avatar, u.follower_count, 0 AS part FROM users u
			WHERE `+userNameIsQuery+` LIMIT 1)
		UNION ALL
		(SELECT u.id, u.username, u.name, u.avatar, u.follower_count, 1 FROM users u
			WHERE `+suggestUserMatch+` AND lower(f_unaccent(u.username)) <> @qn
			ORDER BY u.follower_count DESC, u.id DESC LIMIT ?)) s
		ORDER BY part, follower_count DESC, id DESC LIMIT ?`, q)
	var hits []userHit
	if err := db.Raw(sql, append(args, SuggestLimit, SuggestLimit)...).Find(&hits).Error; err != nil {
		return Suggestions{}, translate(err)
	}
	users, err := s.summaries(ctx, s.reads, viewer, hits)
	if err != nil {
		return Suggestions{}, translate(err)
	}
	out.Users = users
	if tag := hashtagText(q); tag != "" {
		sql, args := withQuery(`SELECT name, video_count FROM (
			(SELECT h.id, h.name, h.video_count, 0 AS part FROM hashtags h
				WHERE lower(f_unaccent(h.name)) = @qn AND h.video_count > 0 LIMIT 1)
			UNION ALL
			(SELECT h.id, h.name, h.video_count, 1 FROM hashtags h
				WHERE `+suggestHashtagMatch+` AND lower(f_unaccent(h.name)) <> @qn
				ORDER BY h.video_count DESC, h.id DESC LIMIT ?)) s
			ORDER BY part, video_count DESC, id DESC LIMIT ?`, tag)
		var tags []hashtagHit
		if err := db.Raw(sql, append(args, SuggestLimit, SuggestLimit)...).Find(&tags).Error; err != nil {
			return Suggestions{}, translate(err)
		}
		for _, h := range tags {
			out.Hashtags = append(out.Hashtags, HashtagSummary{Name: h.Name, VideoCount: h.VideoCount})
		}
	}
	return out, nil
}
