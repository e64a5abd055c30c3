package main

import (
	"context"
	"fmt"
	"io"
	"math"
	"math/rand/v2"
	"slices"
	"strconv"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/stdlib"
	"golang.org/x/crypto/bcrypt"
	"gorm.io/gorm"
)

// loadedTables are the tables scale mode fills, in an order where each comes after the tables
// it references.
var loadedTables = []string{"users", "videos", "comments", "video_likes", "comment_likes", "follows",
	"hashtags", "video_hashtags", "hashtag_daily_uses"}

// seedScale replaces the tables' contents with generated data of the sizes in opts.
//
// Everything happens in one transaction on one connection, so a failure or an interrupt
// leaves the database as it was. Inside it: the tables are emptied, their user triggers
// (the counter triggers) are disabled, their keys and indexes are dropped, the rows go in with
// binary COPY carrying counters computed by the generator, then keys, indexes and foreign keys
// are rebuilt (which checks every row against them) and the triggers are enabled again. Keys
// are rebuilt in one sort each rather than maintained row by row, which is what makes tens of
// millions of rows fit in minutes.
func seedScale(ctx context.Context, db *gorm.DB, opts options, progressOut io.Writer) (counts, error) {
	prog := newProgress(progressOut, 5*time.Second)
	defer prog.close()

	from := time.Now()
	hash, err := bcrypt.GenerateFromPassword([]byte(samplePassword), opts.BcryptCost)
	if err != nil {
		return counts{}, fmt.Errorf("hash the shared password: %w", err)
	}
	p := newPlan(opts)
	prog.step("planned the data", from)

	sqlDB, err := db.DB()
	if err != nil {
		return counts{}, err
	}
	conn, err := sqlDB.Conn(ctx)
	if err != nil {
		return counts{}, err
	}
	defer conn.Close()
	err = conn.Raw(func(dc any) error {
		return loadScale(ctx, dc.(*stdlib.Conn).Conn(), p, string(hash), prog)
	})
	if err != nil {
		return counts{}, err
	}
	return counts{Users: opts.Users, Videos: opts.Videos, Comments: opts.Comments,
		VideoLikes: opts.Likes, CommentLikes: opts.CommentLikes, Follows: p.followsGenerated}, nil
}

