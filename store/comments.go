package store

import (
	"context"
	"strings"
	"time"

	"gorm.io/gorm"

	"tiktok/errs"
	"tiktok/mention"
	"tiktok/models"
)

// Comments reads and writes comments (Prisma version: commentController.js).
type Comments struct {
	db *gorm.DB
	// reads serves the comment lists, which may be a moment stale (NewWithReads).
	reads     *gorm.DB
	media     MediaURLs
	announcer *announcer
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
			err := s.reads.WithContext(ctx).Raw(query, append([]any{id}, args...)...).Find(&at).Error
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
	if err := db.Raw(`SELECT `+commentColumns+` FROM `+commentsWithAuthor+` WHERE c.id = ?`, id).Find(&rows).Error; err != nil {
		return commentRow{}, err
	}
	if len(rows) == 0 {
		return commentRow{}, errCommentNotFound
	}
	return rows[0], nil
}

// Create inserts c and reads it back as its author sees it, with its notifications: the
// video's owner ("comment"), for a reply the author it answers ("reply"), and the users it
// mentions. All of it is ONE statement (createCommentStatement), committed together or not at
// all; the answer is the comment as committed, even when its video or its author's account is
// deleted a moment later. NotFound when its video does not exist.
//
// A reply (c.ParentID set) is stored under the top-level comment: a reply to a reply goes under
// that reply's parent, with ReplyToUserID the author of the comment answered. Its parent must
// exist (NotFound) and be on the same video (Invalid).
//
// Locks follow the lock order (locks.go): the rows of the users its notifications' foreign keys
// lock (the author, the video's owner, the author answered), FOR KEY SHARE, in id order, before
// the insert locks the video by its own foreign key. The counting triggers lock nothing (they
// append counter deltas), so comments on one video do not wait for each other. An author
// deleted meanwhile, or a token of another version (Caller), is errViewerGone. Outside a
// caller's transaction the notifications are announced after the commit by the announcer, as a
// like's are (set_statement.go): announced inside, they would make every comment's commit wait
// for every other's.
func (s *Comments) Create(ctx context.Context, caller Caller, c *models.Comment) (CommentView, error) {
	c.UserID = caller.ID
	later := !inTransaction(s.db)
	// The mentioned names go as one text (usernames have no spaces): a list would be expanded
	// into one placeholder per name, a statement text per count.
	names := strings.Join(mention.Parse(c.Content), " ")
	args := map[string]any{"viewer": c.UserID, "version": caller.TokenVersion, "video": c.VideoID, "parent": c.ParentID, "content": c.Content, "names": names}
	var rows []createdComment
	err := retriedStatement(ctx, s.db, func(db *gorm.DB) error {
		return db.Raw(createCommentStatement(later), args).Find(&rows).Error
	})
	if err == nil && len(rows) == 0 {
		err = s.whyNotCreated(ctx, c)
	}
	if err = translate(err); err != nil {
		if errs.Is(err, errs.KindNotFound) && err != errParentNotFound {
			// The video went (the insert failed its foreign key, or nothing was inserted).
			return CommentView{}, errVideoNotFound
		}
		return CommentView{}, err
	}
	row := rows[0]
	if row.Announce != nil {
		s.announcer.announce(*row.Announce)
	}
	*c = row.Row.Comment
	// Nobody can have liked it before it committed, and nobody follows themselves
	// (follows_no_self_follow): the viewer fields need no query.
	notFollowing := false
	return s.media.commentView(&row.Row, false, &notFollowing), nil
}

// createdComment is the row createCommentStatement answers.
type createdComment struct {
	Row      commentRow `gorm:"embedded"`
	Announce *string    `gorm:"column:announce"`
}

