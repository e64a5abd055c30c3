package database

import (
	"fmt"
	"strconv"
	"strings"

	"gorm.io/gorm"

	"tiktok/hashtag"
)

// --- 202611300002_hashtags -------------------------------------------------------------------
// Hashtags parsed from captions (API.md, "Discovery"): one row per tag name (lower-case, as the
// parser folds it) and a join table video_hashtags, kept in step with the captions by the store
// in the same transaction as the video's create, edit or delete (a video's delete cascades).
//
// video_hashtags.created_at is the video's created_at, copied in so that a tag page (newest
// first) is one range of the index (hashtag_id, created_at DESC, video_id DESC) with no join
// needed to order or to resume from a cursor. A trigger fills it on insert and follows a change
// of videos.created_at, whoever writes.
//
// hashtags.video_count = COUNT(*) of the tag's video_hashtags rows, and hashtag_daily_uses holds
// the same rows counted per (tag, UTC day of the video): the stored aggregate the trending-tags
// ranking reads (a week is at most 7 rows per tag, never a scan of the week's videos). Both are
// kept by statement-level triggers on video_hashtags in the style of the counters of
// 202611250002: `x = x + n` under the row lock of the tag, so concurrent writers never lose an
// update. The trigger locks every tag a statement touches in id order before changing any
// (the order store/locks.go documents), so two captions sharing tags, saved at once, cannot lock
// them in opposite orders and deadlock. A direct write of video_count (or an insert with one) is
// undone; TRUNCATE (of video_hashtags, or of videos or hashtags, which cascade to it) recounts.

