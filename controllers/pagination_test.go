package controllers

import (
	"encoding/json"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/gin-gonic/gin"
)

func TestCursorRoundTrip(t *testing.T) {
	k := Key{CreatedAt: time.Date(2025, 3, 25, 17, 11, 38, 123e6, time.UTC), ID: 42}
	got, ok := DecodeCursor(EncodeCursor(k))
	if !ok || !got.CreatedAt.Equal(k.CreatedAt) || got.ID != 42 {
		t.Fatalf("round trip: %+v %v", got, ok)
	}
	for _, bad := range []string{"", "!!", "djE6eDox", "djE6MTow", "eDox"} {
		if _, ok := DecodeCursor(bad); ok {
			t.Fatalf("%q decoded", bad)
		}
	}
}

func TestParsePageRequest(t *testing.T) {
	cases := []struct {
		query   string
		limit   int
		afterID int32
		after   bool
		bad     bool
	}{
		{"", DefaultLimit, 0, false, false},
		{"?limit=5", 5, 0, false, false},
		{"?limit=51", MaxLimit, 0, false, false},
		{"?limit=99999999999999999999", MaxLimit, 0, false, false},
		{"?limit=0", 0, 0, false, true},
		{"?limit=-3", 0, 0, false, true},
		{"?limit=1.5", 0, 0, false, true},
		{"?limit=ten", 0, 0, false, true},
		{"?cursor=17", DefaultLimit, 17, false, false},
		{"?cursor=0", 0, 0, false, true},
		{"?cursor=" + EncodeCursor(Key{CreatedAt: time.Now(), ID: 3}), DefaultLimit, 0, true, false},
		{"?cursor=garbage!", 0, 0, false, true},
	}
	for _, tc := range cases {
		t.Run(tc.query, func(t *testing.T) {
			c, _ := gin.CreateTestContext(httptest.NewRecorder())
			c.Request = httptest.NewRequest("GET", "/x"+tc.query, nil)
			req, err := ParsePageRequest(c)
			if tc.bad {
				if err == nil {
					t.Fatalf("accepted: %+v", req)
				}
				return
			}
			if err != nil || req.Limit != tc.limit || req.AfterID != tc.afterID || (req.After != nil) != tc.after {
				t.Fatalf("req = %+v, err = %v", req, err)
			}
		})
	}
}

func TestTimestampIsJavaScriptISO(t *testing.T) {
	ts := Timestamp(time.Date(2025, 3, 25, 19, 11, 38, 123456789, time.FixedZone("CEST", 2*3600)))
	b, _ := json.Marshal(ts)
	if string(b) != `"2025-03-25T17:11:38.123Z"` {
		t.Fatalf("got %s", b)
	}
	b, _ = json.Marshal(Timestamp(time.Date(2025, 1, 2, 3, 4, 5, 0, time.UTC)))
	if string(b) != `"2025-01-02T03:04:05.000Z"` {
		t.Fatalf("got %s", b)
	}
}
