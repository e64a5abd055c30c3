package controllers

import (
	"encoding/base64"
	"regexp"
	"strconv"
	"strings"
	"time"

	"github.com/gin-gonic/gin"

	"tiktok/middleware"
)

// Limits of a cursor page (API.md, Pagination).
const (
	DefaultLimit = 10
	MaxLimit     = 50
)

// Pagination is the "pagination" object of every cursor list. The offset fields are set only
// when the client sent ?page= (offset compatibility); each list adds its own total<Items>.
type Pagination struct {
	NextCursor  *string `json:"nextCursor"`
	HasNextPage bool    `json:"hasNextPage"`
	TotalPages  *int    `json:"totalPages,omitempty"`
	CurrentPage *int    `json:"currentPage,omitempty"`
}

// Key is a position in a list ordered by (created_at DESC, id DESC).
type Key struct {
	CreatedAt time.Time
	ID        int32
}

// PageRequest is a parsed cursor request. At most one of After and AfterID is set: After for
// an opaque cursor, AfterID for a bare numeric item id, which the list resolves to a Key with
// a query of its own (the item's created_at lives in its table).
type PageRequest struct {
	Limit   int
	After   *Key
	AfterID int32
}

var digits = regexp.MustCompile(`^[0-9]{1,10}$`)

// ParseID reads a positive int32 path parameter; anything else is 400 invalid_id.
func ParseID(c *gin.Context, name string) (int32, error) {
	s := c.Param(name)
	if digits.MatchString(s) {
		if n, err := strconv.ParseInt(s, 10, 32); err == nil && n > 0 {
			return int32(n), nil
		}
	}
	return 0, middleware.Invalid("invalid_id", "Invalid id: "+strconv.Quote(s))
}

// idAndViewer reads the :id path parameter and the authenticated viewer of a route behind
// RequireAuth: the preamble of every write.
func idAndViewer(c *gin.Context) (id, viewer int32, err error) {
	if id, err = ParseID(c, "id"); err != nil {
		return 0, 0, err
	}
	if viewer, err = middleware.MustViewerID(c); err != nil {
		return 0, 0, err
	}
	return id, viewer, nil
}

// ParseLimit reads ?limit=: default DefaultLimit, clamped to MaxLimit; not a positive whole
// number is 400.
func ParseLimit(c *gin.Context) (int, error) {
	s, ok := c.GetQuery("limit")
	if !ok || s == "" {
		return DefaultLimit, nil
	}
	if !digits.MatchString(s) {
		if strings.Trim(s, "0123456789") == "" { // too many digits: clamp like any large value
			return MaxLimit, nil
		}
		return 0, middleware.ValidationFailed(map[string]string{"limit": "must be a positive whole number"})
	}
	n, _ := strconv.Atoi(s)
	if n < 1 {
		return 0, middleware.ValidationFailed(map[string]string{"limit": "must be a positive whole number"})
	}
	return min(n, MaxLimit), nil
}

// ParsePage reads ?page= for offset mode; ok is false when it was not sent.
func ParsePage(c *gin.Context) (page int, ok bool, err error) {
	s, sent := c.GetQuery("page")
	if !sent || s == "" {
		return 0, false, nil
	}
	n, convErr := strconv.Atoi(s)
	if !digits.MatchString(s) || convErr != nil || n < 1 {
		return 0, false, middleware.ValidationFailed(map[string]string{"page": "must be a positive whole number"})
	}
	return n, true, nil
}

// ParsePageRequest reads ?limit= and ?cursor=.
func ParsePageRequest(c *gin.Context) (PageRequest, error) {
	limit, err := ParseLimit(c)
	if err != nil {
		return PageRequest{}, err
	}
	req := PageRequest{Limit: limit}
	s := c.Query("cursor")
	if s == "" {
		return req, nil
	}
	if digits.MatchString(s) {
		n, err := strconv.ParseInt(s, 10, 32)
		if err != nil || n < 1 {
			return req, badCursor()
		}
		req.AfterID = int32(n)
		return req, nil
	}
	key, ok := DecodeCursor(s)
	if !ok {
		return req, badCursor()
	}
	req.After = &key
	return req, nil
}

func badCursor() error {
	return middleware.ValidationFailed(map[string]string{"cursor": "is not a valid cursor"})
}

// EncodeCursor makes the opaque cursor of a position: base64url of "v1:<unix ms>:<id>".
// Milliseconds are exact, since the columns are timestamp(3).
func EncodeCursor(k Key) string {
	raw := "v1:" + strconv.FormatInt(k.CreatedAt.UnixMilli(), 10) + ":" + strconv.Itoa(int(k.ID))
	return base64.RawURLEncoding.EncodeToString([]byte(raw))
}

// DecodeCursor reverses EncodeCursor.
func DecodeCursor(s string) (Key, bool) {
	raw, err := base64.RawURLEncoding.DecodeString(s)
	if err != nil {
		return Key{}, false
	}
	parts := strings.Split(string(raw), ":")
	if len(parts) != 3 || parts[0] != "v1" {
		return Key{}, false
	}
	ms, err1 := strconv.ParseInt(parts[1], 10, 64)
	id, err2 := strconv.ParseInt(parts[2], 10, 32)
	if err1 != nil || err2 != nil || id < 1 {
		return Key{}, false
	}
	return Key{CreatedAt: time.UnixMilli(ms).UTC(), ID: int32(id)}, true
}

// TrimPage takes a page fetched with limit+1 rows, drops the extra row and builds the
// pagination: the extra row's presence is what says there is a next page.
func TrimPage[T any](rows []T, limit int, key func(T) Key) ([]T, Pagination) {
	if len(rows) <= limit {
		return rows, Pagination{}
	}
	rows = rows[:limit]
	next := EncodeCursor(key(rows[limit-1]))
	return rows, Pagination{NextCursor: &next, HasNextPage: true}
}
