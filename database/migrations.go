package database

import (
	"fmt"
	"strings"
	"time"

	"github.com/go-gormigrate/gormigrate/v2"
	"gorm.io/gorm"
)

// migrations is the ordered list of schema changes. An ID, once released, never changes and a
// released migration is never edited: a change is a new migration. Every step is written so that
// it also upgrades a database created by the Prisma version in place, keeping every row.
func migrations() []*gormigrate.Migration {
	return []*gormigrate.Migration{
		{ID: "202611250001_init", Migrate: initPrismaSchema, Rollback: dropPrismaSchema},
		{ID: "202611250002_counters", Migrate: addCounters, Rollback: dropCounters},
		{ID: "202611250003_auth", Migrate: addAuth, Rollback: dropAuth},
		{ID: "202611250004_constraints_and_indexes", Migrate: addConstraintsAndIndexes, Rollback: dropConstraintsAndIndexes},
		{ID: "202611250005_trending", Migrate: addTrending, Rollback: dropTrending},
		{ID: "202611300001_storage_paths", Migrate: addStoragePaths, Rollback: dropStoragePaths},
		{ID: "202611300002_hashtags", Migrate: addHashtags, Rollback: dropHashtags},
		{ID: "202611300003_hashtags_backfill", Migrate: backfillHashtags, Rollback: func(*gorm.DB) error { return nil }},
		{ID: "202611300004_tag_and_sound_pages", Migrate: addTagAndSoundPages, Rollback: dropTagAndSoundPages},
		{ID: "202611300010_search", Migrate: addSearch, Rollback: dropSearch},
		{ID: "202611300011_search_nearest", Migrate: addSearchNearest, Rollback: dropSearchNearest},
		{ID: "202611300020_comment_replies", Migrate: addCommentReplies, Rollback: dropCommentReplies},
		{ID: "202611300021_notifications", Migrate: addNotifications, Rollback: dropNotifications},
		{ID: "202611300030_bookmarks", Migrate: addBookmarks, Rollback: dropBookmarks},
		{ID: "202611300040_media", Migrate: addMedia, Rollback: dropMedia},
		{ID: "202611300041_river_queue", Migrate: func(*gorm.DB) error { return nil }, Rollback: dropRiverQueue},
		{ID: "202611300050_search_walk", Migrate: addSearchWalk, Rollback: dropSearchWalk},
		{ID: "202611300051_search_similar_paths", Migrate: addSearchSimilarPaths, Rollback: dropSearchSimilarPaths},
		{ID: "202611300052_search_similar_window", Migrate: addSearchSimilarWindow, Rollback: dropSearchSimilarWindow},
		{ID: "202611300060_counter_deltas", Migrate: addCounterDeltas, Rollback: dropCounterDeltas},
		{ID: "202611300061_announce_after_commit", Migrate: addAnnounceAfterCommit, Rollback: dropAnnounceAfterCommit},
	}
}

// trigger is a trigger of a migration: CREATE TRIGGER <name> <def>, on table.
type trigger struct{ name, table, def string }

// createTriggers (re)creates ts, so a migration run again over a half-made schema ends the same.
func createTriggers(tx *gorm.DB, ts []trigger) error {
	for _, t := range ts {
		if err := execAll(tx,
			fmt.Sprintf("DROP TRIGGER IF EXISTS %s ON %s", t.name, t.table),
			fmt.Sprintf("CREATE TRIGGER %s %s", t.name, t.def),
		); err != nil {
			return err
		}
	}
	return nil
}

// dropTriggers drops ts (a rollback).
func dropTriggers(tx *gorm.DB, ts []trigger) error {
	for _, t := range ts {
		if err := execAll(tx, fmt.Sprintf("DROP TRIGGER IF EXISTS %s ON %s", t.name, t.table)); err != nil {
			return err
		}
	}
	return nil
}

