package controllers

import (
	"context"
	"errors"
	"net/http"
	"slices"
	"time"

	"github.com/gin-gonic/gin"
	"github.com/jackc/pgx/v5/pgconn"
	"gorm.io/gorm"

	"tiktok/middleware"
)

// Follows serves following and unfollowing users and the follower/following lists
// (Prisma version: the follow handlers of src/controllers/userController.js).
type Follows struct {
	DB *gorm.DB
}

// Follow answers POST /api/users/:id/follow. It is a set operation: following twice keeps one
// row and answers the same. The trigger on follows moves the counters; we only read them.
func (f *Follows) Follow(c *gin.Context) error {
	return f.setFollow(c, true)
}

// Unfollow answers DELETE /api/users/:id/follow, idempotent like Follow.
func (f *Follows) Unfollow(c *gin.Context) error {
	return f.setFollow(c, false)
}

func (f *Follows) setFollow(c *gin.Context, follow bool) error {
	target, err := ParseID(c, "id")
	if err != nil {
		return err
	}
	viewer, err := middleware.MustViewerID(c)
	if err != nil {
		return err
	}
	if target == viewer {
		return middleware.Invalid("cannot_follow_self", "You cannot follow yourself")
	}
	var counts []int32
	err = transact(c.Request.Context(), f.DB, func(tx *gorm.DB) error {
		// Lock both users in id order, the order the count_follows trigger locks them in
		// (migration 202611250002), so no two follows can deadlock; finding the target here
		// also answers 404 for a missing user before any write.
		var ids []int32
		if err := tx.Raw(`SELECT id FROM users WHERE id IN (?, ?) ORDER BY id FOR NO KEY UPDATE`, viewer, target).
			Scan(&ids).Error; err != nil {
			return err
		}
		if !slices.Contains(ids, target) {
			return middleware.NotFound("User not found")
		}
		var err error
		if follow {
			err = tx.Exec(`INSERT INTO follows (follower_id, following_id) VALUES (?, ?) ON CONFLICT DO NOTHING`, viewer, target).Error
		} else {
			err = tx.Exec(`DELETE FROM follows WHERE follower_id = ? AND following_id = ?`, viewer, target).Error
		}
		var pgErr *pgconn.PgError
		if errors.As(err, &pgErr) && pgErr.Code == "23503" { // foreign key: no such user
			return middleware.NotFound("User not found")
		}
		if err != nil {
			return err
		}
		// In the same transaction, so the count includes this very change.
		return tx.Raw(`SELECT follower_count FROM users WHERE id = ?`, target).Scan(&counts).Error
	})
	if err != nil {
		return err
	}
	if len(counts) == 0 {
		return middleware.NotFound("User not found")
	}
	msg := "User followed successfully"
	if !follow {
		msg = "User unfollowed successfully"
	}
	c.JSON(http.StatusOK, gin.H{"message": msg, "followerCount": counts[0], "isFollowing": follow})
	return nil
}

// transact runs fn in a transaction, retrying it (up to three attempts) when PostgreSQL
// aborts it for a deadlock or a serialization failure: both say "run me again", and a client
// should not see a 500 for a race it cannot control.
func transact(ctx context.Context, db *gorm.DB, fn func(tx *gorm.DB) error) error {
	var err error
	for attempt := 1; attempt <= 3; attempt++ {
		err = db.WithContext(ctx).Transaction(fn)
		var pgErr *pgconn.PgError
		if !errors.As(err, &pgErr) || (pgErr.Code != "40P01" && pgErr.Code != "40001") {
			return err
		}
		select {
		case <-ctx.Done():
			return err
		case <-time.After(time.Duration(attempt*10) * time.Millisecond):
		}
	}
	return err
}

// Followers answers GET /api/users/:id/followers: who follows the user, newest first.
func (f *Follows) Followers(c *gin.Context) error {
	return f.list(c, "followers", "following_id", "follower_id")
}

// Following answers GET /api/users/:id/following: whom the user follows, newest first.
func (f *Follows) Following(c *gin.Context) error {
	return f.list(c, "following", "follower_id", "following_id")
}

// list pages through follows where ownCol is the user, listing the users in otherCol, by
// (created_at DESC, otherCol DESC): the follows_*_created_at_idx indexes serve it as a keyset.
// It runs the same statements for any page size: existence, [cursor], page, viewer follows.
func (f *Follows) list(c *gin.Context, items, ownCol, otherCol string) error {
	id, err := ParseID(c, "id")
	if err != nil {
		return err
	}
	req, err := ParsePageRequest(c)
	if err != nil {
		return err
	}
	ctx := c.Request.Context()
	db := f.DB.WithContext(ctx)
	if err := requireUser(ctx, f.DB, id); err != nil {
		return err
	}
	return listJoinedUsers(c, db, joinTable{name: "follows", ownCol: ownCol, userCol: otherCol}, id, req, items)
}
