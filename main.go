// Command tiktok is the TikTok-clone API server: a Gin + GORM + PostgreSQL port of the
// course's Express + Prisma server.
//
//	go run .                      serve (migrating first unless AUTO_MIGRATE=false)
//	go run . migrate up           apply pending migrations and exit
//	go run . migrate down [N|all] roll back the last N migrations (default 1)
//	go run . migrate status       list migrations and whether each has run
//	go run . worker               run media jobs only (no HTTP), WORKERS at once (at least 1)
//	go run . storage migrate [-dry-run]
//	                              copy the uploads of UPLOAD_DIR into the bucket of the S3_*
//	                              settings and point their rows at it (storage/tobucket)
//
// Settings come from the environment and a .env file (see .env.example). Without
// DATABASE_URL the server starts an embedded PostgreSQL under EMBEDDED_PG_DIR.
package main

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"os"
	"os/signal"
	"strconv"
	"syscall"
	"time"

	"github.com/gin-gonic/gin"
	"gorm.io/gorm"

	"tiktok/config"
	"tiktok/controllers"
	"tiktok/countfold"
	"tiktok/database"
	"tiktok/jobs"
	"tiktok/media"
	"tiktok/routes"
	"tiktok/storage"
	"tiktok/storage/tobucket"
	"tiktok/store"
)

func main() {
	os.Exit(run(os.Args[1:]))
}

// run is main with an exit code: 0 success, 1 failure at run time, 2 bad configuration or usage.
func run(args []string) int {
	cfg, err := config.FromEnvironment()
	if err != nil {
		fmt.Fprintf(os.Stderr, "invalid configuration:\n%v\n", err)
		return 2
	}
	log := newLogger(cfg)
	slog.SetDefault(log)
	if cfg.JWTSecretGenerated {
		log.Warn("JWT_SECRET is not set: using a random secret for this run; tokens stop working at the next restart (set it in .env)")
	}

	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGINT, syscall.SIGTERM)
	defer stop()

	dsn, stopDB, err := database.Resolve(ctx, cfg, log)
	if err != nil {
		log.Error(err.Error())
		return 1
	}
	defer stopDB()
	db, err := database.Open(ctx, dsn, database.PoolFromConfig(cfg), cfg.DBConnectTimeout, log)
	if err != nil {
		log.Error(err.Error())
		return 1
	}
	defer func() {
		if sqlDB, err := db.DB(); err == nil {
			_ = sqlDB.Close()
		}
	}()

	switch {
	case len(args) == 0 || args[0] == "serve":
		return serve(ctx, cfg, db, log)
	case args[0] == "migrate":
		return migrateCommand(ctx, db, args[1:], log)
	case args[0] == "worker":
		return workerCommand(ctx, cfg, db, log)
	case args[0] == "storage":
		// The storage path columns must exist before rows are rewritten.
		if cfg.AutoMigrate {
			if err := database.Migrate(ctx, db); err != nil {
				log.Error("migration failed", "error", err)
				return 1
			}
		}
		return tobucket.Command(ctx, cfg, db, args[1:], os.Stdout, os.Stderr)
	default:
		fmt.Fprintf(os.Stderr, "unknown command %q; usage: tiktok [serve | worker | migrate up | migrate down [N|all] | migrate status | storage migrate [-dry-run]]\n", args[0])
		return 2
	}
}

