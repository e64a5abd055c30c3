package database

import (
	"fmt"
	"strings"

	"gorm.io/gorm"
)

// --- 202611300060_counter_deltas -------------------------------------------------------------
// Hot rows (issue 15). Until this step a like ran `UPDATE videos SET like_count = like_count + 1`
// and the same on the author's users row from its trigger, so it held both row locks until its
// commit had reached the disk: every like of one video, and of any video of one author, waited
// for the one before it (a viral video ran at one commit per fsync).
//
// Now the counting triggers only INSERT a signed delta row: into video_counter_deltas (likes,
// comments, bookmarks of a video), comment_counter_deltas (likes, replies of a comment) or
// user_counter_deltas (followers, following, videos, likes received of a user). An INSERT
// takes no lock any other writer waits for, so concurrent likes of one video go through
// together and share their fsync (group commit).
//
// The invariant, in every snapshot, for every counter:
//
//	stored column + SUM(its pending deltas) = COUNT(*) of its rows
//
// The views user_counts, video_counts and comment_counts read them so for anyone using SQL.
// The store reads every counter that way, in the same statement as the row (one snapshot; a
// LATERAL sum over the deltas' (target id) index), so a count is exact at every read and a
// like's answer includes the like.
//
// fold_counter_deltas(batch) moves deltas into the stored columns: per table, it locks up to
// batch target rows that have deltas (in id order, FOR NO KEY UPDATE SKIP LOCKED: a row another
// folder or a writer holds is left for the next round, so a folder never waits and two folders,
// one per server instance, never fold the same row), deletes exactly those rows' deltas as of
// its snapshot and adds their sums to the columns, in one statement, so the two changes commit
// together. Deltas committed after its snapshot stay for the next round. Users come first,
// then videos, then comments: the lock order of the store (store/locks.go).
//
// Deleting a user, video or comment deletes its pending deltas (drop_counter_deltas); a video's
// delete moves its author's likes received by the video's whole count, stored + pending
// (count_videos: the cascade of its likes runs first, as PostgreSQL fires the foreign keys'
// triggers, named RI_ConstraintTrigger_*, before videos_count, and those likes' triggers find
// no video and add nothing). recount_counters() locks the delta tables (EXCLUSIVE: writers
// wait, readers do not), recounts every stored column from COUNT(*) and deletes every delta,
// so it stays exact with writers running. Every statement appends to the delta tables in one
// order, users, videos, comments, which is also the order the folder and the recount lock
// them in; a transaction of several statements can still take them the other way round and
// deadlock with a recount, which PostgreSQL breaks by failing one of them (the store retries).
// TRUNCATE recounts as before.
//
// Ordering by a counter (trending_score, the users search) uses the stored columns: up to one
// fold interval behind, which moves a rank, never a displayed number.

