package controllers

import (
	"context"
	"errors"
	"net/http"

	"github.com/gin-gonic/gin"
	"github.com/jackc/pgx/v5/pgconn"
	"gorm.io/gorm"

	"tiktok/middleware"
)

// likeTarget is something a user can like (a video, a comment): its join table's statements
// and the noun of its messages.
type likeTarget struct {
	noun               string
	insert, del, count string
}

var (
	videoLikes = likeTarget{noun: "Video",
		insert: `INSERT INTO video_likes (user_id, video_id) VALUES (?, ?) ON CONFLICT DO NOTHING`,
		del:    `DELETE FROM video_likes WHERE user_id = ? AND video_id = ?`,
		count:  `SELECT like_count FROM videos WHERE id = ?`}
	commentLikes = likeTarget{noun: "Comment",
		insert: `INSERT INTO comment_likes (user_id, comment_id) VALUES (?, ?) ON CONFLICT DO NOTHING`,
		del:    `DELETE FROM comment_likes WHERE user_id = ? AND comment_id = ?`,
		count:  `SELECT like_count FROM comments WHERE id = ?`}
)

// answerLike answers POST (like) and DELETE (unlike) of /:id/like for t. Likes are a set:
// liking twice keeps one row and answers the same; the table's trigger moves the counters.
func answerLike(c *gin.Context, db *gorm.DB, t likeTarget, like bool) error {
	id, viewer, err := idAndViewer(c)
	if err != nil {
		return err
	}
	count, err := setLike(c.Request.Context(), db, t, like, viewer, id)
	if errors.Is(err, errNoTarget) {
		return middleware.NotFound(t.noun + " not found")
	}
	if err != nil {
		return err
	}
	c.JSON(http.StatusOK, likeAnswer(t.noun, like, count))
	return nil
}

// errNoTarget says the liked video or comment does not exist.
var errNoTarget = errors.New("like target not found")

// setLike adds or removes viewer's like of target in one transaction and returns the target's
// like count as of that change (read in the same transaction, so it includes it). A missing
// target is errNoTarget: the insert fails its foreign key, or the count finds no row.
func setLike(ctx context.Context, db *gorm.DB, t likeTarget, like bool, viewer, target int32) (int32, error) {
	var counts []int32
	err := transact(ctx, db, func(tx *gorm.DB) error {
		counts = counts[:0]
		stmt := t.del
		if like {
			stmt = t.insert
		}
		err := tx.Exec(stmt, viewer, target).Error
		var pgErr *pgconn.PgError
		if errors.As(err, &pgErr) && pgErr.Code == "23503" { // foreign key: no such target
			return errNoTarget
		}
		if err != nil {
			return err
		}
		return tx.Raw(t.count, target).Scan(&counts).Error
	})
	if err != nil {
		return 0, err
	}
	if len(counts) == 0 {
		return 0, errNoTarget
	}
	return counts[0], nil
}

func likeAnswer(what string, like bool, count int32) gin.H {
	if like {
		return gin.H{"message": what + " liked successfully", "action": "liked", "likeCount": count, "isLiked": true}
	}
	return gin.H{"message": what + " unliked successfully", "action": "unliked", "likeCount": count, "isLiked": false}
}
