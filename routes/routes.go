// Package routes builds the Gin engine: the middleware chain and the whole route table of
// API.md in one place, with each controller given its dependencies.
package routes

import (
	"log/slog"

	"github.com/gin-gonic/gin"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"
	"gorm.io/gorm"

	"tiktok/config"
	"tiktok/controllers"
	"tiktok/docs"
	"tiktok/middleware"
)

// Deps are what the handlers need; main builds them once, tests build their own.
type Deps struct {
	Config config.Config
	DB     *gorm.DB
	Log    *slog.Logger
}

// New returns the HTTP handler of the whole API.
func New(d Deps) (*gin.Engine, error) {
	if d.Log == nil {
		d.Log = slog.New(slog.DiscardHandler)
	}
	r := gin.New()
	if err := r.SetTrustedProxies(d.Config.TrustedProxies); err != nil {
		return nil, err
	}
	r.HandleMethodNotAllowed = false
	r.RedirectTrailingSlash = false

	reg := prometheus.NewRegistry()
	reg.MustRegister(collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	if sqlDB, err := d.DB.DB(); err == nil {
		reg.MustRegister(collectors.NewDBStatsCollector(sqlDB, "tiktok"))
	}
	metrics := middleware.NewMetrics(reg)

	r.Use(
		middleware.RequestIDMiddleware(),
		middleware.Logger(d.Log),
		metrics.Middleware(),
		middleware.Recovery(d.Log),
		middleware.CORS(d.Config.CORSOrigins),
		middleware.ErrorHandler(d.Log),
		middleware.BodyLimit(d.Config.MaxJSONBytes),
	)
	r.NoRoute(func(c *gin.Context) {
		_ = c.Error(middleware.NotFound("Route not found: " + c.Request.Method + " " + c.Request.URL.Path))
	})

	health := controllers.Health{DB: d.DB}
	r.GET("/healthz", health.Live)
	r.GET("/readyz", middleware.Handler(health.Ready))
	r.GET("/metrics", gin.WrapH(promhttp.HandlerFor(reg, promhttp.HandlerOpts{Registry: reg})))

	spec, err := docs.SpecJSON()
	if err != nil {
		return nil, err
	}
	r.GET("/api/openapi.json", func(c *gin.Context) { c.Data(200, "application/json; charset=utf-8", spec) })
	r.GET("/api/docs", func(c *gin.Context) { c.Data(200, "text/html; charset=utf-8", docs.Page()) })

	return r, nil
}