const counterDeltaTables = `
CREATE TABLE IF NOT EXISTS user_counter_deltas (
	id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
	user_id integer NOT NULL,
	followers integer NOT NULL DEFAULT 0,
	following integer NOT NULL DEFAULT 0,
	videos integer NOT NULL DEFAULT 0,
	likes integer NOT NULL DEFAULT 0
);
CREATE INDEX IF NOT EXISTS user_counter_deltas_user_id_idx ON user_counter_deltas (user_id);
CREATE TABLE IF NOT EXISTS video_counter_deltas (
	id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
	video_id integer NOT NULL,
	likes integer NOT NULL DEFAULT 0,
	comments integer NOT NULL DEFAULT 0,
	bookmarks integer NOT NULL DEFAULT 0
);
CREATE INDEX IF NOT EXISTS video_counter_deltas_video_id_idx ON video_counter_deltas (video_id);
CREATE TABLE IF NOT EXISTS comment_counter_deltas (
	id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
	comment_id integer NOT NULL,
	likes integer NOT NULL DEFAULT 0,
	replies integer NOT NULL DEFAULT 0
);
CREATE INDEX IF NOT EXISTS comment_counter_deltas_comment_id_idx ON comment_counter_deltas (comment_id);
-- The exact counts, for anyone reading with SQL (psql, a Prisma client, the tests): the
-- stored columns plus the pending deltas, read in one statement. The store reads the same sums
-- in its own statements (store/counters.go).
CREATE OR REPLACE VIEW user_counts AS
	SELECT u.id, u.follower_count + p.followers AS follower_count, u.following_count + p.following AS following_count,
		u.video_count + p.videos AS video_count, u.like_count + p.likes AS like_count
	FROM users u CROSS JOIN LATERAL (SELECT COALESCE(sum(d.followers), 0)::int AS followers,
		COALESCE(sum(d.following), 0)::int AS following, COALESCE(sum(d.videos), 0)::int AS videos,
		COALESCE(sum(d.likes), 0)::int AS likes FROM user_counter_deltas d WHERE d.user_id = u.id) p;
CREATE OR REPLACE VIEW video_counts AS
	SELECT v.id, v.like_count + p.likes AS like_count, v.comment_count + p.comments AS comment_count,
		v.bookmark_count + p.bookmarks AS bookmark_count
	FROM videos v CROSS JOIN LATERAL (SELECT COALESCE(sum(d.likes), 0)::int AS likes,
		COALESCE(sum(d.comments), 0)::int AS comments, COALESCE(sum(d.bookmarks), 0)::int AS bookmarks
		FROM video_counter_deltas d WHERE d.video_id = v.id) p;
CREATE OR REPLACE VIEW comment_counts AS
	SELECT c.id, c.like_count + p.likes AS like_count, c.reply_count + p.replies AS reply_count
	FROM comments c CROSS JOIN LATERAL (SELECT COALESCE(sum(d.likes), 0)::int AS likes,
		COALESCE(sum(d.replies), 0)::int AS replies FROM comment_counter_deltas d WHERE d.comment_id = c.id) p;
-- Rows live for a fold interval: vacuum them after every thousand deletes, not after a fifth
-- of the table, so the tables and their indexes stay a few pages (where autovacuum runs).
ALTER TABLE user_counter_deltas SET (autovacuum_vacuum_scale_factor = 0, autovacuum_vacuum_threshold = 1000);
ALTER TABLE video_counter_deltas SET (autovacuum_vacuum_scale_factor = 0, autovacuum_vacuum_threshold = 1000);
ALTER TABLE comment_counter_deltas SET (autovacuum_vacuum_scale_factor = 0, autovacuum_vacuum_threshold = 1000);
`

