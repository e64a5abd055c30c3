package middleware

import (
	"bytes"
	"encoding/json"
	"io"
	"net/http"

	"github.com/gin-gonic/gin"

	"tiktok/errs"
)

// BindJSON reads the request body, which must be exactly one JSON object, and decodes it into
// dst, turning every failure into an error kind (decodeError: 413 over the cap, 400
// invalid_json; 400 validation_failed for a field of the wrong type, or for text that breaks
// the rules of text.go). Unknown fields are ignored, as API.md says.
func BindJSON(c *gin.Context, dst any) error {
	if c.Request.Body == nil || c.Request.Body == http.NoBody {
		return errNotAnObject()
	}
	// The body is read whole (BodyLimits caps it) so it can be checked as a whole: a decoder
	// reading a stream would stop after the first value and miss trailing data.
	body, err := io.ReadAll(c.Request.Body)
	if err != nil {
		if e := decodeError(err); e != nil {
			return e
		}
		return errs.Invalid(errs.CodeInvalidJSON, "Request body could not be read")
	}
	return decodeJSON(body, dst)
}

// Fresh errors each time, so no caller can change one that others return too.
func errNotAnObject() error {
	return errs.Invalid(errs.CodeInvalidJSON, "Request body must be a JSON object")
}

func errNotJSON() error { return errs.Invalid(errs.CodeInvalidJSON, "Request body is not valid JSON") }

// decodeJSON decodes body, which must hold one JSON object and nothing after it, into dst,
// once every string in it has passed the text rules (jsonTextProblems). Decoding alone would
// take `null` as "no fields" (an edit that changes nothing, answering 200), a number or an
// array as a type error, and `{} x` as `{}`.
func decodeJSON(body []byte, dst any) error {
	if !json.Valid(body) { // also refuses trailing data: `{}{}` is not one JSON value
		return errNotJSON()
	}
	if trimmed := bytes.TrimLeft(body, " \t\r\n"); len(trimmed) == 0 || trimmed[0] != '{' {
		return errNotAnObject()
	}
	problems, err := jsonTextProblems(body)
	if err != nil {
		return errNotJSON()
	}
	if err := problems.Err(); err != nil {
		return err
	}
	if err := json.Unmarshal(body, dst); err != nil {
		if e := decodeError(err); e != nil {
			return e
		}
		return errNotJSON()
	}
	return nil
}
