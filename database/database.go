// Package database opens the PostgreSQL connection pool (starting an embedded server when no
// DATABASE_URL is given), explains connection failures in plain words, and migrates the schema
// with versioned migrations (see migrations.go).
package database

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/url"
	"strings"
	"syscall"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/stdlib"
	"gorm.io/driver/postgres"
	"gorm.io/gorm"
	"gorm.io/gorm/logger"
)

// PoolOptions sizes the connection pool.
type PoolOptions struct {
	MaxOpenConns    int
	MaxIdleConns    int
	ConnMaxLifetime time.Duration
	ConnMaxIdleTime time.Duration
}

// DefaultPool is a pool suited to tests and tools.
var DefaultPool = PoolOptions{MaxOpenConns: 10, MaxIdleConns: 5, ConnMaxLifetime: 30 * time.Minute, ConnMaxIdleTime: 5 * time.Minute}

// Open connects to the database at dsn, retrying with backoff until connectTimeout has passed
// when the server is not (yet) reachable. Errors that waiting cannot cure (a wrong password, a
// missing database) end the wait at once. The returned error explains the cause in plain words
// and names DATABASE_URL with its password masked.
func Open(ctx context.Context, dsn string, pool PoolOptions, connectTimeout time.Duration, log *slog.Logger) (*gorm.DB, error) {
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	pgxCfg, err := pgx.ParseConfig(dsn)
	if err != nil {
		return nil, fmt.Errorf("DATABASE_URL %s cannot be parsed: %s", MaskURL(dsn), cleanParseError(err))
	}
	// Timestamps are "timestamp without time zone" holding UTC (as Prisma writes them); pin the
	// session time zone so CURRENT_TIMESTAMP defaults are UTC too.
	if _, ok := pgxCfg.RuntimeParams["timezone"]; !ok {
		pgxCfg.RuntimeParams["timezone"] = "UTC"
	}
	if _, ok := pgxCfg.RuntimeParams["application_name"]; !ok {
		pgxCfg.RuntimeParams["application_name"] = "tiktok-go"
	}
	if pgxCfg.ConnectTimeout == 0 {
		pgxCfg.ConnectTimeout = 5 * time.Second
	}
	sqlDB := stdlib.OpenDB(*pgxCfg)
	sqlDB.SetMaxOpenConns(pool.MaxOpenConns)
	sqlDB.SetMaxIdleConns(pool.MaxIdleConns)
	sqlDB.SetConnMaxLifetime(pool.ConnMaxLifetime)
	sqlDB.SetConnMaxIdleTime(pool.ConnMaxIdleTime)

	deadline := time.Now().Add(connectTimeout)
	backoff := 250 * time.Millisecond
	for attempt := 1; ; attempt++ {
		pingCtx, cancel := context.WithTimeout(ctx, pgxCfg.ConnectTimeout)
		err = sqlDB.PingContext(pingCtx)
		cancel()
		if err == nil {
			break
		}
		reason := Explain(err, pgxCfg)
		if !retryable(err) || time.Now().Add(backoff).After(deadline) || ctx.Err() != nil {
			_ = sqlDB.Close()
			return nil, fmt.Errorf("cannot connect to the database at DATABASE_URL=%s: %s", MaskURL(dsn), reason)
		}
		log.Warn("database not reachable yet, retrying",
			"attempt", attempt, "url", MaskURL(dsn), "cause", reason, "retry_in", backoff.String())
		select {
		case <-time.After(backoff):
		case <-ctx.Done():
		}
		backoff = min(backoff*2, 5*time.Second)
	}

	db, err := gorm.Open(postgres.New(postgres.Config{Conn: sqlDB}), &gorm.Config{
		NowFunc: func() time.Time { return time.Now().UTC().Truncate(time.Millisecond) },
		// GORM wraps each Create, Update and Delete it is given outside a transaction in one
		// of its own: BEGIN and COMMIT, two more round trips, around a single statement that
		// is atomic by itself (a login's refresh token, a registration, an upload's ledger
		// row). The writes of several statements open their transaction explicitly
		// (db.Transaction), which this does not change.
		SkipDefaultTransaction: true,
		Logger:                 NewGormLogger(log),
		// Constraint names come from the models' tags, matching Prisma's names.
		DisableForeignKeyConstraintWhenMigrating: false,
	})
	if err != nil {
		_ = sqlDB.Close()
		return nil, fmt.Errorf("open gorm: %w", err)
	}
	return db, nil
}

