package controllers

import (
	"net/http"

	"github.com/gin-gonic/gin"

	"tiktok/middleware"
	"tiktok/store"
)

// Bookmarks (API.md, "Views and bookmarks"): a user's saved videos, a set like likes, and the
// list of them that only its owner sees.

// Bookmark answers POST /api/videos/:id/bookmark; bookmarking twice keeps one bookmark and
// answers the same.
func (v *Videos) Bookmark(c *gin.Context) error { return v.setBookmark(c, true) }

// Unbookmark answers DELETE /api/videos/:id/bookmark, idempotent like Bookmark.
func (v *Videos) Unbookmark(c *gin.Context) error { return v.setBookmark(c, false) }

func (v *Videos) setBookmark(c *gin.Context, bookmark bool) error {
	id, caller, err := idAndCaller(c)
	if err != nil {
		return err
	}
	count, err := v.Store.Likes.Set(c.Request.Context(), store.VideoBookmarks, caller, id, bookmark)
	if err != nil {
		return err
	}
	if bookmark {
		c.JSON(http.StatusOK, gin.H{"message": "Video bookmarked successfully", "action": "bookmarked", "bookmarkCount": count, "isBookmarked": true})
	} else {
		c.JSON(http.StatusOK, gin.H{"message": "Video unbookmarked successfully", "action": "unbookmarked", "bookmarkCount": count, "isBookmarked": false})
	}
	return nil
}

// MyBookmarks answers GET /api/users/me/bookmarks: the caller's own bookmarks, newest first.
// There is no route to another user's: the list is private.
func (v *Videos) MyBookmarks(c *gin.Context) error {
	viewer, err := middleware.MustViewerID(c)
	if err != nil {
		return err
	}
	req, err := offsetOrCursorPage(c)
	if err != nil {
		return err
	}
	page, err := v.Store.Videos.BookmarkedBy(c.Request.Context(), viewer, req)
	if err != nil {
		return err
	}
	c.JSON(http.StatusOK, newVideoPage(page))
	return nil
}
