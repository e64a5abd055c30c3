package controllers

import (
	"encoding/json"
	"errors"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/gin-gonic/gin"
	"github.com/jackc/pgx/v5/pgconn"
	"gorm.io/gorm"

	"tiktok/middleware"
	"tiktok/models"
)

// Comments serves comments and comment likes (Prisma version:
// src/controllers/commentController.js).
type Comments struct {
	DB *gorm.DB
}

// maxCommentChars bounds a comment's content after trimming (API.md, Comments).
const maxCommentChars = 2000

// CommentCount is the Prisma-style _count object of a comment.
type CommentCount struct {
	Likes int32 `json:"likes"`
}

// CommentView is the Comment shape of API.md.
type CommentView struct {
	ID        int32        `json:"id"`
	Content   string       `json:"content"`
	UserID    int32        `json:"userId"`
	VideoID   int32        `json:"videoId"`
	CreatedAt Timestamp    `json:"createdAt"`
	UpdatedAt Timestamp    `json:"updatedAt"`
	User      UserSummary  `json:"user"`
	LikeCount int32        `json:"likeCount"`
	Count     CommentCount `json:"_count"`
	IsLiked   bool         `json:"isLiked"`
}

type commentPage struct {
	Comments   []CommentView  `json:"comments"`
	Pagination ListPagination `json:"pagination"`
}

const commentColumns = `c.id, c.content, c.user_id, c.video_id, c.created_at, c.updated_at, c.like_count,
	u.username AS author_username, u.name AS author_name, u.avatar AS author_avatar`

type commentRow struct {
	models.Comment
	AuthorUsername string  `gorm:"column:author_username"`
	AuthorName     *string `gorm:"column:author_name"`
	AuthorAvatar   *string `gorm:"column:author_avatar"`
}

// commentViews adds the viewer fields to a page of comments with at most two more queries
// (the viewer's likes among them, the viewer's follows among their authors).
func commentViews(c *gin.Context, db *gorm.DB, rows []commentRow) ([]CommentView, error) {
	out := make([]CommentView, len(rows))
	if len(rows) == 0 {
		return out, nil
	}
	ids := make([]int32, len(rows))
	var authors []int32
	for i := range rows {
		ids[i] = rows[i].ID
		if !slices.Contains(authors, rows[i].UserID) {
			authors = append(authors, rows[i].UserID)
		}
	}
	liked := map[int32]bool{}
	if viewer, ok := middleware.ViewerID(c); ok {
		var likedIDs []int32
		if err := db.WithContext(c.Request.Context()).
			Raw(`SELECT comment_id FROM comment_likes WHERE user_id = ? AND comment_id IN ?`, viewer, ids).
			Scan(&likedIDs).Error; err != nil {
			return nil, err
		}
		for _, id := range likedIDs {
			liked[id] = true
		}
	}
	following, err := viewerFollowsIDs(c, db, authors)
	if err != nil {
		return nil, err
	}
	for i, r := range rows {
		out[i] = CommentView{
			ID: r.ID, Content: r.Content, UserID: r.UserID, VideoID: r.VideoID,
			CreatedAt: Timestamp(r.CreatedAt), UpdatedAt: Timestamp(r.UpdatedAt),
			User: UserSummary{ID: r.UserID, Username: r.AuthorUsername, Name: r.AuthorName,
				Avatar: r.AuthorAvatar, IsFollowing: following(r.UserID)},
			LikeCount: r.LikeCount, Count: CommentCount{Likes: r.LikeCount}, IsLiked: liked[r.ID],
		}
	}
	return out, nil
}

// List answers GET /api/comments: every comment, newest first, by cursor or ?page=.
func (cm *Comments) List(c *gin.Context) error {
	return cm.list(c, "", nil)
}

// ForVideo answers GET /api/videos/:id/comments: the video's comments, newest first, by
// cursor or ?page= (offset mode adds totalComments); 404 for a missing video.
func (cm *Comments) ForVideo(c *gin.Context) error {
	id, err := ParseID(c, "id")
	if err != nil {
		return err
	}
	var found []int32
	if err := cm.DB.WithContext(c.Request.Context()).Raw(`SELECT id FROM videos WHERE id = ?`, id).Scan(&found).Error; err != nil {
		return err
	}
	if len(found) == 0 {
		return middleware.NotFound("Video not found")
	}
	return cm.list(c, "c.video_id = ?", []any{id})
}

