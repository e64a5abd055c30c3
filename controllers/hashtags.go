package controllers

import (
	"net/http"
	"strings"

	"github.com/gin-gonic/gin"

	"tiktok/errs"
	"tiktok/middleware"
	"tiktok/store"
)

// Hashtags answers the tag pages and the trending tags (API.md, "Discovery"). The Prisma
// version had none; the handlers keep the shape of the others: parse, call the store, send.
type Hashtags struct {
	Store *store.Store
}

// Get answers GET /api/hashtags/:name: the tag ("#Dance", "%23dance" and "dance" are one tag);
// 404 for a tag no video carried or a name no caption could carry.
func (h *Hashtags) Get(c *gin.Context) error {
	tag, err := h.Store.Hashtags.Get(c.Request.Context(), c.Param("name"))
	if err != nil {
		return err
	}
	c.JSON(http.StatusOK, tag)
	return nil
}

// hashtagPage is the body of GET /api/hashtags/:name/videos.
type hashtagPage struct {
	Hashtag    store.HashtagView `json:"hashtag"`
	Videos     []store.VideoView `json:"videos"`
	Pagination Pagination        `json:"pagination"`
}

// Videos answers GET /api/hashtags/:name/videos: the tag's videos, newest first (sort=latest,
// the default) or by trending score (sort=trending), by cursor.
func (h *Hashtags) Videos(c *gin.Context) error {
	sort := c.DefaultQuery("sort", store.TagLatest)
	switch sort {
	case store.TagLatest, "":
		sort = store.TagLatest
	case store.TagTrending:
	default:
		return errs.InvalidField("sort", "must be latest or trending")
	}
	req, err := cursorPage(c)
	if err != nil {
		return err
	}
	tag, page, err := h.Store.Hashtags.Videos(c.Request.Context(), middleware.Viewer(c), c.Param("name"), sort, req)
	if err != nil {
		return err
	}
	c.JSON(http.StatusOK, hashtagPage{Hashtag: tag, Videos: page.Items, Pagination: pagination(page)})
	return nil
}

// Trending answers GET /api/hashtags/trending?limit= (default 10, at most 50): the tags used
// most in the last 7 days, recent use weighing more.
func (h *Hashtags) Trending(c *gin.Context) error {
	limit, err := ParseLimit(c)
	if err != nil {
		return err
	}
	tags, err := h.Store.Hashtags.Trending(c.Request.Context(), limit)
	if err != nil {
		return err
	}
	c.JSON(http.StatusOK, gin.H{"hashtags": tags})
	return nil
}

// soundQuery reads ?sound= of GET /api/videos: "" when absent or blank (no filter).
func soundQuery(c *gin.Context) (string, error) {
	sound := strings.TrimSpace(c.Query("sound"))
	if len([]rune(sound)) > maxAudioNameChars {
		return "", errs.InvalidField("sound", "must be at most 200 characters")
	}
	return sound, nil
}
