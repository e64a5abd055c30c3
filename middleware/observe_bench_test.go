package middleware

import (
	"io"
	"log/slog"
	"net/http/httptest"
	"testing"

	"github.com/gin-gonic/gin"
	"github.com/prometheus/client_golang/prometheus"
)

// BenchmarkObservedRequest is the per-request cost of the request id, the log line and the
// metrics around a handler that does nothing (docs/performance.md, "Issue 15"), at the
// production log level (info, JSON) and at warn.
func BenchmarkObservedRequest(b *testing.B) {
	for _, level := range []slog.Level{slog.LevelInfo, slog.LevelWarn} {
		b.Run(level.String(), func(b *testing.B) {
			gin.SetMode(gin.ReleaseMode)
			e := gin.New()
			log := slog.New(slog.NewJSONHandler(io.Discard, &slog.HandlerOptions{Level: level}))
			e.Use(RequestIDMiddleware(), Logger(log), NewMetrics(prometheus.NewRegistry()).Middleware())
			e.GET("/api/videos/:id", func(c *gin.Context) { c.Status(200) })
			req := httptest.NewRequest("GET", "/api/videos/42", nil)
			b.ReportAllocs()
			for b.Loop() {
				e.ServeHTTP(httptest.NewRecorder(), req)
			}
		})
	}
}
