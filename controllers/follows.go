package controllers

import (
	"context"
	"net/http"

	"github.com/gin-gonic/gin"

	"tiktok/errs"
	"tiktok/middleware"
	"tiktok/store"
)

// Follows serves following and unfollowing users and the follower/following lists
// (Prisma version: the follow handlers of src/controllers/userController.js).
type Follows struct {
	Store *store.Store
}

// Follow answers POST /api/users/:id/follow. It is a set operation: following twice keeps one
// row and answers the same.
func (f *Follows) Follow(c *gin.Context) error {
	return f.setFollow(c, true)
}

// Unfollow answers DELETE /api/users/:id/follow, idempotent like Follow.
func (f *Follows) Unfollow(c *gin.Context) error {
	return f.setFollow(c, false)
}

func (f *Follows) setFollow(c *gin.Context, follow bool) error {
	target, caller, err := idAndCaller(c)
	if err != nil {
		return err
	}
	if target == caller.ID {
		return errs.Invalid("cannot_follow_self", "You cannot follow yourself")
	}
	count, err := f.Store.Follows.Set(c.Request.Context(), caller, target, follow)
	if err != nil {
		return err
	}
	msg := "User followed successfully"
	if !follow {
		msg = "User unfollowed successfully"
	}
	c.JSON(http.StatusOK, gin.H{"message": msg, "followerCount": count, "isFollowing": follow})
	return nil
}

// Followers answers GET /api/users/:id/followers: who follows the user, newest first.
func (f *Follows) Followers(c *gin.Context) error {
	return userList(c, "followers", f.Store.Follows.Followers)
}

// Following answers GET /api/users/:id/following: whom the user follows, newest first.
func (f *Follows) Following(c *gin.Context) error {
	return userList(c, "following", f.Store.Follows.Following)
}

// userList answers a cursor list of users belonging to the :id of the path (followers,
// following, likers) under the key items.
func userList(c *gin.Context, items string,
	list func(ctx context.Context, viewer, id int32, req store.PageRequest) (store.Page[store.UserSummary], error)) error {
	id, err := ParseID(c, "id")
	if err != nil {
		return err
	}
	req, err := cursorPage(c)
	if err != nil {
		return err
	}
	page, err := list(c.Request.Context(), middleware.Viewer(c), id, req)
	if err != nil {
		return err
	}
	c.JSON(http.StatusOK, gin.H{items: page.Items, "pagination": pagination(page)})
	return nil
}
