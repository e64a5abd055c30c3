package database

import (
	"gorm.io/gorm"
)

// --- 202611300020_comment_replies ------------------------------------------------------------
// One-level replies (API.md, "Comments"): comments.parent_id names the top-level comment a reply
// sits under (a reply to a reply is stored under the same top-level comment by the store), and
// reply_to_user_id the author it answers (SET NULL when that account goes: the reply stays).
// Deleting a comment deletes its replies by the foreign key's cascade.
//
// comments.reply_count = COUNT(*) of its replies, kept by a trigger in the style of the counters
// of 202611250002 (`x = x + 1` under the parent's row lock; protected against direct writes;
// recount_counters() recounts it too). A reply is a row of comments, so the video's
// comment_count (count_comments) already counts replies. On a Prisma database every existing
// comment becomes top-level: parent_id NULL, reply_count 0.

const replyFunctions = `
-- Keeps comments.reply_count as it was unless a counting trigger (nested) or recount_counters()
-- writes it; a new comment starts at zero. (protect_counters guards like_count the same way.)
CREATE OR REPLACE FUNCTION protect_reply_count() RETURNS trigger LANGUAGE plpgsql AS $fn$
BEGIN
	IF pg_trigger_depth() > 1 OR current_setting('tiktok.recounting', true) = 'on' THEN
		RETURN NEW;
	END IF;
	IF TG_OP = 'INSERT' THEN
		NEW.reply_count := 0;
	ELSE
		NEW.reply_count := OLD.reply_count;
	END IF;
	RETURN NEW;
END
$fn$;

-- A reply counts for its parent. When the parent itself is being deleted (its replies go by
-- cascade), the UPDATE finds no row, as count_video_likes does for a deleted video.
CREATE OR REPLACE FUNCTION count_replies() RETURNS trigger LANGUAGE plpgsql AS $fn$
BEGIN
	IF TG_OP IN ('DELETE', 'UPDATE') AND OLD.parent_id IS NOT NULL THEN
		UPDATE comments SET reply_count = reply_count - 1 WHERE id = OLD.parent_id;
	END IF;
	IF TG_OP IN ('INSERT', 'UPDATE') AND NEW.parent_id IS NOT NULL THEN
		UPDATE comments SET reply_count = reply_count + 1 WHERE id = NEW.parent_id;
	END IF;
	RETURN NULL;
END
$fn$;

CREATE OR REPLACE FUNCTION recount_reply_counts() RETURNS void LANGUAGE plpgsql AS $fn$
BEGIN
	PERFORM set_config('tiktok.recounting', 'on', true);
	UPDATE comments c SET reply_count = s.n
	FROM (
		SELECT c0.id, COALESCE(r.n, 0) AS n
		FROM comments c0
		LEFT JOIN (SELECT parent_id, count(*)::int AS n FROM comments WHERE parent_id IS NOT NULL GROUP BY parent_id) r ON r.parent_id = c0.id
	) s
	WHERE c.id = s.id AND c.reply_count IS DISTINCT FROM s.n;
	PERFORM set_config('tiktok.recounting', 'off', true);
END
$fn$;
`

// recountCountersWithReplies is recount_counters() of 202611250002 with the reply counts
// after it; the rollback puts 202611250002's definition back.
var recountCountersWithReplies = recountCounters("recount_reply_counts")

var replyTriggers = []trigger{
	{"comments_protect_reply_count", "comments", "BEFORE INSERT OR UPDATE ON comments FOR EACH ROW EXECUTE FUNCTION protect_reply_count()"},
	{"comments_count_replies", "comments", "AFTER INSERT OR DELETE OR UPDATE OF parent_id ON comments FOR EACH ROW EXECUTE FUNCTION count_replies()"},
}

