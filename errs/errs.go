// Package errs holds the error kinds of the API: what went wrong, in terms a client can act
// on (not found, conflict, forbidden, invalid with field details, unauthorized, unavailable,
// too large...), with the human message the frontend shows. The store, the services and the
// controllers return these; middleware.WriteError is the one place that turns a kind into an
// HTTP status and a JSON body. The package imports neither Gin nor the database driver, so
// every layer can use it.
package errs

import (
	"errors"
	"fmt"
	"strings"
	"time"
	"unicode"
)

// Kind is the class of an error; each kind has exactly one HTTP status (middleware).
type Kind int

// The kinds of API.md's error table.
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
	// The file server's own refusals (/uploads): a Range outside the file, a failed
	// If-Match or If-Unmodified-Since.
	KindRangeNotSatisfiable
	KindPreconditionFailed
	// The client went away before the answer (its request context was cancelled): nothing is
	// sent, the request is logged and counted as nginx's 499.
	KindClientClosed
	// The request body did not arrive within its route's deadline (a slow or stalled client).
	KindRequestTimeout
)

// Machine codes of API.md that more than one place returns.
const (
	CodeInvalidJSON      = "invalid_json"
	CodeInvalidID        = "invalid_id"
	CodeValidationFailed = "validation_failed"
	CodeInvalidMultipart = "invalid_multipart"

	// The 401 codes, so a client can tell "log in" from "refresh".
	CodeTokenMissing       = "token_missing"       // no Authorization header, or a scheme without a token
	CodeTokenInvalid       = "token_invalid"       // malformed, bad signature, wrong algorithm, iss or aud
	CodeTokenExpired       = "token_expired"       // past exp: refresh it
	CodeTokenRevoked       = "token_revoked"       // user deleted, password changed or logged out everywhere
	CodeInvalidCredentials = "invalid_credentials" // login: unknown account or wrong password
)

// Error is an error with a kind. Message is shown to the user (the frontend displays it);
// Fields name the failing fields of a validation failure; Err, if any, is logged and never
// sent.
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

// Is reports whether err is an *Error of kind k.
func Is(err error, k Kind) bool {
	var e *Error
	return errors.As(err, &e) && e.Kind == k
}

// Invalid is a 400 with the given code (invalid_json, invalid_id, ...).
func Invalid(code, message string) *Error {
	return &Error{Kind: KindInvalid, Code: code, Message: message}
}

// FieldProblem is what is wrong with one field of a request: the field by its API name
// (camelCase, as the client sends it) and the reason, worded to follow the field's label
// ("must be at least 8 characters").
type FieldProblem struct {
	Field  string
	Reason string
}

// Problems collects the failing fields of a request in the order they were checked. The order
// matters: the frontend shows only the message, which names the first.
type Problems []FieldProblem

// Add records that field failed for reason. A field keeps its first reason: checks run from
// the most basic (is it there at all) to the finer ones.
func (p *Problems) Add(field, reason string) {
	if !p.Has(field) {
		*p = append(*p, FieldProblem{Field: field, Reason: reason})
	}
}

// Has reports whether field has failed a check.
func (p Problems) Has(field string) bool {
	for _, f := range p {
		if f.Field == field {
			return true
		}
	}
	return false
}

// Err is the validation failure of the recorded problems, nil when there are none.
func (p Problems) Err() error {
	if len(p) == 0 {
		return nil
	}
	return ValidationFailed(p...)
}

// ValidationFailed is a 400 listing the reason for each bad field. Its message says in words
// what is wrong with the first ("Password must be at least 8 characters"), since that is all
// the frontend shows; Fields still lists every one.
func ValidationFailed(problems ...FieldProblem) *Error {
	fields := make(map[string]string, len(problems))
	for _, p := range problems {
		if _, seen := fields[p.Field]; !seen {
			fields[p.Field] = p.Reason
		}
	}
	message := "Validation failed"
	if len(problems) > 0 {
		message = Label(problems[0].Field) + " " + problems[0].Reason
	}
	return &Error{Kind: KindInvalid, Code: CodeValidationFailed, Message: message, Fields: fields}
}

// InvalidField is ValidationFailed for one field.
func InvalidField(field, reason string) *Error {
	return ValidationFailed(FieldProblem{Field: field, Reason: reason})
}

// acronyms are the words a label writes in capitals.
var acronyms = map[string]string{"id": "ID", "url": "URL"}

// Label turns an API field name into words for a message: "currentPassword" -> "Current
// password", "videoUrl" -> "Video URL", "user.name" -> "User name".
func Label(field string) string {
	var words []string
	var word []rune
	flush := func() {
		if len(word) > 0 {
			words = append(words, strings.ToLower(string(word)))
			word = word[:0]
		}
	}
	prev := rune(0)
	for _, r := range field {
		switch {
		case !unicode.IsLetter(r) && !unicode.IsDigit(r):
			flush()
		case unicode.IsUpper(r) && (unicode.IsLower(prev) || unicode.IsDigit(prev)):
			flush()
			word = append(word, r)
		default:
			word = append(word, r)
		}
		prev = r
	}
	flush()
	if len(words) == 0 {
		return "A field"
	}
	for i, w := range words {
		if a, ok := acronyms[w]; ok {
			words[i] = a
		}
	}
	first := []rune(words[0])
	first[0] = unicode.ToUpper(first[0])
	words[0] = string(first)
	return strings.Join(words, " ")
}

// Unauthorized is a 401 with one of the token codes or invalid_credentials.
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

// Conflict is a 409 (a taken username or e-mail); fields may say which field is taken.
func Conflict(message string, fields map[string]string) *Error {
	return &Error{Kind: KindConflict, Code: "conflict", Message: message, Fields: fields}
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

// Unavailable is a 503: a service the request needs (the database) cannot be reached; err is
// logged.
func Unavailable(message string, err error) *Error {
	return &Error{Kind: KindUnavailable, Code: "unavailable", Message: message, Err: err}
}

// RangeNotSatisfiable is a 416: the Range of a file request lies outside the file.
func RangeNotSatisfiable(message string) *Error {
	return &Error{Kind: KindRangeNotSatisfiable, Code: "range_not_satisfiable", Message: message}
}

// PreconditionFailed is a 412: a conditional file request (If-Match, If-Unmodified-Since)
// does not hold.
func PreconditionFailed(message string) *Error {
	return &Error{Kind: KindPreconditionFailed, Code: "precondition_failed", Message: message}
}

// ClientClosed marks err, the failure of a request whose client went away (a query or a read
// cancelled with its context), as no fault of the server; err is logged.
func ClientClosed(err error) *Error {
	return &Error{Kind: KindClientClosed, Code: "client_closed_request", Message: "Client closed the request", Err: err}
}

// RequestTimeout is a 408: the client did not send its request body within the time its route
// allows; err (the read's deadline error) is kept for the log.
func RequestTimeout(message string, err error) *Error {
	return &Error{Kind: KindRequestTimeout, Code: "request_timeout", Message: message, Err: err}
}

// Internal wraps an unexpected error; the client sees a generic message, err is logged.
func Internal(err error) *Error {
	return &Error{Kind: KindInternal, Code: "internal", Message: "Internal server error", Err: err}
}
