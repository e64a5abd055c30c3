package store

import (
	"context"
	"slices"
	"time"

	"gorm.io/gorm"

	"tiktok/errs"
	"tiktok/models"
)

// Comments reads and writes comments (Prisma version: commentController.js).
type Comments struct {
	db *gorm.DB
	// reads serves the comment lists, which may be a moment stale (NewWithReads).
	reads *gorm.DB
	media MediaURLs
}

var errCommentNotFound = errs.NotFound("Comment not found")

const commentColumns = `c.id, c.content, c.user_id, c.video_id, c.created_at, c.updated_at, c.like_count + cp.likes AS like_count,
	c.parent_id, c.reply_to_user_id, c.reply_count + cp.replies AS reply_count,
	u.username AS author_username, u.name AS author_name, u.avatar AS author_avatar,
	r.username AS reply_to_username, r.name AS reply_to_name, r.avatar AS reply_to_avatar`

// commentsWithAuthor joins each comment's author, for a reply the author it answers, and the
// comment's pending counter deltas (commentPending: the counts are exact).
const commentsWithAuthor = "comments c JOIN users u ON u.id = c.user_id LEFT JOIN users r ON r.id = c.reply_to_user_id" + commentPending

type commentRow struct {
	models.Comment
	AuthorUsername  string  `gorm:"column:author_username"`
	AuthorName      *string `gorm:"column:author_name"`
	AuthorAvatar    *string `gorm:"column:author_avatar"`
	ReplyToUsername *string `gorm:"column:reply_to_username"`
	ReplyToName     *string `gorm:"column:reply_to_name"`
	ReplyToAvatar   *string `gorm:"column:reply_to_avatar"`
}

// commentViews adds the viewer fields to a page of comments with at most two more queries
// (the viewer's likes among them, the viewer's follows among their authors).
func commentViews(ctx context.Context, db *gorm.DB, media MediaURLs, viewer int32, rows []commentRow) ([]CommentView, error) {
	out := make([]CommentView, len(rows))
	if len(rows) == 0 {
		return out, nil
	}
	ids := make([]int32, len(rows))
	authors := make([]int32, len(rows))
	for i := range rows {
		ids[i], authors[i] = rows[i].ID, rows[i].UserID
	}
	liked, err := viewerLikedComments(ctx, db, viewer, ids)
	if err != nil {
		return nil, err
	}
	following, err := viewerFollows(ctx, db, viewer, distinct(authors))
	if err != nil {
		return nil, err
	}
	for i := range rows {
		out[i] = media.commentView(&rows[i], liked[rows[i].ID], following(rows[i].UserID))
	}
	return out, nil
}

// commentView is the Comment shape of r with the viewer fields given.
func (m MediaURLs) commentView(r *commentRow, liked bool, isFollowing *bool) CommentView {
	v := CommentView{
		ID: r.ID, Content: r.Content, UserID: r.UserID, VideoID: r.VideoID,
		ParentID: r.ParentID, ReplyCount: r.ReplyCount,
		CreatedAt: Timestamp(r.CreatedAt), UpdatedAt: Timestamp(r.UpdatedAt),
		User: UserSummary{ID: r.UserID, Username: r.AuthorUsername, Name: r.AuthorName,
			Avatar: m.publicPtr(r.AuthorAvatar), IsFollowing: isFollowing},
		LikeCount: r.LikeCount, Count: CommentCount{Likes: r.LikeCount}, IsLiked: liked,
	}
	if r.ReplyToUserID != nil && r.ReplyToUsername != nil {
		v.ReplyTo = &UserSummary{ID: *r.ReplyToUserID, Username: *r.ReplyToUsername, Name: r.ReplyToName,
			Avatar: m.publicPtr(r.ReplyToAvatar)}
	}
	return v
}

// List is every comment, newest first (GET /api/comments).
func (s *Comments) List(ctx context.Context, viewer int32, req PageRequest) (Page[CommentView], error) {
	return s.page(ctx, viewer, "", nil, req)
}

