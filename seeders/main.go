// Command seeders fills the database with data to look at or to measure with, the Go twin of
// the Prisma version's prisma/seed.js. It uses the server's settings (.env, DATABASE_URL or the
// embedded PostgreSQL) and migrates first.
//
//	go run ./seeders                 the course's sample data: 10 users, 50 videos, ...
//	go run ./seeders -seed 7         the same, from another random seed
//	go run ./seeders -local-files    the same, its media small files in UPLOAD_DIR (/uploads/<name>),
//	                                 to try `go run . storage migrate` on
//	go run ./seeders -scale          100,000 users, 1,000,000 videos, 10,000,000 likes, ...
//	go run ./seeders -users 1000 -videos 10000 -likes 50000
//
// Both modes wipe the application's tables first; with APP_ENV=production they refuse to unless
// -force is given. Run `go run ./seeders -h` for every flag.
package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/signal"
	"syscall"
	"time"

	"gorm.io/gorm"

	"tiktok/config"
	"tiktok/database"
)

func main() {
	os.Exit(run(os.Args[1:]))
}

// run is main with an exit code: 0 success, 1 failure while seeding, 2 bad configuration or flags.
func run(args []string) int {
	cfg, err := config.FromEnvironment()
	if err != nil {
		fmt.Fprintf(os.Stderr, "invalid configuration:\n%v\n", err)
		return 2
	}
	log := slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelWarn}))

	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGINT, syscall.SIGTERM)
	defer stop()

	env := environment{
		appEnv:     cfg.AppEnv,
		bcryptCost: cfg.BcryptCost,
		uploadDir:  cfg.UploadDir,
		stdout:     os.Stdout,
		stderr:     os.Stderr,
		now:        time.Now,
		connect: func(ctx context.Context) (*gorm.DB, func(), error) {
			dsn, stopDB, err := database.Resolve(ctx, cfg, log)
			if err != nil {
				return nil, nil, err
			}
			db, err := database.Open(ctx, dsn, database.PoolFromConfig(cfg), cfg.DBConnectTimeout, log)
			if err != nil {
				stopDB()
				return nil, nil, err
			}
			return db, func() {
				if sqlDB, err := db.DB(); err == nil {
					_ = sqlDB.Close()
				}
				stopDB()
			}, nil
		},
	}
	err = seedCommand(ctx, env, args)
	var usage *usageError
	switch {
	case err == nil:
		return 0
	case errors.Is(err, errHelp):
		return 0
	case errors.As(err, &usage):
		fmt.Fprintf(os.Stderr, "seeders: %v\n", err)
		return 2
	default:
		fmt.Fprintf(os.Stderr, "seeders: %v\n", err)
		return 1
	}
}

// environment is what seedCommand needs from the outside world, so that tests can hand it a
// test database and watch whether it was ever connected to.
type environment struct {
	appEnv     string
	bcryptCost int
	uploadDir  string    // UPLOAD_DIR, for -local-files
	stdout     io.Writer // the summary
	stderr     io.Writer // progress and notes
	now        func() time.Time
	// connect opens the database; it is called only once the flags have been accepted.
	connect func(ctx context.Context) (db *gorm.DB, closeDB func(), err error)
}

// seedCommand is the whole command: check the flags and the environment, then connect,
// migrate and seed. Nothing is connected to, let alone written, before the checks pass.
func seedCommand(ctx context.Context, env environment, args []string) error {
	opts, err := parseFlags(args, env.stderr)
	if err != nil {
		return err
	}
	if err := opts.allowedIn(env.appEnv); err != nil {
		return err
	}
	opts.BcryptCost = env.bcryptCost
	opts.UploadDir = env.uploadDir
	opts.Now = env.now().UTC().Truncate(time.Millisecond)

	db, closeDB, err := env.connect(ctx)
	if err != nil {
		return err
	}
	defer closeDB()
	if err := database.Migrate(ctx, db); err != nil {
		return fmt.Errorf("migrate: %w", err)
	}

	if !opts.Scale {
		res, err := seedSample(ctx, db, opts)
		if err != nil {
			return fmt.Errorf("%w\nNothing was changed: the sample data is written in one transaction, which was rolled back.", err)
		}
		fmt.Fprintf(env.stdout, "Seeded the sample data (seed %d): %s.\n", opts.Seed, res)
		if opts.LocalFiles {
			fmt.Fprintf(env.stdout, "Wrote %d media files to UPLOAD_DIR (%s), referenced as /uploads/<name>.\n", res.Files, opts.UploadDir)
		}
		fmt.Fprintf(env.stdout, "Log in with %s / %s\n", sampleLoginEmail, samplePassword)
		return nil
	}

	fmt.Fprintf(env.stderr, "Seeding at scale (seed %d): %s. Every user shares one precomputed bcrypt hash of %q.\n",
		opts.Seed, opts.scaleSizes(), samplePassword)
	start := time.Now()
	res, err := seedScale(ctx, db, opts, env.stderr)
	if err != nil {
		return fmt.Errorf("%w\nNothing was changed: the whole load runs in one transaction, which was rolled back. "+
			"Fix the cause and run the same command again.", err)
	}
	fmt.Fprintf(env.stdout, "Seeded at scale (seed %d) in %s: %s.\n", opts.Seed, time.Since(start).Round(100*time.Millisecond), res)
	fmt.Fprintf(env.stdout, "Every user's password is %s (one shared hash); log in with %s / %s\n",
		samplePassword, sampleLoginEmail, samplePassword)
	return nil
}