// execAll runs statements in order, stopping at the first error.
func execAll(tx *gorm.DB, stmts ...string) error {
	for _, s := range stmts {
		if err := tx.Exec(s).Error; err != nil {
			return fmt.Errorf("%w\nin: %s", err, firstLine(s))
		}
	}
	return nil
}

func firstLine(s string) string {
	s = strings.TrimSpace(s)
	if i := strings.IndexByte(s, '\n'); i >= 0 {
		return s[:i] + " ..."
	}
	return s
}

// addConstraintIfMissing runs ddl unless table already has a constraint called name
// (ALTER TABLE ... ADD CONSTRAINT has no IF NOT EXISTS).
func addConstraintIfMissing(tx *gorm.DB, table, name, ddl string) error {
	var n int64
	err := tx.Raw(`SELECT count(*) FROM pg_constraint WHERE conname = ? AND conrelid = to_regclass(?)`, name, table).Scan(&n).Error
	if err != nil || n > 0 {
		return err
	}
	return execAll(tx, ddl)
}

// --- 202611250001_init -----------------------------------------------------------------
// The six tables exactly as `prisma migrate` creates them from the course's schema.prisma
// (compare with the Prisma version's prisma/migrations/*/migration.sql). On a database the
// Prisma version created, every statement finds its object already there and does nothing.

func initPrismaSchema(tx *gorm.DB) error {
	err := execAll(tx,
		`CREATE TABLE IF NOT EXISTS "users" (
			"id" SERIAL NOT NULL,
			"username" TEXT NOT NULL,
			"email" TEXT NOT NULL,
			"password" TEXT NOT NULL,
			"name" TEXT,
			"bio" TEXT,
			"avatar" TEXT,
			"created_at" TIMESTAMP(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,
			"updated_at" TIMESTAMP(3) NOT NULL,
			CONSTRAINT "users_pkey" PRIMARY KEY ("id"))`,
		`CREATE TABLE IF NOT EXISTS "videos" (
			"id" SERIAL NOT NULL,
			"user_id" INTEGER NOT NULL,
			"caption" TEXT,
			"video_url" TEXT NOT NULL,
			"thumbnail_url" TEXT,
			"audio_name" TEXT,
			"views" INTEGER NOT NULL DEFAULT 0,
			"created_at" TIMESTAMP(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,
			"updated_at" TIMESTAMP(3) NOT NULL,
			CONSTRAINT "videos_pkey" PRIMARY KEY ("id"))`,
		`CREATE TABLE IF NOT EXISTS "comments" (
			"id" SERIAL NOT NULL,
			"content" TEXT NOT NULL,
			"user_id" INTEGER NOT NULL,
			"video_id" INTEGER NOT NULL,
			"created_at" TIMESTAMP(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,
			"updated_at" TIMESTAMP(3) NOT NULL,
			CONSTRAINT "comments_pkey" PRIMARY KEY ("id"))`,
		`CREATE TABLE IF NOT EXISTS "video_likes" (
			"user_id" INTEGER NOT NULL,
			"video_id" INTEGER NOT NULL,
			"created_at" TIMESTAMP(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,
			CONSTRAINT "video_likes_pkey" PRIMARY KEY ("user_id","video_id"))`,
		`CREATE TABLE IF NOT EXISTS "comment_likes" (
			"user_id" INTEGER NOT NULL,
			"comment_id" INTEGER NOT NULL,
			"created_at" TIMESTAMP(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,
			CONSTRAINT "comment_likes_pkey" PRIMARY KEY ("user_id","comment_id"))`,
		`CREATE TABLE IF NOT EXISTS "follows" (
			"follower_id" INTEGER NOT NULL,
			"following_id" INTEGER NOT NULL,
			"created_at" TIMESTAMP(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,
			CONSTRAINT "follows_pkey" PRIMARY KEY ("follower_id","following_id"))`,
		`CREATE UNIQUE INDEX IF NOT EXISTS "users_username_key" ON "users"("username")`,
		`CREATE UNIQUE INDEX IF NOT EXISTS "users_email_key" ON "users"("email")`,
	)
	if err != nil {
		return err
	}
	for _, fk := range prismaForeignKeys {
		ddl := fmt.Sprintf(`ALTER TABLE %q ADD CONSTRAINT %q FOREIGN KEY (%q) REFERENCES %q("id") ON DELETE CASCADE ON UPDATE CASCADE`,
			fk.table, fk.name(), fk.column, fk.references)
		if err := addConstraintIfMissing(tx, fk.table, fk.name(), ddl); err != nil {
			return err
		}
	}
	return nil
}