func addCommentReplies(tx *gorm.DB) error {
	err := execAll(tx,
		// Writers of comments wait until the recount below and the triggers are in place.
		`LOCK TABLE comments IN SHARE ROW EXCLUSIVE MODE`,
		`ALTER TABLE comments
			ADD COLUMN IF NOT EXISTS parent_id INTEGER,
			ADD COLUMN IF NOT EXISTS reply_to_user_id INTEGER,
			ADD COLUMN IF NOT EXISTS reply_count INTEGER NOT NULL DEFAULT 0`,
	)
	if err != nil {
		return err
	}
	if err := addConstraintIfMissing(tx, "comments", "comments_parent_id_fkey",
		`ALTER TABLE comments ADD CONSTRAINT comments_parent_id_fkey FOREIGN KEY (parent_id) REFERENCES comments(id) ON DELETE CASCADE ON UPDATE CASCADE`); err != nil {
		return err
	}
	if err := addConstraintIfMissing(tx, "comments", "comments_reply_to_user_id_fkey",
		`ALTER TABLE comments ADD CONSTRAINT comments_reply_to_user_id_fkey FOREIGN KEY (reply_to_user_id) REFERENCES users(id) ON DELETE SET NULL ON UPDATE CASCADE`); err != nil {
		return err
	}
	err = execAll(tx,
		// Replies of one comment, oldest first (GET /api/comments/:id/replies); also the
		// cascade's lookup when a comment is deleted.
		`CREATE INDEX IF NOT EXISTS comments_parent_id_created_at_id_idx ON comments (parent_id, created_at, id) WHERE parent_id IS NOT NULL`,
		// A video's top-level comments, newest first (GET /api/videos/:id/comments).
		`CREATE INDEX IF NOT EXISTS comments_top_level_video_id_created_at_id_idx ON comments (video_id, created_at DESC, id DESC) WHERE parent_id IS NULL`,
		`CREATE INDEX IF NOT EXISTS comments_reply_to_user_id_idx ON comments (reply_to_user_id) WHERE reply_to_user_id IS NOT NULL`,
		replyFunctions,
		recountCountersWithReplies,
	)
	if err != nil {
		return err
	}
	if err := createTriggers(tx, replyTriggers); err != nil {
		return err
	}
	return execAll(tx, `SELECT recount_reply_counts()`)
}

func dropCommentReplies(tx *gorm.DB) error {
	if err := dropTriggers(tx, replyTriggers); err != nil {
		return err
	}
	return execAll(tx,
		// Replies are comments of their video: without parent_id they become top-level.
		recountCounters(), // 202611250002's recount_counters(), without the reply counts
		`DROP FUNCTION IF EXISTS recount_reply_counts()`,
		`DROP FUNCTION IF EXISTS count_replies()`,
		`DROP FUNCTION IF EXISTS protect_reply_count()`,
		`DROP INDEX IF EXISTS comments_parent_id_created_at_id_idx`,
		`DROP INDEX IF EXISTS comments_top_level_video_id_created_at_id_idx`,
		`DROP INDEX IF EXISTS comments_reply_to_user_id_idx`,
		`ALTER TABLE comments DROP CONSTRAINT IF EXISTS comments_parent_id_fkey,
			DROP CONSTRAINT IF EXISTS comments_reply_to_user_id_fkey,
			DROP COLUMN IF EXISTS parent_id, DROP COLUMN IF EXISTS reply_to_user_id, DROP COLUMN IF EXISTS reply_count`,
	)
}

// --- 202611300021_notifications --------------------------------------------------------------
// notifications (API.md, "Notifications"): one row per (recipient, actor, type, target), written
// by the store in the same transaction as the action and removed with it (the store deletes it on
// unlike and unfollow; deleting a video, a comment or a user removes it by cascade). The unique
// index makes a repeated action a no-op (INSERT ... ON CONFLICT DO NOTHING); the CHECK makes a
// notification of one's own action impossible, whoever writes.
//
// Each insert sends pg_notify('tiktok_notifications', '<id>:<recipient>') from a trigger: it is
// delivered at commit (never for a rolled-back action) to every server instance's one listening
// connection, which fans it out to the recipient's open streams (package notify).
//
// notification_tickets are the single-use stream tickets: only a SHA-256 of the ticket is
// stored, so a database dump cannot open anyone's stream; consuming one is one DELETE ...
// RETURNING, atomic whichever instance runs it.

// NotificationChannel is the LISTEN/NOTIFY channel of new notifications.
const NotificationChannel = "tiktok_notifications"

// announceFunction is the trigger function of 202611300021: NOTIFY of every new notification.
const announceFunction = `CREATE OR REPLACE FUNCTION notifications_announce() RETURNS trigger LANGUAGE plpgsql AS $fn$
		BEGIN
			PERFORM pg_notify('` + NotificationChannel + `', NEW.id || ':' || NEW.user_id);
			RETURN NULL;
		END
		$fn$`

