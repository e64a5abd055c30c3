package controllers

import (
	"encoding/json"
	"net/mail"
	"net/url"
	"regexp"
	"strconv"
	"strings"
	"unicode/utf8"

	"github.com/gin-gonic/gin"

	"tiktok/errs"
	"tiktok/middleware"
	"tiktok/store"
)

// Input checks shared by the controllers: path ids, page parameters, and the fields of
// API.md's "Validation". Each check adds the reason for a bad field to an errs.Problems, in
// the order the checks run, so one answer lists every failing field and its message names the
// first.

// Field limits. API.md fixes those of users and comments and the thumbnail cap; the others
// are ours (TikTok's caption limit, the URL length browsers handle everywhere).
const (
	maxEmailLen       = 254
	minPasswordBytes  = 8
	maxPasswordBytes  = 72 // bcrypt ignores what follows; we refuse it instead
	maxNameChars      = 50
	maxBioChars       = 500
	maxCaptionChars   = 2200
	maxAudioNameChars = 200
	maxCommentChars   = 2000
	maxURLChars       = 2048
	maxSearchChars    = 100 // ?search= stays a short index range scan
)

var digits = regexp.MustCompile(`^[0-9]{1,10}$`)

// ParseID reads a positive int32 path parameter; anything else is 400 invalid_id.
func ParseID(c *gin.Context, name string) (int32, error) {
	s := c.Param(name)
	if digits.MatchString(s) {
		if n, err := strconv.ParseInt(s, 10, 32); err == nil && n > 0 {
			return int32(n), nil
		}
	}
	return 0, errs.Invalid(errs.CodeInvalidID, "Invalid id: "+strconv.Quote(s))
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

// idAndCaller is idAndViewer for a write behind middleware.RequireToken: the :id parameter and
// the caller, whose token version the store's statement checks.
func idAndCaller(c *gin.Context) (int32, store.Caller, error) {
	id, err := ParseID(c, "id")
	if err != nil {
		return 0, store.Caller{}, err
	}
	caller, err := tokenCaller(c)
	return id, caller, err
}

// tokenCaller is the caller of a write behind middleware.RequireToken.
func tokenCaller(c *gin.Context) (store.Caller, error) {
	viewer, version, err := middleware.TokenToCheck(c)
	return store.Caller{ID: viewer, TokenVersion: version}, err
}

// ParseLimit reads ?limit=: default store.DefaultLimit, clamped to store.MaxLimit; not a
// positive whole number is 400.
func ParseLimit(c *gin.Context) (int, error) {
	s, ok := c.GetQuery("limit")
	if !ok || s == "" {
		return store.DefaultLimit, nil
	}
	if !digits.MatchString(s) {
		if strings.Trim(s, "0123456789") == "" { // too many digits: clamp like any large value
			return store.MaxLimit, nil
		}
		return 0, errs.InvalidField("limit", "must be a positive whole number")
	}
	n, _ := strconv.Atoi(s)
	if n < 1 {
		return 0, errs.InvalidField("limit", "must be a positive whole number")
	}
	return min(n, store.MaxLimit), nil
}

// ParsePage reads ?page= for offset mode: 0 when it was not sent.
func ParsePage(c *gin.Context) (int, error) {
	s, sent := c.GetQuery("page")
	if !sent || s == "" {
		return 0, nil
	}
	n, err := strconv.Atoi(s)
	if !digits.MatchString(s) || err != nil || n < 1 {
		return 0, errs.InvalidField("page", "must be a positive whole number")
	}
	return n, nil
}

// cursorPage reads ?limit= and ?cursor= of a cursor list; the store decodes the cursor.
func cursorPage(c *gin.Context) (store.PageRequest, error) {
	limit, err := ParseLimit(c)
	if err != nil {
		return store.PageRequest{}, err
	}
	return store.PageRequest{Limit: limit, Cursor: c.Query("cursor")}, nil
}

// offsetOrCursorPage is cursorPage plus ?page=, for the lists the Prisma version paged by
// offset.
func offsetOrCursorPage(c *gin.Context) (store.PageRequest, error) {
	req, err := cursorPage(c)
	if err != nil {
		return req, err
	}
	req.Page, err = ParsePage(c)
	return req, err
}

// optionalText is a JSON or form field that tells "absent" (leave as is) from null or ""
// (clear it).
type optionalText struct {
	Set   bool
	Value *string
}

// UnmarshalJSON implements json.Unmarshaler.
func (o *optionalText) UnmarshalJSON(b []byte) error {
	o.Set = true
	if string(b) == "null" {
		o.Value = nil
		return nil
	}
	var s string
	if err := json.Unmarshal(b, &s); err != nil {
		return err
	}
	o.Value = &s
	return nil
}

// cleaned is the change the field asks for, trimmed, "" turned into nil (clear it).
func (o optionalText) cleaned() store.TextChange {
	return store.TextChange{Set: o.Set, Value: cleanText(o.Value)}
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

// cleanText trims s and turns an empty result into nil (the column is nullable).
func cleanText(s *string) *string {
	if s == nil {
		return nil
	}
	t := strings.TrimSpace(*s)
	if t == "" {
		return nil
	}
	return &t
}

// checkLength refuses a text over maxChars characters.
func checkLength(field string, s *string, maxChars int, p *errs.Problems) {
	if s != nil && utf8.RuneCountInString(*s) > maxChars {
		p.Add(field, "must be at most "+strconv.Itoa(maxChars)+" characters")
	}
}

// checkURL accepts only an absolute http(s) URL of at most 2,048 characters. A URL a client
// gives (a video's, a thumbnail's, an avatar's) may not point into our own /uploads/: deleting
// or replacing its row would then delete a file that belongs to someone else.
func checkURL(field string, s *string, p *errs.Problems) {
	if s == nil {
		return
	}
	if len(*s) > maxURLChars {
		p.Add(field, "must be at most 2048 characters")
		return
	}
	u, err := url.Parse(*s)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		p.Add(field, "must be an http(s) URL")
	}
}

var usernamePattern = regexp.MustCompile(`^[A-Za-z0-9_.]{3,30}$`)

func validEmail(s string) bool {
	if len(s) > maxEmailLen || strings.ContainsAny(s, " \t\r\n<>") {
		return false
	}
	addr, err := mail.ParseAddress(s)
	// ParseAddress also accepts `Name <a@b>`; the whole input must be the bare address.
	return err == nil && addr.Address == s && addr.Name == ""
}

// checkUsername accepts 3-30 of [A-Za-z0-9_.], or an e-mail-shaped username equal, in any
// case, to email, the registrant's own (the course signup page sends the e-mail as the
// username). Anyone else's address is refused: its owner, logging in by username with it,
// would reach the squatter's account instead of their own.
func checkUsername(s, email string, p *errs.Problems) {
	switch {
	case s == "":
		p.Add("username", "is required")
	case usernamePattern.MatchString(s):
	case strings.Contains(s, "@") && validEmail(s) && !strings.EqualFold(s, email):
		p.Add("username", "may be an e-mail address only when it is your own e-mail")
	case strings.Contains(s, "@") && validEmail(s):
	default:
		p.Add("username", "must be 3 to 30 letters, digits, dots or underscores (or an e-mail address)")
	}
}

func checkEmail(s string, p *errs.Problems) {
	switch {
	case s == "":
		p.Add("email", "is required")
	case !validEmail(s):
		p.Add("email", "must be a valid e-mail address")
	}
}

func checkNewPassword(field, s string, p *errs.Problems) {
	switch {
	case s == "":
		p.Add(field, "is required")
	case len(s) < minPasswordBytes:
		p.Add(field, "must be at least 8 characters")
	case len(s) > maxPasswordBytes:
		p.Add(field, "must be at most 72 bytes")
	}
}

// checkGivenPassword validates a password to compare (login, current password): only the
// upper bound, since accounts made by the Prisma version may have shorter passwords.
func checkGivenPassword(field, s string, p *errs.Problems) {
	switch {
	case s == "":
		p.Add(field, "is required")
	case len(s) > maxPasswordBytes:
		p.Add(field, "must be at most 72 bytes")
	}
}

// checkContent trims a comment's content and checks its length: 1 to 2,000 characters.
func checkContent(content *string, p *errs.Problems) string {
	if content == nil {
		p.Add("content", "is required")
		return ""
	}
	s := strings.TrimSpace(*content)
	switch n := utf8.RuneCountInString(s); {
	case n == 0:
		p.Add("content", "must not be empty")
	case n > maxCommentChars:
		p.Add("content", "must be at most 2000 characters")
	}
	return s
}
