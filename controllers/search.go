package controllers

import (
	"net/http"
	"strings"
	"unicode/utf8"

	"github.com/gin-gonic/gin"

	"tiktok/errs"
	"tiktok/middleware"
	"tiktok/store"
)

// Search answers GET /api/search and GET /api/search/suggest (API.md, "Discovery"). The query
// text has passed middleware.CheckQuery (no NUL, invalid UTF-8 or control character); here it
// must also be 1 to 100 characters once trimmed. Anything else in it is the user's text: the
// store's queries take it as a bind parameter and neither LIKE nor websearch_to_tsquery can
// fail on it.
type Search struct {
	Store *store.Store
}

// How many users and hashtags type=top shows above its videos.
const (
	topUsers    = 3
	topHashtags = 5
)

// searchText reads ?q=: trimmed, 1 to store.MaxQueryChars characters.
func searchText(c *gin.Context) (string, error) {
	q := strings.TrimSpace(c.Query("q"))
	if q == "" {
		return "", errs.InvalidField("q", "is required (the text to search for)")
	}
	if utf8.RuneCountInString(q) > store.MaxQueryChars {
		return "", errs.InvalidField("q", "must be at most 100 characters")
	}
	return q, nil
}

type searchUsersBody struct {
	Users      []store.UserSummary `json:"users"`
	Pagination Pagination          `json:"pagination"`
}

type searchHashtagsBody struct {
	Hashtags   []store.HashtagSummary `json:"hashtags"`
	Pagination Pagination             `json:"pagination"`
}

type searchVideosBody struct {
	Videos     []store.VideoView `json:"videos"`
	Pagination Pagination        `json:"pagination"`
}

// searchTopBody is type=top: a few users and hashtags above the videos; the pagination is the
// videos'. The users and hashtags come with the first page only (a later page, with a cursor,
// has none: they were shown above the first).
type searchTopBody struct {
	Users      []store.UserSummary    `json:"users"`
	Hashtags   []store.HashtagSummary `json:"hashtags"`
	Videos     []store.VideoView      `json:"videos"`
	Pagination Pagination             `json:"pagination"`
}

// Search answers GET /api/search?q=&type=top|users|videos|hashtags&cursor=&limit=.
func (s *Search) Search(c *gin.Context) error {
	q, err := searchText(c)
	if err != nil {
		return err
	}
	kind := c.DefaultQuery("type", "top")
	switch kind {
	case "top", "users", "videos", "hashtags", "":
	default:
		return errs.InvalidField("type", "must be top, users, videos or hashtags")
	}
	req, err := cursorPage(c)
	if err != nil {
		return err
	}
	ctx, viewer := c.Request.Context(), middleware.Viewer(c)
	switch kind {
	case "users":
		page, err := s.Store.Search.Users(ctx, viewer, q, req)
		if err != nil {
			return err
		}
		c.JSON(http.StatusOK, searchUsersBody{Users: page.Items, Pagination: pagination(page)})
	case "hashtags":
		page, err := s.Store.Search.Hashtags(ctx, q, req)
		if err != nil {
			return err
		}
		c.JSON(http.StatusOK, searchHashtagsBody{Hashtags: page.Items, Pagination: pagination(page)})
	case "videos":
		page, err := s.Store.Search.Videos(ctx, viewer, q, req)
		if err != nil {
			return err
		}
		c.JSON(http.StatusOK, searchVideosBody{Videos: page.Items, Pagination: pagination(page)})
	default: // top
		body := searchTopBody{Users: []store.UserSummary{}, Hashtags: []store.HashtagSummary{}}
		if req.Cursor == "" {
			users, err := s.Store.Search.Users(ctx, viewer, q, store.PageRequest{Limit: topUsers})
			if err != nil {
				return err
			}
			tags, err := s.Store.Search.Hashtags(ctx, q, store.PageRequest{Limit: topHashtags})
			if err != nil {
				return err
			}
			body.Users, body.Hashtags = users.Items, tags.Items
		}
		page, err := s.Store.Search.Videos(ctx, viewer, q, req)
		if err != nil {
			return err
		}
		body.Videos, body.Pagination = page.Items, pagination(page)
		c.JSON(http.StatusOK, body)
	}
	return nil
}

type suggestBody struct {
	Users    []store.UserSummary    `json:"users"`
	Hashtags []store.HashtagSummary `json:"hashtags"`
}

// Suggest answers GET /api/search/suggest?q=: the type-ahead.
func (s *Search) Suggest(c *gin.Context) error {
	q, err := searchText(c)
	if err != nil {
		return err
	}
	got, err := s.Store.Search.Suggest(c.Request.Context(), middleware.Viewer(c), q)
	if err != nil {
		return err
	}
	c.JSON(http.StatusOK, suggestBody{Users: got.Users, Hashtags: got.Hashtags})
	return nil
}