func serve(ctx context.Context, cfg config.Config, db *gorm.DB, log *slog.Logger) int {
	if cfg.AutoMigrate {
		if err := database.Migrate(ctx, db); err != nil {
			log.Error("migration failed", "error", err)
			return 1
		}
	}
	if cfg.AppEnv == config.EnvDevelopment {
		gin.SetMode(gin.DebugMode)
	} else {
		gin.SetMode(gin.ReleaseMode)
	}
	uploads, err := storage.New(ctx, cfg)
	if err != nil {
		log.Error("cannot open the store of uploads", "storage", cfg.Storage, "error", err)
		return 1
	}
	if cfg.Storage == config.StorageS3 {
		log.Info("uploads go to the bucket", "bucket", cfg.S3Bucket, "endpoint", cfg.S3Endpoint, "public_url", cfg.S3PublicBaseURL)
	}
	limiters, err := routes.NewLimiters(cfg, log)
	if err != nil {
		log.Error("cannot set up the rate limits", "error", err)
		return 1
	}
	defer func() { _ = limiters.Close() }()
	if limiters.Redis != nil {
		logRedis(ctx, limiters, log)
	}
	replicas, err := openReplicas(ctx, cfg, db, log)
	if err != nil {
		log.Error(err.Error())
		return 1
	}
	if replicas != nil {
		defer replicas.Close()
	}
	// One listening connection per instance carries new notifications to this instance's
	// streams; Close ends the streams when shutdown begins (they never go idle on their own).
	hub := routes.NewNotificationHub(cfg, db, log)
	hub.Start()
	defer func() { hub.Close(); hub.Wait() }()
	// Counted views are buffered and written every VIEW_FLUSH_INTERVAL; the buffer is written
	// once more after the last request has been answered, before the database closes.
	views := routes.NewViewCounter(cfg, db, limiters, log)
	defer func() {
		flushCtx, cancel := context.WithTimeout(context.Background(), cfg.ShutdownTimeout)
		defer cancel()
		if err := views.Close(flushCtx); err != nil {
			log.Error("the last counted views were not written", "error", err)
		}
	}()
	// Pending counter deltas are merged into the stored counters every COUNTER_FOLD_INTERVAL
	// (every instance folds; counts are exact either way).
	counters := store.New(db)
	folder := countfold.New(counters.FoldCounterDeltas, countfold.Options{Interval: cfg.CounterFoldInterval,
		Vacuum: counters.VacuumCounterDeltas, Log: log})
	folder.Start()
	defer folder.Close()
	pipeline, queue, err := newMediaPipeline(cfg, db, uploads, cfg.Workers, log)
	if err != nil {
		log.Error(err.Error())
		return 1
	}
	if queue != nil {
		if err := queue.Start(ctx); err != nil {
			log.Error("cannot start the media workers", "error", err)
			return 1
		}
		defer stopQueue(queue, cfg.ShutdownTimeout, log)
	}
	handler, err := routes.New(routes.Deps{Config: cfg, DB: db, Log: log, Store: uploads, Limiters: limiters, Replicas: replicas,
		Notifications: hub, Views: views, Media: pipeline})
	if err != nil {
		log.Error("cannot build the router", "error", err)
		return 1
	}
	if cfg.PprofAddr != "" {
		stopPprof, err := servePprof(cfg.PprofAddr, log)
		if err != nil {
			log.Error("cannot listen for the profiles", "pprof_addr", cfg.PprofAddr, "error", err)
			return 1
		}
		defer stopPprof()
	}
	ln, err := net.Listen("tcp", ":"+strconv.Itoa(cfg.Port))
	if err != nil {
		log.Error("cannot listen", "port", cfg.Port, "error", err)
		return 1
	}
	// Direct uploads never registered are deleted a day after they were signed; every
	// instance may sweep (the ledger's rows are taken with SKIP LOCKED).
	go routes.NewStoredFiles(cfg, uploads, store.New(db), log).SweepEvery(ctx, cfg.UploadSweepInterval)
	log.Info("listening", "addr", ln.Addr().String(), "env", cfg.AppEnv)
	if err := serveUntilDone(ctx, ln, handler, cfg.ShutdownTimeout, hub.Close); err != nil {
		log.Error("server stopped with an error", "error", err)
		return 1
	}
	log.Info("server stopped")
	return 0
}

// servePprof serves net/http/pprof on its own listener at addr (PPROF_ADDR), apart from the
// API's port, until stop is called. No WriteTimeout: a CPU profile or a trace streams for as
// many seconds as asked (pprof refuses a duration longer than the server's WriteTimeout).
func servePprof(addr string, log *slog.Logger) (stop func(), err error) {
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return nil, err
	}
	srv := &http.Server{Handler: routes.PprofHandler(), ReadHeaderTimeout: 10 * time.Second}
	go func() {
		if err := srv.Serve(ln); err != nil && !errors.Is(err, http.ErrServerClosed) {
			log.Error("the profiles' listener stopped", "error", err)
		}
	}()
	log.Warn("serving profiles (net/http/pprof) on PPROF_ADDR; keep it on loopback or a private network",
		"pprof_addr", ln.Addr().String())
	return func() { _ = srv.Close() }, nil
}

