// Package middleware holds the Gin middleware every request passes through (request id,
// logging, panic recovery, CORS, body caps, metrics, auth) and the one place that maps the
// error kinds of package errs to HTTP responses (errors.go).
package middleware

import (
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"os"
	"runtime/debug"
	"strconv"
	"strings"
	"time"

	"github.com/gin-gonic/gin"

	"tiktok/errs"
)

// HeaderRequestID is the header that carries the request id both ways.
const HeaderRequestID = "X-Request-ID"

// ctxKeyRequestID is the Gin context key for the request id; read it with RequestID.
const ctxKeyRequestID = "tiktok.requestID"

// RequestIDMiddleware takes the caller's X-Request-ID when it is sane (1-128 characters of
// letters, digits and ._:-), or makes a new one, and echoes it on the response.
func RequestIDMiddleware() gin.HandlerFunc {
	return func(c *gin.Context) {
		id := c.GetHeader(HeaderRequestID)
		if !saneRequestID(id) {
			id = newRequestID()
		}
		c.Set(ctxKeyRequestID, id)
		c.Header(HeaderRequestID, id)
		c.Next()
	}
}

// RequestID returns the id of the request being served.
func RequestID(c *gin.Context) string {
	return c.GetString(ctxKeyRequestID)
}

// saneRequestID reports whether id is 1-128 characters of letters, digits and ._:- (the
// pattern ^[A-Za-z0-9._:\-]{1,128}$, checked by hand: it runs on every request, and a regexp
// match costs more than the whole id).
func saneRequestID(id string) bool {
	if len(id) == 0 || len(id) > 128 {
		return false
	}
	for i := 0; i < len(id); i++ {
		switch b := id[i]; {
		case 'a' <= b && b <= 'z', 'A' <= b && b <= 'Z', '0' <= b && b <= '9', b == '.', b == '_', b == ':', b == '-':
		default:
			return false
		}
	}
	return true
}

// newRequestID is 16 random bytes in hex. The bytes live on the stack: the string is the one
// allocation.
func newRequestID() string {
	var b [16]byte
	_, _ = rand.Read(b[:])
	return hex.EncodeToString(b[:])
}

// Logger writes one structured line per request. It logs the path without the query string
// and never a header, so tokens and passwords cannot reach the log.
func Logger(log *slog.Logger) gin.HandlerFunc {
	return func(c *gin.Context) {
		start := time.Now()
		// Deferred, so a request aborted with http.ErrAbortHandler (a client that went away,
		// logged as 499) is logged too.
		defer func() {
			status := c.Writer.Status()
			level := slog.LevelInfo
			switch {
			case status >= 500:
				level = slog.LevelError
			case status >= 400:
				level = slog.LevelWarn
			}
			// At LOG_LEVEL=warn or above, a request that went well costs no attributes.
			if !log.Enabled(c.Request.Context(), level) {
				return
			}
			log.LogAttrs(c.Request.Context(), level, "request",
				slog.String("request_id", RequestID(c)),
				slog.String("method", methodLabel(c.Request.Method)), // bounded: a made-up method is OTHER
				slog.String("path", c.Request.URL.Path),
				slog.String("route", c.FullPath()),
				slog.Int("status", status),
				slog.Int("bytes", max(c.Writer.Size(), 0)), // -1 when nothing was written
				slog.Duration("latency", time.Since(start)),
				slog.String("client_ip", c.ClientIP()),
			)
		}()
		c.Next()
	}
}

// Recovery turns a panic in a handler into a logged stack trace and a JSON 500.
func Recovery(log *slog.Logger) gin.HandlerFunc {
	return func(c *gin.Context) {
		defer func() {
			rec := recover()
			if rec == nil {
				return
			}
			if err, ok := rec.(error); ok && errors.Is(err, http.ErrAbortHandler) {
				panic(rec) // the client went away on purpose; let net/http handle it
			}
			log.ErrorContext(c.Request.Context(), "panic",
				"request_id", RequestID(c), "method", c.Request.Method, "path", c.Request.URL.Path,
				"panic", fmt.Sprint(rec), "stack", string(debug.Stack()))
			if c.Writer.Written() {
				c.Abort()
				return
			}
			c.AbortWithStatusJSON(http.StatusInternalServerError,
				errorBody{Message: "Internal server error", Code: "internal"})
		}()
		c.Next()
	}
}