func loadScale(ctx context.Context, c *pgx.Conn, p *plan, hash string, prog *progress) error {
	tx, err := c.Begin(ctx)
	if err != nil {
		return err
	}
	// A no-op after Commit; after a failure it undoes everything, the wipe included.
	defer func() { _ = tx.Rollback(context.WithoutCancel(ctx)) }()

	exec := func(sql string, args ...any) error {
		if _, err := tx.Exec(ctx, sql, args...); err != nil {
			return fmt.Errorf("%s: %w", firstLine(sql), err)
		}
		return nil
	}
	from := time.Now()
	// Index builds sort in memory up to this much (per build) instead of spilling to disk.
	if err := exec(`SET LOCAL maintenance_work_mem = '512MB'`); err != nil {
		return err
	}
	if err := exec(wipeTables); err != nil {
		return err
	}
	for _, t := range loadedTables {
		if err := exec(`ALTER TABLE ` + t + ` DISABLE TRIGGER USER`); err != nil {
			return err
		}
	}
	keys, err := dropKeysAndIndexes(ctx, tx, loadedTables)
	if err != nil {
		return err
	}
	prog.step("emptied the tables", from)

	pc := tx.Conn().PgConn()
	loads := []struct {
		table string
		cols  []string
		gen   func(w *binWriter)
	}{
		{"users", []string{"id", "username", "email", "password", "name", "bio", "avatar", "created_at", "updated_at",
			"follower_count", "following_count", "video_count", "like_count"}, func(w *binWriter) { p.writeUsers(w, hash) }},
		{"videos", []string{"id", "user_id", "caption", "video_url", "thumbnail_url", "audio_name", "views",
			"created_at", "updated_at", "like_count", "comment_count"}, p.writeVideos},
		{"comments", []string{"id", "content", "user_id", "video_id", "created_at", "updated_at", "like_count"}, p.writeComments},
		{"video_likes", []string{"user_id", "video_id", "created_at"}, p.writeVideoLikes},
		{"comment_likes", []string{"user_id", "comment_id", "created_at"}, p.writeCommentLikes},
		{"follows", []string{"follower_id", "following_id", "created_at"}, p.writeFollows},
		// The tags writeVideos put in the captions: the names with their counts, then the
		// (video, tag) pairs into a staging table, joined below with the videos for the
		// created_at and trending_score the join rows copy (the score is computed by
		// PostgreSQL, so it is taken from the row rather than recomputed here).
		{"hashtags", []string{"id", "name", "video_count", "created_at"}, p.writeHashtags},
		{"video_hashtags_load", []string{"video_id", "hashtag_id"}, p.writeVideoHashtags},
	}
	if err := exec(`CREATE TEMP TABLE video_hashtags_load (video_id integer, hashtag_id integer) ON COMMIT DROP`); err != nil {
		return err
	}
	for _, l := range loads {
		if err := copyIn(ctx, pc, l.table, l.cols, prog, l.gen); err != nil {
			return err
		}
	}
	from = time.Now()
	if err := exec(`INSERT INTO video_hashtags (video_id, hashtag_id, created_at, trending_score)
		SELECT s.video_id, s.hashtag_id, v.created_at, v.trending_score FROM video_hashtags_load s JOIN videos v ON v.id = s.video_id`); err != nil {
		return err
	}
	if err := exec(`INSERT INTO hashtag_daily_uses (hashtag_id, day, uses)
		SELECT hashtag_id, created_at::date, count(*) FROM video_hashtags GROUP BY 1, 2`); err != nil {
		return err
	}
	prog.step("joined the video tags", from)

	for _, k := range keys {
		from := time.Now()
		if err := exec(k.create); err != nil {
			return err
		}
		prog.step("built "+k.name, from)
	}
	from = time.Now()
	for _, s := range []struct {
		table string
		n     int64
	}{{"users", p.o.Users}, {"videos", p.o.Videos}, {"comments", p.o.Comments}, {"hashtags", int64(len(scaleTags))}} {
		// The ids were written explicitly; move each sequence past them.
		if err := exec(`SELECT setval(pg_get_serial_sequence($1, 'id'), $2, $3)`, s.table, max(s.n, 1), s.n > 0); err != nil {
			return err
		}
	}
	for _, t := range loadedTables {
		if err := exec(`ALTER TABLE ` + t + ` ENABLE TRIGGER USER`); err != nil {
			return err
		}
	}
	if err := exec(`ANALYZE users, videos, comments, video_likes, comment_likes, follows, hashtags, video_hashtags, hashtag_daily_uses`); err != nil {
		return err
	}
	prog.step("analyzed", from)
	from = time.Now()
	if err := tx.Commit(ctx); err != nil {
		return fmt.Errorf("commit: %w", err)
	}
	prog.step("committed", from)
	// The videos' search walks are index-only scans (videos_search_walk_idx), which read the
	// heap for every page the visibility map does not mark all-visible; freshly loaded pages
	// are not until a VACUUM (autovacuum may be off or minutes away). Outside the transaction,
	// as VACUUM must be.
	from = time.Now()
	if _, err := c.Exec(ctx, `VACUUM videos`); err != nil {
		return fmt.Errorf("vacuum videos: %w", err)
	}
	prog.step("vacuumed the videos", from)
	return nil
}

// keyDef is a key, index or foreign key dropped for the load, with the statement that
// recreates it exactly as it was.
type keyDef struct{ name, create string }

