package store

import (
	"context"
	"strings"

	"gorm.io/gorm"

	"tiktok/models"
)

// Search serves GET /api/search and /api/search/suggest (API.md, "Discovery"). Every search
// is a stale-tolerant read on the store's reads. The indexes and the extensions are those of
// database/migrations_search.go; the expressions below repeat theirs exactly
// (lower(f_unaccent(username)), the videos' search_vector), or no index could serve them.
//
// Each result list is a keyset page over (rank, id), both descending, through fetchPage. The
// rank is computed from the row and the query alone, never from the clock or the page, so the
// same query ranks the same rows the same way on every request and a cursor ("s1:<rank>:<id>",
// the score cursor of the trending feed) resumes exactly after the last item. A row whose
// counters change between two pages may move, as it does in the trending feed.
type Search struct {
	db    *gorm.DB
	reads *gorm.DB
	media MediaURLs
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

// The users' rank packs, in one float8 that is exact (an integer below 2^53), the order API.md
// gives: tier (3 exact username, 2 username prefix, 1 name prefix, 0 similar only) x 2^41,
// then the trigram similarity in thousandths x 2^31, then the follower count (< 2^31).
const (
	userMatch = `(lower(f_unaccent(u.username)) LIKE @pat OR lower(f_unaccent(u.name)) LIKE @pat
		OR lower(f_unaccent(u.username)) % @qn OR lower(f_unaccent(u.name)) % @qn)`
	userTier = `CASE WHEN lower(f_unaccent(u.username)) = @qn THEN 3
		WHEN lower(f_unaccent(u.username)) LIKE @pat THEN 2
		WHEN lower(f_unaccent(u.name)) LIKE @pat THEN 1 ELSE 0 END::bigint`
	userRank = `((` + userTier + `) * 2199023255552
		+ round(greatest(similarity(lower(f_unaccent(u.username)), @qn),
			COALESCE(similarity(lower(f_unaccent(u.name)), @qn), 0)) * 1000)::bigint * 2147483648
		+ u.follower_count)::float8`
	// The type-ahead takes prefix matches only (Suggest).
	suggestUserMatch = `(lower(f_unaccent(u.username)) LIKE @pat OR lower(f_unaccent(u.name)) LIKE @pat)`
)

// Hashtags rank by tier (2 the exact tag, 1 a prefix, 0 similar only) x 2^41, then similarity
// in thousandths x 2^31, then video_count; tags no video carries any more are left out.
const (
	hashtagMatch = `(lower(f_unaccent(h.name)) LIKE @pat OR lower(f_unaccent(h.name)) % @qn) AND h.video_count > 0`
	hashtagTier  = `CASE WHEN lower(f_unaccent(h.name)) = @qn THEN 2 WHEN lower(f_unaccent(h.name)) LIKE @pat THEN 1 ELSE 0 END::bigint`
	hashtagRank  = `((` + hashtagTier + `) * 2199023255552
		+ round(similarity(lower(f_unaccent(h.name)), @qn) * 1000)::bigint * 2147483648 + h.video_count)::float8`
	suggestHashtagMatch = `lower(f_unaccent(h.name)) LIKE @pat AND h.video_count > 0`
)

// The videos' rank is the full-text relevance of the match (ts_rank: a caption match, weight
// A, counts more than a sound match, weight B) weighed by engagement with the trending
// score's formula (database/migrations_trending.go) without its age term: x (1 + log10(1 +
// likes + 2 comments + views/10)). websearch_to_tsquery never fails on its input: quotes make
// a phrase, -word excludes, "or" is an alternative, and every other character is a separator.
const (
	videoQuery = `websearch_to_tsquery('simple', f_unaccent(@q))`
	videoRank  = `ts_rank(v.search_vector, ` + videoQuery + `)::float8
		* (1 + log((1 + v.like_count::float8 + 2 * v.comment_count::float8 + v.views / 10)))`
	videoMatch = `v.search_vector @@ ` + videoQuery
)

// withQuery expands the query placeholders of sql, in order, into bind parameters: @q is the
// text as sent, @qn the text lower-cased without accents (as the indexes hold names), @pat
// the LIKE pattern of the names starting with it (its %, _ and \ escaped after the
// normalization, since a folded character could become one). It returns the SQL and the
// arguments, q once per placeholder.
func withQuery(sql, q string) (string, []any) {
	var b strings.Builder
	var args []any
	for {
		i := strings.IndexByte(sql, '@')
		if i < 0 {
			b.WriteString(sql)
			return b.String(), args
		}
		b.WriteString(sql[:i])
		rest := sql[i:]
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

// normalizeQuery trims q; the store answers an empty query with an empty list (the handlers
// refuse it with 400 before).
func normalizeQuery(q string) string { return strings.TrimSpace(q) }

// userHit is a row of a user search.
type userHit struct {
	ID       int32   `gorm:"column:id"`
	Username string  `gorm:"column:username"`
	Name     *string `gorm:"column:name"`
	Avatar   *string `gorm:"column:avatar"`
	Rank     float64 `gorm:"column:rank"`
}

// userSearchSpec is the keyset list of the users meeting match, by rank.
func userSearchSpec(db *gorm.DB, q, match, rank string) listSpec {
	inner := `SELECT u.id, u.username, u.name, u.avatar, ` + rank + ` AS rank FROM users u WHERE ` + match
	return listSpec{keys: keyset{first: "s.rank", second: "s.id", byScore: true},
		resolve: func(ctx context.Context, id int32) (position, bool, error) {
			sql, args := withQuery(`SELECT s.rank FROM (`+inner+` AND u.id = ?) s`, q)
			var ranks []float64
			err := db.WithContext(ctx).Raw(sql, append(args, id)...).Scan(&ranks).Error
			if err != nil || len(ranks) == 0 {
				return position{}, false, err
			}
			return position{Score: ranks[0], ID: id}, true, nil
		},
		statement: func(keyset string, keysetArgs []any, limit int) (string, []any) {
			sql, args := withQuery(`SELECT s.id, s.username, s.name, s.avatar, s.rank FROM (`+inner+`) s`, q)
			if keyset != "" {
				sql += " WHERE " + keyset
				args = append(args, keysetArgs...)
			}
			return sql + " ORDER BY s.rank DESC, s.id DESC LIMIT ?", append(args, limit)
		}}
}

// Users is the users matching q (type=users): username and name, exact and prefix matches
// first, then similar ones, more followed first. It runs in a read-only transaction for the
// similarity threshold (SET LOCAL).
func (s *Search) Users(ctx context.Context, viewer int32, q string, req PageRequest) (Page[UserSummary], error) {
	q = normalizeQuery(q)
	if q == "" {
		return Page[UserSummary]{Items: []UserSummary{}}, nil
	}
	req.Page = 0 // keyset pages only
	var page Page[UserSummary]
	err := s.reads.WithContext(ctx).Transaction(func(tx *gorm.DB) error {
		if err := tx.Exec(`SET LOCAL pg_trgm.similarity_threshold = ` + similarityThreshold).Error; err != nil {
			return err
		}
		var err error
		page, err = s.userPage(ctx, tx, viewer, userSearchSpec(tx, q, userMatch, userRank), req)
		return err
	})
	if err != nil {
		return Page[UserSummary]{}, translate(err)
	}
	return page, nil
}

func (s *Search) userPage(ctx context.Context, db *gorm.DB, viewer int32, spec listSpec, req PageRequest) (Page[UserSummary], error) {
	hits, err := fetchPage(ctx, db, spec, req, func(db *gorm.DB, sql string, args []any) ([]userHit, error) {
		var rows []userHit
		err := db.Raw(sql, args...).Scan(&rows).Error
		return rows, err
	}, func(h *userHit) position { return position{Score: h.Rank, ID: h.ID} })
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
// the videos of type=top), by relevance weighed by engagement.
func (s *Search) Videos(ctx context.Context, viewer int32, q string, req PageRequest) (Page[VideoView], error) {
	q = normalizeQuery(q)
	if q == "" {
		return Page[VideoView]{Items: []VideoView{}}, nil
	}
	req.Page = 0 // keyset pages only
	inner := `SELECT v.*, ` + videoRank + ` AS rank FROM videos v WHERE ` + videoMatch
	// The page's rank stands where the trending score stands in a video row: the position of
	// a list by score.
	columns := strings.Replace(videoColumns, "v.trending_score", "v.rank", 1)
	return videoPage(ctx, s.reads, s.media, viewer, listSpec{keys: keyset{first: "v.rank", second: "v.id", byScore: true},
		resolve: func(ctx context.Context, id int32) (position, bool, error) {
			sql, args := withQuery(`SELECT v.rank FROM (`+inner+` AND v.id = ?) v`, q)
			var ranks []float64
			err := s.reads.WithContext(ctx).Raw(sql, append(args, id)...).Scan(&ranks).Error
			if err != nil || len(ranks) == 0 {
				return position{}, false, err
			}
			return position{Score: ranks[0], ID: id}, true, nil
		},
		// The page is cut before the authors are joined: joined first, PostgreSQL would hash
		// every user to join a few hundred matches.
		statement: func(keyset string, keysetArgs []any, limit int) (string, []any) {
			page := `SELECT * FROM (` + inner + `) v`
			sql, args := withQuery(page, q)
			if keyset != "" {
				sql += " WHERE " + keyset
				args = append(args, keysetArgs...)
			}
			sql = `SELECT ` + columns + ` FROM (` + sql + ` ORDER BY v.rank DESC, v.id DESC LIMIT ?) v
				JOIN users u ON u.id = v.user_id ORDER BY v.rank DESC, v.id DESC`
			return sql, append(args, limit)
		}}, req)
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
	err := s.reads.WithContext(ctx).Transaction(func(tx *gorm.DB) error {
		if err := tx.Exec(`SET LOCAL pg_trgm.similarity_threshold = ` + similarityThreshold).Error; err != nil {
			return err
		}
		var err error
		page, err = hashtagPage(ctx, tx, hashtagSearchSpec(tx, q, hashtagMatch, hashtagRank), req)
		return err
	})
	if err != nil {
		return Page[HashtagSummary]{}, translate(err)
	}
	return page, nil
}

func hashtagSearchSpec(db *gorm.DB, q, match, rank string) listSpec {
	inner := `SELECT h.id, h.name, h.video_count, ` + rank + ` AS rank FROM hashtags h WHERE ` + match
	return listSpec{keys: keyset{first: "s.rank", second: "s.id", byScore: true},
		// A tag has no public id, so a bare numeric cursor names nothing in this list.
		resolve: func(context.Context, int32) (position, bool, error) { return position{}, false, nil },
		statement: func(keyset string, keysetArgs []any, limit int) (string, []any) {
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
		err := db.Raw(sql, args...).Scan(&rows).Error
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
			WHERE lower(f_unaccent(u.username)) = @qn LIMIT 1)
		UNION ALL
		(SELECT u.id, u.username, u.name, u.avatar, u.follower_count, 1 FROM users u
			WHERE `+suggestUserMatch+` AND lower(f_unaccent(u.username)) <> @qn
			ORDER BY u.follower_count DESC, u.id DESC LIMIT ?)) s
		ORDER BY part, follower_count DESC, id DESC LIMIT ?`, q)
	var hits []userHit
	if err := db.Raw(sql, append(args, SuggestLimit, SuggestLimit)...).Scan(&hits).Error; err != nil {
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
		if err := db.Raw(sql, append(args, SuggestLimit, SuggestLimit)...).Scan(&tags).Error; err != nil {
			return Suggestions{}, translate(err)
		}
		for _, h := range tags {
			out.Hashtags = append(out.Hashtags, HashtagSummary{Name: h.Name, VideoCount: h.VideoCount})
		}
	}
	return out, nil
}