type foreignKey struct{ table, column, references string }

func (fk foreignKey) name() string { return fk.table + "_" + fk.column + "_fkey" }

var prismaForeignKeys = []foreignKey{
	{"videos", "user_id", "users"},
	{"comments", "user_id", "users"},
	{"comments", "video_id", "videos"},
	{"video_likes", "user_id", "users"},
	{"video_likes", "video_id", "videos"},
	{"comment_likes", "user_id", "users"},
	{"comment_likes", "comment_id", "comments"},
	{"follows", "follower_id", "users"},
	{"follows", "following_id", "users"},
}

func dropPrismaSchema(tx *gorm.DB) error {
	return execAll(tx, `DROP TABLE IF EXISTS "follows", "comment_likes", "video_likes", "comments", "videos", "users"`)
}

// --- 202611250002_counters -------------------------------------------------------------
// Stored counters, kept equal to COUNT(*) of their rows by triggers, whoever writes: this
// server, psql, the seeder or a Prisma client. Each counter changes with `x = x + 1` under
// the row lock, so concurrent writers never lose an update. Counters are read-only to
// everything but the triggers and recount_counters(): a direct UPDATE of one is undone.

// recountCountersBody recounts the counters of this step; recountCounters wraps it as the
// function recount_counters(), with the recount functions of later steps (each a function of
// its own, named in more) run after it. A later step that adds a counter rewrites
// recount_counters() with recountCounters and its function's name, and its rollback rewrites
// it without: the function text lives here once.
const recountCountersBody = `	PERFORM set_config('tiktok.recounting', 'on', true);
	UPDATE videos v SET like_count = s.likes, comment_count = s.comments
	FROM (
		SELECT v0.id,
			COALESCE(l.n, 0) AS likes,
			COALESCE(c.n, 0) AS comments
		FROM videos v0
		LEFT JOIN (SELECT video_id, count(*)::int AS n FROM video_likes GROUP BY video_id) l ON l.video_id = v0.id
		LEFT JOIN (SELECT video_id, count(*)::int AS n FROM comments GROUP BY video_id) c ON c.video_id = v0.id
	) s
	WHERE v.id = s.id AND (v.like_count, v.comment_count) IS DISTINCT FROM (s.likes, s.comments);

	UPDATE comments c SET like_count = s.likes
	FROM (
		SELECT c0.id, COALESCE(l.n, 0) AS likes
		FROM comments c0
		LEFT JOIN (SELECT comment_id, count(*)::int AS n FROM comment_likes GROUP BY comment_id) l ON l.comment_id = c0.id
	) s
	WHERE c.id = s.id AND c.like_count IS DISTINCT FROM s.likes;

	UPDATE users u SET follower_count = s.followers, following_count = s.following,
		video_count = s.videos, like_count = s.likes
	FROM (
		SELECT u0.id,
			COALESCE(fr.n, 0) AS followers,
			COALESCE(fg.n, 0) AS following,
			COALESCE(v.n, 0) AS videos,
			COALESCE(v.likes, 0) AS likes
		FROM users u0
		LEFT JOIN (SELECT following_id, count(*)::int AS n FROM follows GROUP BY following_id) fr ON fr.following_id = u0.id
		LEFT JOIN (SELECT follower_id, count(*)::int AS n FROM follows GROUP BY follower_id) fg ON fg.follower_id = u0.id
		LEFT JOIN (SELECT user_id, count(*)::int AS n, sum(like_count)::int AS likes FROM videos GROUP BY user_id) v ON v.user_id = u0.id
	) s
	WHERE u.id = s.id
		AND (u.follower_count, u.following_count, u.video_count, u.like_count)
			IS DISTINCT FROM (s.followers, s.following, s.videos, s.likes);
	PERFORM set_config('tiktok.recounting', 'off', true);
`