// ForVideo is video id's top-level comments, newest first, each with its replyCount (GET
// /api/videos/:id/comments); NotFound for a missing video. The partial index
// comments_top_level_video_id_created_at_id_idx serves it.
func (s *Comments) ForVideo(ctx context.Context, viewer, videoID int32, req PageRequest) (Page[CommentView], error) {
	if err := (&Videos{db: s.reads}).Exists(ctx, videoID); err != nil {
		return Page[CommentView]{}, err
	}
	return s.page(ctx, viewer, "c.video_id = ? AND c.parent_id IS NULL", []any{videoID}, req)
}

// Replies is the replies to comment id, oldest first, as a conversation reads (GET
// /api/comments/:id/replies), through comments_parent_id_created_at_id_idx; NotFound for a
// missing comment. A reply has no replies of its own (they sit under its top-level comment),
// so its list is empty.
func (s *Comments) Replies(ctx context.Context, viewer, id int32, req PageRequest) (Page[CommentView], error) {
	if err := exists(ctx, s.reads, `SELECT id FROM comments WHERE id = ?`, id, errCommentNotFound); err != nil {
		return Page[CommentView]{}, err
	}
	return s.pageIn(ctx, viewer, keyset{first: "c.created_at", second: "c.id", ascending: true}, "c.parent_id = ?", []any{id}, req)
}

// page pages through the comments matching where, by (created_at DESC, id DESC): the
// comments_created_at_id_idx and comments_video_id_created_at_id_idx indexes serve it. A bare
// numeric cursor is a comment id.
func (s *Comments) page(ctx context.Context, viewer int32, where string, args []any, req PageRequest) (Page[CommentView], error) {
	return s.pageIn(ctx, viewer, keyset{first: "c.created_at", second: "c.id"}, where, args, req)
}

// pageIn is page in the order of keys.
func (s *Comments) pageIn(ctx context.Context, viewer int32, keys keyset, where string, args []any, req PageRequest) (Page[CommentView], error) {
	spec := listSpec{
		keys:    keys,
		columns: commentColumns, from: commentsWithAuthor, countFrom: "comments c",
		where: where, args: args,
		resolve: func(ctx context.Context, id int32) (position, bool, error) {
			// A comment outside the list (on another video) is not found.
			query := `SELECT c.created_at FROM comments c WHERE c.id = ?`
			if where != "" {
				query += " AND " + where
			}
			var at []time.Time
			err := s.reads.WithContext(ctx).Raw(query, append([]any{id}, args...)...).Scan(&at).Error
			if err != nil || len(at) == 0 {
				return position{}, false, err
			}
			return position{At: at[0], ID: id}, true, nil
		},
	}
	page, err := fetchPage(ctx, s.reads, spec, req, scanInto[commentRow], func(r *commentRow) position {
		return position{At: r.CreatedAt, ID: r.ID}
	})
	if err != nil {
		return Page[CommentView]{}, translate(err)
	}
	views, err := commentViews(ctx, s.reads, s.media, viewer, page.Items)
	if err != nil {
		return Page[CommentView]{}, translate(err)
	}
	return withItems(page, views), nil
}

// Get reads one comment as viewer sees it; NotFound when missing.
func (s *Comments) Get(ctx context.Context, viewer, id int32) (CommentView, error) {
	row, err := readComment(s.db.WithContext(ctx), id)
	if err != nil {
		return CommentView{}, translate(err)
	}
	views, err := commentViews(ctx, s.db, s.media, viewer, []commentRow{row})
	if err != nil {
		return CommentView{}, translate(err)
	}
	return views[0], nil
}

// readComment reads comment id with its author; NotFound when missing.
func readComment(db *gorm.DB, id int32) (commentRow, error) {
	var rows []commentRow
	if err := db.Raw(`SELECT `+commentColumns+` FROM `+commentsWithAuthor+` WHERE c.id = ?`, id).Scan(&rows).Error; err != nil {
		return commentRow{}, err
	}
	if len(rows) == 0 {
		return commentRow{}, errCommentNotFound
	}
	return rows[0], nil
}

