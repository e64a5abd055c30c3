package store

import (
	"context"

	"gorm.io/gorm"

	"tiktok/errs"
)

// Likes reads and writes likes of videos and comments.
type Likes struct {
	db *gorm.DB
	// reads serves the likers list, which may be a moment stale (NewWithReads).
	reads     *gorm.DB
	media     MediaURLs
	announcer *announcer
}

// LikeTarget is something a user can like (or bookmark): its join table, how its count is
// read, and the notification of its author. Set builds one statement of these parts.
type LikeTarget struct {
	// table is the join table; column its item column.
	table, column string
	// from is the item's table with its pending counter deltas (counters.go), key its id
	// column and count the item's exact count (the stored column plus the pending deltas).
	from, key, count string
	notFound         error
	// owner selects the item's author (by @item), whose row the notification's foreign key
	// locks: Set locks it with the liker's, first (the lock order, locks.go), or a deletion of
	// that account, holding it and waiting for the video, would deadlock with the like holding
	// the video (its own foreign key) and waiting for it. Empty with no notification.
	owner string
	// notify tells the item's author of the like, unnotify takes it back: each a data-modifying
	// statement of Set's, reading the acting user from me (never to oneself: the join excludes
	// the author). Empty for an item nobody is told about (a bookmark). They run in the like's
	// statement, so the notification lives exactly as long as the like. notify inserts only
	// when the like did (changed): a like that found the row there must not insert either, or
	// an unlike committing between the two (it deletes both) would leave a notification of a
	// like that is gone. unnotify names the whole key of notifications_once_key (the recipient
	// is the item's author): by the item's id alone it read every notification of a viral
	// video, 31,000 index entries after a few minutes of likes. Both act as me, so a caller
	// refused by the statement (a deleted user, a revoked token) changes nothing.
	notify, unnotify string
}

// The two things a user can like.
var (
	VideoLikes = LikeTarget{
		table: "video_likes", column: "video_id",
		from: "videos v" + videoPending, key: "v.id", count: "v.like_count + vp.likes",
		notFound: errVideoNotFound, owner: `SELECT user_id FROM videos WHERE id = @item`,
		notify: `INSERT INTO notifications (user_id, actor_id, type, video_id)
			SELECT v.user_id, me.id, 'like', v.id FROM me JOIN videos v ON v.id = @item AND v.user_id <> me.id
			WHERE EXISTS (SELECT 1 FROM changed) ON CONFLICT DO NOTHING`,
		unnotify: `DELETE FROM notifications WHERE user_id = (SELECT user_id FROM videos WHERE id = @item)
			AND actor_id = (SELECT id FROM me) AND type = 'like' AND COALESCE(video_id, 0) = @item AND COALESCE(comment_id, 0) = 0`}
	CommentLikes = LikeTarget{
		table: "comment_likes", column: "comment_id",
		from: "comments c" + commentPending, key: "c.id", count: "c.like_count + cp.likes",
		notFound: errCommentNotFound, owner: `SELECT user_id FROM comments WHERE id = @item`,
		notify: `INSERT INTO notifications (user_id, actor_id, type, video_id, comment_id)
			SELECT c.user_id, me.id, 'comment_like', c.video_id, c.id FROM me JOIN comments c ON c.id = @item AND c.user_id <> me.id
			WHERE EXISTS (SELECT 1 FROM changed) ON CONFLICT DO NOTHING`,
		unnotify: `DELETE FROM notifications WHERE user_id = (SELECT user_id FROM comments WHERE id = @item)
			AND actor_id = (SELECT id FROM me) AND type = 'comment_like' AND COALESCE(comment_id, 0) = @item`}
)

// setStatement is the one statement of Set: it keeps the acting user's row and the item
// author's (FOR KEY SHARE, in id order: a deletion of either account waits, and a deleted
// acting user is seen), adds or removes the join row
// and the notification, and reads the item's exact count. The count is read in the
// statement's snapshot, which cannot see the row the statement itself adds or removes (nor
// the delta its trigger appends at the statement's end), so the change is added to it. With
// later, the new notification is announced by the caller after the commit (announceLater).
func (t LikeTarget) setStatement(like, later bool) string {
	change := `INSERT INTO ` + t.table + ` (user_id, ` + t.column + `) SELECT id, @item FROM me ON CONFLICT DO NOTHING RETURNING 1`
	tell, sign := t.notify, "+"
	if !like {
		change = `DELETE FROM ` + t.table + ` WHERE user_id = (SELECT id FROM me) AND ` + t.column + ` = @item RETURNING 1`
		tell, sign = t.unnotify, "-"
	}
	later = later && like && tell != ""
	users := `@viewer`
	if t.owner != "" {
		users += `, (` + t.owner + `)`
	}
	sql := `WITH locked AS (SELECT id, token_version FROM users WHERE id IN (` + users + `) ORDER BY id FOR KEY SHARE),
		me AS (` + lockedCaller + `), changed AS (` + change + `)`
	if tell != "" {
		sql += `, told AS (` + tell + announcedBy(later) + `)`
	}
	return sql + announceLater(later) + ` SELECT (SELECT count(*) FROM me) AS viewer_found, (SELECT count(*) FROM changed) AS changed,
		` + t.count + ` ` + sign + ` (SELECT count(*) FROM changed) AS count` + announceColumn(later) + `,
		EXISTS (SELECT 1 FROM ` + t.table + ` WHERE user_id = @viewer AND ` + t.column + ` = @item) AS had
		FROM ` + t.from + ` WHERE ` + t.key + ` = @item`
}

// Set adds (like true) or removes viewer's like of t's item id and returns the item's exact
// like count as of that change, in ONE statement (setStatement) with no transaction around it:
// the like, its notification and the count commit together or not at all. Likes are a set:
// liking twice keeps one row. A missing item is NotFound: the insert fails its foreign key, or
// the count finds no row.
//
// No counter row is locked: the table's trigger appends a counter delta (database,
// 202611300060), so concurrent likes of one video, or of one author's videos, do not wait for
// each other. When the statement changed nothing because a twin request's change committed
// after its snapshot, the count is read again, after it, so that it shows that change
// (runSetStatement).
func (s *Likes) Set(ctx context.Context, t LikeTarget, caller Caller, id int32, like bool) (int32, error) {
	build := func(later bool) string { return t.setStatement(like, later) }
	args := map[string]any{"viewer": caller.ID, "version": caller.TokenVersion, "item": id}
	count, err := runSetStatement(ctx, s.db, s.announcer, build, like, args,
		`SELECT `+t.count+` FROM `+t.from+` WHERE `+t.key+` = ?`, id)
	if errs.Is(err, errs.KindNotFound) {
		return 0, t.notFound
	}
	return count, err
}

// VideoLikers is a page of who liked video id, newest like first, keyset on the like's
// (created_at, user_id) through video_likes_video_id_created_at_idx; NotFound for a missing
// video. A bare numeric cursor is a user id of the list.
func (s *Likes) VideoLikers(ctx context.Context, viewer, videoID int32, req PageRequest) (Page[UserSummary], error) {
	if err := (&Videos{db: s.reads}).Exists(ctx, videoID); err != nil {
		return Page[UserSummary]{}, err
	}
	return joinedUsers(ctx, s.reads, s.media, viewer, joinTable{name: "video_likes", own: "video_id", user: "user_id"}, videoID, req)
}