func recountCounters(more ...string) string {
	return recountFunction("", "", more...)
}

// recountFunction is recount_counters() with the statements before run first and after run
// last (202611300060 locks and empties the pending deltas around the recount).
func recountFunction(before, after string, more ...string) string {
	var calls strings.Builder
	for _, f := range more {
		calls.WriteString("\tPERFORM " + f + "();\n")
	}
	return `
CREATE OR REPLACE FUNCTION recount_counters() RETURNS void LANGUAGE plpgsql AS $fn$
BEGIN
` + before + recountCountersBody + calls.String() + after + `END
$fn$;
`
}

var counterFunctions = recountCounters() + `
-- Keeps the counters of a row as they were unless a counter trigger (nested, so
-- pg_trigger_depth() > 1) or recount_counters() is the writer; new rows start at zero.
CREATE OR REPLACE FUNCTION protect_counters() RETURNS trigger LANGUAGE plpgsql AS $fn$
BEGIN
	IF pg_trigger_depth() > 1 OR current_setting('tiktok.recounting', true) = 'on' THEN
		RETURN NEW;
	END IF;
	IF TG_TABLE_NAME = 'users' THEN
		IF TG_OP = 'INSERT' THEN
			NEW.follower_count := 0; NEW.following_count := 0; NEW.video_count := 0; NEW.like_count := 0;
		ELSE
			NEW.follower_count := OLD.follower_count; NEW.following_count := OLD.following_count;
			NEW.video_count := OLD.video_count; NEW.like_count := OLD.like_count;
		END IF;
	ELSIF TG_TABLE_NAME = 'videos' THEN
		IF TG_OP = 'INSERT' THEN
			NEW.like_count := 0; NEW.comment_count := 0;
		ELSE
			NEW.like_count := OLD.like_count; NEW.comment_count := OLD.comment_count;
		END IF;
	ELSIF TG_TABLE_NAME = 'comments' THEN
		IF TG_OP = 'INSERT' THEN
			NEW.like_count := 0;
		ELSE
			NEW.like_count := OLD.like_count;
		END IF;
	END IF;
	RETURN NEW;
END
$fn$;

CREATE OR REPLACE FUNCTION count_video_likes() RETURNS trigger LANGUAGE plpgsql AS $fn$
BEGIN
	-- A like counts for its video and for the video's author (likes received). When the
	-- video itself is being deleted, the UPDATE finds no row and the author's total is
	-- settled by count_videos() instead.
	IF TG_OP IN ('DELETE', 'UPDATE') THEN
		WITH v AS (UPDATE videos SET like_count = like_count - 1 WHERE id = OLD.video_id RETURNING user_id)
		UPDATE users SET like_count = like_count - 1 WHERE id IN (SELECT user_id FROM v);
	END IF;
	IF TG_OP IN ('INSERT', 'UPDATE') THEN
		WITH v AS (UPDATE videos SET like_count = like_count + 1 WHERE id = NEW.video_id RETURNING user_id)
		UPDATE users SET like_count = like_count + 1 WHERE id IN (SELECT user_id FROM v);
	END IF;
	RETURN NULL;
END
$fn$;

CREATE OR REPLACE FUNCTION count_comment_likes() RETURNS trigger LANGUAGE plpgsql AS $fn$
BEGIN
	IF TG_OP IN ('DELETE', 'UPDATE') THEN
		UPDATE comments SET like_count = like_count - 1 WHERE id = OLD.comment_id;
	END IF;
	IF TG_OP IN ('INSERT', 'UPDATE') THEN
		UPDATE comments SET like_count = like_count + 1 WHERE id = NEW.comment_id;
	END IF;
	RETURN NULL;
END
$fn$;

CREATE OR REPLACE FUNCTION count_comments() RETURNS trigger LANGUAGE plpgsql AS $fn$
BEGIN
	IF TG_OP IN ('DELETE', 'UPDATE') THEN
		UPDATE videos SET comment_count = comment_count - 1 WHERE id = OLD.video_id;
	END IF;
	IF TG_OP IN ('INSERT', 'UPDATE') THEN
		UPDATE videos SET comment_count = comment_count + 1 WHERE id = NEW.video_id;
	END IF;
	RETURN NULL;
END
$fn$;

CREATE OR REPLACE FUNCTION count_follows() RETURNS trigger LANGUAGE plpgsql AS $fn$
BEGIN
	-- Lock both users in id order first, so "A follows B" racing "B follows A" cannot lock
	-- A,B and B,A and deadlock (one UPDATE alone is not enough: a sequential scan visits the
	-- rows in heap order). The UPDATEs below then touch only rows this transaction holds.
	IF TG_OP = 'INSERT' THEN
		PERFORM 1 FROM users WHERE id IN (NEW.follower_id, NEW.following_id) ORDER BY id FOR NO KEY UPDATE;
	ELSIF TG_OP = 'DELETE' THEN
		PERFORM 1 FROM users WHERE id IN (OLD.follower_id, OLD.following_id) ORDER BY id FOR NO KEY UPDATE;
	ELSE
		PERFORM 1 FROM users WHERE id IN (OLD.follower_id, OLD.following_id, NEW.follower_id, NEW.following_id)
			ORDER BY id FOR NO KEY UPDATE;
	END IF;
	IF TG_OP IN ('DELETE', 'UPDATE') THEN
		UPDATE users SET
			following_count = following_count - (id = OLD.follower_id)::int,
			follower_count = follower_count - (id = OLD.following_id)::int
		WHERE id IN (OLD.follower_id, OLD.following_id);
	END IF;
	IF TG_OP IN ('INSERT', 'UPDATE') THEN
		UPDATE users SET
			following_count = following_count + (id = NEW.follower_id)::int,
			follower_count = follower_count + (id = NEW.following_id)::int
		WHERE id IN (NEW.follower_id, NEW.following_id);
	END IF;
	RETURN NULL;
END
$fn$;

CREATE OR REPLACE FUNCTION count_videos() RETURNS trigger LANGUAGE plpgsql AS $fn$
BEGIN
	IF TG_OP IN ('DELETE', 'UPDATE') THEN
		UPDATE users SET video_count = video_count - 1, like_count = like_count - OLD.like_count WHERE id = OLD.user_id;
	END IF;
	IF TG_OP IN ('INSERT', 'UPDATE') THEN
		UPDATE users SET video_count = video_count + 1, like_count = like_count + NEW.like_count WHERE id = NEW.user_id;
	END IF;
	RETURN NULL;
END
$fn$;

-- TRUNCATE fires no row triggers; recount after it.
CREATE OR REPLACE FUNCTION recount_after_truncate() RETURNS trigger LANGUAGE plpgsql AS $fn$
BEGIN
	PERFORM recount_counters();
	RETURN NULL;
END
$fn$;
`