// createCommentStatement is Comments.Create's one statement. parent is the comment answered
// (none for a top-level comment): the reply goes under its top-level comment (top) and answers
// its author. locked takes the users' rows in id order before the insert (its rows come from
// me, so the locks are taken first). The notifications go to the author answered, the video's
// owner and the mentioned users (@names), each once, the first of these kinds that fits
// (DISTINCT ON by rank), never to the comment's author. Nothing is inserted, and no row comes
// back, when the video, the parent or the author is missing or the parent is on another video
// (whyNotCreated tells which). With later, the notifications are announced by the caller.
func createCommentStatement(later bool) string {
	return `WITH parent AS (SELECT video_id, COALESCE(parent_id, id) AS top, user_id FROM comments WHERE id = @parent),
	owner AS (SELECT user_id FROM videos WHERE id = @video),
	locked AS (SELECT id, token_version FROM users WHERE id IN (@viewer, (SELECT user_id FROM owner), (SELECT user_id FROM parent))
		ORDER BY id FOR KEY SHARE),
	me AS (` + lockedCaller + `),
	added AS (INSERT INTO comments (content, user_id, video_id, parent_id, reply_to_user_id)
		SELECT @content, me.id, @video, (SELECT top FROM parent), (SELECT user_id FROM parent) FROM me, owner
		WHERE CAST(@parent AS int) IS NULL OR (SELECT video_id FROM parent) = @video
		RETURNING *),
	recipients AS (SELECT user_id, 'reply' AS type, 1 AS rank FROM parent
		UNION ALL SELECT user_id, 'comment', 2 FROM owner
		UNION ALL SELECT id, 'mention', 3 FROM users WHERE lower(username) = ANY(string_to_array(@names, ' '))),
	told AS (INSERT INTO notifications (user_id, actor_id, type, video_id, comment_id)
		SELECT DISTINCT ON (r.user_id) r.user_id, a.user_id, r.type, a.video_id, a.id
		FROM recipients r, added a WHERE r.user_id <> a.user_id ORDER BY r.user_id, r.rank
		ON CONFLICT DO NOTHING` + announcedBy(later) + `)` + announceLater(later) + `
	SELECT c.id, c.content, c.user_id, c.video_id, c.created_at, c.updated_at, c.like_count, c.parent_id,
		c.reply_to_user_id, c.reply_count, u.username AS author_username, u.name AS author_name,
		u.avatar AS author_avatar, r.username AS reply_to_username, r.name AS reply_to_name,
		r.avatar AS reply_to_avatar` + announceColumn(later) + `
	FROM added c JOIN users u ON u.id = c.user_id LEFT JOIN users r ON r.id = c.reply_to_user_id`
}

// whyNotCreated says why createCommentStatement inserted nothing: the parent is missing or on
// another video, the video is missing, or else the author's account is gone.
func (s *Comments) whyNotCreated(ctx context.Context, c *models.Comment) error {
	var found []struct {
		Video       bool   `gorm:"column:video"`
		Parent      bool   `gorm:"column:parent"`
		ParentVideo *int32 `gorm:"column:parent_video"`
	}
	if err := s.db.WithContext(ctx).Raw(`SELECT EXISTS (SELECT 1 FROM videos WHERE id = @video) AS video,
		EXISTS (SELECT 1 FROM comments WHERE id = @parent) AS parent,
		(SELECT video_id FROM comments WHERE id = @parent) AS parent_video`,
		map[string]any{"video": c.VideoID, "parent": c.ParentID}).Find(&found).Error; err != nil {
		return err
	}
	switch f := found[0]; {
	case c.ParentID != nil && !f.Parent:
		return errParentNotFound
	case c.ParentID != nil && *f.ParentVideo != c.VideoID:
		return errs.InvalidField("parentId", "is a comment on another video")
	case !f.Video:
		return errVideoNotFound
	}
	return errViewerGone
}

var errParentNotFound = errs.NotFound("Parent comment not found")

// syncCommentMentions syncs the mention notifications of comment c on a video of owner after
// its content changed: the users it no longer mentions lose theirs, the newly mentioned are
// told, never the author it answers nor the video's owner (told of the comment already).
func syncCommentMentions(tx *gorm.DB, c *models.Comment, owner int32) error {
	told := []int32{owner}
	if c.ReplyToUserID != nil {
		told = append(told, *c.ReplyToUserID)
	}
	return syncMentions(tx, c.UserID, c.VideoID, &c.ID, &c.Content, told, true)
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
		return syncCommentMentions(tx, &c, locked.VideoOwner)
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
		if err := tx.Raw(`SELECT video_id FROM comments WHERE id = ?`, id).Find(&videos).Error; err != nil {
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
