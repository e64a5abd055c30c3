package middleware

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/gin-gonic/gin"

	"tiktok/errs"
)

// kindStatus is the one map from error kind to HTTP status (API.md, Errors).
var kindStatus = map[errs.Kind]int{
	errs.KindInternal:         http.StatusInternalServerError,
	errs.KindInvalid:          http.StatusBadRequest,
	errs.KindUnauthorized:     http.StatusUnauthorized,
	errs.KindForbidden:        http.StatusForbidden,
	errs.KindNotFound:         http.StatusNotFound,
	errs.KindConflict:         http.StatusConflict,
	errs.KindTooLarge:         http.StatusRequestEntityTooLarge,
	errs.KindUnsupportedMedia: http.StatusUnsupportedMediaType,
	errs.KindRateLimited:      http.StatusTooManyRequests,
	errs.KindUnavailable:      http.StatusServiceUnavailable,

	errs.KindRangeNotSatisfiable: http.StatusRequestedRangeNotSatisfiable,
	errs.KindPreconditionFailed:  http.StatusPreconditionFailed,
	errs.KindClientClosed:        StatusClientClosedRequest,
	errs.KindRequestTimeout:      http.StatusRequestTimeout,
}

// StatusClientClosedRequest is nginx's 499: the client closed the connection before the
// answer. It is never sent (nobody is there to read it); logs and metrics count it, so a
// client giving up is told apart from a server failure.
const StatusClientClosedRequest = 499

// errorBody is the JSON shape of every error response.
type errorBody struct {
	Message string            `json:"message"`
	Code    string            `json:"code"`
	Errors  map[string]string `json:"errors,omitempty"`
}

// Handler adapts a controller that returns an error to a gin.HandlerFunc: a non-nil error is
// attached to the context for ErrorHandler to answer.
func Handler(fn func(*gin.Context) error) gin.HandlerFunc {
	return func(c *gin.Context) {
		if err := fn(c); err != nil {
			_ = c.Error(err)
		}
	}
}

// ErrorHandler is the one place where errors become responses: after the handlers ran, the last
// attached error is classified (Classify) and written as JSON with its status.
func ErrorHandler(log *slog.Logger) gin.HandlerFunc {
	return func(c *gin.Context) {
		c.Next()
		if len(c.Errors) == 0 {
			return
		}
		err := c.Errors.Last().Err
		if c.Writer.Written() && clientClosed(c, err) {
			log.InfoContext(c.Request.Context(), "client closed the request",
				"request_id", RequestID(c), "method", c.Request.Method, "path", c.Request.URL.Path, "error", err)
			return
		}
		if c.Writer.Written() {
			log.ErrorContext(c.Request.Context(), "error after the response was written",
				"request_id", RequestID(c), "error", err)
			return
		}
		WriteError(c, log, err)
	}
}

// WriteError classifies err and writes its JSON response; internal details go to the log only.
func WriteError(c *gin.Context, log *slog.Logger, err error) {
	e := Classify(err)
	if clientClosed(c, err) {
		e = errs.ClientClosed(err)
	}
	switch e.Kind {
	case errs.KindClientClosed:
		log.InfoContext(c.Request.Context(), "client closed the request",
			"request_id", RequestID(c), "method", c.Request.Method, "path", c.Request.URL.Path, "error", err)
		// The status is for Logger and Metrics only: ErrAbortHandler makes net/http drop the
		// connection without writing a byte, where Gin would otherwise send its headers.
		c.Status(kindStatus[e.Kind])
		c.Abort()
		panic(http.ErrAbortHandler)
	case errs.KindInternal:
		log.ErrorContext(c.Request.Context(), "internal error",
			"request_id", RequestID(c), "method", c.Request.Method, "path", c.Request.URL.Path, "error", err)
	case errs.KindUnavailable:
		log.WarnContext(c.Request.Context(), "database unavailable",
			"request_id", RequestID(c), "path", c.Request.URL.Path, "error", err)
	}
	writeHeaders(c.Writer.Header(), e)
	c.AbortWithStatusJSON(kindStatus[e.Kind], errorBody{Message: e.Message, Code: e.Code, Errors: e.Fields})
}

// WriteErrorTo writes e as the API's JSON error on a plain http.ResponseWriter, for handlers
// outside Gin's chain (the file server of /uploads/).
func WriteErrorTo(w http.ResponseWriter, e *errs.Error) {
	body, _ := json.Marshal(errorBody{Message: e.Message, Code: e.Code, Errors: e.Fields})
	writeHeaders(w.Header(), e)
	w.Header().Set("Content-Type", "application/json; charset=utf-8")
	w.WriteHeader(kindStatus[e.Kind])
	_, _ = w.Write(body)
}

// FileServerErrors wraps a plain http.Handler that writes its own error answers (the file server
// of /uploads: http.ServeContent answers a bad Range with a text/plain 416, a failed
// precondition with an empty 412, a read failure with a 500 whose text may name a path) so that
// they become the API's JSON errors. The headers the handler set for the error stay
// (Content-Range: bytes */<size> tells a player the real length); successful answers and
// errors already in JSON pass through untouched.
func FileServerErrors(log *slog.Logger, h http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		h.ServeHTTP(&fileErrorWriter{ResponseWriter: w, log: log, req: r}, r)
	})
}