// counterTriggers are (name, table, definition) of every trigger the counters need.
var counterTriggers = []trigger{
	{"users_protect_counters", "users", "BEFORE INSERT OR UPDATE ON users FOR EACH ROW EXECUTE FUNCTION protect_counters()"},
	{"videos_protect_counters", "videos", "BEFORE INSERT OR UPDATE ON videos FOR EACH ROW EXECUTE FUNCTION protect_counters()"},
	{"comments_protect_counters", "comments", "BEFORE INSERT OR UPDATE ON comments FOR EACH ROW EXECUTE FUNCTION protect_counters()"},
	{"video_likes_count", "video_likes", "AFTER INSERT OR DELETE OR UPDATE OF video_id ON video_likes FOR EACH ROW EXECUTE FUNCTION count_video_likes()"},
	{"comment_likes_count", "comment_likes", "AFTER INSERT OR DELETE OR UPDATE OF comment_id ON comment_likes FOR EACH ROW EXECUTE FUNCTION count_comment_likes()"},
	{"comments_count", "comments", "AFTER INSERT OR DELETE OR UPDATE OF video_id ON comments FOR EACH ROW EXECUTE FUNCTION count_comments()"},
	{"follows_count", "follows", "AFTER INSERT OR DELETE OR UPDATE OF follower_id, following_id ON follows FOR EACH ROW EXECUTE FUNCTION count_follows()"},
	{"videos_count", "videos", "AFTER INSERT OR DELETE OR UPDATE OF user_id ON videos FOR EACH ROW EXECUTE FUNCTION count_videos()"},
	{"video_likes_truncate", "video_likes", "AFTER TRUNCATE ON video_likes FOR EACH STATEMENT EXECUTE FUNCTION recount_after_truncate()"},
	{"comment_likes_truncate", "comment_likes", "AFTER TRUNCATE ON comment_likes FOR EACH STATEMENT EXECUTE FUNCTION recount_after_truncate()"},
	{"comments_truncate", "comments", "AFTER TRUNCATE ON comments FOR EACH STATEMENT EXECUTE FUNCTION recount_after_truncate()"},
	{"follows_truncate", "follows", "AFTER TRUNCATE ON follows FOR EACH STATEMENT EXECUTE FUNCTION recount_after_truncate()"},
	{"videos_truncate", "videos", "AFTER TRUNCATE ON videos FOR EACH STATEMENT EXECUTE FUNCTION recount_after_truncate()"},
}