// list pages through comments matching where, by (created_at DESC, id DESC): the
// comments_created_at_id_idx and comments_video_id_created_at_id_idx indexes serve it.
func (cm *Comments) list(c *gin.Context, where string, args []any) error {
	page, pageMode, err := ParsePage(c)
	if err != nil {
		return err
	}
	req, err := ParsePageRequest(c)
	if err != nil {
		return err
	}
	db := cm.DB.WithContext(c.Request.Context())
	from := "comments c JOIN users u ON u.id = c.user_id"
	var total int64
	cond, condArgs := where, slices.Clone(args)
	if pageMode {
		q := "SELECT count(*) FROM comments c"
		if where != "" {
			q += " WHERE " + where
		}
		if err := db.Raw(q, args...).Scan(&total).Error; err != nil {
			return err
		}
	} else {
		if req.AfterID != 0 {
			var at []time.Time
			if err := db.Raw(`SELECT created_at FROM comments WHERE id = ?`, req.AfterID).Scan(&at).Error; err != nil {
				return err
			}
			if len(at) == 0 {
				return badCursor()
			}
			req.After = &Key{CreatedAt: at[0], ID: req.AfterID}
		}
		if req.After != nil {
			if cond != "" {
				cond += " AND "
			}
			cond += "(c.created_at, c.id) < (?, ?)"
			condArgs = append(condArgs, req.After.CreatedAt.UTC(), req.After.ID)
		}
	}
	q := "SELECT " + commentColumns + " FROM " + from
	if cond != "" {
		q += " WHERE " + cond
	}
	q += " ORDER BY c.created_at DESC, c.id DESC LIMIT ?"
	condArgs = append(condArgs, req.Limit+1)
	if pageMode {
		q += " OFFSET ?"
		condArgs = append(condArgs, (page-1)*req.Limit)
	}
	var rows []commentRow
	if err := db.Raw(q, condArgs...).Scan(&rows).Error; err != nil {
		return err
	}
	rows, pagination := TrimPage(rows, req.Limit, func(r commentRow) Key { return Key{CreatedAt: r.CreatedAt, ID: r.ID} })
	out := ListPagination{Pagination: pagination}
	if pageMode {
		pages := int((total + int64(req.Limit) - 1) / int64(req.Limit))
		out.TotalPages, out.CurrentPage, out.TotalComments = &pages, &page, &total
		out.HasNextPage = page < pages
		if !out.HasNextPage {
			out.NextCursor = nil
		}
	}
	views, err := commentViews(c, cm.DB, rows)
	if err != nil {
		return err
	}
	c.JSON(http.StatusOK, commentPage{Comments: views, Pagination: out})
	return nil
}

// load reads one comment as the viewer sees it; 404 when it is missing.
func (cm *Comments) load(c *gin.Context, id int32) (CommentView, error) {
	var rows []commentRow
	if err := cm.DB.WithContext(c.Request.Context()).
		Raw(`SELECT `+commentColumns+` FROM comments c JOIN users u ON u.id = c.user_id WHERE c.id = ?`, id).
		Scan(&rows).Error; err != nil {
		return CommentView{}, err
	}
	if len(rows) == 0 {
		return CommentView{}, middleware.NotFound("Comment not found")
	}
	views, err := commentViews(c, cm.DB, rows)
	if err != nil {
		return CommentView{}, err
	}
	return views[0], nil
}

// Get answers GET /api/comments/:id.
func (cm *Comments) Get(c *gin.Context) error {
	id, err := ParseID(c, "id")
	if err != nil {
		return err
	}
	view, err := cm.load(c, id)
	if err != nil {
		return err
	}
	c.JSON(http.StatusOK, view)
	return nil
}

// flexibleID is a JSON id that may come as a number or a numeric string (the course
// frontend sends the route parameter as it is).
type flexibleID struct {
	Set   bool
	Value int32
	Bad   bool
}

// UnmarshalJSON implements json.Unmarshaler; a value that is not a positive whole number is
// marked Bad rather than failing the whole body, so validation can name the field.
func (f *flexibleID) UnmarshalJSON(b []byte) error {
	f.Set = true
	var raw any
	if err := json.Unmarshal(b, &raw); err != nil {
		return err
	}
	var s string
	switch x := raw.(type) {
	case float64:
		s = strconv.FormatFloat(x, 'f', -1, 64)
	case string:
		s = strings.TrimSpace(x)
	default:
		f.Bad = true
		return nil
	}
	n, err := strconv.ParseInt(s, 10, 32)
	if err != nil || n < 1 {
		f.Bad = true
		return nil
	}
	f.Value = int32(n)
	return nil
}