// CORS answers preflights with 204 and adds the CORS headers for the allowed origins
// ("*" allows any). Credentials are not used: the API authenticates with a bearer header.
// A request from an origin not in the list is served as usual, only without
// Access-Control-Allow-Origin: the browser enforces CORS, the server does not refuse (which is
// why this is not github.com/gin-contrib/cors, see the README). A preflight is an OPTIONS
// request with Access-Control-Request-Method; any other OPTIONS request goes on to the routes.
func CORS(origins []string) gin.HandlerFunc {
	allowAll := false
	allowed := make(map[string]bool, len(origins))
	for _, o := range origins {
		if o == "*" {
			allowAll = true
		}
		allowed[strings.TrimRight(o, "/")] = true
	}
	const methods = "GET, POST, PUT, PATCH, DELETE, OPTIONS"
	const headers = "Authorization, Content-Type, X-Request-ID"
	const expose = "X-Request-ID, Retry-After, WWW-Authenticate"
	return func(c *gin.Context) {
		// A cache (the browser's, or a proxy's for the year-long /uploads files) must not hand
		// a response made for one Origin, or for none, to a request with another (Fetch
		// standard, "CORS protocol and HTTP caches"). With "*" every response gets the same
		// headers, so nothing varies; with a list, every response says Vary: Origin.
		origin := c.GetHeader("Origin")
		if allowAll {
			c.Header("Access-Control-Allow-Origin", "*")
			c.Header("Access-Control-Expose-Headers", expose)
		} else {
			c.Writer.Header().Add("Vary", "Origin")
			if origin != "" {
				if allowed[origin] {
					c.Header("Access-Control-Allow-Origin", origin)
				}
				c.Header("Access-Control-Expose-Headers", expose)
			}
		}
		if c.Request.Method == http.MethodOptions && c.GetHeader("Access-Control-Request-Method") != "" {
			c.Header("Access-Control-Allow-Methods", methods)
			c.Header("Access-Control-Allow-Headers", headers)
			c.Header("Access-Control-Max-Age", "600")
			c.AbortWithStatus(http.StatusNoContent)
			return
		}
		c.Next()
	}
}

// BodyLimit caps request bodies at limit bytes: a larger declared Content-Length is refused at
// once with 413, and reading past the cap fails with *http.MaxBytesError (also a 413).
func BodyLimit(limit int64) gin.HandlerFunc {
	return BodyLimits(BodyRule{MaxBytes: limit}, nil)
}

// BodyRule is what a route allows a request body: at most MaxBytes, sent within ReadTimeout
// from the end of the headers (0: no deadline but the server's own ReadTimeout).
type BodyRule struct {
	MaxBytes    int64
	ReadTimeout time.Duration
	// AnyContentType applies the rule whatever the body's type, not only to a multipart
	// one: the raw bytes of a signed direct upload (PUT /uploads/<key>).
	AnyContentType bool
}

// BodyLimits is BodyLimit with a read deadline, and with larger caps and longer deadlines for
// multipart uploads: uploads maps "METHOD /route/path" (the route pattern, as c.FullPath()
// gives it) to the rule of a multipart body sent to that route. Every other request, JSON
// ones to the same route included, keeps jsonRule. One middleware decides, because a cap set
// early in the chain cannot be raised by a later one.
//
// The deadline is what keeps a client that sends its body a byte at a time from holding a
// connection for the server's whole ReadTimeout, which has to be long enough for the largest
// upload. Past it, reading the body fails with errs.KindRequestTimeout (a JSON 408).
func BodyLimits(jsonRule BodyRule, uploads map[string]BodyRule) gin.HandlerFunc {
	return func(c *gin.Context) {
		rule := jsonRule
		if u, ok := uploads[c.Request.Method+" "+c.FullPath()]; ok && (u.AnyContentType || isMultipart(c.GetHeader("Content-Type"))) {
			rule = u
		}
		if c.Request.ContentLength > rule.MaxBytes {
			_ = c.Error(errs.TooLarge("Request body is larger than " + strconv.FormatInt(rule.MaxBytes, 10) + " bytes"))
			c.Abort()
			return
		}
		if c.Request.Body != nil && c.Request.Body != http.NoBody {
			body := http.MaxBytesReader(c.Writer, c.Request.Body, rule.MaxBytes)
			if rule.ReadTimeout > 0 {
				// A writer that cannot set deadlines (a test's recorder) reads without one.
				deadline := time.Now().Add(rule.ReadTimeout)
				if http.NewResponseController(c.Writer).SetReadDeadline(deadline) == nil {
					body = &deadlineBody{ReadCloser: body, timeout: rule.ReadTimeout}
				}
			}
			c.Request.Body = body
		}
		c.Next()
	}
}

// deadlineBody is a request body read under a connection read deadline; past it, reads fail
// with the kind errs.KindRequestTimeout. net/http itself lifts the deadline once the body has
// been read to its end (it then watches the connection for a client that goes away), so the
// deadline bounds the sending of the body, never the handler's work after it.
type deadlineBody struct {
	io.ReadCloser
	timeout time.Duration
}

func (b *deadlineBody) Read(p []byte) (int, error) {
	n, err := b.ReadCloser.Read(p)
	if errors.Is(err, os.ErrDeadlineExceeded) {
		err = errs.RequestTimeout("The request body did not arrive within "+b.timeout.String(), err)
	}
	return n, err
}

func isMultipart(contentType string) bool {
	return strings.HasPrefix(strings.ToLower(strings.TrimSpace(contentType)), "multipart/form-data")
}