var counterDeltaFunctions = `
CREATE OR REPLACE FUNCTION count_video_likes() RETURNS trigger LANGUAGE plpgsql AS $fn$
BEGIN
	-- A like counts for its video and for the video's author (likes received). A video being
	-- deleted by this transaction is not found: count_videos() settles its author's total.
	-- (The user deltas come first in the text, so their table is locked first: the order of
	-- fold_counter_deltas and recount_counters.)
	IF TG_OP IN ('DELETE', 'UPDATE') THEN
		WITH v AS (SELECT id, user_id FROM videos WHERE id = OLD.video_id),
			u AS (INSERT INTO user_counter_deltas (user_id, likes) SELECT user_id, -1 FROM v)
		INSERT INTO video_counter_deltas (video_id, likes) SELECT id, -1 FROM v;
	END IF;
	IF TG_OP IN ('INSERT', 'UPDATE') THEN
		WITH v AS (SELECT id, user_id FROM videos WHERE id = NEW.video_id),
			u AS (INSERT INTO user_counter_deltas (user_id, likes) SELECT user_id, 1 FROM v)
		INSERT INTO video_counter_deltas (video_id, likes) SELECT id, 1 FROM v;
	END IF;
	RETURN NULL;
END
$fn$;

` + deltaTrigger("count_comment_likes", "comment_counter_deltas", "comment_id", "likes", "comments", "comment_id") +
	deltaTrigger("count_comments", "video_counter_deltas", "video_id", "comments", "videos", "video_id") +
	deltaTrigger("count_replies", "comment_counter_deltas", "comment_id", "replies", "comments", "parent_id") +
	deltaTrigger("count_video_bookmarks", "video_counter_deltas", "video_id", "bookmarks", "videos", "video_id") + `
CREATE OR REPLACE FUNCTION count_follows() RETURNS trigger LANGUAGE plpgsql AS $fn$
BEGIN
	-- No row locks: "A follows B" racing "B follows A" only appends rows.
	IF TG_OP IN ('DELETE', 'UPDATE') THEN
		INSERT INTO user_counter_deltas (user_id, following, followers)
		SELECT id, -(id = OLD.follower_id)::int, -(id = OLD.following_id)::int
		FROM users WHERE id IN (OLD.follower_id, OLD.following_id);
	END IF;
	IF TG_OP IN ('INSERT', 'UPDATE') THEN
		INSERT INTO user_counter_deltas (user_id, following, followers)
		SELECT id, (id = NEW.follower_id)::int, (id = NEW.following_id)::int
		FROM users WHERE id IN (NEW.follower_id, NEW.following_id);
	END IF;
	RETURN NULL;
END
$fn$;

-- A video counts for its author, and carries its likes (stored + pending) to the author's
-- likes received; an author being deleted by this transaction is not found.
CREATE OR REPLACE FUNCTION count_videos() RETURNS trigger LANGUAGE plpgsql AS $fn$
BEGIN
	IF TG_OP IN ('DELETE', 'UPDATE') THEN
		INSERT INTO user_counter_deltas (user_id, videos, likes)
		SELECT id, -1, -(OLD.like_count + COALESCE((SELECT sum(likes) FROM video_counter_deltas WHERE video_id = OLD.id), 0))::int
		FROM users WHERE id = OLD.user_id;
	END IF;
	IF TG_OP IN ('INSERT', 'UPDATE') THEN
		INSERT INTO user_counter_deltas (user_id, videos, likes)
		SELECT id, 1, (NEW.like_count + COALESCE((SELECT sum(likes) FROM video_counter_deltas WHERE video_id = NEW.id), 0))::int
		FROM users WHERE id = NEW.user_id;
	END IF;
	RETURN NULL;
END
$fn$;

-- A deleted row's pending deltas go with it (its trigger sorts after the counting ones).
CREATE OR REPLACE FUNCTION drop_counter_deltas() RETURNS trigger LANGUAGE plpgsql AS $fn$
BEGIN
	IF TG_TABLE_NAME = 'users' THEN
		DELETE FROM user_counter_deltas WHERE user_id = OLD.id;
	ELSIF TG_TABLE_NAME = 'videos' THEN
		DELETE FROM video_counter_deltas WHERE video_id = OLD.id;
	ELSIF TG_TABLE_NAME = 'comments' THEN
		DELETE FROM comment_counter_deltas WHERE comment_id = OLD.id;
	END IF;
	RETURN NULL;
END
$fn$;

-- Folds the pending deltas of up to batch rows of each table into their stored columns and
-- returns how many rows it updated. Safe to run from any number of sessions at once.
CREATE OR REPLACE FUNCTION fold_counter_deltas(batch integer) RETURNS bigint LANGUAGE plpgsql AS $fn$
DECLARE
	updated bigint := 0;
	n bigint;
BEGIN
	PERFORM set_config('tiktok.recounting', 'on', true);
` + foldStep("users", "user_counter_deltas", "user_id", [][2]string{
	{"follower_count", "followers"}, {"following_count", "following"}, {"video_count", "videos"}, {"like_count", "likes"}}) +
	foldStep("videos", "video_counter_deltas", "video_id", [][2]string{
		{"like_count", "likes"}, {"comment_count", "comments"}, {"bookmark_count", "bookmarks"}}) +
	foldStep("comments", "comment_counter_deltas", "comment_id", [][2]string{{"like_count", "likes"}, {"reply_count", "replies"}}) + `
	PERFORM set_config('tiktok.recounting', 'off', true);
	RETURN updated;
END
$fn$;
`

