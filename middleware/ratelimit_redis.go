package middleware

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"time"

	"github.com/go-redis/redis_rate/v10"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/redis/go-redis/v9"
)

// Defaults of RedisOptions.
const (
	DefaultRedisKeyPrefix = "tiktok:rl:"
	// DefaultRedisTimeout bounds each limiter call to Redis: a hung Redis costs a request at
	// most this much before the limit is decided in memory. A healthy Redis on the same
	// network answers in well under a millisecond.
	DefaultRedisTimeout = 150 * time.Millisecond
	// DefaultRedisRetryEvery is how long after a failed call the limiters keep to memory before
	// one call tries Redis again, so that during an outage only one request per interval pays
	// the timeout, and the limits are shared again at most this long after Redis is back.
	DefaultRedisRetryEvery = time.Second
	// DefaultRedisWarnEvery spaces the warnings of an outage: one per interval, not one per
	// request.
	DefaultRedisWarnEvery = time.Minute
)

// RedisOptions tune RedisLimits; zero values take the defaults above.
type RedisOptions struct {
	// KeyPrefix starts every key (after redis_rate's own "rate:"), so that several apps or
	// environments can share one Redis, and tests can keep apart.
	KeyPrefix  string
	Timeout    time.Duration
	RetryEvery time.Duration
	WarnEvery  time.Duration
	Log        *slog.Logger
}

// RedisLimits are the rate limits of one instance kept in Redis, so that every instance
// counts against the same budget (with N instances and in-memory limits, a client would get
// N times each limit). The counting is redis_rate's GCRA (one Lua script per attempt, atomic
// in Redis), which allows a burst of max and then one more attempt every window/max: max per
// window on average, never more than max at once.
//
// When Redis does not answer (down, unreachable, hung past Timeout, or refusing commands),
// every limit falls back to the in-memory limiter of this instance, with the same max and
// window: the limits then hold per instance, as they do without REDIS_URL. That choice is
// the same for each limit (README, "Redis"): failing open would hand an attacker who can
// knock Redis over unlimited password guesses, and failing closed would lock every user out
// of login and sign-up for as long as Redis is away. A warning is logged at most once per
// WarnEvery, each fallen-back decision is counted (rate_limit_redis_fallbacks_total), and
// Redis is tried again every RetryEvery until it answers.
type RedisLimits struct {
	client *redis.Client
	rate   *redis_rate.Limiter
	opts   RedisOptions
	now    func() time.Time

	fallbacks *prometheus.CounterVec
	degraded  prometheus.GaugeFunc

	mu       sync.Mutex
	down     bool      // the last call failed
	retryAt  time.Time // while down: when the next call may try Redis
	lastWarn time.Time
}

// NewRedisClient opens a client for the Redis of rawURL (REDIS_URL, already checked by
// config), with timeouts fit for the limiters: the deadline of each call's context bounds
// dialing, waiting for a pooled connection, writing and reading.
func NewRedisClient(rawURL string) (*redis.Client, error) {
	opt, err := redis.ParseURL(rawURL)
	if err != nil {
		return nil, errors.New("REDIS_URL is not a Redis URL")
	}
	opt.ContextTimeoutEnabled = true
	opt.DialTimeout = time.Second // a backstop; calls carry shorter deadlines
	opt.PoolTimeout = DefaultRedisTimeout
	opt.DisableIdentity = true // no CLIENT SETINFO round trip on each new connection
	return redis.NewClient(opt), nil
}

// RedisLibraryLogsTo sends the go-redis library's own log lines (one per failed dial, so one
// per request while Redis is down) to log at debug level: the limiters report an outage
// themselves, once per WarnEvery. go-redis has one logger per process, so this is global.
func RedisLibraryLogsTo(log *slog.Logger) {
	redis.SetLogger(redisLibraryLog{log})
}

type redisLibraryLog struct{ log *slog.Logger }

func (l redisLibraryLog) Printf(ctx context.Context, format string, v ...any) {
	l.log.DebugContext(ctx, fmt.Sprintf(format, v...), "source", "go-redis")
}

// NewRedisLimits returns the Redis side of the limiters of one instance over client.
func NewRedisLimits(client *redis.Client, o RedisOptions) *RedisLimits {
	if o.KeyPrefix == "" {
		o.KeyPrefix = DefaultRedisKeyPrefix
	}
	if o.Timeout <= 0 {
		o.Timeout = DefaultRedisTimeout
	}
	if o.RetryEvery <= 0 {
		o.RetryEvery = DefaultRedisRetryEvery
	}
	if o.WarnEvery <= 0 {
		o.WarnEvery = DefaultRedisWarnEvery
	}
	if o.Log == nil {
		o.Log = slog.New(slog.DiscardHandler)
	}
	g := &RedisLimits{client: client, rate: redis_rate.NewLimiter(client), opts: o, now: time.Now}
	g.fallbacks = prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "rate_limit_redis_fallbacks_total",
		Help: "Rate-limit decisions taken in this instance's memory because Redis did not answer, by limit.",
	}, []string{"limit"})
	g.degraded = prometheus.NewGaugeFunc(prometheus.GaugeOpts{
		Name: "rate_limit_redis_degraded",
		Help: "1 while the rate limits are held per instance because Redis did not answer, else 0.",
	}, func() float64 {
		if g.Degraded() {
			return 1
		}
		return 0
	})
	return g
}

// Client is the Redis client (closed by the caller that made it).
func (g *RedisLimits) Client() *redis.Client { return g.client }

