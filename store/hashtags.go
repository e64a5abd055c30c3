package store

import (
	"context"
	"database/sql/driver"
	"slices"
	"strings"
	"sync"
	"time"

	"gorm.io/gorm"

	"tiktok/errs"
	"tiktok/hashtag"
)

// syncVideoTags makes video id's rows of video_hashtags the tags of caption (hashtag.Parse), in
// the caller's transaction, which holds the video's row. created says the video is new, so it
// has no rows yet. It runs at most four statements, none when a new caption has no tags:
//
//  1. the names not stored yet are inserted, sorted by name (two writers adding the same new
//     names wait on each other's uncommitted names in one order), ON CONFLICT DO NOTHING;
//  2. (edits) every tag the video loses or gains is locked in id order, in one statement:
//     step 3 of the lock order (locks.go), so two captions trading tags cannot deadlock;
//  3. (edits) the rows of tags the caption no longer names are deleted;
//  4. the rows of the caption's tags are inserted by hashtag id.
//
// Statements 2-4 are new statements, so in READ COMMITTED they see the names a concurrent
// writer committed after statement 1 found them there. The counting trigger keeps
// hashtags.video_count and hashtag_daily_uses in step with steps 3 and 4.
func syncVideoTags(tx *gorm.DB, id int32, caption *string, created bool) error {
	var names []string
	if caption != nil {
		names = hashtag.Parse(*caption)
	}
	if names == nil {
		if created {
			return nil
		}
		names = []string{}
	}
	if len(names) > 0 {
		if err := tx.Exec(`INSERT INTO hashtags (name) SELECT n FROM unnest(?::text[]) AS n ORDER BY n
			ON CONFLICT (name) DO NOTHING`, textArray(names)).Error; err != nil {
			return err
		}
	}
	if !created {
		if err := tx.Exec(`SELECT id FROM hashtags
			WHERE id IN (SELECT hashtag_id FROM video_hashtags WHERE video_id = ?) OR name = ANY(?::text[])
			ORDER BY id FOR NO KEY UPDATE`, id, textArray(names)).Error; err != nil {
			return err
		}
		if err := tx.Exec(`DELETE FROM video_hashtags vh WHERE vh.video_id = ?
			AND NOT EXISTS (SELECT 1 FROM hashtags h WHERE h.id = vh.hashtag_id AND h.name = ANY(?::text[]))`,
			id, textArray(names)).Error; err != nil {
			return err
		}
	}
	if len(names) == 0 {
		return nil
	}
	return tx.Exec(`INSERT INTO video_hashtags (video_id, hashtag_id)
		SELECT ?, id FROM hashtags WHERE name = ANY(?::text[]) ORDER BY id
		ON CONFLICT DO NOTHING`, id, textArray(names)).Error
}

// textArray passes a []string as one text[] parameter (GORM would expand a slice into a list
// of parameters).
type textArray []string

// Value writes the array literal, quoting every element.
func (a textArray) Value() (driver.Value, error) {
	var b strings.Builder
	b.WriteByte('{')
	for i, s := range a {
		if i > 0 {
			b.WriteByte(',')
		}
		b.WriteByte('"')
		for _, r := range s {
			if r == '"' || r == '\\' {
				b.WriteByte('\\')
			}
			b.WriteRune(r)
		}
		b.WriteByte('"')
	}
	b.WriteByte('}')
	return b.String(), nil
}

// Hashtags reads tags, tag pages and the trending tags (API.md, "Discovery").
type Hashtags struct {
	db       *gorm.DB
	reads    *gorm.DB
	media    MediaURLs
	trending *trendingCache
}

// HashtagView is the Hashtag shape of API.md.
type HashtagView struct {
	Name       string `json:"name"`
	VideoCount int32  `json:"videoCount"`
}

// TrendingHashtag is a row of GET /api/hashtags/trending: the tag, its videos, and its uses
// in the last 7 days.
type TrendingHashtag struct {
	Name        string `json:"name"`
	VideoCount  int32  `json:"videoCount"`
	RecentCount int32  `json:"recentCount"`
}

var errHashtagNotFound = errs.NotFound("Hashtag not found")

// Tag-page sorts.
const (
	TagLatest   = "latest"
	TagTrending = "trending"
)

// hashtagRow is a tag as stored.
type hashtagRow struct {
	ID         int32
	Name       string
	VideoCount int32
}

// find reads the tag a client names ("Dance", "#dance"): NotFound for a name no caption could
// carry, without a query.
func (s *Hashtags) find(ctx context.Context, name string) (hashtagRow, error) {
	name, ok := hashtag.Normalize(name)
	if !ok {
		return hashtagRow{}, errHashtagNotFound
	}
	var rows []hashtagRow
	if err := s.reads.WithContext(ctx).Raw(`SELECT id, name, video_count FROM hashtags WHERE name = ?`, name).
		Scan(&rows).Error; err != nil {
		return hashtagRow{}, translate(err)
	}
	if len(rows) == 0 {
		return hashtagRow{}, errHashtagNotFound
	}
	return rows[0], nil
}

// Get reads the tag a client names; NotFound when no video ever carried it or when the name
// cannot be a tag.
func (s *Hashtags) Get(ctx context.Context, name string) (HashtagView, error) {
	h, err := s.find(ctx, name)
	if err != nil {
		return HashtagView{}, err
	}
	return HashtagView{Name: h.Name, VideoCount: h.VideoCount}, nil
}