// deltaTrigger is a counting trigger function that appends a delta of column to deltas (keyed
// by target) for the parent row the counted row points at with key: -1 for the old row, +1
// for the new one. A parent this transaction is deleting (or a NULL key: a top-level comment
// has no parent) is not found, and nothing is appended.
func deltaTrigger(name, deltas, target, column, parent, key string) string {
	return fmt.Sprintf(`
CREATE OR REPLACE FUNCTION %[1]s() RETURNS trigger LANGUAGE plpgsql AS $fn$
BEGIN
	IF TG_OP IN ('DELETE', 'UPDATE') THEN
		INSERT INTO %[2]s (%[3]s, %[4]s) SELECT id, -1 FROM %[5]s WHERE id = OLD.%[6]s;
	END IF;
	IF TG_OP IN ('INSERT', 'UPDATE') THEN
		INSERT INTO %[2]s (%[3]s, %[4]s) SELECT id, 1 FROM %[5]s WHERE id = NEW.%[6]s;
	END IF;
	RETURN NULL;
END
$fn$;
`, name, deltas, target, column, parent, key)
}

// foldStep is the statement of fold_counter_deltas for one counted table: lock up to batch of
// its rows that have deltas, in id order, skipping rows someone holds; delete exactly those
// rows' deltas (as of the statement's snapshot) and add their sums to the columns (pairs of
// stored column and delta column).
func foldStep(table, deltas, key string, columns [][2]string) string {
	var sums, sets []string
	for _, c := range columns {
		sums = append(sums, fmt.Sprintf("sum(%s) AS %s", c[1], c[1]))
		sets = append(sets, fmt.Sprintf("%s = t.%s + s.%s", c[0], c[0], c[1]))
	}
	return fmt.Sprintf(`
	WITH targets AS (
		SELECT t.id FROM (SELECT DISTINCT %[3]s FROM %[2]s ORDER BY %[3]s LIMIT batch) d
		JOIN %[1]s t ON t.id = d.%[3]s ORDER BY t.id FOR NO KEY UPDATE OF t SKIP LOCKED
	), taken AS (
		DELETE FROM %[2]s d USING targets t WHERE d.%[3]s = t.id RETURNING d.*
	), sums AS (
		SELECT %[3]s, %[4]s FROM taken GROUP BY %[3]s
	), done AS (
		UPDATE %[1]s t SET %[5]s FROM sums s WHERE t.id = s.%[3]s RETURNING 1
	)
	SELECT count(*) INTO n FROM done;
	updated := updated + n;
`, table, deltas, key, strings.Join(sums, ", "), strings.Join(sets, ", "))
}

// recountCountersFolding is recount_counters() of this step: the recount of 202611300030
// (counters, replies, bookmarks) after a lock that holds the delta writers back until it
// commits, then the delete of every pending delta, which the recount has made redundant.
var recountCountersFolding = recountFunction(
	"\tLOCK TABLE user_counter_deltas, video_counter_deltas, comment_counter_deltas IN EXCLUSIVE MODE;\n",
	"\tDELETE FROM video_counter_deltas;\n\tDELETE FROM comment_counter_deltas;\n\tDELETE FROM user_counter_deltas;\n",
	"recount_reply_counts", "recount_bookmark_counts")

var counterDeltaTriggers = []trigger{
	{"users_drop_counter_deltas", "users", "AFTER DELETE ON users FOR EACH ROW EXECUTE FUNCTION drop_counter_deltas()"},
	{"videos_drop_counter_deltas", "videos", "AFTER DELETE ON videos FOR EACH ROW EXECUTE FUNCTION drop_counter_deltas()"},
	{"comments_drop_counter_deltas", "comments", "AFTER DELETE ON comments FOR EACH ROW EXECUTE FUNCTION drop_counter_deltas()"},
}