// dropKeysAndIndexes drops every primary key, unique constraint, index and foreign key on (or
// pointing at) tables, and returns the statements that recreate them, foreign keys last so
// that the keys they rely on exist again. Reading the definitions from the catalog keeps this
// in step with whatever the migrations made.
func dropKeysAndIndexes(ctx context.Context, tx pgx.Tx, tables []string) ([]keyDef, error) {
	type constraint struct{ Table, Name, Def, Kind string }
	rows, err := tx.Query(ctx, `
		SELECT c.conrelid::regclass::text, c.conname, pg_get_constraintdef(c.oid), c.contype::text
		FROM pg_constraint c
		WHERE c.contype IN ('f', 'p', 'u')
			AND (c.conrelid = ANY($1::regclass[]) OR c.confrelid = ANY($1::regclass[]))
		ORDER BY c.contype = 'f' DESC, c.conrelid::regclass::text, c.conname`, tables)
	if err != nil {
		return nil, err
	}
	cons, err := pgx.CollectRows(rows, pgx.RowToStructByPos[constraint])
	if err != nil {
		return nil, fmt.Errorf("read the constraints: %w", err)
	}
	type index struct{ Name, Def string }
	rows, err = tx.Query(ctx, `
		SELECT i.indexrelid::regclass::text, pg_get_indexdef(i.indexrelid)
		FROM pg_index i
		WHERE i.indrelid = ANY($1::regclass[])
			AND NOT EXISTS (SELECT 1 FROM pg_constraint c WHERE c.conindid = i.indexrelid AND c.contype IN ('p', 'u', 'x'))
		ORDER BY 1`, tables)
	if err != nil {
		return nil, err
	}
	idxs, err := pgx.CollectRows(rows, pgx.RowToStructByPos[index])
	if err != nil {
		return nil, fmt.Errorf("read the indexes: %w", err)
	}

	// Foreign keys go first (they depend on the primary keys), and come back last.
	var keys, foreign []keyDef
	for _, c := range cons {
		name := pgx.Identifier{c.Name}.Sanitize()
		if _, err := tx.Exec(ctx, fmt.Sprintf("ALTER TABLE %s DROP CONSTRAINT %s", c.Table, name)); err != nil {
			return nil, fmt.Errorf("drop %s on %s: %w", c.Name, c.Table, err)
		}
		k := keyDef{name: c.Name, create: fmt.Sprintf("ALTER TABLE %s ADD CONSTRAINT %s %s", c.Table, name, c.Def)}
		if c.Kind == "f" {
			foreign = append(foreign, k)
		} else {
			keys = append(keys, k)
		}
	}
	for _, ix := range idxs {
		if _, err := tx.Exec(ctx, "DROP INDEX "+ix.Name); err != nil {
			return nil, fmt.Errorf("drop index %s: %w", ix.Name, err)
		}
		keys = append(keys, keyDef{name: ix.Name, create: ix.Def})
	}
	return append(keys, foreign...), nil
}

var (
	captionWords = []string{"morning", "routine", "city", "vibes", "dance", "challenge", "recipe", "quick", "pasta",
		"sunset", "beach", "workout", "day", "in", "my", "life", "cat", "dog", "funny", "moment", "travel", "diary",
		"tutorial", "makeup", "coding", "at", "night", "study", "with", "me", "new", "song", "cover", "guitar", "street",
		"food", "tour", "best", "ever", "trying", "this", "trend", "weekend", "reset", "coffee", "art", "process"}
	// hashtags are the most used tags, most used first; scaleTags adds thousands more.
	hashtags = []string{"fyp", "foryou", "viral", "dance", "comedy", "food", "travel", "music", "pets", "fitness",
		"diy", "fashion", "beauty", "gaming", "coding", "art", "study", "nature", "cooking", "sports", "tiktok",
		"trend", "challenge", "learnontiktok", "booktok", "cats", "dogs", "summer", "vlog", "asmr"}
	sounds = []string{"Espresso - Sabrina Carpenter", "Flowers - Miley Cyrus", "Oh No - Kreepa", "Monkeys Spinning Monkeys",
		"Aesthetic - Tollan Kim", "Savage Love - Jason Derulo", "Cupid (Twin Ver.) - FIFTY FIFTY", "Paint The Town Red - Doja Cat"}
)