// Ping reports whether Redis answers within the limiters' timeout (for /readyz).
func (g *RedisLimits) Ping(ctx context.Context) error {
	ctx, cancel := context.WithTimeout(ctx, g.opts.Timeout)
	defer cancel()
	return g.client.Ping(ctx).Err()
}

// Degraded reports whether the limits are held in memory now, because Redis did not answer
// the last call.
func (g *RedisLimits) Degraded() bool {
	g.mu.Lock()
	defer g.mu.Unlock()
	return g.down
}

// Collectors are the metrics of the fallback, for the /metrics registry.
func (g *RedisLimits) Collectors() []prometheus.Collector {
	return []prometheus.Collector{g.fallbacks, g.degraded}
}

// Limiter returns the limit called name (a part of its keys, and its metric label) allowing
// max attempts per window for each key, or Unlimited when max is 0 (a limit turned off).
func (g *RedisLimits) Limiter(name string, max int, window time.Duration) Limiter {
	if max <= 0 {
		return Unlimited{}
	}
	return &RedisLimiter{
		group:    g,
		name:     name,
		limit:    redis_rate.Limit{Rate: max, Burst: max, Period: window},
		fallback: NewMemoryLimiter(max, window, g.now),
	}
}

// useRedis reports whether a call should go to Redis: always while it answers; after a
// failure, only once per RetryEvery (the caller that gets true is the probe, the others keep
// to memory until it has an answer).
func (g *RedisLimits) useRedis() bool {
	g.mu.Lock()
	defer g.mu.Unlock()
	if !g.down {
		return true
	}
	now := g.now()
	if now.Before(g.retryAt) {
		return false
	}
	g.retryAt = now.Add(g.opts.RetryEvery)
	return true
}

func (g *RedisLimits) answered() {
	g.mu.Lock()
	defer g.mu.Unlock()
	if g.down {
		g.down = false
		g.opts.Log.Info("Redis answers again: the rate limits are shared by every instance again")
	}
}

func (g *RedisLimits) failed(limit string, err error) {
	g.mu.Lock()
	defer g.mu.Unlock()
	now := g.now()
	g.down = true
	g.retryAt = now.Add(g.opts.RetryEvery)
	if g.lastWarn.IsZero() || now.Sub(g.lastWarn) >= g.opts.WarnEvery {
		g.lastWarn = now
		g.opts.Log.Warn("Redis does not answer: the rate limits are held by each instance on its own until it does",
			"limit", limit, "error", err.Error(), "next_warning_in", g.opts.WarnEvery.String())
	}
}

// RedisLimiter is one limit kept in Redis (see RedisLimits), with the in-memory limiter it
// falls back to.
type RedisLimiter struct {
	group    *RedisLimits
	name     string
	limit    redis_rate.Limit
	fallback *MemoryLimiter
}

// Key is the Redis key of key under this limit (redis_rate puts "rate:" before it).
// Keys are made of what clients send (an IP, an e-mail or username of any length and any
// bytes): a short key of plain characters is kept readable ("k:"), anything else is replaced
// by its SHA-256 ("h:"), so no key grows past a hundred bytes or holds control bytes, and
// the two forms cannot collide.
func (l *RedisLimiter) Key(key string) string {
	return l.group.opts.KeyPrefix + l.name + ":" + safeKey(key)
}

func safeKey(key string) string {
	const maxPlain = 64
	plain := len(key) <= maxPlain
	for i := 0; plain && i < len(key); i++ {
		c := key[i]
		plain = c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' ||
			c == '.' || c == '_' || c == '-' || c == '@' || c == ':' || c == '+'
	}
	if plain {
		return "k:" + key
	}
	sum := sha256.Sum256([]byte(key))
	return "h:" + hex.EncodeToString(sum[:])
}

// Hit implements Limiter: GCRA in Redis (one atomic script), or the in-memory limiter while
// Redis does not answer. Only a request whose own context ended gets an error; Redis being
// away never makes one fail.
func (l *RedisLimiter) Hit(ctx context.Context, key string) (bool, time.Duration, error) {
	if l.group.useRedis() {
		rctx, cancel := context.WithTimeout(ctx, l.group.opts.Timeout)
		res, err := l.group.rate.Allow(rctx, l.Key(key), l.limit)
		cancel()
		if err == nil {
			l.group.answered()
			if res.Allowed > 0 {
				return true, 0, nil
			}
			return false, res.RetryAfter, nil
		}
		if ctx.Err() != nil { // the client went away: not Redis's fault
			return false, 0, ctx.Err()
		}
		l.group.failed(l.name, err)
	}
	l.group.fallbacks.WithLabelValues(l.name).Inc()
	return l.fallback.Hit(ctx, key)
}

// Reset implements Limiter: it forgets key in Redis and in the fallback. When Redis does not
// answer, the attempts it counted stay there (they expire with their window); the caller
// gets no error, since a successful login must not fail because Redis is away.
func (l *RedisLimiter) Reset(ctx context.Context, key string) error {
	_ = l.fallback.Reset(ctx, key)
	if !l.group.useRedis() {
		l.group.fallbacks.WithLabelValues(l.name).Inc()
		return nil
	}
	rctx, cancel := context.WithTimeout(ctx, l.group.opts.Timeout)
	defer cancel()
	if err := l.group.rate.Reset(rctx, l.Key(key)); err != nil {
		if ctx.Err() == nil {
			l.group.failed(l.name, err)
			l.group.fallbacks.WithLabelValues(l.name).Inc()
		}
		return nil
	}
	l.group.answered()
	return nil
}
