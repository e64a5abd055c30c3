package database

import (
	"fmt"

	"gorm.io/gorm"
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
-- -1 and the rows it added +1, per tag and per (tag, day).
CREATE OR REPLACE FUNCTION count_video_hashtags() RETURNS trigger LANGUAGE plpgsql AS $fn$
DECLARE
	tag_ids int[];
	days date[];
	deltas int[];
BEGIN
	IF TG_OP = 'INSERT' THEN
		SELECT array_agg(hashtag_id), array_agg(created_at::date), array_agg(1) INTO tag_ids, days, deltas FROM new_rows;
	ELSIF TG_OP = 'DELETE' THEN
		SELECT array_agg(hashtag_id), array_agg(created_at::date), array_agg(-1) INTO tag_ids, days, deltas FROM old_rows;
	ELSE
		SELECT array_agg(hashtag_id), array_agg(day), array_agg(delta) INTO tag_ids, days, deltas FROM (
			SELECT hashtag_id, created_at::date AS day, -1 AS delta FROM old_rows
			UNION ALL
			SELECT hashtag_id, created_at::date, 1 FROM new_rows) c;
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
		SELECT d.t, d.day, d.n
		FROM (SELECT t, day, sum(n)::int AS n FROM unnest(tag_ids, days, deltas) AS x(t, day, n) GROUP BY t, day) d
		WHERE d.n <> 0 AND EXISTS (SELECT 1 FROM hashtags h WHERE h.id = d.t)
		ORDER BY d.t, d.day
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

var hashtagTriggers = []struct{ name, table, def string }{
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
	for _, t := range hashtagTriggers {
		if err := execAll(tx,
			fmt.Sprintf("DROP TRIGGER IF EXISTS %s ON %s", t.name, t.table),
			fmt.Sprintf("CREATE TRIGGER %s %s", t.name, t.def),
		); err != nil {
			return err
		}
	}
	return execAll(tx, `SELECT recount_hashtags()`)
}

func dropHashtags(tx *gorm.DB) error {
	for _, t := range hashtagTriggers {
		if err := execAll(tx, fmt.Sprintf("DROP TRIGGER IF EXISTS %s ON %s", t.name, t.table)); err != nil {
			return err
		}
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
