package controllers

import (
	"context"
	"net/http"

	"github.com/gin-gonic/gin"

	"tiktok/errs"
	"tiktok/middleware"
	"tiktok/store"
)

// The video lists: the latest and trending feeds, the following feed, a user's videos and the
// videos a user liked. Each is a keyset list of the store; these handlers read the page
// parameters and send the page.

// List answers GET /api/videos: newest first (sort=latest, the default) or the For You feed
// (sort=trending), by cursor or, with ?page=, by offset.
//
// ?sound= keeps the videos using that sound (any case), newest first; it does not combine
// with sort=trending (400), which no index could serve.
func (v *Videos) List(c *gin.Context) error {
	sound, err := soundQuery(c)
	if err != nil {
		return err
	}
	var list func(context.Context, int32, store.PageRequest) (store.Page[store.VideoView], error)
	switch c.DefaultQuery("sort", "latest") {
	case "latest", "":
		list = v.Store.Videos.Latest
		if sound != "" {
			list = func(ctx context.Context, viewer int32, req store.PageRequest) (store.Page[store.VideoView], error) {
				return v.Store.Videos.BySound(ctx, viewer, sound, req)
			}
		}
	case "trending":
		if sound != "" {
			return errs.InvalidField("sort", "a sound's videos are listed newest first: leave sort out with sound")
		}
		list = v.Store.Videos.Trending
	default:
		return errs.InvalidField("sort", "must be latest or trending")
	}
	req, err := offsetOrCursorPage(c)
	if err != nil {
		return err
	}
	page, err := list(c.Request.Context(), middleware.Viewer(c), req)
	if err != nil {
		return err
	}
	c.JSON(http.StatusOK, newVideoPage(page))
	return nil
}

// Following answers GET /api/videos/following: videos of the users the viewer follows,
// newest first (cursor pages only).
func (v *Videos) Following(c *gin.Context) error {
	viewer, err := middleware.MustViewerID(c)
	if err != nil {
		return err
	}
	req, err := cursorPage(c)
	if err != nil {
		return err
	}
	page, err := v.Store.Videos.Following(c.Request.Context(), viewer, req)
	if err != nil {
		return err
	}
	c.JSON(http.StatusOK, newVideoPage(page))
	return nil
}

// UserVideos answers GET /api/users/:id/videos: the user's videos, newest first.
func (v *Videos) UserVideos(c *gin.Context) error {
	return v.userVideos(c, v.Store.Videos.ByUser)
}

// Liked answers GET /api/users/:id/liked: the videos the user liked, newest like first.
func (v *Videos) Liked(c *gin.Context) error {
	return v.userVideos(c, v.Store.Videos.LikedBy)
}

func (v *Videos) userVideos(c *gin.Context,
	list func(ctx context.Context, viewer, id int32, req store.PageRequest) (store.Page[store.VideoView], error)) error {
	id, err := ParseID(c, "id")
	if err != nil {
		return err
	}
	req, err := offsetOrCursorPage(c)
	if err != nil {
		return err
	}
	page, err := list(c.Request.Context(), middleware.Viewer(c), id, req)
	if err != nil {
		return err
	}
	c.JSON(http.StatusOK, newVideoPage(page))
	return nil
}
