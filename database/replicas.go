package database

import (
	"context"
	"database/sql"
	"database/sql/driver"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/stdlib"
	"github.com/prometheus/client_golang/prometheus"
	"gorm.io/driver/postgres"
	"gorm.io/gorm"
	"gorm.io/plugin/dbresolver"
)

// Read replicas (DATABASE_REPLICA_URLS).
//
// The primary's own *gorm.DB never routes anything: every query on it runs on the primary.
// Replicas.DB is a second *gorm.DB on the same primary pool with gorm.io/plugin/dbresolver
// registered, whose replicas are the streaming replicas; the store hands it only to the reads
// that may be a moment stale (feeds, profiles, lists, search), so a read nobody thought about
// can never see a stale row, and a write or a transaction on it still goes to the primary
// (dbresolver sends everything but a plain SELECT to its source, the primary).
//
// Each replica is watched by a checker (every CheckInterval) that measures its lag and whether
// it answers. dbresolver's policy picks a healthy replica: one that answers and lags at most
// MaxLag. A replica that fails between two checks costs no request: its pool wraps every read
// so that a connection-class failure marks it down and runs the read again on the primary.
// With no healthy replica the reads go to the primary.

// Replica states, as /readyz reports them.
const (
	ReplicaOK      = "ok"      // answers and lags at most MaxLag: serves reads
	ReplicaLagging = "lagging" // answers but lags more than MaxLag (or cannot tell): skipped
	ReplicaDown    = "down"    // does not answer: skipped
)

// ReplicaStatus is one replica's state as of its last check (or last failed read).
type ReplicaStatus struct {
	// Replica is the replica's place in DATABASE_REPLICA_URLS, from 1 (the log line at start
	// names its URL with the password masked; /readyz, which anyone may call, does not).
	Replica int    `json:"replica"`
	Status  string `json:"status"`
	// LagSeconds is how far behind the primary the replica was; nil when down or unknown.
	LagSeconds *float64  `json:"lagSeconds"`
	CheckedAt  time.Time `json:"checkedAt"`
}

// ReplicaOptions tune the replicas' pools and checks.
type ReplicaOptions struct {
	MaxLag        time.Duration // REPLICA_MAX_LAG
	CheckInterval time.Duration // 1s when zero
	Pool          PoolOptions   // each replica gets a pool of this size
	Log           *slog.Logger
}

// Replicas routes the stale-tolerant reads to healthy replicas (see the comment above).
type Replicas struct {
	db      *gorm.DB
	members []*replica
	reads   *prometheus.CounterVec
	stop    context.CancelFunc
	done    sync.WaitGroup
	next    atomic.Uint64
}

// replica is one replica's pool and health, and the gorm.ConnPool that dbresolver is given
// for it: reads run on the replica while it is healthy, on the primary otherwise.
type replica struct {
	index int
	url   string // masked
	db    *sql.DB
	// checks is a pool of one connection of the checker's own: with the reads' pool busy, a
	// check waiting for a free connection would time out and call a healthy replica down.
	checks  *sql.DB
	primary *sql.DB
	maxLag  time.Duration
	status  atomic.Pointer[ReplicaStatus]
	// onReplica and onPrimary count the reads by where they ran (tiktok_db_reads_total).
	onReplica, onPrimary prometheus.Counter
	log                  *slog.Logger
}