const hashtagFunctions = `
CREATE OR REPLACE FUNCTION recount_hashtags() RETURNS void LANGUAGE plpgsql AS $fn$
BEGIN
	PERFORM set_config('tiktok.recounting', 'on', true);
	UPDATE hashtags h SET video_count = s.n
	FROM (
		SELECT h0.id, COALESCE(c.n, 0) AS n
		FROM hashtags h0
		LEFT JOIN (SELECT hashtag_id, count(*)::int AS n FROM video_hashtags GROUP BY hashtag_id) c ON c.hashtag_id = h0.id
	) s
	WHERE h.id = s.id AND h.video_count IS DISTINCT FROM s.n;
	DELETE FROM hashtag_daily_uses;
	INSERT INTO hashtag_daily_uses (hashtag_id, day, uses)
		SELECT hashtag_id, created_at::date, count(*)::int FROM video_hashtags GROUP BY 1, 2;
	PERFORM set_config('tiktok.recounting', 'off', true);
END
$fn$;

-- Keeps hashtags.video_count as it was unless the counting trigger (nested, so
-- pg_trigger_depth() > 1) or recount_hashtags() is the writer; new tags start at zero.
CREATE OR REPLACE FUNCTION protect_hashtag_counts() RETURNS trigger LANGUAGE plpgsql AS $fn$
BEGIN
	IF pg_trigger_depth() > 1 OR current_setting('tiktok.recounting', true) = 'on' THEN
		RETURN NEW;
	END IF;
	IF TG_OP = 'INSERT' THEN
		NEW.video_count := 0;
	ELSE
		NEW.video_count := OLD.video_count;
	END IF;
	RETURN NEW;
END
$fn$;

-- Copies the video's created_at into the join row (see above).
CREATE OR REPLACE FUNCTION video_hashtags_created_at() RETURNS trigger LANGUAGE plpgsql AS $fn$
BEGIN
	SELECT created_at INTO NEW.created_at FROM videos WHERE id = NEW.video_id;
	RETURN NEW;
END
$fn$;

CREATE OR REPLACE FUNCTION videos_created_at_to_hashtags() RETURNS trigger LANGUAGE plpgsql AS $fn$
BEGIN
	UPDATE video_hashtags SET created_at = NEW.created_at WHERE video_id = NEW.id;
	RETURN NULL;
END
$fn$;

-- One statement's changes to video_hashtags, applied to the counts: the rows it removed count
-- -1 and the rows it added +1, per (tag, day). An UPDATE that moves no row between tags or days
-- (the trending_score copy, 202611300004) nets to nothing and locks no tag.
CREATE OR REPLACE FUNCTION count_video_hashtags() RETURNS trigger LANGUAGE plpgsql AS $fn$
DECLARE
	tag_ids int[];
	days date[];
	deltas int[];
BEGIN
	IF TG_OP = 'INSERT' THEN
		SELECT array_agg(t), array_agg(d), array_agg(n) INTO tag_ids, days, deltas
		FROM (SELECT hashtag_id AS t, created_at::date AS d, count(*)::int AS n FROM new_rows GROUP BY 1, 2) c;
	ELSIF TG_OP = 'DELETE' THEN
		SELECT array_agg(t), array_agg(d), array_agg(n) INTO tag_ids, days, deltas
		FROM (SELECT hashtag_id AS t, created_at::date AS d, -count(*)::int AS n FROM old_rows GROUP BY 1, 2) c;
	ELSE
		SELECT array_agg(t), array_agg(d), array_agg(n) INTO tag_ids, days, deltas
		FROM (SELECT t, d, sum(n)::int AS n FROM (
				SELECT hashtag_id AS t, created_at::date AS d, -1 AS n FROM old_rows
				UNION ALL
				SELECT hashtag_id, created_at::date, 1 FROM new_rows) u
			GROUP BY 1, 2 HAVING sum(n) <> 0) c;
	END IF;
	IF tag_ids IS NULL THEN
		RETURN NULL;
	END IF;
	-- Lock the tags in id order before touching any (LockRows runs above the Sort).
	PERFORM 1 FROM hashtags WHERE id = ANY(tag_ids) ORDER BY id FOR NO KEY UPDATE;
	UPDATE hashtags h SET video_count = h.video_count + d.n
	FROM (SELECT t, sum(n)::int AS n FROM unnest(tag_ids, deltas) AS u(t, n) GROUP BY t) d
	WHERE h.id = d.t AND d.n <> 0;
	-- A (tag, day) row is only changed under its tag's lock, taken above; a tag deleted by this
	-- very statement (a cascade) is left alone, its rows are going with it.
	INSERT INTO hashtag_daily_uses AS u (hashtag_id, day, uses)
		SELECT x.t, x.day, x.n FROM unnest(tag_ids, days, deltas) AS x(t, day, n)
		WHERE EXISTS (SELECT 1 FROM hashtags h WHERE h.id = x.t)
		ORDER BY x.t, x.day
	ON CONFLICT (hashtag_id, day) DO UPDATE SET uses = u.uses + EXCLUDED.uses;
	DELETE FROM hashtag_daily_uses u
	WHERE u.hashtag_id = ANY(tag_ids) AND u.day = ANY(days) AND u.uses <= 0;
	RETURN NULL;
END
$fn$;

CREATE OR REPLACE FUNCTION recount_hashtags_after_truncate() RETURNS trigger LANGUAGE plpgsql AS $fn$
BEGIN
	PERFORM recount_hashtags();
	RETURN NULL;
END
$fn$;
`

