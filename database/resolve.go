package database

import (
	"context"
	"log/slog"

	"tiktok/config"
)

// EmbeddedDatabaseName is the database the server and the seeder use on the embedded server.
const EmbeddedDatabaseName = "tiktok"

// Resolve returns the URL of the database to use: DATABASE_URL when it is set, else the
// embedded PostgreSQL's database, which it starts (or reuses) first. The server and the
// seeder share it so that both always talk to the same database. stop stops the embedded
// server only if Resolve started it: a seeder run next to a running server must leave that
// server's database up. stop is never nil when err is nil.
func Resolve(ctx context.Context, cfg config.Config, log *slog.Logger) (dsn string, stop func(), err error) {
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	if cfg.DatabaseURL != "" {
		return cfg.DatabaseURL, func() {}, nil
	}
	log.Info("DATABASE_URL is not set: using the embedded PostgreSQL", "dir", cfg.EmbeddedDir, "port", cfg.EmbeddedPort)
	pg, err := StartEmbedded(ctx, EmbeddedOptions{
		Dir: cfg.EmbeddedDir, Port: cfg.EmbeddedPort, BinDir: cfg.PGBinDir, Log: log})
	if err != nil {
		return "", nil, err
	}
	if !pg.started {
		// Another process (the server, say) runs it: leave it running for that process.
		if err := pg.EnsureDatabase(ctx, EmbeddedDatabaseName); err != nil {
			return "", nil, err
		}
		return pg.URL(EmbeddedDatabaseName), func() {}, nil
	}
	stopPG := func() {
		if err := pg.Stop(); err != nil {
			log.Error(err.Error())
		} else {
			log.Info("embedded PostgreSQL stopped")
		}
	}
	if err := pg.EnsureDatabase(ctx, EmbeddedDatabaseName); err != nil {
		stopPG()
		return "", nil, err
	}
	return pg.URL(EmbeddedDatabaseName), stopPG, nil
}

// PoolFromConfig sizes the connection pool from the DB_* settings.
func PoolFromConfig(cfg config.Config) PoolOptions {
	return PoolOptions{MaxOpenConns: cfg.DBMaxOpenConns, MaxIdleConns: cfg.DBMaxIdleConns,
		ConnMaxLifetime: cfg.DBConnMaxLife, ConnMaxIdleTime: cfg.DBConnMaxIdle}
}