// OpenReplicas opens a pool per replica URL and returns the router of reads on primary. It
// does not wait for the replicas: one that is down at start is reported down and skipped
// until its checker finds it answering. Close stops the checkers and closes the pools.
func OpenReplicas(ctx context.Context, primary *gorm.DB, urls []string, opts ReplicaOptions) (*Replicas, error) {
	if opts.Log == nil {
		opts.Log = slog.New(slog.DiscardHandler)
	}
	if opts.CheckInterval <= 0 {
		opts.CheckInterval = time.Second
	}
	primarySQL, err := primary.DB()
	if err != nil {
		return nil, err
	}
	r := &Replicas{reads: prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "tiktok_db_reads_total",
		Help: "Statements of the replica-eligible reads (feeds, profiles, lists, search), by where they ran: replica, or primary (no healthy replica, or a replica failed the read).",
	}, []string{"target"})}

	var dialectors []gorm.Dialector
	for i, dsn := range urls {
		cfg, err := pgx.ParseConfig(dsn)
		if err != nil {
			r.closePools()
			return nil, fmt.Errorf("DATABASE_REPLICA_URLS entry %d (%s) cannot be parsed: %s", i+1, MaskURL(dsn), cleanParseError(err))
		}
		if _, ok := cfg.RuntimeParams["timezone"]; !ok {
			cfg.RuntimeParams["timezone"] = "UTC"
		}
		if _, ok := cfg.RuntimeParams["application_name"]; !ok {
			cfg.RuntimeParams["application_name"] = "tiktok-go"
		}
		if cfg.ConnectTimeout == 0 {
			// A replica that does not answer is skipped; waiting long for it holds up reads.
			cfg.ConnectTimeout = 2 * time.Second
		}
		db := stdlib.OpenDB(*cfg)
		db.SetMaxOpenConns(opts.Pool.MaxOpenConns)
		db.SetMaxIdleConns(opts.Pool.MaxIdleConns)
		db.SetConnMaxLifetime(opts.Pool.ConnMaxLifetime)
		db.SetConnMaxIdleTime(opts.Pool.ConnMaxIdleTime)
		checks := stdlib.OpenDB(*cfg)
		checks.SetMaxOpenConns(1)
		checks.SetMaxIdleConns(1)
		m := &replica{index: i + 1, url: MaskURL(dsn), db: db, checks: checks, primary: primarySQL, maxLag: opts.MaxLag,
			onReplica: r.reads.WithLabelValues("replica"), onPrimary: r.reads.WithLabelValues("primary"), log: opts.Log}
		m.status.Store(&ReplicaStatus{Replica: m.index, Status: ReplicaDown, CheckedAt: time.Now().UTC()})
		r.members = append(r.members, m)
		dialectors = append(dialectors, postgres.New(postgres.Config{Conn: m}))
	}

	r.db, err = gorm.Open(postgres.New(postgres.Config{Conn: primarySQL}), &gorm.Config{
		NowFunc: primary.Config.NowFunc, Logger: primary.Config.Logger})
	if err == nil {
		// The source is the primary too, counted: a read that dbresolver does not take for a
		// plain SELECT runs there and shows in tiktok_db_reads_total{target="primary"}.
		source := postgres.New(postgres.Config{Conn: primaryReads{DB: primarySQL, count: r.reads.WithLabelValues("primary")}})
		err = r.db.Use(dbresolver.Register(dbresolver.Config{Sources: []gorm.Dialector{source}, Replicas: dialectors,
			Policy: dbresolver.PolicyFunc(r.pick)}))
	}
	if err != nil {
		r.closePools()
		return nil, fmt.Errorf("read replicas: %w", err)
	}

	// One check before serving, so that healthy replicas serve from the first request.
	var first sync.WaitGroup
	for _, m := range r.members {
		first.Go(func() { m.check(ctx, opts.CheckInterval) })
	}
	first.Wait()
	for _, m := range r.members {
		s := m.status.Load()
		opts.Log.Info("read replica", "replica", m.index, "url", m.url, "status", s.Status, "lag_seconds", lagValue(s))
	}

	checkCtx, cancel := context.WithCancel(context.WithoutCancel(ctx))
	r.stop = cancel
	for _, m := range r.members {
		r.done.Go(func() { m.watch(checkCtx, opts.CheckInterval) })
	}
	return r, nil
}

// DB is the *gorm.DB whose plain SELECTs run on a healthy replica.
func (r *Replicas) DB() *gorm.DB { return r.db }

// Statuses reports every replica, in DATABASE_REPLICA_URLS order.
func (r *Replicas) Statuses() []ReplicaStatus {
	out := make([]ReplicaStatus, len(r.members))
	for i, m := range r.members {
		out[i] = *m.status.Load()
	}
	return out
}

// Collectors are the replicas' metrics: the reads by target and each replica's lag.
func (r *Replicas) Collectors() []prometheus.Collector {
	return []prometheus.Collector{r.reads, lagCollector{r}}
}

// Close stops the checkers and closes the replicas' pools (not the primary's).
func (r *Replicas) Close() {
	if r.stop != nil {
		r.stop()
	}
	r.done.Wait()
	r.closePools()
}

func (r *Replicas) closePools() {
	for _, m := range r.members {
		_ = m.db.Close()
		_ = m.checks.Close()
	}
}