// Create inserts c and reads it back as its author sees it, in one transaction (the answer is
// the comment as committed, even when its video or its author's account is deleted a moment
// later), with its notifications: the video's owner ("comment"), for a reply the author it
// answers ("reply"), and the users it mentions. NotFound when its video does not exist.
//
// A reply (c.ParentID set) is stored under the top-level comment: a reply to a reply goes under
// that reply's parent, with ReplyToUserID the author of the comment answered. Its parent must
// exist (NotFound) and be on the same video (Invalid).
//
// Locks follow the lock order (locks.go): the rows of the users its notifications' foreign keys
// lock (the author, the video's owner, the author answered), FOR KEY SHARE, in id order, before
// the insert locks the video by its own foreign key. The counting triggers lock nothing (they
// append counter deltas), so comments on one video do not wait for each other. An author
// deleted meanwhile is errViewerGone.
func (s *Comments) Create(ctx context.Context, c *models.Comment) (CommentView, error) {
	var view CommentView
	answered := c.ParentID
	err := translate(transact(ctx, s.db, func(tx *gorm.DB) error {
		var replyTo int32
		if answered != nil {
			// The parent's video and author never change: read without a lock, then lock the
			// top-level comment after the video.
			var parents []struct {
				VideoID  int32  `gorm:"column:video_id"`
				ParentID *int32 `gorm:"column:parent_id"`
				UserID   int32  `gorm:"column:user_id"`
			}
			if err := tx.Raw(`SELECT video_id, parent_id, user_id FROM comments WHERE id = ?`, *answered).Scan(&parents).Error; err != nil {
				return err
			}
			if len(parents) == 0 {
				return errParentNotFound
			}
			if parents[0].VideoID != c.VideoID {
				return errs.InvalidField("parentId", "is a comment on another video")
			}
			top := *answered
			if parents[0].ParentID != nil {
				top = *parents[0].ParentID
			}
			replyTo = parents[0].UserID
			c.ParentID, c.ReplyToUserID = &top, &replyTo
		}
		// The owner never changes: read without a lock. A video deleted meanwhile fails the
		// insert's foreign key (NotFound).
		var owners []int32
		if err := tx.Raw(`SELECT user_id FROM videos WHERE id = ?`, c.VideoID).Scan(&owners).Error; err != nil {
			return err
		}
		if len(owners) == 0 {
			return errVideoNotFound
		}
		locks := userLocks{}.need(c.UserID, keyShare).need(owners[0], keyShare)
		if replyTo != 0 {
			locks.need(replyTo, keyShare)
		}
		if _, err := lockUsers(tx, c.UserID, locks); err != nil {
			return err
		}
		c.ID = 0 // a retried attempt inserts afresh
		if err := tx.Create(c).Error; err != nil {
			return err
		}
		if err := notifyComment(tx, c, owners[0], false); err != nil {
			return err
		}
		row, err := readComment(tx, c.ID)
		if err != nil {
			return err
		}
		// Read back for its author in its own transaction: nobody can have liked it yet (it is
		// not committed) and nobody follows themselves (follows_no_self_follow), so the viewer
		// fields need no query.
		notFollowing := false
		view = s.media.commentView(&row, false, &notFollowing)
		return nil
	}))
	if errs.Is(err, errs.KindNotFound) && err != errParentNotFound {
		return CommentView{}, errVideoNotFound
	}
	return view, err
}

var errParentNotFound = errs.NotFound("Parent comment not found")

