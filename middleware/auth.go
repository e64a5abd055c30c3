package middleware

import (
	"context"
	"errors"
	"strings"

	"github.com/gin-gonic/gin"

	"tiktok/errs"
)

// Context keys of the authenticated viewer. They are unexported: read them through ViewerID,
// and behind RequireToken through TokenToCheck.
const (
	ctxKeyViewerID     = "tiktok.viewerID"
	ctxKeyTokenUser    = "tiktok.tokenUser"
	ctxKeyTokenVersion = "tiktok.tokenVersion"
)

// Authenticator checks an access token and returns its user id, or an error of kind
// Unauthorized with the reason's code (auth.Service implements it). ParseAccess checks all but
// the token's version (no database) and returns that version for the caller to compare.
type Authenticator interface {
	Authenticate(ctx context.Context, accessToken string) (userID int32, err error)
	ParseAccess(accessToken string) (userID, version int32, err error)
}

// Auth reads the bearer token of a request and has it checked by the Authenticator.
type Auth struct {
	Sessions Authenticator
}

// RequireAuth lets a request through only with a valid token; otherwise it answers 401 with
// the code of the reason and a WWW-Authenticate header (errors.go).
func (a *Auth) RequireAuth() gin.HandlerFunc {
	return func(c *gin.Context) {
		id, err := a.authenticate(c)
		if err == nil && id == 0 {
			err = errs.Unauthorized(errs.CodeTokenMissing, "Access token required")
		}
		if err != nil {
			_ = c.Error(err)
			c.Abort()
			return
		}
		setViewer(c, id)
		c.Next()
	}
}

// RequireToken is RequireAuth for a write whose own statement checks the token's version
// (Likes.Set, Follows.Set, Comments.Create: one round trip fewer per request). It checks here
// everything but the version (signature, expiry, claims: the same answers as RequireAuth) and
// leaves the token's user and version to the handler through TokenToCheck; the store answers a
// version that is not the user's, or a user that is gone, with 401 token_revoked, as
// RequireAuth would. ViewerID finds no viewer behind it, so a handler that does not pass the
// version on fails (500) rather than skip the check.
func (a *Auth) RequireToken() gin.HandlerFunc {
	return func(c *gin.Context) {
		id, version, err := a.parse(c)
		if err != nil {
			_ = c.Error(err)
			c.Abort()
			return
		}
		c.Set(ctxKeyTokenUser, id)
		c.Set(ctxKeyTokenVersion, version)
		c.Next()
	}
}

// TokenToCheck returns, behind RequireToken, the token's user and the token version to compare
// with theirs in the request's statement.
func TokenToCheck(c *gin.Context) (viewer, version int32, err error) {
	id, ok := c.Get(ctxKeyTokenUser)
	v, hasVersion := c.Get(ctxKeyTokenVersion)
	if !ok || !hasVersion {
		return 0, 0, errs.Internal(errors.New("route needs RequireToken: no token to check in context"))
	}
	return id.(int32), v.(int32), nil
}

// OptionalAuth identifies the viewer when a valid token comes, and otherwise serves the
// request as anonymous; a token that does not pass is ignored, and the response says so in
// WWW-Authenticate so the client can refresh it.
func (a *Auth) OptionalAuth() gin.HandlerFunc {
	return func(c *gin.Context) {
		id, err := a.authenticate(c)
		if err != nil {
			var e *errs.Error
			if !errors.As(err, &e) || e.Kind != errs.KindUnauthorized {
				_ = c.Error(err) // the database failed: the route could not answer anyway
				c.Abort()
				return
			}
			if e.Code != errs.CodeTokenMissing {
				c.Header("WWW-Authenticate", `Bearer realm="api", error="invalid_token"`)
			}
			id = 0
		}
		if id != 0 {
			setViewer(c, id)
		}
		c.Next()
	}
}

// authenticate returns the viewer's id, 0 when no Authorization header came, or an error:
// of kind Unauthorized for a bad token, any other for a database failure.
func (a *Auth) authenticate(c *gin.Context) (int32, error) {
	header := c.GetHeader("Authorization")
	if strings.TrimSpace(header) == "" {
		return 0, nil
	}
	token, err := bearerToken(header)
	if err != nil {
		return 0, err
	}
	return a.Sessions.Authenticate(c.Request.Context(), token)
}

// parse is authenticate without the token version's check (RequireToken); a missing token is
// an error.
func (a *Auth) parse(c *gin.Context) (userID, version int32, err error) {
	token, err := bearerToken(c.GetHeader("Authorization"))
	if err != nil {
		return 0, 0, err
	}
	return a.Sessions.ParseAccess(token)
}

// bearerToken takes the token out of an Authorization header. The scheme word is
// case-insensitive and extra spaces are tolerated; a scheme with no token is "missing", any
// other scheme or extra words are "invalid".
func bearerToken(header string) (string, error) {
	fields := strings.Fields(header)
	if len(fields) == 0 {
		return "", errs.Unauthorized(errs.CodeTokenMissing, "Access token required")
	}
	if !strings.EqualFold(fields[0], "Bearer") {
		return "", errs.Unauthorized(errs.CodeTokenInvalid, "Authorization header must be: Bearer <token>")
	}
	switch len(fields) {
	case 1:
		return "", errs.Unauthorized(errs.CodeTokenMissing, "Access token required")
	case 2:
		return fields[1], nil
	default:
		return "", errs.Unauthorized(errs.CodeTokenInvalid, "Authorization header must be: Bearer <token>")
	}
}

func setViewer(c *gin.Context, id int32) {
	c.Set(ctxKeyViewerID, id)
}

// ViewerID returns the id of the authenticated caller, and false for an anonymous one.
func ViewerID(c *gin.Context) (int32, bool) {
	v, ok := c.Get(ctxKeyViewerID)
	if !ok {
		return 0, false
	}
	id, ok := v.(int32)
	return id, ok && id > 0
}

// Viewer returns the id of the authenticated caller, 0 for an anonymous one: the viewer
// argument of the store's reads.
func Viewer(c *gin.Context) int32 {
	id, _ := ViewerID(c)
	return id
}

// MustViewerID returns the id of the authenticated caller on a route behind RequireAuth.
// Reaching it without a viewer is a wiring bug, answered as an internal error.
func MustViewerID(c *gin.Context) (int32, error) {
	id, ok := ViewerID(c)
	if !ok {
		return 0, errs.Internal(errors.New("route needs RequireAuth: no viewer in context"))
	}
	return id, nil
}