// pick is dbresolver's policy: the healthy replicas in turn. With none healthy it returns a
// replica anyway, whose pool then sends the read to the primary. (dbresolver calls no policy
// when there is a single replica, so the pool, not the policy, is what skips a sick one.)
func (r *Replicas) pick(pools []gorm.ConnPool) gorm.ConnPool {
	n := uint64(len(pools))
	start := r.next.Add(1)
	for i := range n {
		p := pools[(start+i)%n]
		if m, ok := p.(*replica); ok && m.healthy() {
			return p
		}
	}
	return pools[start%n]
}

func (m *replica) healthy() bool { return m.status.Load().Status == ReplicaOK }

// QueryContext runs a read on the replica when it is healthy, else (or when the replica fails
// the read for a reason the primary does not share) on the primary.
func (m *replica) QueryContext(ctx context.Context, query string, args ...any) (*sql.Rows, error) {
	if m.healthy() {
		rows, err := m.db.QueryContext(ctx, query, args...)
		if err == nil || !m.shouldFallBack(ctx, err) {
			m.onReplica.Inc()
			return rows, err
		}
	}
	m.onPrimary.Inc()
	return m.primary.QueryContext(ctx, query, args...)
}

// QueryRowContext is QueryContext for one row: sql.Row holds the query's error from the start.
func (m *replica) QueryRowContext(ctx context.Context, query string, args ...any) *sql.Row {
	if m.healthy() {
		row := m.db.QueryRowContext(ctx, query, args...)
		if err := row.Err(); err == nil || !m.shouldFallBack(ctx, err) {
			m.onReplica.Inc()
			return row
		}
	}
	m.onPrimary.Inc()
	return m.primary.QueryRowContext(ctx, query, args...)
}

// ExecContext runs on the primary: dbresolver sends no write to a replica, and a replica
// could not take one.
func (m *replica) ExecContext(ctx context.Context, query string, args ...any) (sql.Result, error) {
	return m.primary.ExecContext(ctx, query, args...)
}

// PrepareContext prepares on the primary, for the same reason.
func (m *replica) PrepareContext(ctx context.Context, query string) (*sql.Stmt, error) {
	return m.primary.PrepareContext(ctx, query)
}

// primaryReads is the primary's pool as dbresolver's source, counting the reads it runs.
type primaryReads struct {
	*sql.DB
	count prometheus.Counter
}

func (p primaryReads) QueryContext(ctx context.Context, query string, args ...any) (*sql.Rows, error) {
	p.count.Inc()
	return p.DB.QueryContext(ctx, query, args...)
}

func (p primaryReads) QueryRowContext(ctx context.Context, query string, args ...any) *sql.Row {
	p.count.Inc()
	return p.DB.QueryRowContext(ctx, query, args...)
}

// shouldFallBack reports whether a read that failed on the replica should run on the primary:
// the replica is unreachable or going away (then it is marked down until a check finds it
// well), or it refused this one read (a conflict with recovery, too many connections). An
// error of the read itself, or of the caller's context, is returned as it is.
func (m *replica) shouldFallBack(ctx context.Context, err error) bool {
	if ctx.Err() != nil {
		return false
	}
	switch {
	case isConnectionError(err):
		m.markDown(err)
		return true
	case isReplicaRefusal(err):
		return true
	}
	return false
}

// isConnectionError reports a failure of the connection rather than of the statement: a
// broken or refused connection, a server shutting down (SQLSTATE 08xxx, 57P01-57P03).
func isConnectionError(err error) bool {
	var pgErr *pgconn.PgError
	if errors.As(err, &pgErr) {
		switch pgErr.Code {
		case "57P01", "57P02", "57P03":
			return true
		}
		return len(pgErr.Code) == 5 && pgErr.Code[:2] == "08"
	}
	var connectErr *pgconn.ConnectError
	var netErr net.Error
	return errors.Is(err, driver.ErrBadConn) || errors.As(err, &connectErr) || errors.As(err, &netErr) ||
		errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) || errors.Is(err, sql.ErrConnDone) ||
		pgconn.SafeToRetry(err)
}

// isReplicaRefusal reports an error a replica gives that the primary would not: a read
// cancelled by a conflict with the replay of the primary's changes (40001 on a standby), or
// no connection slot left (53300).
func isReplicaRefusal(err error) bool {
	var pgErr *pgconn.PgError
	return errors.As(err, &pgErr) && (pgErr.Code == "40001" || pgErr.Code == "53300")
}

