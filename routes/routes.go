// Package routes builds the Gin engine: the middleware chain and the whole route table of
// API.md in one place, with each controller given its dependencies.
package routes

import (
	"context"
	"fmt"
	"log/slog"
	"net/http"
	"time"

	"github.com/gin-gonic/gin"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"
	"gorm.io/gorm"

	"tiktok/auth"
	"tiktok/config"
	"tiktok/controllers"
	"tiktok/docs"
	"tiktok/errs"
	"tiktok/middleware"
	"tiktok/storage"
	"tiktok/store"
)

// Deps are what the handlers need; main builds them once, tests build their own.
type Deps struct {
	Config config.Config
	DB     *gorm.DB
	Log    *slog.Logger
	// Store keeps uploaded files; nil means the one Config.Storage names (storage.New).
	Store storage.Store
	// Limiters replace the in-memory rate limiters built from the RATE_* settings (tests
	// pass limiters with a fake clock; several instances would pass shared ones).
	Limiters *Limiters
	// Tokens replaces the token issuer built from JWT_SECRET (tests move its clock).
	Tokens *auth.Tokens
}

// Limiters are the rate limiters of the auth routes (API.md, "Users and auth").
type Limiters struct {
	LoginPerIP        middleware.Limiter // every login attempt, per client IP, per minute
	LoginFailsAccount middleware.Limiter // failed logins per e-mail or username, per 15 minutes
	RegisterPerIP     middleware.Limiter // registrations per client IP, per minute
}

// DefaultLimiters builds the in-memory limiters from the RATE_* settings (0 turns one off).
func DefaultLimiters(c config.Config) *Limiters {
	return &Limiters{
		LoginPerIP:        middleware.NewLimiter(c.RateLoginPerIP, time.Minute),
		LoginFailsAccount: middleware.NewLimiter(c.RateLoginFailsPerAccount, 15*time.Minute),
		RegisterPerIP:     middleware.NewLimiter(c.RateRegisterPerIP, time.Minute),
	}
}