var hashtagTriggers = []trigger{
	{"hashtags_protect_counts", "hashtags", "BEFORE INSERT OR UPDATE ON hashtags FOR EACH ROW EXECUTE FUNCTION protect_hashtag_counts()"},
	{"video_hashtags_created_at", "video_hashtags", "BEFORE INSERT OR UPDATE OF video_id ON video_hashtags FOR EACH ROW EXECUTE FUNCTION video_hashtags_created_at()"},
	{"videos_created_at_to_hashtags", "videos", "AFTER UPDATE OF created_at ON videos FOR EACH ROW WHEN (OLD.created_at IS DISTINCT FROM NEW.created_at) EXECUTE FUNCTION videos_created_at_to_hashtags()"},
	{"video_hashtags_count_insert", "video_hashtags", "AFTER INSERT ON video_hashtags REFERENCING NEW TABLE AS new_rows FOR EACH STATEMENT EXECUTE FUNCTION count_video_hashtags()"},
	{"video_hashtags_count_delete", "video_hashtags", "AFTER DELETE ON video_hashtags REFERENCING OLD TABLE AS old_rows FOR EACH STATEMENT EXECUTE FUNCTION count_video_hashtags()"},
	{"video_hashtags_count_update", "video_hashtags", "AFTER UPDATE ON video_hashtags REFERENCING OLD TABLE AS old_rows NEW TABLE AS new_rows FOR EACH STATEMENT EXECUTE FUNCTION count_video_hashtags()"},
	{"video_hashtags_truncate", "video_hashtags", "AFTER TRUNCATE ON video_hashtags FOR EACH STATEMENT EXECUTE FUNCTION recount_hashtags_after_truncate()"},
}

var hashtagFunctionNames = []string{
	"recount_hashtags_after_truncate()", "count_video_hashtags()", "videos_created_at_to_hashtags()",
	"video_hashtags_created_at()", "protect_hashtag_counts()", "recount_hashtags()",
}

func addHashtags(tx *gorm.DB) error {
	err := execAll(tx,
		`CREATE TABLE IF NOT EXISTS hashtags (
			id serial NOT NULL,
			name text NOT NULL,
			video_count integer NOT NULL DEFAULT 0,
			created_at timestamp(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,
			CONSTRAINT hashtags_pkey PRIMARY KEY (id),
			CONSTRAINT hashtags_name_key UNIQUE (name),
			CONSTRAINT hashtags_name_check CHECK (char_length(name) BETWEEN 1 AND 100)
		)`,
		`CREATE TABLE IF NOT EXISTS video_hashtags (
			video_id integer NOT NULL,
			hashtag_id integer NOT NULL,
			created_at timestamp(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,
			CONSTRAINT video_hashtags_pkey PRIMARY KEY (video_id, hashtag_id),
			CONSTRAINT video_hashtags_video_id_fkey FOREIGN KEY (video_id) REFERENCES videos(id) ON DELETE CASCADE ON UPDATE CASCADE,
			CONSTRAINT video_hashtags_hashtag_id_fkey FOREIGN KEY (hashtag_id) REFERENCES hashtags(id) ON DELETE CASCADE ON UPDATE CASCADE
		)`,
		`CREATE INDEX IF NOT EXISTS video_hashtags_hashtag_id_created_at_idx ON video_hashtags (hashtag_id, created_at DESC, video_id DESC)`,
		`CREATE TABLE IF NOT EXISTS hashtag_daily_uses (
			hashtag_id integer NOT NULL,
			day date NOT NULL,
			uses integer NOT NULL,
			CONSTRAINT hashtag_daily_uses_pkey PRIMARY KEY (hashtag_id, day),
			CONSTRAINT hashtag_daily_uses_hashtag_id_fkey FOREIGN KEY (hashtag_id) REFERENCES hashtags(id) ON DELETE CASCADE ON UPDATE CASCADE
		)`,
		// The trending ranking reads the last days' rows of every tag: an index-only range.
		`CREATE INDEX IF NOT EXISTS hashtag_daily_uses_day_idx ON hashtag_daily_uses (day, hashtag_id) INCLUDE (uses)`,
		hashtagFunctions,
	)
	if err != nil {
		return err
	}
	if err := createTriggers(tx, hashtagTriggers); err != nil {
		return err
	}
	return execAll(tx, `SELECT recount_hashtags()`)
}