// The old and new triggers keep the same invariant (a direct update has no pending delta),
// so writers need not be held back while the functions change, and nothing is recounted.
func addCounterDeltas(tx *gorm.DB) error {
	if err := execAll(tx, counterDeltaTables, counterDeltaFunctions, recountCountersFolding); err != nil {
		return err
	}
	return createTriggers(tx, counterDeltaTriggers)
}

// dropCounterDeltas puts back the functions that update the rows, recounts (the pending deltas
// are then redundant) and drops the deltas.
func dropCounterDeltas(tx *gorm.DB) error {
	err := execAll(tx,
		`LOCK TABLE user_counter_deltas, video_counter_deltas, comment_counter_deltas IN EXCLUSIVE MODE`,
		counterFunctions, replyFunctions, bookmarkFunctions, recountWithBookmarks,
		`SELECT recount_counters()`,
	)
	if err != nil {
		return err
	}
	if err := dropTriggers(tx, counterDeltaTriggers); err != nil {
		return err
	}
	return execAll(tx,
		`DROP VIEW IF EXISTS user_counts, video_counts, comment_counts`,
		`DROP FUNCTION IF EXISTS drop_counter_deltas()`,
		`DROP FUNCTION IF EXISTS fold_counter_deltas(integer)`,
		`DROP TABLE IF EXISTS user_counter_deltas, video_counter_deltas, comment_counter_deltas`,
	)
}

// --- 202611300061_announce_after_commit ------------------------------------------------------
// A transaction that has sent NOTIFY holds one lock of the whole cluster from its commit until
// the commit is on disk (PostgreSQL orders the notification queue so), so every like that told
// its author, of any video, committed one fsync at a time: pgbench of the like with its
// notification ran at 632 transactions/s where the like alone ran at 5,600 (docs/performance.md,
// "Hot rows"). The store's set statements (a like, a follow; since the third round of issue 15
// a new comment's statement too) now say tiktok.announce = 'later' for their own transaction, so the trigger stays silent, and announce their notifications right
// after the commit with announce_notifications(): its own tiny transaction, committed without
// waiting for the disk (nothing in it needs to survive a crash: a notification that is never
// announced is still listed, counted unread and replayed to a stream that reconnects). Every
// other writer (psql, a Prisma client, the store's other writes) still announces from the trigger.

const announceLaterFunctions = `
CREATE OR REPLACE FUNCTION notifications_announce() RETURNS trigger LANGUAGE plpgsql AS $fn$
BEGIN
	IF current_setting('tiktok.announce', true) = 'later' THEN
		RETURN NULL; -- the writer announces it after its commit (announce_notifications)
	END IF;
	PERFORM pg_notify('` + NotificationChannel + `', NEW.id || ':' || NEW.user_id);
	RETURN NULL;
END
$fn$;

-- messages: "<id>:<recipient>" of each notification, comma-separated. Call it in a transaction
-- of its own (a statement outside any): it commits without waiting for the disk.
CREATE OR REPLACE FUNCTION announce_notifications(messages text) RETURNS void LANGUAGE plpgsql AS $fn$
BEGIN
	PERFORM set_config('synchronous_commit', 'off', true);
	PERFORM pg_notify('` + NotificationChannel + `', m) FROM unnest(string_to_array(messages, ',')) m;
END
$fn$;
`

func addAnnounceAfterCommit(tx *gorm.DB) error {
	return execAll(tx, announceLaterFunctions)
}

func dropAnnounceAfterCommit(tx *gorm.DB) error {
	return execAll(tx, announceFunction, `DROP FUNCTION IF EXISTS announce_notifications(text)`)
}
