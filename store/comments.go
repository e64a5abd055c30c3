package store

import (
	"context"
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

const commentColumns = `c.id, c.content, c.user_id, c.video_id, c.created_at, c.updated_at, c.like_count,
	u.username AS author_username, u.name AS author_name, u.avatar AS author_avatar`

const commentsWithAuthor = "comments c JOIN users u ON u.id = c.user_id"

type commentRow struct {
	models.Comment
	AuthorUsername string  `gorm:"column:author_username"`
	AuthorName     *string `gorm:"column:author_name"`
	AuthorAvatar   *string `gorm:"column:author_avatar"`
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
	for i, r := range rows {
		out[i] = CommentView{
			ID: r.ID, Content: r.Content, UserID: r.UserID, VideoID: r.VideoID,
			CreatedAt: Timestamp(r.CreatedAt), UpdatedAt: Timestamp(r.UpdatedAt),
			User: UserSummary{ID: r.UserID, Username: r.AuthorUsername, Name: r.AuthorName,
				Avatar: media.publicPtr(r.AuthorAvatar), IsFollowing: following(r.UserID)},
			LikeCount: r.LikeCount, Count: CommentCount{Likes: r.LikeCount}, IsLiked: liked[r.ID],
		}
	}
	return out, nil
}

// List is every comment, newest first (GET /api/comments).
func (s *Comments) List(ctx context.Context, viewer int32, req PageRequest) (Page[CommentView], error) {
	return s.page(ctx, viewer, "", nil, req)
}

// ForVideo is video id's comments, newest first (GET /api/videos/:id/comments); NotFound for
// a missing video.
func (s *Comments) ForVideo(ctx context.Context, viewer, videoID int32, req PageRequest) (Page[CommentView], error) {
	if err := (&Videos{db: s.reads}).Exists(ctx, videoID); err != nil {
		return Page[CommentView]{}, err
	}
	return s.page(ctx, viewer, "c.video_id = ?", []any{videoID}, req)
}

// page pages through the comments matching where, by (created_at DESC, id DESC): the
// comments_created_at_id_idx and comments_video_id_created_at_id_idx indexes serve it. A bare
// numeric cursor is a comment id.
func (s *Comments) page(ctx context.Context, viewer int32, where string, args []any, req PageRequest) (Page[CommentView], error) {
	spec := listSpec{
		keys:    keyset{first: "c.created_at", second: "c.id"},
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
	var rows []commentRow
	if err := s.db.WithContext(ctx).
		Raw(`SELECT `+commentColumns+` FROM `+commentsWithAuthor+` WHERE c.id = ?`, id).
		Scan(&rows).Error; err != nil {
		return CommentView{}, translate(err)
	}
	if len(rows) == 0 {
		return CommentView{}, errCommentNotFound
	}
	views, err := commentViews(ctx, s.db, s.media, viewer, rows)
	if err != nil {
		return CommentView{}, translate(err)
	}
	return views[0], nil
}

// Create inserts c and reads it back as its author sees it, in one transaction (the answer is
// the comment as committed, even when its video or its author's account is deleted a moment
// later); NotFound when its video does not exist (the foreign key says so). The author's row
// is locked first (the lock order, locks.go), then the insert locks the video for its count:
// an author deleted meanwhile is errViewerGone.
func (s *Comments) Create(ctx context.Context, c *models.Comment) (CommentView, error) {
	var view CommentView
	err := translate(transact(ctx, s.db, func(tx *gorm.DB) error {
		if _, err := lockUsers(tx, c.UserID, userLocks{}.need(c.UserID, keyShare)); err != nil {
			return err
		}
		c.ID = 0 // a retried attempt inserts afresh
		if err := tx.Create(c).Error; err != nil {
			return err
		}
		var err error
		view, err = (&Comments{db: tx, media: s.media}).Get(ctx, c.UserID, c.ID)
		return err
	}))
	if errs.Is(err, errs.KindNotFound) {
		return CommentView{}, errVideoNotFound
	}
	return view, err
}

// Update sets the content of comment id if viewer wrote it (Forbidden otherwise).
func (s *Comments) Update(ctx context.Context, viewer, id int32, content string) error {
	return translate(transact(ctx, s.db, func(tx *gorm.DB) error {
		if _, err := lockUsers(tx, viewer, userLocks{}.need(viewer, keyShare)); err != nil {
			return err
		}
		author, _, err := lockComment(tx, id)
		if err != nil {
			return err
		}
		if author != viewer {
			return errs.Forbidden("You can only edit your own comments")
		}
		return tx.Exec(`UPDATE comments SET content = ?, updated_at = ? WHERE id = ?`, content, time.Now().UTC(), id).Error
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
		author, owner, err := lockComment(tx, id)
		if err != nil {
			return err
		}
		if author != viewer && owner != viewer {
			return errs.Forbidden("You can only delete your own comments or comments on your videos")
		}
		return tx.Exec(`DELETE FROM comments WHERE id = ?`, id).Error
	}))
}

// lockComment locks a comment and returns its author and its video's owner; NotFound when the
// comment is missing.
func lockComment(tx *gorm.DB, id int32) (author, videoOwner int32, err error) {
	var rows []struct {
		Author     int32 `gorm:"column:author"`
		VideoOwner int32 `gorm:"column:video_owner"`
	}
	if err := tx.Raw(`SELECT c.user_id AS author, v.user_id AS video_owner
		FROM comments c JOIN videos v ON v.id = c.video_id WHERE c.id = ? FOR UPDATE OF c`, id).
		Scan(&rows).Error; err != nil {
		return 0, 0, err
	}
	if len(rows) == 0 {
		return 0, 0, errCommentNotFound
	}
	return rows[0].Author, rows[0].VideoOwner, nil
}