func dropHashtags(tx *gorm.DB) error {
	if err := dropTriggers(tx, hashtagTriggers); err != nil {
		return err
	}
	if err := execAll(tx, `DROP TABLE IF EXISTS hashtag_daily_uses, video_hashtags, hashtags`); err != nil {
		return err
	}
	for _, fn := range hashtagFunctionNames {
		if err := execAll(tx, "DROP FUNCTION IF EXISTS "+fn); err != nil {
			return err
		}
	}
	return nil
}

// --- 202611300003_hashtags_backfill ------------------------------------------------------------
// Tags for the captions already in the database (one this server made, or the Prisma
// version's). The Go parser itself (package hashtag) reads them, in batches of videos by id, so
// the backfill follows exactly the rule the store applies to new captions: no SQL regular
// expression to keep equivalent (PostgreSQL's [[:alpha:]] also depends on the database's
// locale, Go's unicode tables do not). Each batch is three statements: the captions, the new
// names (sorted, ON CONFLICT DO NOTHING), the join rows; the counting triggers add up the
// counts once per statement. Videos that already have tags are left as they are, so running it
// again adds nothing. Rolling it back keeps the rows: it changed no schema, and 202611300002's
// rollback drops the tables anyway.
//
// If the parser's rule ever changes, a new migration re-runs this over every caption; this one
// is then the rule of its time.

// backfillBatch is how many videos one round of the backfill reads.
var backfillBatch = 5000

func backfillHashtags(tx *gorm.DB) error {
	var after int32
	for {
		var rows []struct {
			ID      int32
			Caption string
		}
		if err := tx.Raw(`SELECT id, caption FROM videos v
			WHERE id > ? AND strpos(caption, '#') > 0
				AND NOT EXISTS (SELECT 1 FROM video_hashtags vh WHERE vh.video_id = v.id)
			ORDER BY id LIMIT ?`, after, backfillBatch).Scan(&rows).Error; err != nil {
			return fmt.Errorf("backfill hashtags: read captions: %w", err)
		}
		if len(rows) == 0 {
			return nil
		}
		after = rows[len(rows)-1].ID
		var videoIDs []int32
		var names []string
		for _, r := range rows {
			for _, name := range hashtag.Parse(r.Caption) {
				videoIDs = append(videoIDs, r.ID)
				names = append(names, name)
			}
		}
		if len(names) == 0 {
			continue
		}
		nameArray, idArray := pgArray(names), pgIntArray(videoIDs)
		if err := tx.Exec(`INSERT INTO hashtags (name) SELECT DISTINCT n FROM unnest(?::text[]) AS n ORDER BY n
			ON CONFLICT (name) DO NOTHING`, nameArray).Error; err != nil {
			return fmt.Errorf("backfill hashtags: insert the names: %w", err)
		}
		if err := tx.Exec(`INSERT INTO video_hashtags (video_id, hashtag_id)
			SELECT p.v, h.id FROM unnest(?::int[], ?::text[]) AS p(v, n) JOIN hashtags h ON h.name = p.n
			ORDER BY h.id, p.v ON CONFLICT DO NOTHING`, idArray, nameArray).Error; err != nil {
			return fmt.Errorf("backfill hashtags: insert the video tags: %w", err)
		}
	}
}

