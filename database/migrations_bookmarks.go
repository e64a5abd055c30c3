package database

import (
	"fmt"

	"gorm.io/gorm"
)

// --- 202611300030_bookmarks ------------------------------------------------------------------
// Bookmarks (API.md, "Views and bookmarks"): video_bookmarks is a join table like video_likes
// (one row per user and video, both foreign keys cascading), and videos.bookmark_count is its
// COUNT(*) per video, kept in the style of the counters of 202611250002: a row trigger adds or
// takes one under the video's row lock, whoever writes; a direct write of the column is undone
// (its own BEFORE trigger, so that protect_counters() stays as 202611250002 wrote it); TRUNCATE
// recounts. recount_counters() calls recount_bookmark_counts() too.
//
// video_bookmarks_user_id_created_at_idx serves GET /api/users/me/bookmarks, newest bookmark
// first, as one index range at any depth; video_bookmarks_video_id_idx serves the cascade of a
// video's delete and the count trigger (the primary key leads with user_id).

const bookmarkFunctions = `
CREATE OR REPLACE FUNCTION recount_bookmark_counts() RETURNS void LANGUAGE plpgsql AS $fn$
BEGIN
	PERFORM set_config('tiktok.recounting', 'on', true);
	UPDATE videos v SET bookmark_count = s.n
	FROM (
		SELECT v0.id, COALESCE(b.n, 0) AS n
		FROM videos v0
		LEFT JOIN (SELECT video_id, count(*)::int AS n FROM video_bookmarks GROUP BY video_id) b ON b.video_id = v0.id
	) s
	WHERE v.id = s.id AND v.bookmark_count IS DISTINCT FROM s.n;
	PERFORM set_config('tiktok.recounting', 'off', true);
END
$fn$;

CREATE OR REPLACE FUNCTION count_video_bookmarks() RETURNS trigger LANGUAGE plpgsql AS $fn$
BEGIN
	IF TG_OP IN ('DELETE', 'UPDATE') THEN
		UPDATE videos SET bookmark_count = bookmark_count - 1 WHERE id = OLD.video_id;
	END IF;
	IF TG_OP IN ('INSERT', 'UPDATE') THEN
		UPDATE videos SET bookmark_count = bookmark_count + 1 WHERE id = NEW.video_id;
	END IF;
	RETURN NULL;
END
$fn$;

-- Keeps videos.bookmark_count as it was unless the counting trigger (nested, so
-- pg_trigger_depth() > 1) or recount_counters() is the writer; new videos start at zero.
CREATE OR REPLACE FUNCTION protect_bookmark_count() RETURNS trigger LANGUAGE plpgsql AS $fn$
BEGIN
	IF pg_trigger_depth() > 1 OR current_setting('tiktok.recounting', true) = 'on' THEN
		RETURN NEW;
	END IF;
	IF TG_OP = 'INSERT' THEN
		NEW.bookmark_count := 0;
	ELSE
		NEW.bookmark_count := OLD.bookmark_count;
	END IF;
	RETURN NEW;
END
$fn$;
`

// recountWithBookmarks is recount_counters() as 202611300020 left it (202611250002's, then the
// reply counts) with the bookmark counts after it.
var recountWithBookmarks = recountCounters("recount_reply_counts", "recount_bookmark_counts")

var bookmarkTriggers = []trigger{
	{"videos_protect_bookmark_count", "videos", "BEFORE INSERT OR UPDATE ON videos FOR EACH ROW EXECUTE FUNCTION protect_bookmark_count()"},
	{"video_bookmarks_count", "video_bookmarks", "AFTER INSERT OR DELETE OR UPDATE OF video_id ON video_bookmarks FOR EACH ROW EXECUTE FUNCTION count_video_bookmarks()"},
	{"video_bookmarks_truncate", "video_bookmarks", "AFTER TRUNCATE ON video_bookmarks FOR EACH STATEMENT EXECUTE FUNCTION recount_after_truncate()"},
}

func addBookmarks(tx *gorm.DB) error {
	err := execAll(tx,
		`LOCK TABLE videos IN SHARE ROW EXCLUSIVE MODE`,
		`ALTER TABLE videos ADD COLUMN IF NOT EXISTS bookmark_count INTEGER NOT NULL DEFAULT 0`,
		`CREATE TABLE IF NOT EXISTS video_bookmarks (
			user_id integer NOT NULL,
			video_id integer NOT NULL,
			created_at timestamp(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,
			CONSTRAINT video_bookmarks_pkey PRIMARY KEY (user_id, video_id)
		)`,
		`CREATE INDEX IF NOT EXISTS video_bookmarks_video_id_idx ON video_bookmarks (video_id)`,
		`CREATE INDEX IF NOT EXISTS video_bookmarks_user_id_created_at_idx ON video_bookmarks (user_id, created_at DESC, video_id DESC)`,
	)
	if err != nil {
		return err
	}
	for _, fk := range []foreignKey{{"video_bookmarks", "user_id", "users"}, {"video_bookmarks", "video_id", "videos"}} {
		ddl := fmt.Sprintf(`ALTER TABLE %q ADD CONSTRAINT %q FOREIGN KEY (%q) REFERENCES %q("id") ON DELETE CASCADE ON UPDATE CASCADE`,
			fk.table, fk.name(), fk.column, fk.references)
		if err := addConstraintIfMissing(tx, fk.table, fk.name(), ddl); err != nil {
			return err
		}
	}
	if err := execAll(tx, bookmarkFunctions, recountWithBookmarks); err != nil {
		return err
	}
	if err := createTriggers(tx, bookmarkTriggers); err != nil {
		return err
	}
	return execAll(tx, `SELECT recount_counters()`)
}

func dropBookmarks(tx *gorm.DB) error {
	if err := dropTriggers(tx, bookmarkTriggers); err != nil {
		return err
	}
	return execAll(tx,
		`DROP TABLE IF EXISTS video_bookmarks`,
		// recount_counters() as 202611300020 left it, before the function it calls goes.
		recountCountersWithReplies,
		`DROP FUNCTION IF EXISTS recount_bookmark_counts()`,
		`DROP FUNCTION IF EXISTS protect_bookmark_count()`,
		`DROP FUNCTION IF EXISTS count_video_bookmarks()`,
		`ALTER TABLE videos DROP COLUMN IF EXISTS bookmark_count`,
	)
}