// checkContent trims content and checks its length: 1 to 2,000 characters.
func checkContent(content *string, errs map[string]string) string {
	if content == nil {
		errs["content"] = "is required"
		return ""
	}
	s := strings.TrimSpace(*content)
	switch n := utf8.RuneCountInString(s); {
	case n == 0:
		errs["content"] = "must not be empty"
	case n > maxCommentChars:
		errs["content"] = "must be at most 2000 characters"
	}
	return s
}

// Create answers POST /api/comments: {videoId, content}; 404 for a missing video.
func (cm *Comments) Create(c *gin.Context) error {
	viewer, err := middleware.MustViewerID(c)
	if err != nil {
		return err
	}
	var in struct {
		VideoID flexibleID `json:"videoId"`
		Content *string    `json:"content"`
	}
	if err := middleware.BindJSON(c, &in); err != nil {
		return err
	}
	errs := map[string]string{}
	switch {
	case !in.VideoID.Set:
		errs["videoId"] = "is required"
	case in.VideoID.Bad:
		errs["videoId"] = "must be a positive whole number"
	}
	content := checkContent(in.Content, errs)
	if len(errs) > 0 {
		return middleware.ValidationFailed(errs)
	}
	comment := models.Comment{UserID: viewer, VideoID: in.VideoID.Value, Content: content}
	err = cm.DB.WithContext(c.Request.Context()).Create(&comment).Error
	var pgErr *pgconn.PgError
	if errors.As(err, &pgErr) && pgErr.Code == "23503" { // foreign key: no such video
		return middleware.NotFound("Video not found")
	}
	if err != nil {
		return err
	}
	view, err := cm.load(c, comment.ID)
	if err != nil {
		return err
	}
	c.JSON(http.StatusCreated, view)
	return nil
}

// commentOwners locks a comment and returns its author and its video's owner; 404 when the
// comment is missing.
func commentOwners(tx *gorm.DB, id int32) (author, videoOwner int32, err error) {
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
		return 0, 0, middleware.NotFound("Comment not found")
	}
	return rows[0].Author, rows[0].VideoOwner, nil
}

// Update answers PUT /api/comments/:id (author only): {content}.
func (cm *Comments) Update(c *gin.Context) error {
	id, viewer, err := idAndViewer(c)
	if err != nil {
		return err
	}
	var in struct {
		Content *string `json:"content"`
	}
	if err := middleware.BindJSON(c, &in); err != nil {
		return err
	}
	errs := map[string]string{}
	content := checkContent(in.Content, errs)
	if len(errs) > 0 {
		return middleware.ValidationFailed(errs)
	}
	err = transact(c.Request.Context(), cm.DB, func(tx *gorm.DB) error {
		author, _, err := commentOwners(tx, id)
		if err != nil {
			return err
		}
		if author != viewer {
			return middleware.Forbidden("You can only edit your own comments")
		}
		return tx.Exec(`UPDATE comments SET content = ?, updated_at = ? WHERE id = ?`, content, time.Now().UTC(), id).Error
	})
	if err != nil {
		return err
	}
	view, err := cm.load(c, id)
	if err != nil {
		return err
	}
	c.JSON(http.StatusOK, view)
	return nil
}

// Delete answers DELETE /api/comments/:id: its author, or the owner of the video it is on.
func (cm *Comments) Delete(c *gin.Context) error {
	id, viewer, err := idAndViewer(c)
	if err != nil {
		return err
	}
	err = transact(c.Request.Context(), cm.DB, func(tx *gorm.DB) error {
		author, owner, err := commentOwners(tx, id)
		if err != nil {
			return err
		}
		if author != viewer && owner != viewer {
			return middleware.Forbidden("You can only delete your own comments or comments on your videos")
		}
		return tx.Exec(`DELETE FROM comments WHERE id = ?`, id).Error
	})
	if err != nil {
		return err
	}
	c.JSON(http.StatusOK, gin.H{"message": "Comment deleted successfully"})
	return nil
}

// Like answers POST /api/comments/:id/like: a set operation, idempotent like video likes.
func (cm *Comments) Like(c *gin.Context) error { return answerLike(c, cm.DB, commentLikes, true) }

// Unlike answers DELETE /api/comments/:id/like.
func (cm *Comments) Unlike(c *gin.Context) error { return answerLike(c, cm.DB, commentLikes, false) }
