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
	reads *gorm.DB
	media MediaURLs
}

// LikeTarget is something a user can like: its join table's statements and what a missing
// one is called.
type LikeTarget struct {
	insert, del, count string
	// author selects the user whose counters the like's trigger moves besides the item's
	// ("" when it moves none): the video's author, whose likeCount counts likes received.
	author   string
	notFound error
	// notify tells the item's author of the like (args: liker, item, liker; none for one's
	// own item); unnotify takes it back on unlike (args: liker, item). They run right after
	// the like's insert or delete, in its transaction, so the notification lives exactly as
	// long as the like. Empty for an item nobody is told about (a bookmark).
	notify, unnotify string
}

// The two things a user can like.
var (
	VideoLikes = LikeTarget{
		insert:   `INSERT INTO video_likes (user_id, video_id) VALUES (?, ?) ON CONFLICT DO NOTHING`,
		del:      `DELETE FROM video_likes WHERE user_id = ? AND video_id = ?`,
		count:    `SELECT like_count FROM videos WHERE id = ?`,
		author:   `SELECT user_id FROM videos WHERE id = ?`,
		notFound: errVideoNotFound,
		notify: `INSERT INTO notifications (user_id, actor_id, type, video_id)
			SELECT user_id, ?, 'like', id FROM videos WHERE id = ? AND user_id <> ? ON CONFLICT DO NOTHING`,
		unnotify: `DELETE FROM notifications WHERE actor_id = ? AND type = 'like' AND video_id = ?`}
	CommentLikes = LikeTarget{
		insert:   `INSERT INTO comment_likes (user_id, comment_id) VALUES (?, ?) ON CONFLICT DO NOTHING`,
		del:      `DELETE FROM comment_likes WHERE user_id = ? AND comment_id = ?`,
		count:    `SELECT like_count FROM comments WHERE id = ?`,
		notFound: errCommentNotFound,
		notify: `INSERT INTO notifications (user_id, actor_id, type, video_id, comment_id)
			SELECT user_id, ?, 'comment_like', video_id, id FROM comments WHERE id = ? AND user_id <> ? ON CONFLICT DO NOTHING`,
		unnotify: `DELETE FROM notifications WHERE actor_id = ? AND type = 'comment_like' AND comment_id = ?`}
)

// Set adds (like true) or removes viewer's like of t's item id in one transaction and returns
// the item's like count as of that change (read in the same transaction, so it includes it),
// and adds or removes the author's notification of it in the same transaction.
// Likes are a set: liking twice keeps one row; the table's trigger moves the counters. A
// missing item is NotFound: the insert fails its foreign key, or the count finds no row.
//
// The users come first (the lock order, locks.go): the liker, who must stay, and the video's
// author, whose counter the trigger moves after the video's. The author never changes, so it
// is read without a lock; a video deleted meanwhile fails the insert's foreign key.
func (s *Likes) Set(ctx context.Context, t LikeTarget, viewer, id int32, like bool) (int32, error) {
	var counts []int32
	err := transact(ctx, s.db, func(tx *gorm.DB) error {
		counts = counts[:0]
		locks := userLocks{}.need(viewer, keyShare)
		if t.author != "" {
			var authors []int32
			if err := tx.Raw(t.author, id).Scan(&authors).Error; err != nil {
				return err
			}
			if len(authors) == 0 {
				return t.notFound
			}
			locks.need(authors[0], noKeyUpdate)
		}
		if _, err := lockUsers(tx, viewer, locks); err != nil {
			return err
		}
		if like {
			if err := tx.Exec(t.insert, viewer, id).Error; err != nil {
				return err
			}
			if t.notify != "" {
				if err := tx.Exec(t.notify, viewer, id, viewer).Error; err != nil {
					return err
				}
			}
		} else {
			if err := tx.Exec(t.del, viewer, id).Error; err != nil {
				return err
			}
			if t.unnotify != "" {
				if err := tx.Exec(t.unnotify, viewer, id).Error; err != nil {
					return err
				}
			}
		}
		return tx.Raw(t.count, id).Scan(&counts).Error
	})
	err = translate(err)
	if errs.Is(err, errs.KindNotFound) || (err == nil && len(counts) == 0) {
		return 0, t.notFound
	}
	if err != nil {
		return 0, err
	}
	return counts[0], nil
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
