package controllers

import (
	"net/http"

	"github.com/gin-gonic/gin"

	"tiktok/errs"
	"tiktok/middleware"
	"tiktok/models"
	"tiktok/store"
)

// Comments serves comments and comment likes (Prisma version:
// src/controllers/commentController.js).
type Comments struct {
	Store *store.Store
}

// List answers GET /api/comments: every comment, newest first, by cursor or ?page=.
func (cm *Comments) List(c *gin.Context) error {
	req, err := offsetOrCursorPage(c)
	if err != nil {
		return err
	}
	page, err := cm.Store.Comments.List(c.Request.Context(), middleware.Viewer(c), req)
	if err != nil {
		return err
	}
	c.JSON(http.StatusOK, newCommentPage(page))
	return nil
}

// ForVideo answers GET /api/videos/:id/comments: the video's comments, newest first, by
// cursor or ?page= (offset mode adds totalComments); 404 for a missing video.
func (cm *Comments) ForVideo(c *gin.Context) error {
	id, err := ParseID(c, "id")
	if err != nil {
		return err
	}
	req, err := offsetOrCursorPage(c)
	if err != nil {
		return err
	}
	page, err := cm.Store.Comments.ForVideo(c.Request.Context(), middleware.Viewer(c), id, req)
	if err != nil {
		return err
	}
	c.JSON(http.StatusOK, newCommentPage(page))
	return nil
}

// Get answers GET /api/comments/:id.
func (cm *Comments) Get(c *gin.Context) error {
	id, err := ParseID(c, "id")
	if err != nil {
		return err
	}
	view, err := cm.Store.Comments.Get(c.Request.Context(), middleware.Viewer(c), id)
	if err != nil {
		return err
	}
	c.JSON(http.StatusOK, view)
	return nil
}

// Replies answers GET /api/comments/:id/replies: the replies to a top-level comment, oldest
// first, by cursor; 404 for a missing comment.
func (cm *Comments) Replies(c *gin.Context) error {
	id, err := ParseID(c, "id")
	if err != nil {
		return err
	}
	req, err := cursorPage(c)
	if err != nil {
		return err
	}
	page, err := cm.Store.Comments.Replies(c.Request.Context(), middleware.Viewer(c), id, req)
	if err != nil {
		return err
	}
	c.JSON(http.StatusOK, newCommentPage(page))
	return nil
}

// Create answers POST /api/comments: {videoId, content, parentId?}; 404 for a missing video
// or parent, 400 for a parent on another video.
func (cm *Comments) Create(c *gin.Context) error {
	caller, err := tokenCaller(c)
	if err != nil {
		return err
	}
	var in struct {
		VideoID  flexibleID  `json:"videoId"`
		Content  *string     `json:"content"`
		ParentID *flexibleID `json:"parentId"` // absent or null: a top-level comment
	}
	if err := middleware.BindJSON(c, &in); err != nil {
		return err
	}
	var problems errs.Problems
	switch {
	case !in.VideoID.Set:
		problems.Add("videoId", "is required")
	case in.VideoID.Bad:
		problems.Add("videoId", "must be a positive whole number")
	}
	if in.ParentID != nil && in.ParentID.Bad {
		problems.Add("parentId", "must be a positive whole number")
	}
	content := checkContent(in.Content, &problems)
	if err := problems.Err(); err != nil {
		return err
	}
	ctx := c.Request.Context()
	comment := models.Comment{VideoID: in.VideoID.Value, Content: content}
	if in.ParentID != nil {
		comment.ParentID = &in.ParentID.Value
	}
	view, err := cm.Store.Comments.Create(ctx, caller, &comment)
	if err != nil {
		return err
	}
	c.JSON(http.StatusCreated, view)
	return nil
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
	var problems errs.Problems
	content := checkContent(in.Content, &problems)
	if err := problems.Err(); err != nil {
		return err
	}
	ctx := c.Request.Context()
	if err := cm.Store.Comments.Update(ctx, viewer, id, content); err != nil {
		return err
	}
	view, err := cm.Store.Comments.Get(ctx, viewer, id)
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
	if err := cm.Store.Comments.Delete(c.Request.Context(), viewer, id); err != nil {
		return err
	}
	c.JSON(http.StatusOK, gin.H{"message": "Comment deleted successfully"})
	return nil
}

// Like answers POST /api/comments/:id/like: a set operation, idempotent like video likes.
func (cm *Comments) Like(c *gin.Context) error {
	return setLike(c, cm.Store, store.CommentLikes, "Comment", true)
}

// Unlike answers DELETE /api/comments/:id/like.
func (cm *Comments) Unlike(c *gin.Context) error {
	return setLike(c, cm.Store, store.CommentLikes, "Comment", false)
}
