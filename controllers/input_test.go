package controllers

import (
	"net/http/httptest"
	"testing"

	"github.com/gin-gonic/gin"

	"tiktok/store"
)

func TestOffsetOrCursorPageReadsLimitPageAndCursor(t *testing.T) {
	cases := []struct {
		query  string
		limit  int
		page   int
		cursor string
		bad    bool
	}{
		{"", store.DefaultLimit, 0, "", false},
		{"?limit=5", 5, 0, "", false},
		{"?limit=51", store.MaxLimit, 0, "", false},
		{"?limit=99999999999999999999", store.MaxLimit, 0, "", false},
		{"?limit=0", 0, 0, "", true},
		{"?limit=-3", 0, 0, "", true},
		{"?limit=1.5", 0, 0, "", true},
		{"?limit=ten", 0, 0, "", true},
		{"?page=2&limit=5", 5, 2, "", false},
		{"?page=0", 0, 0, "", true},
		{"?page=x", 0, 0, "", true},
		{"?cursor=17", store.DefaultLimit, 0, "17", false},
		{"?cursor=opaque", store.DefaultLimit, 0, "opaque", false}, // the store decodes it
	}
	for _, tc := range cases {
		t.Run(tc.query, func(t *testing.T) {
			c, _ := gin.CreateTestContext(httptest.NewRecorder())
			c.Request = httptest.NewRequest("GET", "/x"+tc.query, nil)
			req, err := offsetOrCursorPage(c)
			if tc.bad {
				if err == nil {
					t.Fatalf("accepted: %+v", req)
				}
				return
			}
			if err != nil || req != (store.PageRequest{Limit: tc.limit, Page: tc.page, Cursor: tc.cursor}) {
				t.Fatalf("req = %+v, err = %v", req, err)
			}
		})
	}
}
