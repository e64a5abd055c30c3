package middleware

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"strconv"
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

func writeHeaders(h http.Header, e *errs.Error) {
	if e.Kind == errs.KindRateLimited && e.RetryAfter > 0 {
		secs := int(e.RetryAfter.Round(time.Second) / time.Second)
		h.Set("Retry-After", strconv.Itoa(max(secs, 1)))
	}
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
// wrong type. It returns nil for errors of any other origin.
func decodeError(err error) *errs.Error {
	var maxBytes *http.MaxBytesError
	var syntaxErr *json.SyntaxError
	var typeErr *json.UnmarshalTypeError
	switch {
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
