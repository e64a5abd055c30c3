package middleware

import (
	"bytes"
	"encoding/json"
	"errors"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/gin-gonic/gin"

	"tiktok/errs"
)

// fuzzBody has the kinds of fields the controllers' inputs have: plain and optional text,
// single- and multi-line, a number, a list, an object and a field of any type.
type fuzzBody struct {
	Username string   `json:"username"`
	Bio      *string  `json:"bio"`
	Caption  string   `json:"caption"`
	Count    int      `json:"count"`
	Tags     []string `json:"tags"`
	Nested   struct {
		Name string `json:"name"`
	} `json:"nested"`
	VideoID any `json:"videoId"`
}

// FuzzBindJSON feeds any body to BindJSON through a Gin context. Invariants: it never panics;
// a failure is an error kind whose status is 4xx, with a message, and a validation failure
// names its fields and says what is wrong with the first; a success came from one JSON object
// and every text that reached the struct passes the text rules.
func FuzzBindJSON(f *testing.F) {
	for _, seed := range []string{
		`{}`, `{"username":"alice","bio":"one\ntwo","count":3,"tags":["a","b"],"nested":{"name":"n"},"videoId":"7"}`,
		`null`, `[]`, `"x"`, `1`, `{"a":1} x`, `{}{}`, ``, ` `, `{`, `{"username":`,
		`{"username":"a\u0000b"}`, "{\"username\":\"a\xffb\"}", `{"bio":"a\u0001b"}`, `{"username":"a\nb"}`,
		`{"BIO":"a\tb"}`, `{"tags":["ok","a\u0000"]}`, `{"nested":{"name":"a\u007f"}}`, `{"count":"x"}`,
		`{"count":1e999}`, `{"username":"\ud800"}`, `{"bio":null}`, `{"username":5,"bio":"\u0000"}`,
		`{"a":{"b":{"c":[[["\u0001"]]]}}}`, `{"username":"x","username":"\u0000"}`,
	} {
		f.Add([]byte(seed))
	}
	gin.SetMode(gin.TestMode)
	f.Fuzz(func(t *testing.T, body []byte) {
		c, _ := gin.CreateTestContext(httptest.NewRecorder())
		c.Request = httptest.NewRequest("POST", "/", bytes.NewReader(body))
		var dst fuzzBody
		err := BindJSON(c, &dst)
		if err != nil {
			var e *errs.Error
			if !errors.As(err, &e) {
				t.Fatalf("%q: not an error kind: %v", body, err)
			}
			if status := kindStatus[e.Kind]; status < 400 || status > 499 || e.Message == "" || e.Code == "" {
				t.Fatalf("%q: status %d, error %+v", body, status, e)
			}
			if e.Code == errs.CodeValidationFailed {
				if len(e.Fields) == 0 {
					t.Fatalf("%q: a validation failure naming no field: %+v", body, e)
				}
				named := false
				for field, reason := range e.Fields {
					named = named || e.Message == errs.Label(field)+" "+reason
				}
				if !named {
					t.Fatalf("%q: message %q says nothing of the fields %v", body, e.Message, e.Fields)
				}
			}
			return
		}
		if trimmed := bytes.TrimSpace(body); !json.Valid(body) || len(trimmed) == 0 || trimmed[0] != '{' {
			t.Fatalf("%q accepted, yet not one JSON object", body)
		}
		check := func(field, s string) {
			if reason := TextProblem(field, s); reason != "" {
				t.Fatalf("%q: %s = %q reached the handler, yet it %s", body, field, s, reason)
			}
		}
		check("username", dst.Username)
		check("caption", dst.Caption)
		if dst.Bio != nil {
			check("bio", *dst.Bio)
		}
		for _, tag := range dst.Tags {
			check("tags", tag)
		}
		check("nested.name", dst.Nested.Name)
		if s, ok := dst.VideoID.(string); ok {
			check("videoId", s)
		}
	})
}

// The text rules, for one value each way.
func TestTextProblem(t *testing.T) {
	cases := []struct {
		field, value string
		ok           bool
	}{
		{"username", "alice", true},
		{"name", "Zoë 😀", true},
		{"bio", "one\ntwo\tthree\r\n", true},
		{"Caption", "a\nb", true},
		{"username", "a\nb", false},
		{"name", "a\tb", false},
		{"bio", "a\x00b", false},
		{"bio", "a\x01b", false},
		{"bio", "a\x7fb", false},
		{"bio", "a\u0085b", false},
		{"name", "a\xffb", false},
		{"name", string([]byte{0xed, 0xa0, 0x80}), false}, // a UTF-16 surrogate, as UTF-8
	}
	for _, tc := range cases {
		if got := TextProblem(tc.field, tc.value); (got == "") != tc.ok {
			t.Errorf("TextProblem(%q, %q) = %q, want ok %v", tc.field, tc.value, got, tc.ok)
		}
	}
}

// CheckQuery names the first bad parameter in the order of the query string.
func TestCheckQueryNamesTheFirstBadParameter(t *testing.T) {
	r := gin.New()
	r.Use(ErrorHandler(slog.New(slog.DiscardHandler)), CheckQuery())
	r.GET("/", func(c *gin.Context) { c.Status(http.StatusNoContent) })
	for query, want := range map[string]string{
		"a=1&b=2":                 "",
		"search=caf%C3%A9":        "",
		"z=%00&a=%01":             "Z must not contain control characters",
		"a=ok&cursor=x%0Ay&b=%ff": "Cursor must be a single line (no line breaks or tabs)",
		"q=%ff":                   "Q must be valid UTF-8 text",
		"bad=%zz&x=%00":           "X must not contain control characters", // a pair no handler can read is skipped
	} {
		w := httptest.NewRecorder()
		r.ServeHTTP(w, httptest.NewRequest("GET", "/?"+query, nil))
		var e errorBody
		_ = json.Unmarshal(w.Body.Bytes(), &e)
		if want == "" && w.Code != http.StatusNoContent || want != "" && (w.Code != 400 || e.Message != want) {
			t.Errorf("?%s: %d %s, want %q", query, w.Code, strings.TrimSpace(w.Body.String()), want)
		}
	}
}
