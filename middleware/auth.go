package middleware

import (
	"errors"
	"strings"

	"github.com/gin-gonic/gin"
	"gorm.io/gorm"

	"tiktok/auth"
)

// Context keys of the authenticated viewer. They are unexported: read them through ViewerID.
const (
	ctxKeyViewerID = "tiktok.viewerID"
)

// Codes of the 401 answers, so the client can tell "log in" from "refresh".
const (
	CodeTokenMissing = "token_missing" // no Authorization header, or a scheme without a token
	CodeTokenInvalid = "token_invalid" // malformed, bad signature, wrong algorithm, iss or aud
	CodeTokenExpired = "token_expired" // past exp: refresh it
	CodeTokenRevoked = "token_revoked" // user deleted, password changed or logged out everywhere
)

// Auth checks access tokens. Besides the signature it loads the user's token version (one
// primary-key lookup per request), which is how a deleted user's token, or every token
// issued before a password change or a logout-everywhere, stops working at once.
type Auth struct {
	DB     *gorm.DB
	Tokens *auth.Tokens
}

// RequireAuth lets a request through only with a valid token; otherwise it answers 401 with
// the code of the reason and a WWW-Authenticate header.
func (a *Auth) RequireAuth() gin.HandlerFunc {
	return func(c *gin.Context) {
		id, err := a.authenticate(c)
		if err == nil && id == 0 {
			err = Unauthorized(CodeTokenMissing, "Access token required")
		}
		if err != nil {
			var e *Error
			if errors.As(err, &e) && e.Kind == KindUnauthorized {
				if e.Code == CodeTokenMissing {
					c.Header("WWW-Authenticate", `Bearer realm="api"`)
				} else {
					c.Header("WWW-Authenticate", `Bearer realm="api", error="invalid_token"`)
				}
			}
			_ = c.Error(err)
			c.Abort()
			return
		}
		setViewer(c, id)
		c.Next()
	}
}

// OptionalAuth identifies the viewer when a valid token comes, and otherwise serves the
// request as anonymous; a token that does not pass is ignored, and the response says so in
// WWW-Authenticate so the client can refresh it.
func (a *Auth) OptionalAuth() gin.HandlerFunc {
	return func(c *gin.Context) {
		id, err := a.authenticate(c)
		if err != nil {
			var e *Error
			if !errors.As(err, &e) || e.Kind != KindUnauthorized {
				_ = c.Error(err) // the database failed: the route could not answer anyway
				c.Abort()
				return
			}
			if e.Code != CodeTokenMissing {
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
// an *Error of kind Unauthorized for a bad token, anything else for a database failure.
func (a *Auth) authenticate(c *gin.Context) (int32, error) {
	header := c.GetHeader("Authorization")
	if strings.TrimSpace(header) == "" {
		return 0, nil
	}
	token, err := bearerToken(header)
	if err != nil {
		return 0, err
	}
	claims, err := a.Tokens.Parse(token)
	switch {
	case errors.Is(err, auth.ErrExpired):
		return 0, Unauthorized(CodeTokenExpired, "Access token expired")
	case err != nil:
		return 0, Unauthorized(CodeTokenInvalid, "Invalid access token")
	}
	var versions []int32
	if err := a.DB.WithContext(c.Request.Context()).
		Raw(`SELECT token_version FROM users WHERE id = ?`, claims.ID).Scan(&versions).Error; err != nil {
		return 0, err
	}
	if len(versions) == 0 || versions[0] != claims.Version {
		return 0, Unauthorized(CodeTokenRevoked, "Access token revoked")
	}
	return claims.ID, nil
}

// bearerToken takes the token out of an Authorization header. The scheme word is
// case-insensitive and extra spaces are tolerated; a scheme with no token is "missing", any
// other scheme or extra words are "invalid".
func bearerToken(header string) (string, error) {
	fields := strings.Fields(header)
	if len(fields) == 0 {
		return "", Unauthorized(CodeTokenMissing, "Access token required")
	}
	if !strings.EqualFold(fields[0], "Bearer") {
		return "", Unauthorized(CodeTokenInvalid, "Authorization header must be: Bearer <token>")
	}
	switch len(fields) {
	case 1:
		return "", Unauthorized(CodeTokenMissing, "Access token required")
	case 2:
		return fields[1], nil
	default:
		return "", Unauthorized(CodeTokenInvalid, "Authorization header must be: Bearer <token>")
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

// MustViewerID returns the id of the authenticated caller on a route behind RequireAuth.
// Reaching it without a viewer is a wiring bug, answered as an internal error.
func MustViewerID(c *gin.Context) (int32, error) {
	id, ok := ViewerID(c)
	if !ok {
		return 0, Internal(errors.New("route needs RequireAuth: no viewer in context"))
	}
	return id, nil
}