var counterFunctionNames = []string{
	"recount_after_truncate()", "count_videos()", "count_follows()", "count_comments()",
	"count_comment_likes()", "count_video_likes()", "protect_counters()", "recount_counters()",
}

func addCounters(tx *gorm.DB) error {
	err := execAll(tx,
		// Block writers to the counted tables until this transaction commits, so no row slips
		// between the recount below and the triggers taking over.
		`LOCK TABLE users, videos, comments, video_likes, comment_likes, follows IN SHARE ROW EXCLUSIVE MODE`,
		`ALTER TABLE users
			ADD COLUMN IF NOT EXISTS follower_count INTEGER NOT NULL DEFAULT 0,
			ADD COLUMN IF NOT EXISTS following_count INTEGER NOT NULL DEFAULT 0,
			ADD COLUMN IF NOT EXISTS video_count INTEGER NOT NULL DEFAULT 0,
			ADD COLUMN IF NOT EXISTS like_count INTEGER NOT NULL DEFAULT 0,
			ALTER COLUMN updated_at SET DEFAULT CURRENT_TIMESTAMP`,
		`ALTER TABLE videos
			ADD COLUMN IF NOT EXISTS like_count INTEGER NOT NULL DEFAULT 0,
			ADD COLUMN IF NOT EXISTS comment_count INTEGER NOT NULL DEFAULT 0,
			ALTER COLUMN updated_at SET DEFAULT CURRENT_TIMESTAMP`,
		`ALTER TABLE comments
			ADD COLUMN IF NOT EXISTS like_count INTEGER NOT NULL DEFAULT 0,
			ALTER COLUMN updated_at SET DEFAULT CURRENT_TIMESTAMP`,
		counterFunctions,
	)
	if err != nil {
		return err
	}
	if err := createTriggers(tx, counterTriggers); err != nil {
		return err
	}
	return execAll(tx, `SELECT recount_counters()`)
}