// notifyComment writes the notifications of comment c on a video of owner: "reply" to the
// author it answers, "comment" to the video's owner (unless already told as the answered
// author), "mention" to the users it mentions (unless told already). With edit (the content
// changed) only the mentions are synced.
func notifyComment(tx *gorm.DB, c *models.Comment, owner int32, edit bool) error {
	var told []int32
	if c.ReplyToUserID != nil {
		if !edit {
			if err := notifyOnce(tx, *c.ReplyToUserID, c.UserID, models.NotifyReply, &c.VideoID, &c.ID); err != nil {
				return err
			}
		}
		told = append(told, *c.ReplyToUserID)
	}
	if !slices.Contains(told, owner) {
		if !edit {
			if err := notifyOnce(tx, owner, c.UserID, models.NotifyComment, &c.VideoID, &c.ID); err != nil {
				return err
			}
		}
		told = append(told, owner)
	}
	return syncMentions(tx, c.UserID, c.VideoID, &c.ID, &c.Content, told, edit)
}

// Update sets the content of comment id if viewer wrote it (Forbidden otherwise).
func (s *Comments) Update(ctx context.Context, viewer, id int32, content string) error {
	return translate(transact(ctx, s.db, func(tx *gorm.DB) error {
		if _, err := lockUsers(tx, viewer, userLocks{}.need(viewer, keyShare)); err != nil {
			return err
		}
		locked, err := lockComment(tx, id)
		if err != nil {
			return err
		}
		if locked.Author != viewer {
			return errs.Forbidden("You can only edit your own comments")
		}
		if err := tx.Exec(`UPDATE comments SET content = ?, updated_at = ? WHERE id = ?`, content, time.Now().UTC(), id).Error; err != nil {
			return err
		}
		// Mentions follow the edit: the newly mentioned are told, the no longer mentioned lose
		// their notification.
		c := models.Comment{ID: id, UserID: viewer, VideoID: locked.VideoID, Content: content, ReplyToUserID: locked.ReplyTo}
		return notifyComment(tx, &c, locked.VideoOwner, true)
	}))
}

// Delete removes comment id if viewer wrote it or owns its video (Forbidden otherwise). The
// lock order (locks.go) puts the viewer first, then the video, whose count the count_comments
// trigger moves, then the comment; a comment never moves to another video, so its video is
// read without a lock.
func (s *Comments) Delete(ctx context.Context, viewer, id int32) error {
	return translate(transact(ctx, s.db, func(tx *gorm.DB) error {
		if _, err := lockUsers(tx, viewer, userLocks{}.need(viewer, keyShare)); err != nil {
			return err
		}
		var videos []int32
		if err := tx.Raw(`SELECT video_id FROM comments WHERE id = ?`, id).Scan(&videos).Error; err != nil {
			return err
		}
		if len(videos) == 0 {
			return errCommentNotFound
		}
		if err := tx.Exec(`SELECT id FROM videos WHERE id = ? FOR NO KEY UPDATE`, videos[0]).Error; err != nil {
			return err
		}
		locked, err := lockComment(tx, id)
		if err != nil {
			return err
		}
		if locked.Author != viewer && locked.VideoOwner != viewer {
			return errs.Forbidden("You can only delete your own comments or comments on your videos")
		}
		// Its replies, their likes and every notification about them go by cascade.
		return tx.Exec(`DELETE FROM comments WHERE id = ?`, id).Error
	}))
}

// lockedComment is what the writes of a comment need to know about it.
type lockedComment struct {
	Author     int32  `gorm:"column:author"`
	VideoOwner int32  `gorm:"column:video_owner"`
	VideoID    int32  `gorm:"column:video_id"`
	ReplyTo    *int32 `gorm:"column:reply_to_user_id"`
}

// lockComment locks a comment and returns its author, its video and the video's owner, and
// the author it answers; NotFound when the comment is missing.
func lockComment(tx *gorm.DB, id int32) (lockedComment, error) {
	var rows []lockedComment
	if err := tx.Raw(`SELECT c.user_id AS author, v.user_id AS video_owner, c.video_id, c.reply_to_user_id
		FROM comments c JOIN videos v ON v.id = c.video_id WHERE c.id = ? FOR UPDATE OF c`, id).
		Scan(&rows).Error; err != nil {
		return lockedComment{}, err
	}
	if len(rows) == 0 {
		return lockedComment{}, errCommentNotFound
	}
	return rows[0], nil
}