// fileErrorWriter replaces an error status written without a JSON body by WriteErrorTo's
// answer, and drops the body the handler writes after it.
type fileErrorWriter struct {
	http.ResponseWriter
	log         *slog.Logger
	req         *http.Request
	wroteHeader bool
	replaced    bool
}

func (w *fileErrorWriter) WriteHeader(status int) {
	if w.wroteHeader {
		w.ResponseWriter.WriteHeader(status) // superfluous; net/http says so in its log
		return
	}
	w.wroteHeader = true
	if status < 400 || strings.HasPrefix(w.Header().Get("Content-Type"), "application/json") {
		w.ResponseWriter.WriteHeader(status)
		return
	}
	w.replaced = true
	e := fileServerError(status)
	if e.Kind == errs.KindInternal {
		w.log.ErrorContext(w.req.Context(), "internal error", "request_id", w.Header().Get(HeaderRequestID),
			"method", w.req.Method, "path", w.req.URL.Path, "error", e.Err)
	}
	// The file's caching headers were set before the handler knew it would fail; an error
	// must not be kept for a year as if it were the file.
	for _, k := range []string{"Cache-Control", "Etag", "Last-Modified", "Content-Length"} {
		w.Header().Del(k)
	}
	WriteErrorTo(w.ResponseWriter, e)
}

func (w *fileErrorWriter) Write(p []byte) (int, error) {
	if !w.wroteHeader {
		w.WriteHeader(http.StatusOK)
	}
	if w.replaced {
		return len(p), nil
	}
	return w.ResponseWriter.Write(p)
}

// Unwrap lets http.ResponseController reach the connection (flushes, deadlines).
func (w *fileErrorWriter) Unwrap() http.ResponseWriter { return w.ResponseWriter }

// fileServerError is the API error for a status a file server chose on its own.
func fileServerError(status int) *errs.Error {
	switch status {
	case http.StatusNotFound:
		return errs.NotFound("File not found")
	case http.StatusRequestedRangeNotSatisfiable:
		return errs.RangeNotSatisfiable("The requested range is not satisfiable for this file")
	case http.StatusPreconditionFailed:
		return errs.PreconditionFailed("The file does not meet the request's preconditions")
	}
	return errs.Internal(fmt.Errorf("the file server answered %d", status))
}

func writeHeaders(h http.Header, e *errs.Error) {
	if e.Kind == errs.KindRateLimited && e.RetryAfter > 0 {
		secs := int(e.RetryAfter.Round(time.Second) / time.Second)
		h.Set("Retry-After", strconv.Itoa(max(secs, 1)))
	}
	// A refused access token says how (RFC 6750), wherever it was refused: by the auth
	// middleware, or by a write's own statement (a revoked token behind RequireToken).
	if e.Kind == errs.KindUnauthorized {
		switch e.Code {
		case errs.CodeTokenMissing:
			h.Set("WWW-Authenticate", `Bearer realm="api"`)
		case errs.CodeTokenInvalid, errs.CodeTokenExpired, errs.CodeTokenRevoked:
			h.Set("WWW-Authenticate", `Bearer realm="api", error="invalid_token"`)
		}
	}
}

// clientClosed reports whether err is the failure of a request whose client went away: net/http
// cancels the request's context when the connection closes, so whatever the handler waited on
// (a query, a lock, a read) fails with context.Canceled. Both must hold: a context.Canceled
// from a context the server cancelled itself, while the client still waits, is a bug to report.
func clientClosed(c *gin.Context, err error) bool {
	return errors.Is(err, context.Canceled) && errors.Is(c.Request.Context().Err(), context.Canceled)
}

// Classify turns any error into an *errs.Error: kinds pass through (the store has already
// translated database errors into kinds); a body over its cap and malformed JSON get theirs
// (decodeError); everything else is internal.
func Classify(err error) *errs.Error {
	var e *errs.Error
	if errors.As(err, &e) {
		return e
	}
	if e := decodeError(err); e != nil {
		return e
	}
	return errs.Internal(err)
}

// decodeError maps the failures of reading a JSON body: 413 over the cap, 400 invalid_json for
// malformed JSON or a body that is not an object, 400 validation_failed for a field of the
// wrong type; a failure the body already gave a kind (its read deadline passed: 408, see
// BodyLimits) keeps it. It returns nil for errors of any other origin.
func decodeError(err error) *errs.Error {
	var kind *errs.Error
	var maxBytes *http.MaxBytesError
	var syntaxErr *json.SyntaxError
	var typeErr *json.UnmarshalTypeError
	switch {
	case errors.As(err, &kind):
		return kind
	case errors.As(err, &maxBytes):
		return errs.TooLarge(fmt.Sprintf("Request body is larger than %d bytes", maxBytes.Limit))
	case errors.As(err, &typeErr):
		if typeErr.Field == "" {
			return errs.Invalid(errs.CodeInvalidJSON, "Request body must be a JSON object")
		}
		return errs.InvalidField(typeErr.Field, "has the wrong type")
	case errors.Is(err, io.EOF):
		return errs.Invalid(errs.CodeInvalidJSON, "Request body must be a JSON object")
	case errors.As(err, &syntaxErr), errors.Is(err, io.ErrUnexpectedEOF):
		return errs.Invalid(errs.CodeInvalidJSON, "Request body is not valid JSON")
	}
	return nil
}