// retryable reports whether waiting may cure a connection error: the server is down, starting
// up or too busy, as opposed to a wrong password or a missing database.
func retryable(err error) bool {
	var pgErr *pgconn.PgError
	if errors.As(err, &pgErr) {
		switch pgErr.Code {
		case "57P03", "53300": // cannot_connect_now (starting up), too_many_connections
			return true
		}
		return false
	}
	var dnsErr *net.DNSError
	if errors.As(err, &dnsErr) {
		return dnsErr.IsTemporary || dnsErr.IsTimeout
	}
	return true
}

// Explain says in plain words why a connection failed and what to do.
func Explain(err error, cfg *pgx.ConnConfig) string {
	hostPort := net.JoinHostPort(cfg.Host, fmt.Sprint(cfg.Port))
	var pgErr *pgconn.PgError
	if errors.As(err, &pgErr) {
		switch pgErr.Code {
		case "28P01":
			return fmt.Sprintf("wrong password for user %q (fix the password in DATABASE_URL)", cfg.User)
		case "28000":
			return fmt.Sprintf("user %q may not connect: %s (create the role or fix pg_hba.conf)", cfg.User, pgErr.Message)
		case "3D000":
			return fmt.Sprintf("database %q does not exist (create it: createdb -h %s -p %d -U %s %s)", cfg.Database, cfg.Host, cfg.Port, cfg.User, cfg.Database)
		case "57P03":
			return "the server is starting up"
		case "53300":
			return "the server has too many connections"
		}
		return pgErr.Message
	}
	var dnsErr *net.DNSError
	switch {
	case errors.Is(err, syscall.ECONNREFUSED):
		return fmt.Sprintf("nothing is listening on %s (is PostgreSQL running? on Debian: pg_ctlcluster --skip-systemctl-redirect $(ls /etc/postgresql) main start)", hostPort)
	case errors.As(err, &dnsErr):
		return fmt.Sprintf("host %q not found", cfg.Host)
	case errors.Is(err, context.DeadlineExceeded) || isTimeout(err):
		return fmt.Sprintf("no answer from %s within %s (a firewall, or the wrong host?)", hostPort, cfg.ConnectTimeout)
	}
	return err.Error()
}

func isTimeout(err error) bool {
	var ne net.Error
	return errors.As(err, &ne) && ne.Timeout()
}

// MaskURL returns the URL with its password replaced, fit for logs and error messages.
func MaskURL(dsn string) string {
	u, err := url.Parse(dsn)
	if err != nil || u.Scheme == "" {
		return "(unparseable URL)"
	}
	q := u.Query()
	if q.Has("password") {
		q.Set("password", "xxxxx")
		u.RawQuery = q.Encode()
	}
	return u.Redacted()
}

// cleanParseError drops the URL (and so any password) that pgx repeats in its parse errors.
func cleanParseError(err error) string {
	msg := err.Error()
	if i := strings.LastIndex(msg, ": "); i >= 0 {
		return msg[i+2:]
	}
	return msg
}

// NewGormLogger routes GORM's slow-query warnings to slog. Queries are logged with
// placeholders, never with their parameter values, so no password hash or token reaches a log.
// Failed queries are not logged here: many are expected (a taken username is a unique
// violation) and the ones that are bugs reach the log once, with the request id, through
// middleware.ErrorHandler.
func NewGormLogger(log *slog.Logger) logger.Interface {
	return slowQueriesOnly{logger.New(slogWriter{log}, logger.Config{
		SlowThreshold:        500 * time.Millisecond,
		LogLevel:             logger.Warn,
		ParameterizedQueries: true,
		Colorful:             false,
	})}
}

type slowQueriesOnly struct{ logger.Interface }

func (l slowQueriesOnly) LogMode(level logger.LogLevel) logger.Interface {
	return slowQueriesOnly{l.Interface.LogMode(level)}
}

func (l slowQueriesOnly) Trace(ctx context.Context, begin time.Time, fc func() (string, int64), _ error) {
	l.Interface.Trace(ctx, begin, fc, nil)
}

type slogWriter struct{ log *slog.Logger }

func (w slogWriter) Printf(format string, args ...any) {
	w.log.Warn("gorm", "detail", strings.TrimSpace(fmt.Sprintf(format, args...)))
}