func dropCounters(tx *gorm.DB) error {
	if err := dropTriggers(tx, counterTriggers); err != nil {
		return err
	}
	for _, fn := range counterFunctionNames {
		if err := execAll(tx, "DROP FUNCTION IF EXISTS "+fn); err != nil {
			return err
		}
	}
	return execAll(tx,
		`ALTER TABLE users DROP COLUMN IF EXISTS follower_count, DROP COLUMN IF EXISTS following_count,
			DROP COLUMN IF EXISTS video_count, DROP COLUMN IF EXISTS like_count, ALTER COLUMN updated_at DROP DEFAULT`,
		`ALTER TABLE videos DROP COLUMN IF EXISTS like_count, DROP COLUMN IF EXISTS comment_count, ALTER COLUMN updated_at DROP DEFAULT`,
		`ALTER TABLE comments DROP COLUMN IF EXISTS like_count, ALTER COLUMN updated_at DROP DEFAULT`,
	)
}

// --- 202611250003_auth -----------------------------------------------------------------
// users.token_version (bumped to revoke every access token of a user) and the refresh-token
// table. The table is our own, so AutoMigrate creates it, from a struct frozen here as it was
// when this migration was written (the live model may grow later, in later migrations).

type userRefV3 struct {
	ID int32 `gorm:"column:id;primaryKey"`
}

func (userRefV3) TableName() string { return "users" }

type refreshTokenV3 struct {
	ID        int64      `gorm:"column:id;type:bigserial;primaryKey"`
	UserID    int32      `gorm:"column:user_id;type:integer;not null;index:refresh_tokens_user_id_idx"`
	FamilyID  string     `gorm:"column:family_id;type:text;not null;index:refresh_tokens_family_id_idx"`
	TokenHash string     `gorm:"column:token_hash;type:text;not null;uniqueIndex:refresh_tokens_token_hash_key"`
	ExpiresAt time.Time  `gorm:"column:expires_at;type:timestamp(3);not null"`
	UsedAt    *time.Time `gorm:"column:used_at;type:timestamp(3)"`
	RevokedAt *time.Time `gorm:"column:revoked_at;type:timestamp(3)"`
	CreatedAt time.Time  `gorm:"column:created_at;type:timestamp(3);not null;default:CURRENT_TIMESTAMP"`

	User *userRefV3 `gorm:"foreignKey:UserID;constraint:refresh_tokens_user_id_fkey,OnUpdate:CASCADE,OnDelete:CASCADE"`
}

func (refreshTokenV3) TableName() string { return "refresh_tokens" }

func addAuth(tx *gorm.DB) error {
	if err := execAll(tx, `ALTER TABLE users ADD COLUMN IF NOT EXISTS token_version INTEGER NOT NULL DEFAULT 0`); err != nil {
		return err
	}
	return tx.Migrator().AutoMigrate(&refreshTokenV3{})
}

func dropAuth(tx *gorm.DB) error {
	return execAll(tx,
		`DROP TABLE IF EXISTS refresh_tokens`,
		`ALTER TABLE users DROP COLUMN IF EXISTS token_version`)
}

// --- 202611250004_constraints_and_indexes ----------------------------------------------
// Case-insensitive uniqueness of usernames and e-mails, no self-follows, and the indexes the
// API's queries need: keyset pagination on (created_at DESC, id DESC) for each list, and an
// index on every foreign key column that no primary key leads with (cascading deletes use them).