// pgArray is the literal of a text[] holding names, passed as one parameter (GORM would expand
// a slice into a list of parameters).
func pgArray(names []string) string {
	var b strings.Builder
	b.WriteByte('{')
	for i, n := range names {
		if i > 0 {
			b.WriteByte(',')
		}
		b.WriteByte('"')
		b.WriteString(strings.NewReplacer(`\`, `\\`, `"`, `\"`).Replace(n))
		b.WriteByte('"')
	}
	b.WriteByte('}')
	return b.String()
}

func pgIntArray(ids []int32) string {
	var b strings.Builder
	b.WriteByte('{')
	for i, id := range ids {
		if i > 0 {
			b.WriteByte(',')
		}
		b.WriteString(strconv.Itoa(int(id)))
	}
	b.WriteByte('}')
	return b.String()
}

// --- 202611300004_tag_and_sound_pages -----------------------------------------------------------
// A tag page by trending (sort=trending) is one index range too: video_hashtags carries a copy
// of its video's trending_score (a generated column of videos, migrations_trending.go), filled
// on insert and moved by a trigger whenever the video's score changes, whoever writes; the
// index (hashtag_id, trending_score DESC, video_id DESC) serves it. The cost is the tag rows of
// a video (at most 30) rewritten when its score moves, which views do only every tenth view.
//
// A sound's videos (GET /api/videos?sound=, case-insensitive, newest first) are one range of
// videos_audio_name_lower_created_at_id_idx.

const tagPageFunctions = `
CREATE OR REPLACE FUNCTION video_hashtags_from_video() RETURNS trigger LANGUAGE plpgsql AS $fn$
BEGIN
	SELECT created_at, trending_score INTO NEW.created_at, NEW.trending_score FROM videos WHERE id = NEW.video_id;
	RETURN NEW;
END
$fn$;

CREATE OR REPLACE FUNCTION videos_score_to_hashtags() RETURNS trigger LANGUAGE plpgsql AS $fn$
BEGIN
	UPDATE video_hashtags SET trending_score = NEW.trending_score WHERE video_id = NEW.id;
	RETURN NULL;
END
$fn$;
`

var tagPageTriggers = []trigger{
	{"video_hashtags_created_at", "video_hashtags", "BEFORE INSERT OR UPDATE OF video_id ON video_hashtags FOR EACH ROW EXECUTE FUNCTION video_hashtags_from_video()"},
	{"videos_score_to_hashtags", "videos", "AFTER UPDATE ON videos FOR EACH ROW WHEN (OLD.trending_score IS DISTINCT FROM NEW.trending_score) EXECUTE FUNCTION videos_score_to_hashtags()"},
}

func addTagAndSoundPages(tx *gorm.DB) error {
	err := execAll(tx,
		`ALTER TABLE video_hashtags ADD COLUMN IF NOT EXISTS trending_score double precision NOT NULL DEFAULT 0`,
		tagPageFunctions,
	)
	if err != nil {
		return err
	}
	if err := createTriggers(tx, tagPageTriggers); err != nil {
		return err
	}
	return execAll(tx,
		`DROP FUNCTION IF EXISTS video_hashtags_created_at()`,
		`UPDATE video_hashtags vh SET trending_score = v.trending_score FROM videos v
			WHERE v.id = vh.video_id AND vh.trending_score IS DISTINCT FROM v.trending_score`,
		`CREATE INDEX IF NOT EXISTS video_hashtags_hashtag_id_trending_idx ON video_hashtags (hashtag_id, trending_score DESC, video_id DESC)`,
		`CREATE INDEX IF NOT EXISTS videos_audio_name_lower_created_at_id_idx ON videos (lower(audio_name), created_at DESC, id DESC)`,
	)
}

func dropTagAndSoundPages(tx *gorm.DB) error {
	if err := dropTriggers(tx, tagPageTriggers); err != nil {
		return err
	}
	err := execAll(tx,
		`DROP INDEX IF EXISTS videos_audio_name_lower_created_at_id_idx`,
		`DROP INDEX IF EXISTS video_hashtags_hashtag_id_trending_idx`,
		`ALTER TABLE video_hashtags DROP COLUMN IF EXISTS trending_score`,
		`DROP FUNCTION IF EXISTS videos_score_to_hashtags()`,
		`DROP FUNCTION IF EXISTS video_hashtags_from_video()`,
		hashtagFunctions, // video_hashtags_created_at() again
	)
	if err != nil {
		return err
	}
	t := hashtagTriggers[1]
	return execAll(tx, fmt.Sprintf("CREATE TRIGGER %s %s", t.name, t.def))
}