func (p *plan) writeUsers(w *binWriter, hash string) {
	for i := range int(p.o.Users) {
		if i%4096 == 0 && w.failed() {
			return
		}
		id := int32(i + 1)
		n := strconv.AppendInt(make([]byte, 0, 12), int64(id), 10)
		w.row(13)
		w.int4(id)
		w.textf(func(b []byte) []byte { return append(append(b, "user"...), n...) })
		w.textf(func(b []byte) []byte { return append(append(append(b, "user"...), n...), "@example.com"...) })
		w.text(hash)
		w.textf(func(b []byte) []byte { return append(append(b, "User "...), n...) })
		w.textf(func(b []byte) []byte { return append(append(b, "This is the bio for user "...), n...) })
		w.textf(func(b []byte) []byte {
			return append(append(append(b, "https://i.pravatar.cc/150?u=user"...), n...), "@example.com"...)
		})
		w.timestamp(p.userTime[i])
		w.timestamp(p.userTime[i])
		w.int4(p.userFollowers[i])
		w.int4(p.userFollowing[i])
		w.int4(p.userVideos[i])
		w.int4(int32(p.userLikes[i]))
	}
}

func (p *plan) writeVideos(w *binWriter) {
	r := newRand(p.o.Seed, streamVideoText)
	tags := rand.NewZipf(r, tagSkew, tagZipfV, uint64(len(scaleTags)-1))
	p.videoTagEnd = make([]uint32, p.o.Videos)
	p.videoTags = make([]uint16, 0, 2*p.o.Videos)
	p.tagVideos = make([]int32, len(scaleTags))
	hits := rand.NewZipf(r, 1.5, 1, uint64(len(sounds)-1))
	for v := range int(p.o.Videos) {
		if v%4096 == 0 && w.failed() {
			return
		}
		id := int64(v + 1)
		owner := int64(p.videoOwner[v])
		w.row(11)
		w.int4(int32(id))
		w.int4(int32(owner))
		w.textf(func(b []byte) []byte {
			for i := range 2 + r.IntN(5) {
				if i > 0 {
					b = append(b, ' ')
				}
				b = append(b, captionWords[r.IntN(len(captionWords))]...)
			}
			// 1 to 3 tags, each named once (a repeat is dropped, as the parser would count it
			// once): recorded for writeHashtags and writeVideoHashtags.
			first := len(p.videoTags)
			for range 1 + r.IntN(3) {
				t := uint16(tags.Uint64())
				if slices.Contains(p.videoTags[first:], t) {
					continue
				}
				p.videoTags = append(p.videoTags, t)
				p.tagVideos[t]++
				b = append(append(b, " #"...), scaleTags[t]...)
			}
			p.videoTagEnd[v] = uint32(len(p.videoTags))
			return b
		})
		w.textf(func(b []byte) []byte {
			return append(strconv.AppendInt(append(b, "https://example.com/videos/"...), id, 10), ".mp4"...)
		})
		w.textf(func(b []byte) []byte {
			return append(strconv.AppendInt(append(b, "https://example.com/thumbnails/"...), id, 10), ".jpg"...)
		})
		w.textf(func(b []byte) []byte {
			if r.IntN(4) == 0 {
				return append(b, sounds[hits.Uint64()]...)
			}
			return strconv.AppendInt(append(b, "Original Sound - User "...), owner, 10)
		})
		// Views grow with likes, as they do on a real feed.
		w.int4(int32(min(int64(p.videoLikes[v])*int64(5+r.IntN(50))+int64(r.IntN(1000)), math.MaxInt32)))
		w.timestamp(p.videoTime[v])
		w.timestamp(p.videoTime[v])
		w.int4(p.videoLikes[v])
		w.int4(p.videoComments[v])
	}
}