// logRedis says where the shared rate limits live (never the URL: it may hold a password),
// and warns when Redis does not answer yet: the server starts anyway, with the limits held
// per instance until Redis answers.
func logRedis(ctx context.Context, limiters *routes.Limiters, log *slog.Logger) {
	opt := limiters.Redis.Client().Options()
	if err := limiters.Redis.Ping(ctx); err != nil {
		log.Warn("Redis does not answer: the rate limits are held by each instance on its own until it does",
			"redis_addr", opt.Addr, "redis_db", opt.DB, "error", err.Error())
		return
	}
	log.Info("rate limits shared through Redis", "redis_addr", opt.Addr, "redis_db", opt.DB)
}

// openReplicas opens the read replicas of DATABASE_REPLICA_URLS; nil when there are none.
func openReplicas(ctx context.Context, cfg config.Config, db *gorm.DB, log *slog.Logger) (*database.Replicas, error) {
	if len(cfg.DatabaseReplicaURLs) == 0 {
		return nil, nil
	}
	return database.OpenReplicas(ctx, db, cfg.DatabaseReplicaURLs, database.ReplicaOptions{
		MaxLag: cfg.ReplicaMaxLag, Pool: database.PoolFromConfig(cfg), Log: log})
}

// serveUntilDone serves on ln until ctx is cancelled, then stops accepting connections and
// waits up to shutdownTimeout for the requests in flight to finish. onShutdown run when the
// shutdown begins: they end the long-lived responses (notification streams), which would
// otherwise hold Shutdown until its timeout.
func serveUntilDone(ctx context.Context, ln net.Listener, handler http.Handler, shutdownTimeout time.Duration, onShutdown ...func()) error {
	srv := &http.Server{
		Handler:           handler,
		ReadHeaderTimeout: 10 * time.Second,
		// A backstop: each route's body gets its own, shorter or longer, read deadline from
		// the body-limit middleware (BODY_READ_TIMEOUT, UPLOAD_READ_TIMEOUT). Video downloads
		// on slow links take a while (WriteTimeout).
		ReadTimeout:    10 * time.Minute,
		WriteTimeout:   10 * time.Minute,
		IdleTimeout:    2 * time.Minute,
		MaxHeaderBytes: 1 << 20,
	}
	for _, f := range onShutdown {
		srv.RegisterOnShutdown(f)
	}
	errc := make(chan error, 1)
	go func() { errc <- srv.Serve(ln) }()
	select {
	case err := <-errc:
		return err
	case <-ctx.Done():
	}
	shutdownCtx, cancel := context.WithTimeout(context.Background(), shutdownTimeout)
	defer cancel()
	if err := srv.Shutdown(shutdownCtx); err != nil {
		return fmt.Errorf("graceful shutdown: %w", err)
	}
	if err := <-errc; err != nil && !errors.Is(err, http.ErrServerClosed) {
		return err
	}
	return nil
}

func migrateCommand(ctx context.Context, db *gorm.DB, args []string, log *slog.Logger) int {
	sub := "up"
	if len(args) > 0 {
		sub = args[0]
	}
	switch sub {
	case "up":
		if err := database.Migrate(ctx, db); err != nil {
			log.Error("migration failed", "error", err)
			return 1
		}
		fmt.Println("migrations applied")
	case "down":
		steps := 1
		if len(args) > 1 {
			if args[1] == "all" {
				steps = 0
			} else if n, err := strconv.Atoi(args[1]); err == nil && n > 0 {
				steps = n
			} else {
				fmt.Fprintf(os.Stderr, "migrate down: %q is not a positive number or \"all\"\n", args[1])
				return 2
			}
		}
		n, err := database.MigrateDown(ctx, db, steps)
		if err != nil {
			log.Error("rollback failed", "error", err)
			return 1
		}
		fmt.Printf("rolled back %d migration(s)\n", n)
	case "status":
		list, err := database.Status(ctx, db)
		if err != nil {
			log.Error("cannot read migration status", "error", err)
			return 1
		}
		for _, m := range list {
			state := "pending"
			if m.Applied {
				state = "applied"
			}
			fmt.Printf("%-8s %s\n", state, m.ID)
		}
	default:
		fmt.Fprintf(os.Stderr, "unknown migrate command %q; use up, down [N|all] or status\n", sub)
		return 2
	}
	return 0
}