// uploadSlack is room for the multipart framing and text fields around an uploaded file.
const uploadSlack = 64 << 10

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
		// Multipart uploads get their own caps and read deadlines; everything else keeps the
		// JSON ones.
		middleware.BodyLimits(middleware.BodyRule{MaxBytes: d.Config.MaxJSONBytes, ReadTimeout: d.Config.BodyReadTimeout},
			map[string]middleware.BodyRule{
				"PUT /api/users/:id": {MaxBytes: controllers.MaxAvatarBytes + uploadSlack, ReadTimeout: d.Config.UploadReadTimeout},
				"POST /api/videos": {MaxBytes: maxVideoBytes(d.Config) + controllers.MaxThumbnailBytes + uploadSlack,
					ReadTimeout: d.Config.UploadReadTimeout},
			}),
	)
	r.NoRoute(func(c *gin.Context) {
		_ = c.Error(errs.NotFound("Route not found: " + c.Request.Method + " " + c.Request.URL.Path))
	})

	// Media URLs: files on this server's disk are rendered under PUBLIC_BASE_URL; the bucket's
	// URLs are recognised as ours, so a client cannot give one as text.
	media := store.MediaURLs{PublicBaseURL: d.Config.PublicBaseURL, BucketURL: d.Config.S3PublicBaseURL}
	data := store.New(d.DB, store.WithMediaURLs(media))
	health := controllers.Health{Store: data}
	r.GET("/healthz", health.Live)
	r.GET("/readyz", middleware.Handler(health.Ready))
	r.GET("/metrics", gin.WrapH(promhttp.HandlerFor(reg, promhttp.HandlerOpts{Registry: reg})))

	if d.Store == nil {
		st, err := storage.New(context.Background(), d.Config)
		if err != nil {
			return nil, err
		}
		d.Store = st
	}
	// Missing files answer with the API's JSON error, like every other 404. With a bucket,
	// every file is missing here: the bucket serves them at their absolute URLs.
	fileNotFound := http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		middleware.WriteErrorTo(w, errs.NotFound("File not found"))
	})
	switch st := d.Store.(type) {
	case *storage.Local:
		if st.NotFound == nil {
			st.NotFound = fileNotFound
		}
	case *storage.S3:
		if st.NotFound == nil {
			st.NotFound = fileNotFound
		}
	}
	if d.Limiters == nil {
		d.Limiters = DefaultLimiters(d.Config)
	}
	if d.Tokens == nil {
		d.Tokens = auth.NewTokens(d.Config.JWTSecret, d.Config.JWTExpiresIn)
	}
	passwords, err := auth.NewPasswords(d.Config.BcryptCost)
	if err != nil {
		return nil, fmt.Errorf("BCRYPT_COST=%d: %w", d.Config.BcryptCost, err)
	}

	// The file server's own errors (a bad Range, a failed precondition) answer JSON too.
	uploads := middleware.FileServerErrors(d.Log, http.StripPrefix(storage.URLPrefix, d.Store.Handler()))
	r.GET("/uploads/*name", gin.WrapH(uploads))
	r.HEAD("/uploads/*name", gin.WrapH(uploads))

	sessions := &auth.Service{Store: data, Tokens: d.Tokens, Passwords: passwords,
		RefreshTTL: d.Config.RefreshTokenTTL, LoginFails: d.Limiters.LoginFailsAccount}
	authn := &middleware.Auth{Sessions: sessions}
	required, optional := authn.RequireAuth(), authn.OptionalAuth()
	h := middleware.Handler

	files := &controllers.StoredFiles{Uploads: d.Store, Refs: data.Files, Log: d.Log, Media: media}
	authCtl := &controllers.Auth{Sessions: sessions}
	users := &controllers.Users{Store: data, Files: files}
	follows := &controllers.Follows{Store: data}
	videos := &controllers.Videos{Store: data, Files: files, MaxVideoBytes: maxVideoBytes(d.Config)}
	comments := &controllers.Comments{Store: data}

	// Every query parameter of the API is clean text before a handler reads it.
	api := r.Group("/api", middleware.CheckQuery())
	api.POST("/users/register", middleware.RateLimitByIP(d.Limiters.RegisterPerIP, "register"), h(authCtl.Register))
	api.POST("/users/login", middleware.RateLimitByIP(d.Limiters.LoginPerIP, "login"), h(authCtl.Login))
	api.POST("/users/refresh", h(authCtl.Refresh))
	api.POST("/users/logout", required, h(authCtl.Logout))
	api.GET("/users/me", required, h(users.Me))
	api.GET("/users", optional, h(users.List))
	api.GET("/users/:id", optional, h(users.Get))
	api.PUT("/users/:id", required, h(users.Update))
	api.PUT("/users/:id/password", required, h(authCtl.ChangePassword))
	api.DELETE("/users/:id", required, h(users.Delete))
	api.GET("/users/:id/videos", optional, h(videos.UserVideos))
	api.GET("/users/:id/liked", optional, h(videos.Liked))
	api.GET("/users/:id/followers", optional, h(follows.Followers))
	api.GET("/users/:id/following", optional, h(follows.Following))
	api.POST("/users/:id/follow", required, h(follows.Follow))
	api.DELETE("/users/:id/follow", required, h(follows.Unfollow))

	api.GET("/videos", optional, h(videos.List))
	api.GET("/videos/following", required, h(videos.Following))
	api.POST("/videos", required, h(videos.Create))
	api.GET("/videos/:id", optional, h(videos.Get))
	api.PUT("/videos/:id", required, h(videos.Update))
	api.DELETE("/videos/:id", required, h(videos.Delete))
	api.POST("/videos/:id/like", required, h(videos.Like))
	api.DELETE("/videos/:id/like", required, h(videos.Unlike))
	api.GET("/videos/:id/likes", optional, h(videos.Likers))
	api.GET("/videos/:id/comments", optional, h(comments.ForVideo))

	api.GET("/comments", optional, h(comments.List))
	api.POST("/comments", required, h(comments.Create))
	api.GET("/comments/:id", optional, h(comments.Get))
	api.PUT("/comments/:id", required, h(comments.Update))
	api.DELETE("/comments/:id", required, h(comments.Delete))
	api.POST("/comments/:id/like", required, h(comments.Like))
	api.DELETE("/comments/:id/like", required, h(comments.Unlike))

	spec, err := docs.SpecJSON()
	if err != nil {
		return nil, err
	}
	r.GET("/api/openapi.json", func(c *gin.Context) { c.Data(200, "application/json; charset=utf-8", spec) })
	r.GET("/api/docs", func(c *gin.Context) { c.Data(200, "text/html; charset=utf-8", docs.Page()) })

	return r, nil
}

// maxVideoBytes is the MAX_VIDEO_MB cap in bytes.
func maxVideoBytes(c config.Config) int64 { return int64(c.MaxVideoMB) << 20 }