// Videos is a tag page: the tag and its videos, newest first (TagLatest) or by trending score
// (TagTrending), by keyset cursor. Either order is one range of an index of video_hashtags
// that leads with the tag ((hashtag_id, created_at DESC, video_id DESC) or (hashtag_id,
// trending_score DESC, video_id DESC)), joined to the videos and their authors by primary key:
// the 1,000th page costs what the first does. Two statements for any caller (the tag, the
// page with the viewer fields: videoPage).
func (s *Hashtags) Videos(ctx context.Context, viewer int32, name, sort string, req PageRequest) (HashtagView, Page[VideoView], error) {
	h, err := s.find(ctx, name)
	if err != nil {
		return HashtagView{}, Page[VideoView]{}, err
	}
	req.Page = 0 // cursor pages only
	spec := listSpec{columns: videoColumns,
		from:  "video_hashtags vh JOIN videos v ON v.id = vh.video_id JOIN users u ON u.id = v.user_id" + videoPending,
		where: "vh.hashtag_id = ? AND " + readyOnly, args: []any{h.ID}}
	switch sort {
	case TagTrending:
		spec.keys = keyset{first: "vh.trending_score", second: "vh.video_id", byScore: true}
		spec.resolve = func(ctx context.Context, id int32) (position, bool, error) {
			var score []float64
			err := s.reads.WithContext(ctx).Raw(`SELECT trending_score FROM video_hashtags WHERE hashtag_id = ? AND video_id = ?`,
				h.ID, id).Find(&score).Error
			if err != nil || len(score) == 0 {
				return position{}, false, err
			}
			return position{Score: score[0], ID: id}, true, nil
		}
	default:
		spec.keys = keyset{first: "vh.created_at", second: "vh.video_id"}
		spec.resolve = func(ctx context.Context, id int32) (position, bool, error) {
			var at []time.Time
			err := s.reads.WithContext(ctx).Raw(`SELECT created_at FROM video_hashtags WHERE hashtag_id = ? AND video_id = ?`,
				h.ID, id).Find(&at).Error
			if err != nil || len(at) == 0 {
				return position{}, false, err
			}
			return position{At: at[0], ID: id}, true, nil
		}
	}
	page, err := videoPage(ctx, s.reads, s.media, viewer, spec, req)
	if err != nil {
		return HashtagView{}, Page[VideoView]{}, err
	}
	return HashtagView{Name: h.Name, VideoCount: h.VideoCount}, page, nil
}

// Trending tag ranking: the uses of the last TrendingDays UTC days (today included), each day's
// uses weighed by half every trendingHalfLifeDays days of age. It reads hashtag_daily_uses, which
// the counting trigger keeps exact in the same transaction as every tag change, so a ranking
// reads at most TrendingDays rows per tag used in the window (a range of
// hashtag_daily_uses_day_idx), never the week's videos; and it is computed at most once per
// DefaultTrendingTTL per server (trendingCache): the list served is at most that old.
const (
	TrendingDays         = 7
	trendingHalfLifeDays = 2.0
)

// DefaultTrendingTTL is how long the trending tags are served from memory: the ranking
// aggregates a week of per-day rows (about 17,000 on the scale dataset, 40 ms on a busy
// 2-core machine), which is cheap once but not on every request of a popular page. A
// server therefore answers from a list at most this old; each instance keeps its own.
const DefaultTrendingTTL = 15 * time.Second

// trendingCache holds the top MaxLimit trending tags as last computed. One request at a time
// recomputes an expired list; the others wait for it rather than run the same query.
type trendingCache struct {
	ttl  time.Duration
	mu   sync.Mutex
	at   time.Time
	tags []TrendingHashtag
}

// Trending returns the limit tags used most in the last TrendingDays days, recent use
// weighing more; ties go to the tag with more uses, then the newer tag. The list is at most
// the store's trending TTL old (DefaultTrendingTTL).
func (s *Hashtags) Trending(ctx context.Context, limit int) ([]TrendingHashtag, error) {
	c := s.trending
	if c == nil || c.ttl <= 0 {
		return s.rankTrending(ctx, limit)
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.tags == nil || time.Since(c.at) >= c.ttl {
		tags, err := s.rankTrending(ctx, MaxLimit)
		if err != nil {
			return nil, err
		}
		c.tags, c.at = tags, time.Now()
	}
	return slices.Clone(c.tags[:min(limit, len(c.tags))]), nil
}

// rankTrending computes the ranking (see TrendingDays).
func (s *Hashtags) rankTrending(ctx context.Context, limit int) ([]TrendingHashtag, error) {
	out := []TrendingHashtag{}
	err := s.reads.WithContext(ctx).Raw(`SELECT h.name, h.video_count, d.recent AS recent_count
		FROM (
			SELECT hashtag_id, sum(uses)::int AS recent,
				sum(uses * power(0.5, (today - day) / ?::float8)) AS score
			FROM hashtag_daily_uses, (SELECT (now() AT TIME ZONE 'UTC')::date AS today) t
			WHERE day > today - ?::int
			GROUP BY hashtag_id
			ORDER BY score DESC, recent DESC, hashtag_id DESC
			LIMIT ?) d
		-- LIMIT 1 keeps this a lookup per ranked tag by primary key, rather than a hash of
		-- every tag.
		CROSS JOIN LATERAL (SELECT name, video_count FROM hashtags WHERE id = d.hashtag_id LIMIT 1) h
		ORDER BY d.score DESC, d.recent DESC, d.hashtag_id DESC`, trendingHalfLifeDays, TrendingDays, limit).Find(&out).Error
	return out, translate(err)
}
