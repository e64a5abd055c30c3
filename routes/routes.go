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
	"tiktok/database"
	"tiktok/docs"
	"tiktok/errs"
	"tiktok/middleware"
	"tiktok/notify"
	"tiktok/storage"
	"tiktok/store"
	"tiktok/viewcount"
)

// Deps are what the handlers need; main builds them once, tests build their own.
type Deps struct {
	Config config.Config
	DB     *gorm.DB
	Log    *slog.Logger
	// Store keeps uploaded files; nil means the one Config.Storage names (storage.New).
	Store storage.Store
	// Limiters replace the rate limiters built from the RATE_* settings and REDIS_URL
	// (NewLimiters; tests pass limiters with a fake clock, or on a Redis of their own).
	Limiters *Limiters
	// Tokens replaces the token issuer built from JWT_SECRET (tests move its clock).
	Tokens *auth.Tokens
	// Replicas, when set (DATABASE_REPLICA_URLS), serve the feed, profile, list and search
	// reads; /readyz and /metrics report them. Nil: every read goes to DB.
	Replicas *database.Replicas
	// Notifications is this instance's listener of new notifications, which the streams
	// subscribe to (it starts with the first stream). Nil: New makes one for the life of the
	// process; main and the tests make their own, to close it.
	Notifications *notify.Hub
	// Views counts the views of GET /api/videos/:id (NewViewCounter); nil makes one that lives
	// as long as the process. main makes its own, to flush it on shutdown.
	Views *viewcount.Counter
	// Media probes uploaded videos and enqueues their jobs (API.md, "Media processing"); nil
	// publishes uploads unprocessed, as on a machine without ffmpeg (/readyz says so).
	Media *controllers.MediaPipeline
}

// NewViewCounter starts the view counter of the settings (VIEW_*), writing to db, its
// de-duplication shared through the limiters' Redis when REDIS_URL is set. Close flushes it.
func NewViewCounter(c config.Config, db *gorm.DB, limiters *Limiters, log *slog.Logger) *viewcount.Counter {
	o := viewcount.Options{Window: c.ViewWindow, FlushInterval: c.ViewFlushInterval, MaxKeys: c.ViewDedupMaxKeys, Log: log}
	if limiters != nil && limiters.Redis != nil {
		o.Redis = limiters.Redis.Client()
	}
	return viewcount.New(store.New(db).Videos, o)
}

// Limiters are the rate limiters of the auth routes (API.md, "Users and auth").
type Limiters struct {
	LoginPerIP        middleware.Limiter // every login attempt, per client IP, per minute
	LoginFailsAccount middleware.Limiter // failed logins per e-mail or username, per 15 minutes
	RegisterPerIP     middleware.Limiter // registrations per client IP, per minute
	// Redis is where the limits above are kept when REDIS_URL is set (nil otherwise): /readyz
	// pings it and /metrics shows its fallbacks to memory.
	Redis *middleware.RedisLimits
}

// Names of the limits in Redis keys and metric labels.
const (
	LimitLoginPerIP        = "login-ip"
	LimitLoginFailsAccount = "login-fails"
	LimitRegisterPerIP     = "register-ip"
)

// NewLimiters builds the limiters of the settings: shared by every instance through Redis
// when REDIS_URL is set, in this instance's memory otherwise. Close releases the Redis client.
func NewLimiters(c config.Config, log *slog.Logger) (*Limiters, error) {
	if c.RedisURL == "" {
		return DefaultLimiters(c), nil
	}
	client, err := middleware.NewRedisClient(c.RedisURL)
	if err != nil {
		return nil, err
	}
	if log != nil {
		middleware.RedisLibraryLogsTo(log)
	}
	return RedisLimiters(c, middleware.NewRedisLimits(client, middleware.RedisOptions{Log: log})), nil
}

// RedisLimiters builds the limiters of the RATE_* settings in Redis (0 turns one off); when
// Redis does not answer, each falls back to memory (middleware.RedisLimits).
func RedisLimiters(c config.Config, g *middleware.RedisLimits) *Limiters {
	return &Limiters{
		LoginPerIP:        g.Limiter(LimitLoginPerIP, c.RateLoginPerIP, time.Minute),
		LoginFailsAccount: g.Limiter(LimitLoginFailsAccount, c.RateLoginFailsPerAccount, 15*time.Minute),
		RegisterPerIP:     g.Limiter(LimitRegisterPerIP, c.RateRegisterPerIP, time.Minute),
		Redis:             g,
	}
}

