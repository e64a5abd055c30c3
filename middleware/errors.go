package middleware

import (
	"context"
	"database/sql/driver"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"strconv"
	"time"

	"github.com/gin-gonic/gin"
	"github.com/jackc/pgx/v5/pgconn"
	"gorm.io/gorm"
)

// Kind is the class of an API error; each kind has exactly one HTTP status.
type Kind int

// The error kinds of API.md's error table.
const (
	KindInternal Kind = iota
	KindInvalid
	KindUnauthorized
	KindForbidden
	KindNotFound
	KindConflict
	KindTooLarge
	KindUnsupportedMedia
	KindRateLimited
	KindUnavailable
)

var kindStatus = map[Kind]int{
	KindInternal:         http.StatusInternalServerError,
	KindInvalid:          http.StatusBadRequest,
	KindUnauthorized:     http.StatusUnauthorized,
	KindForbidden:        http.StatusForbidden,
	KindNotFound:         http.StatusNotFound,
	KindConflict:         http.StatusConflict,
	KindTooLarge:         http.StatusRequestEntityTooLarge,
	KindUnsupportedMedia: http.StatusUnsupportedMediaType,
	KindRateLimited:      http.StatusTooManyRequests,
	KindUnavailable:      http.StatusServiceUnavailable,
}

// Error is what a controller returns when a request cannot be served. Message is shown to the
// user (the frontend displays it); Err, if any, is logged and never sent.
type Error struct {
	Kind       Kind
	Code       string
	Message    string
	Fields     map[string]string
	RetryAfter time.Duration
	Err        error
}

func (e *Error) Error() string {
	if e.Err != nil {
		return fmt.Sprintf("%s: %s: %v", e.Code, e.Message, e.Err)
	}
	return e.Code + ": " + e.Message
}

func (e *Error) Unwrap() error { return e.Err }

// Status is the HTTP status of the error's kind.
func (e *Error) Status() int { return kindStatus[e.Kind] }

// Constructors for the kinds controllers use. Each takes the human message.

// Invalid is a 400 with the given code (invalid_json, invalid_id, validation_failed, ...).
func Invalid(code, message string) *Error {
	return &Error{Kind: KindInvalid, Code: code, Message: message}
}

// ValidationFailed is a 400 listing the reason for each bad field.
func ValidationFailed(fields map[string]string) *Error {
	return &Error{Kind: KindInvalid, Code: "validation_failed", Message: "Validation failed", Fields: fields}
}

// Unauthorized is a 401 (token_missing, token_invalid, token_expired, invalid_credentials, ...).
func Unauthorized(code, message string) *Error {
	return &Error{Kind: KindUnauthorized, Code: code, Message: message}
}

// Forbidden is a 403: authenticated, but not allowed to touch this resource.
func Forbidden(message string) *Error {
	return &Error{Kind: KindForbidden, Code: "forbidden", Message: message}
}

// NotFound is a 404.
func NotFound(message string) *Error {
	return &Error{Kind: KindNotFound, Code: "not_found", Message: message}
}

// Conflict is a 409, for a taken username or e-mail.
func Conflict(message string) *Error {
	return &Error{Kind: KindConflict, Code: "conflict", Message: message}
}

// TooLarge is a 413.
func TooLarge(message string) *Error {
	return &Error{Kind: KindTooLarge, Code: "payload_too_large", Message: message}
}

// UnsupportedMedia is a 415.
func UnsupportedMedia(message string) *Error {
	return &Error{Kind: KindUnsupportedMedia, Code: "unsupported_media_type", Message: message}
}

// RateLimited is a 429 that tells the client when to try again.
func RateLimited(retryAfter time.Duration) *Error {
	return &Error{Kind: KindRateLimited, Code: "rate_limited", Message: "Too many requests, please try again later", RetryAfter: retryAfter}
}

// Internal wraps an unexpected error; the client sees a generic message.
func Internal(err error) *Error {
	return &Error{Kind: KindInternal, Code: "internal", Message: "Internal server error", Err: err}
}

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
	switch e.Kind {
	case KindInternal:
		log.ErrorContext(c.Request.Context(), "internal error",
			"request_id", RequestID(c), "method", c.Request.Method, "path", c.Request.URL.Path, "error", err)
	case KindUnavailable:
		log.WarnContext(c.Request.Context(), "database unavailable",
			"request_id", RequestID(c), "path", c.Request.URL.Path, "error", err)
	}
	if e.Kind == KindRateLimited && e.RetryAfter > 0 {
		secs := int(e.RetryAfter.Round(time.Second) / time.Second)
		if secs < 1 {
			secs = 1
		}
		c.Header("Retry-After", strconv.Itoa(secs))
	}
	c.AbortWithStatusJSON(e.Status(), errorBody{Message: e.Message, Code: e.Code, Errors: e.Fields})
}

// Classify turns any error into an *Error: our own kinds pass through; well-known library
// errors (a record not found, a unique violation, an unreachable database, a body over its cap,
// malformed JSON) get their kind; everything else is internal.
func Classify(err error) *Error {
	var e *Error
	if errors.As(err, &e) {
		return e
	}
	var maxBytes *http.MaxBytesError
	var syntaxErr *json.SyntaxError
	var typeErr *json.UnmarshalTypeError
	var pgErr *pgconn.PgError
	switch {
	case errors.As(err, &maxBytes):
		return TooLarge(fmt.Sprintf("Request body is larger than %d bytes", maxBytes.Limit))
	case errors.As(err, &syntaxErr):
		return Invalid("invalid_json", "Request body is not valid JSON")
	case errors.As(err, &typeErr):
		return &Error{Kind: KindInvalid, Code: "validation_failed", Message: "Validation failed",
			Fields: map[string]string{typeErr.Field: "has the wrong type"}}
	case errors.Is(err, gorm.ErrRecordNotFound):
		return NotFound("Not found")
	case IsUnavailable(err):
		return &Error{Kind: KindUnavailable, Code: "unavailable", Message: "The service is temporarily unavailable, please retry", Err: err}
	case errors.As(err, &pgErr) && pgErr.Code == "23505":
		return &Error{Kind: KindConflict, Code: "conflict", Message: "Already exists", Err: err}
	}
	return Internal(err)
}

// IsUnavailable reports whether err means the database could not be reached or is going away,
// as opposed to a bug in a query: such requests answer 503 and the pool reconnects by itself.
func IsUnavailable(err error) bool {
	if err == nil {
		return false
	}
	var pgErr *pgconn.PgError
	if errors.As(err, &pgErr) {
		switch pgErr.Code[:2] {
		case "08", "53", "57": // connection exception, insufficient resources, operator intervention
			return pgErr.Code != "57014" // 57014 is a cancelled query, not an outage
		}
		return false
	}
	var connErr *pgconn.ConnectError
	var netErr net.Error
	switch {
	case errors.As(err, &connErr), errors.Is(err, driver.ErrBadConn), pgconn.SafeToRetry(err):
		return true
	case errors.As(err, &netErr):
		return true
	case errors.Is(err, io.EOF), errors.Is(err, io.ErrUnexpectedEOF), errors.Is(err, context.DeadlineExceeded):
		return true
	}
	return false
}