func newLogger(cfg config.Config) *slog.Logger {
	var level slog.Level
	_ = level.UnmarshalText([]byte(cfg.LogLevel))
	opts := &slog.HandlerOptions{Level: level}
	if cfg.LogFormat == "json" {
		return slog.New(slog.NewJSONHandler(os.Stderr, opts))
	}
	return slog.New(slog.NewTextHandler(os.Stderr, opts))
}

// newMediaPipeline finds ffmpeg and builds the media job queue with workers running at once
// (0: insert only). Without ffmpeg it says so once and returns nil: uploads are published
// unprocessed, and /readyz reports it.
func newMediaPipeline(cfg config.Config, db *gorm.DB, uploads storage.Store, workers int, log *slog.Logger) (*controllers.MediaPipeline, *jobs.Queue, error) {
	tools := media.Lookup()
	if !tools.Available() {
		log.Warn("ffmpeg/ffprobe not found: uploads are published unprocessed (no probe, cover or rendition); install Debian's ffmpeg package (apt-get install ffmpeg)")
		return nil, nil, nil
	}
	tools.Threads, tools.Preset = cfg.FFmpegThreads, cfg.FFmpegPreset
	sqlDB, err := db.DB()
	if err != nil {
		return nil, nil, err
	}
	proc := &jobs.Processor{Tools: tools, Store: store.New(db), Uploads: uploads, MaxSeconds: float64(cfg.MaxVideoSeconds),
		MaxOutputBytes: 4 * int64(cfg.MaxVideoMB) << 20, Log: log}
	if workers > 0 {
		proc.RemoveStale(cfg.MediaJobTimeout + time.Minute)
	}
	queue, err := jobs.New(sqlDB, proc, jobs.Options{Workers: workers, JobTimeout: cfg.MediaJobTimeout, Log: log})
	if err != nil {
		return nil, nil, err
	}
	log.Info("media pipeline on", "ffmpeg", tools.FFmpeg, "workers", workers, "threads", tools.Threads)
	return &controllers.MediaPipeline{Tools: tools, MaxSeconds: float64(cfg.MaxVideoSeconds), Jobs: queue}, queue, nil
}

func stopQueue(queue *jobs.Queue, timeout time.Duration, log *slog.Logger) {
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	if err := queue.Stop(ctx); err != nil {
		log.Warn("media workers stopped with an error", "error", err)
	}
}

// workerCommand runs media jobs until SIGINT/SIGTERM, without serving HTTP: a separate worker
// process beside servers started with WORKERS=0, or more workers on another machine.
func workerCommand(ctx context.Context, cfg config.Config, db *gorm.DB, log *slog.Logger) int {
	if cfg.AutoMigrate {
		if err := database.Migrate(ctx, db); err != nil {
			log.Error("migration failed", "error", err)
			return 1
		}
	}
	if !media.Lookup().Available() {
		log.Error("the worker needs ffmpeg and ffprobe: apt-get install ffmpeg")
		return 1
	}
	uploads, err := storage.New(ctx, cfg)
	if err != nil {
		log.Error("cannot open the store of uploads", "storage", cfg.Storage, "error", err)
		return 1
	}
	_, queue, err := newMediaPipeline(cfg, db, uploads, max(cfg.Workers, 1), log)
	if err != nil {
		log.Error(err.Error())
		return 1
	}
	if err := queue.Start(ctx); err != nil {
		log.Error("cannot start the media workers", "error", err)
		return 1
	}
	<-ctx.Done()
	stopQueue(queue, cfg.ShutdownTimeout, log)
	log.Info("worker stopped")
	return 0
}