func addNotifications(tx *gorm.DB) error {
	return execAll(tx,
		`CREATE TABLE IF NOT EXISTS notifications (
			id serial NOT NULL,
			user_id integer NOT NULL,
			actor_id integer NOT NULL,
			type text NOT NULL,
			video_id integer,
			comment_id integer,
			created_at timestamp(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,
			read_at timestamp(3),
			CONSTRAINT notifications_pkey PRIMARY KEY (id),
			CONSTRAINT notifications_user_id_fkey FOREIGN KEY (user_id) REFERENCES users(id) ON DELETE CASCADE ON UPDATE CASCADE,
			CONSTRAINT notifications_actor_id_fkey FOREIGN KEY (actor_id) REFERENCES users(id) ON DELETE CASCADE ON UPDATE CASCADE,
			CONSTRAINT notifications_video_id_fkey FOREIGN KEY (video_id) REFERENCES videos(id) ON DELETE CASCADE ON UPDATE CASCADE,
			CONSTRAINT notifications_comment_id_fkey FOREIGN KEY (comment_id) REFERENCES comments(id) ON DELETE CASCADE ON UPDATE CASCADE,
			CONSTRAINT notifications_type_check CHECK (type IN ('like', 'comment', 'reply', 'comment_like', 'follow', 'mention')),
			CONSTRAINT notifications_not_self CHECK (user_id <> actor_id)
		)`,
		// One row per actor, type and target (a missing target counts as 0, so NULLs collide).
		`CREATE UNIQUE INDEX IF NOT EXISTS notifications_once_key ON notifications
			(user_id, actor_id, type, COALESCE(video_id, 0), COALESCE(comment_id, 0))`,
		// The list, newest first, with and without ?type=.
		`CREATE INDEX IF NOT EXISTS notifications_user_id_created_at_id_idx ON notifications (user_id, created_at DESC, id DESC)`,
		`CREATE INDEX IF NOT EXISTS notifications_user_id_type_created_at_id_idx ON notifications (user_id, type, created_at DESC, id DESC)`,
		// The stream's replay after Last-Event-ID, by id.
		`CREATE INDEX IF NOT EXISTS notifications_user_id_id_idx ON notifications (user_id, id)`,
		// The unread count: only the unread rows are in it.
		`CREATE INDEX IF NOT EXISTS notifications_unread_idx ON notifications (user_id) WHERE read_at IS NULL`,
		// Undo (unlike, unfollow) finds the row by its actor; cascades by their targets.
		`CREATE INDEX IF NOT EXISTS notifications_actor_id_idx ON notifications (actor_id)`,
		`CREATE INDEX IF NOT EXISTS notifications_video_id_idx ON notifications (video_id) WHERE video_id IS NOT NULL`,
		`CREATE INDEX IF NOT EXISTS notifications_comment_id_idx ON notifications (comment_id) WHERE comment_id IS NOT NULL`,
		announceFunction,
		`DROP TRIGGER IF EXISTS notifications_announce ON notifications`,
		`CREATE TRIGGER notifications_announce AFTER INSERT ON notifications FOR EACH ROW EXECUTE FUNCTION notifications_announce()`,
		`CREATE TABLE IF NOT EXISTS notification_tickets (
			ticket_hash text NOT NULL,
			user_id integer NOT NULL,
			expires_at timestamp(3) NOT NULL,
			CONSTRAINT notification_tickets_pkey PRIMARY KEY (ticket_hash),
			CONSTRAINT notification_tickets_user_id_fkey FOREIGN KEY (user_id) REFERENCES users(id) ON DELETE CASCADE ON UPDATE CASCADE
		)`,
		`CREATE INDEX IF NOT EXISTS notification_tickets_expires_at_idx ON notification_tickets (expires_at)`,
		`CREATE INDEX IF NOT EXISTS notification_tickets_user_id_idx ON notification_tickets (user_id)`,
	)
}

func dropNotifications(tx *gorm.DB) error {
	return execAll(tx,
		`DROP TABLE IF EXISTS notification_tickets`,
		`DROP TABLE IF EXISTS notifications`,
		`DROP FUNCTION IF EXISTS notifications_announce()`,
	)
}
