package middleware

import (
	"bytes"
	"encoding/json"
	"errors"
	"io"
	"net/url"
	"strings"
	"unicode"
	"unicode/utf8"

	"github.com/gin-gonic/gin"

	"tiktok/errs"
)

// API.md, Conventions: text is UTF-8, and a NUL byte, invalid UTF-8 or a control character
// (other than newline and tab in multi-line fields) in any JSON field, multipart field or
// query parameter is 400 validation_failed naming the field. Each way in has one check:
// BindJSON for JSON bodies, the multipart reader of the controllers for form fields (both
// through TextProblem) and CheckQuery for query parameters. Without them PostgreSQL would
// refuse a NUL or an invalid byte with an error that names no field, and a newline in a
// username or an e-mail would be stored.

// multiLineFields are the fields people write on several lines. Names are lower case because
// JSON field names match case-insensitively.
var multiLineFields = map[string]bool{"bio": true, "caption": true, "content": true}

// TextProblem says what is wrong with s as the value of field, "" when nothing is.
func TextProblem(field, s string) string {
	return textProblem(s, multiLineFields[strings.ToLower(field)])
}

const reasonNotUTF8 = "must be valid UTF-8 text"

func textProblem(s string, multiLine bool) string {
	if !utf8.ValidString(s) {
		return reasonNotUTF8
	}
	for _, r := range s {
		switch {
		// A carriage return goes with the newline: browsers send a textarea's line breaks
		// as CRLF in form data.
		case r == '\n' || r == '\t' || r == '\r':
			if !multiLine {
				return "must be a single line (no line breaks or tabs)"
			}
		case unicode.IsControl(r): // C0 (NUL included), DEL and C1
			return "must not contain control characters"
		}
	}
	return ""
}

// jsonTextProblems checks every string of body, a valid JSON object, with TextProblem, under
// the name of its field ("key" at the top, "key.inner" below, an array's items under the
// array's name), in the order of the body. Unknown fields are checked too: encoding/json
// matches names case-insensitively, so "BIO" is bio. Strings are checked in their raw bytes
// for UTF-8, because decoding quietly replaces invalid bytes with U+FFFD.
//
// It is one pass of the decoder's tokens, whatever the nesting, so a deeply nested body costs
// no more than a flat one.
func jsonTextProblems(body []byte) (errs.Problems, error) {
	type frame struct {
		object  bool
		name    string // the field the object or array is the value of
		key     string // an object's current key
		wantKey bool
	}
	var (
		problems errs.Problems
		stack    []frame
		start    int64
	)
	dec := json.NewDecoder(bytes.NewReader(body))
	for {
		tok, err := dec.Token()
		if errors.Is(err, io.EOF) {
			return problems, nil
		}
		if err != nil {
			return nil, err
		}
		// The bytes since the last token: separators, blanks (all ASCII) and this token.
		raw := body[start:dec.InputOffset()]
		start = dec.InputOffset()

		var top *frame
		if len(stack) > 0 {
			top = &stack[len(stack)-1]
		}
		if d, ok := tok.(json.Delim); ok && (d == '}' || d == ']') {
			stack = stack[:len(stack)-1]
			continue
		}
		if top != nil && top.object && top.wantKey {
			top.key, _ = tok.(string)
			top.wantKey = false
			continue
		}
		field := ""
		if top != nil {
			field = top.name
			if top.object {
				field = joinField(top.name, top.key)
				top.wantKey = true // after this value, the next key
			}
		}
		switch v := tok.(type) {
		case json.Delim: // '{' or '['
			stack = append(stack, frame{object: v == '{', name: field, wantKey: v == '{'})
		case string:
			reason := TextProblem(field, v)
			if !utf8.Valid(raw) {
				reason = reasonNotUTF8
			}
			if reason != "" {
				problems.Add(field, reason)
			}
		}
	}
}

func joinField(parent, key string) string {
	if parent == "" {
		return key
	}
	return parent + "." + key
}

// CheckQuery refuses a request with a query parameter that breaks the text rules, naming the
// parameter; handlers then read parameters with c.Query knowing they are clean text. Every
// query parameter is single-line. Parameters are checked in the order of the query string,
// so the message names the first bad one; pairs url.ParseQuery drops (a bad escape, a
// semicolon) are skipped, since no handler can read them.
func CheckQuery() gin.HandlerFunc {
	return func(c *gin.Context) {
		var problems errs.Problems
		for pair := range strings.SplitSeq(c.Request.URL.RawQuery, "&") {
			if pair == "" || strings.Contains(pair, ";") {
				continue
			}
			k, v, _ := strings.Cut(pair, "=")
			key, err1 := url.QueryUnescape(k)
			value, err2 := url.QueryUnescape(v)
			if err1 != nil || err2 != nil {
				continue
			}
			if reason := textProblem(value, false); reason != "" {
				problems.Add(key, reason)
			}
		}
		if err := problems.Err(); err != nil {
			_ = c.Error(err)
			c.Abort()
			return
		}
		c.Next()
	}
}