// Close closes the Redis client of the limiters, if they have one.
func (l *Limiters) Close() error {
	if l == nil || l.Redis == nil {
		return nil
	}
	return l.Redis.Client().Close()
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
	if d.Replicas != nil {
		reg.MustRegister(d.Replicas.Collectors()...)
	}

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
				// A signed direct upload to the local store: the bytes of one file, at most the
				// biggest cap (the signature holds it to its declared size).
				"PUT /uploads/*name": {MaxBytes: max(maxVideoBytes(d.Config), controllers.MaxThumbnailBytes, controllers.MaxAvatarBytes),
					ReadTimeout: d.Config.UploadReadTimeout, AnyContentType: true},
			}),
	)
	if d.Config.InflightRequests > 0 {
		r.Use(middleware.Gate(d.Config.InflightRequests, "/api/notifications/stream", "/healthz", "/readyz", "/metrics"))
	}
	r.NoRoute(func(c *gin.Context) {
		_ = c.Error(errs.NotFound("Route not found: " + c.Request.Method + " " + c.Request.URL.Path))
	})

	if d.Limiters == nil {
		// A Redis client made here lives as long as the process; main builds the limiters
		// itself, to close it.
		limiters, err := NewLimiters(d.Config, d.Log)
		if err != nil {
			return nil, err
		}
		d.Limiters = limiters
	}
	if d.Limiters.Redis != nil {
		reg.MustRegister(d.Limiters.Redis.Collectors()...)
	}
	if d.Views == nil {
		d.Views = NewViewCounter(d.Config, d.DB, d.Limiters, d.Log)
	}
	reg.MustRegister(d.Views.Collectors()...)

	// Media URLs: files on this server's disk are rendered under PUBLIC_BASE_URL; the bucket's
	// URLs are recognised as ours, so a client cannot give one as text.
	data := store.New(d.DB, store.WithMediaURLs(mediaURLs(d.Config)))
	health := controllers.Health{Store: data, MediaOff: d.Media == nil}
	if d.Replicas != nil {
		data = store.NewWithReads(d.DB, d.Replicas.DB(), store.WithMediaURLs(mediaURLs(d.Config)))
		health.Store, health.Replicas = data, d.Replicas
	}
	if d.Limiters.Redis != nil {
		health.Redis = d.Limiters.Redis
	}
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
		if st.SigningKey == nil {
			st.SigningKey = storage.DirectUploadKey(d.Config.JWTSecret)
		}
	case *storage.S3:
		if st.NotFound == nil {
			st.NotFound = fileNotFound
		}
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
	// The likes, bookmarks, follows and new comments check the token's version in their own
	// statement (middleware.RequireToken): the writes of a storm, one round trip each.
	checkedByStatement := authn.RequireToken()
	h := middleware.Handler

	files := NewStoredFiles(d.Config, d.Store, data, d.Log)
	direct := &controllers.DirectUploads{Store: data, Files: files}
	if local, ok := d.Store.(*storage.Local); ok {
		direct.Local = local
		r.PUT("/uploads/*name", h(direct.Receive))
	}
	authCtl := &controllers.Auth{Sessions: sessions}
	users := &controllers.Users{Store: data, Files: files}
	follows := &controllers.Follows{Store: data}
	videos := &controllers.Videos{Store: data, Files: files, MaxVideoBytes: maxVideoBytes(d.Config), Views: d.Views, Media: d.Media}
	comments := &controllers.Comments{Store: data}
	search := &controllers.Search{Store: data}

	// Every query parameter of the API is clean text before a handler reads it.
	api := r.Group("/api", middleware.CheckQuery())
	api.POST("/users/register", middleware.RateLimitByIP(d.Limiters.RegisterPerIP, "register"), h(authCtl.Register))
	api.POST("/users/login", middleware.RateLimitByIP(d.Limiters.LoginPerIP, "login"), h(authCtl.Login))
	api.POST("/users/refresh", h(authCtl.Refresh))
	api.POST("/users/logout", required, h(authCtl.Logout))
	api.GET("/users/me", required, h(users.Me))
	api.GET("/users/me/bookmarks", required, h(videos.MyBookmarks))
	api.GET("/users", optional, h(users.List))
	api.GET("/users/:id", optional, h(users.Get))
	api.PUT("/users/:id", required, h(users.Update))
	api.PUT("/users/:id/password", required, h(authCtl.ChangePassword))
	api.DELETE("/users/:id", required, h(users.Delete))
	api.GET("/users/:id/videos", optional, h(videos.UserVideos))
	api.GET("/users/:id/liked", optional, h(videos.Liked))
	api.GET("/users/:id/followers", optional, h(follows.Followers))
	api.GET("/users/:id/following", optional, h(follows.Following))
	api.POST("/users/:id/follow", checkedByStatement, h(follows.Follow))
	api.DELETE("/users/:id/follow", checkedByStatement, h(follows.Unfollow))

	api.POST("/uploads", required, h(direct.Sign))

	api.GET("/videos", optional, h(videos.List))
	api.GET("/videos/following", required, h(videos.Following))
	api.POST("/videos", required, h(videos.Create))
	api.GET("/videos/:id", optional, h(videos.Get))
	api.PUT("/videos/:id", required, h(videos.Update))
	api.DELETE("/videos/:id", required, h(videos.Delete))
	api.POST("/videos/:id/like", checkedByStatement, h(videos.Like))
	api.DELETE("/videos/:id/like", checkedByStatement, h(videos.Unlike))
	api.GET("/videos/:id/likes", optional, h(videos.Likers))
	api.POST("/videos/:id/bookmark", checkedByStatement, h(videos.Bookmark))
	api.DELETE("/videos/:id/bookmark", checkedByStatement, h(videos.Unbookmark))
	api.GET("/videos/:id/comments", optional, h(comments.ForVideo))

	// Discovery. The static /hashtags/trending wins over /hashtags/:name; a tag named
	// "trending" is reached as /hashtags/%23trending (or any other case).
	hashtags := &controllers.Hashtags{Store: data}
	api.GET("/hashtags/trending", h(hashtags.Trending))
	api.GET("/hashtags/:name", h(hashtags.Get))
	api.GET("/hashtags/:name/videos", optional, h(hashtags.Videos))

	api.GET("/comments", optional, h(comments.List))
	api.POST("/comments", checkedByStatement, h(comments.Create))
	api.GET("/comments/:id", optional, h(comments.Get))
	api.PUT("/comments/:id", required, h(comments.Update))
	api.DELETE("/comments/:id", required, h(comments.Delete))
	api.POST("/comments/:id/like", checkedByStatement, h(comments.Like))
	api.DELETE("/comments/:id/like", checkedByStatement, h(comments.Unlike))
	api.GET("/comments/:id/replies", optional, h(comments.Replies))

	if d.Notifications == nil {
		d.Notifications = NewNotificationHub(d.Config, d.DB, d.Log)
	}
	notifications := &controllers.Notifications{Store: data, Hub: d.Notifications, Heartbeat: d.Config.NotifyHeartbeat}
	api.GET("/notifications", required, h(notifications.List))
	api.GET("/notifications/unread-count", required, h(notifications.UnreadCount))
	api.POST("/notifications/read", required, h(notifications.MarkRead))
	api.POST("/notifications/ticket", required, h(notifications.Ticket))
	api.GET("/notifications/stream", controllers.StreamAuth(required), h(notifications.Stream))

	api.GET("/search", optional, h(search.Search))
	api.GET("/search/suggest", optional, h(search.Suggest))

	spec, err := docs.SpecJSON()
	if err != nil {
		return nil, err
	}
	r.GET("/api/openapi.json", func(c *gin.Context) { c.Data(200, "application/json; charset=utf-8", spec) })
	r.GET("/api/docs", func(c *gin.Context) { c.Data(200, "text/html; charset=utf-8", docs.Page()) })

	return r, nil
}

// NewStoredFiles is the file store with the rows that use its files, as the handlers and the
// sweep of uploads (main) share it.
func NewStoredFiles(c config.Config, st storage.Store, data *store.Store, log *slog.Logger) *controllers.StoredFiles {
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	return &controllers.StoredFiles{Uploads: st, Refs: data.Files, Ledger: data.Uploads,
		MaxVideoBytes: maxVideoBytes(c), Log: log, Media: mediaURLs(c)}
}

// NewNotificationHub is the listener of new notifications of the settings (not started yet).
func NewNotificationHub(c config.Config, db *gorm.DB, log *slog.Logger) *notify.Hub {
	return notify.New(db, notify.Options{Log: log, Buffer: c.NotifyStreamBuffer})
}

// mediaURLs renders files on this server's disk under PUBLIC_BASE_URL and recognises the
// bucket's URLs as ours, so a client cannot give one as text.
func mediaURLs(c config.Config) store.MediaURLs {
	return store.MediaURLs{PublicBaseURL: c.PublicBaseURL, BucketURL: c.S3PublicBaseURL}
}

// maxVideoBytes is the MAX_VIDEO_MB cap in bytes.
func maxVideoBytes(c config.Config) int64 { return int64(c.MaxVideoMB) << 20 }