func (p *plan) writeComments(w *binWriter) {
	r := newRand(p.o.Seed, streamCommentText)
	for c := range p.commentUser {
		if c%4096 == 0 && w.failed() {
			return
		}
		w.row(7)
		w.int4(int32(c + 1))
		w.textf(func(b []byte) []byte {
			b = strconv.AppendInt(append(b, "This is comment "...), int64(c+1), 10)
			return append(append(b, ". "...), loremSentences[r.IntN(len(loremSentences))]...)
		})
		w.int4(p.commentUser[c])
		w.int4(p.commentVideo[c])
		w.timestamp(p.commentTime[c])
		w.timestamp(p.commentTime[c])
		w.int4(p.commentLikes[c])
	}
}

func (p *plan) writeVideoLikes(w *binWriter) {
	p.writeLikes(w, streamVideoLikes, p.videoLikes, p.videoTime)
}

func (p *plan) writeCommentLikes(w *binWriter) {
	p.writeLikes(w, streamCommentLikes, p.commentLikes, p.commentTime)
}

// writeLikes writes the rows (user_id, target id, created_at) of a like table: counts[i]
// distinct users like target i+1, each after the target was made and the user joined.
func (p *plan) writeLikes(w *binWriter, stream uint64, counts []int32, made []int64) {
	r := newRand(p.o.Seed, stream)
	pick := newPicker(int(p.o.Users))
	for t, n := range counts {
		if w.failed() {
			return
		}
		target, at := int32(t+1), made[t]
		pick.pick(r, int(p.o.Users), int(n), 0, func(user int32) {
			w.row(3)
			w.int4(user)
			w.int4(target)
			w.timestamp(p.after(r, max(at, p.userTime[user-1])))
		})
	}
}

func (p *plan) writeFollows(w *binWriter) {
	p.follows(func(follower, following int32, at int64) {
		w.row(3)
		w.int4(follower)
		w.int4(following)
		w.timestamp(at)
	}, w.failed)
}

// Tags of the scale data: a Zipf law over scaleTags (tagSkew, tagZipfV), so a few tags are on
// a large share of the videos and most of the thousands on a handful, as on a real platform.
const (
	tagSkew  = 1.1
	tagZipfV = 2.0
	// scaleTagCount is how many distinct tags the scale data draws from.
	scaleTagCount = 3000
)

// scaleTags are hashtags, then two caption words run together ("morningvibes"), then numbered
// words, up to scaleTagCount names, all distinct and all names the parser keeps as they are.
var scaleTags = func() []string {
	names := slices.Clone(hashtags)
	seen := map[string]bool{}
	for _, n := range names {
		seen[n] = true
	}
	add := func(n string) {
		if len(names) < scaleTagCount && !seen[n] {
			seen[n] = true
			names = append(names, n)
		}
	}
	for _, a := range captionWords {
		for _, b := range captionWords {
			if a != b {
				add(a + b)
			}
		}
	}
	for i := 0; len(names) < scaleTagCount; i++ {
		add(captionWords[i%len(captionWords)] + strconv.Itoa(i))
	}
	return names
}()

func (p *plan) writeHashtags(w *binWriter) {
	for i, name := range scaleTags {
		w.row(4)
		w.int4(int32(i + 1))
		w.text(name)
		w.int4(p.tagVideos[i])
		w.timestamp(p.startMs)
	}
}

func (p *plan) writeVideoHashtags(w *binWriter) {
	start := uint32(0)
	for v, end := range p.videoTagEnd {
		if v%4096 == 0 && w.failed() {
			return
		}
		for _, t := range p.videoTags[start:end] {
			w.row(2)
			w.int4(int32(v + 1))
			w.int4(int32(t) + 1)
		}
		start = end
	}
}