var indexes = []struct{ name, def string }{
	{"users_username_lower_key", "UNIQUE INDEX IF NOT EXISTS users_username_lower_key ON users (lower(username))"},
	{"users_email_lower_key", "UNIQUE INDEX IF NOT EXISTS users_email_lower_key ON users (lower(email))"},
	{"users_username_pattern_idx", "INDEX IF NOT EXISTS users_username_pattern_idx ON users (lower(username) text_pattern_ops)"},
	{"users_name_pattern_idx", "INDEX IF NOT EXISTS users_name_pattern_idx ON users (lower(name) text_pattern_ops)"},
	{"videos_created_at_id_idx", "INDEX IF NOT EXISTS videos_created_at_id_idx ON videos (created_at DESC, id DESC)"},
	{"videos_user_id_created_at_id_idx", "INDEX IF NOT EXISTS videos_user_id_created_at_id_idx ON videos (user_id, created_at DESC, id DESC)"},
	{"comments_video_id_created_at_id_idx", "INDEX IF NOT EXISTS comments_video_id_created_at_id_idx ON comments (video_id, created_at DESC, id DESC)"},
	{"comments_created_at_id_idx", "INDEX IF NOT EXISTS comments_created_at_id_idx ON comments (created_at DESC, id DESC)"},
	{"comments_user_id_idx", "INDEX IF NOT EXISTS comments_user_id_idx ON comments (user_id)"},
	{"video_likes_video_id_created_at_idx", "INDEX IF NOT EXISTS video_likes_video_id_created_at_idx ON video_likes (video_id, created_at DESC, user_id DESC)"},
	{"video_likes_user_id_created_at_idx", "INDEX IF NOT EXISTS video_likes_user_id_created_at_idx ON video_likes (user_id, created_at DESC, video_id DESC)"},
	{"comment_likes_comment_id_idx", "INDEX IF NOT EXISTS comment_likes_comment_id_idx ON comment_likes (comment_id)"},
	{"follows_following_id_created_at_idx", "INDEX IF NOT EXISTS follows_following_id_created_at_idx ON follows (following_id, created_at DESC, follower_id DESC)"},
	{"follows_follower_id_created_at_idx", "INDEX IF NOT EXISTS follows_follower_id_created_at_idx ON follows (follower_id, created_at DESC, following_id DESC)"},
}

func addConstraintsAndIndexes(tx *gorm.DB) error {
	// Rows that would break the new constraints stop the upgrade with a message that says what
	// to fix; the migration never deletes or rewrites a user's data on its own.
	var dupes []string
	if err := tx.Raw(`SELECT lower(username) FROM users GROUP BY 1 HAVING count(*) > 1
		UNION ALL SELECT lower(email) FROM users GROUP BY 1 HAVING count(*) > 1 LIMIT 10`).Scan(&dupes).Error; err != nil {
		return err
	}
	if len(dupes) > 0 {
		return fmt.Errorf("cannot add case-insensitive uniqueness: these usernames or e-mails differ only in case: %s; rename or merge those users, then migrate again", strings.Join(dupes, ", "))
	}
	var selfFollows int64
	if err := tx.Raw(`SELECT count(*) FROM follows WHERE follower_id = following_id`).Scan(&selfFollows).Error; err != nil {
		return err
	}
	if selfFollows > 0 {
		return fmt.Errorf("cannot forbid self-follows: %d users follow themselves; remove them (DELETE FROM follows WHERE follower_id = following_id), then migrate again", selfFollows)
	}
	if err := addConstraintIfMissing(tx, "follows", "follows_no_self_follow",
		`ALTER TABLE follows ADD CONSTRAINT follows_no_self_follow CHECK (follower_id <> following_id)`); err != nil {
		return err
	}
	for _, ix := range indexes {
		if err := execAll(tx, "CREATE "+ix.def); err != nil {
			return err
		}
	}
	return nil
}

func dropConstraintsAndIndexes(tx *gorm.DB) error {
	for _, ix := range indexes {
		if err := execAll(tx, "DROP INDEX IF EXISTS "+ix.name); err != nil {
			return err
		}
	}
	return execAll(tx, `ALTER TABLE follows DROP CONSTRAINT IF EXISTS follows_no_self_follow`)
}