func (m *replica) markDown(cause error) {
	now := &ReplicaStatus{Replica: m.index, Status: ReplicaDown, CheckedAt: time.Now().UTC()}
	if old := m.status.Swap(now); old.Status != ReplicaDown {
		m.log.Warn("read replica failed a read: reads go to the primary until it answers again",
			"replica", m.index, "url", m.url, "cause", causeOf(cause))
	}
}

// watch checks the replica every interval until ctx ends.
func (m *replica) watch(ctx context.Context, interval time.Duration) {
	t := time.NewTicker(interval)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
			m.check(ctx, interval)
		}
	}
}

// lagQuery measures how far the replica is behind. It is 0 when the replica has replayed all
// the WAL it received and is receiving (a standby that is streaming and caught up), else the
// time since the last transaction it replayed (an over-estimate when the primary is idle,
// which is the safe side). On a server that is not in recovery it is 0.
const lagQuery = `SELECT pg_is_in_recovery(),
	EXISTS (SELECT 1 FROM pg_stat_wal_receiver),
	COALESCE(pg_last_wal_receive_lsn() <= pg_last_wal_replay_lsn(), false),
	EXTRACT(EPOCH FROM now() - pg_last_xact_replay_timestamp())::float8`

// check measures the replica once and records its state, logging a change.
func (m *replica) check(ctx context.Context, interval time.Duration) {
	ctx, cancel := context.WithTimeout(ctx, max(interval, time.Second))
	defer cancel()
	var inRecovery, receiving, caughtUp bool
	var sinceReplay sql.NullFloat64
	err := m.checks.QueryRowContext(ctx, lagQuery).Scan(&inRecovery, &receiving, &caughtUp, &sinceReplay)
	if ctx.Err() != nil && errors.Is(context.Cause(ctx), context.Canceled) {
		return // shutting down
	}
	next := &ReplicaStatus{Replica: m.index, CheckedAt: time.Now().UTC()}
	switch {
	case err != nil:
		next.Status = ReplicaDown
	case !inRecovery || (receiving && caughtUp):
		next.Status, next.LagSeconds = ReplicaOK, new(0.0)
	case !sinceReplay.Valid:
		next.Status = ReplicaLagging // nothing replayed yet and not streaming: how stale is unknown
	default:
		lag := max(sinceReplay.Float64, 0)
		next.LagSeconds = &lag
		next.Status = ReplicaOK
		if time.Duration(lag*float64(time.Second)) > m.maxLag {
			next.Status = ReplicaLagging
		}
	}
	old := m.status.Swap(next)
	if old.Status != next.Status {
		attrs := []any{"replica", m.index, "url", m.url, "was", old.Status, "lag_seconds", lagValue(next)}
		if err != nil {
			attrs = append(attrs, "cause", causeOf(err))
		}
		if next.Status == ReplicaOK {
			m.log.Info("read replica "+next.Status, attrs...)
		} else {
			m.log.Warn("read replica "+next.Status+": its reads go elsewhere", attrs...)
		}
	}
}

// causeOf is an error's text for a log line. pgx's connection errors name host, user and
// database, never the password.
func causeOf(err error) string { return err.Error() }

func lagValue(s *ReplicaStatus) any {
	if s.LagSeconds == nil {
		return nil
	}
	return *s.LagSeconds
}

// lagCollector exports each replica's lag and state at scrape time.
type lagCollector struct{ r *Replicas }

var (
	replicaLagDesc = prometheus.NewDesc("tiktok_db_replica_lag_seconds",
		"How far each read replica is behind the primary, as of its last check (absent while down or unknown).", []string{"replica"}, nil)
	replicaUpDesc = prometheus.NewDesc("tiktok_db_replica_healthy",
		"1 while the read replica serves reads (answers and lags at most REPLICA_MAX_LAG), else 0.", []string{"replica"}, nil)
)

func (c lagCollector) Describe(ch chan<- *prometheus.Desc) {
	ch <- replicaLagDesc
	ch <- replicaUpDesc
}

func (c lagCollector) Collect(ch chan<- prometheus.Metric) {
	for _, s := range c.r.Statuses() {
		label := strconv.Itoa(s.Replica)
		if s.LagSeconds != nil {
			ch <- prometheus.MustNewConstMetric(replicaLagDesc, prometheus.GaugeValue, *s.LagSeconds, label)
		}
		healthy := 0.0
		if s.Status == ReplicaOK {
			healthy = 1
		}
		ch <- prometheus.MustNewConstMetric(replicaUpDesc, prometheus.GaugeValue, healthy, label)
	}
}
