// Package config reads the server's settings from the environment (and a .env file loaded by
// main). Every setting has a documented default in .env.example; a value that does not parse
// stops the start with an error naming the variable, so nothing falls back silently.
package config

import (
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"io/fs"
	"net"
	"net/url"
	"os"
	"regexp"
	"runtime"
	"strconv"
	"strings"
	"time"

	"github.com/joho/godotenv"
	"github.com/redis/go-redis/v9"
)

// Environments the server knows.
const (
	EnvDevelopment = "development"
	EnvTest        = "test"
	EnvProduction  = "production"
)

// Stores of uploads (STORAGE).
const (
	StorageLocal = "local"
	StorageS3    = "s3"
)

// ExampleJWTSecret is the placeholder shipped in .env.example; production refuses it.
const ExampleJWTSecret = "change-me-to-a-long-random-string-of-at-least-32-bytes"

// MinProductionSecretLen is the shortest JWT_SECRET accepted in production (HS256 wants 256 bits).
const MinProductionSecretLen = 32

// Config is every setting of the server, parsed and validated.
type Config struct {
	AppEnv string
	Port   int

	// DatabaseURL empty means: start the embedded PostgreSQL under EmbeddedDir.
	DatabaseURL      string
	EmbeddedDir      string
	EmbeddedPort     int
	PGBinDir         string
	DBMaxOpenConns   int
	DBMaxIdleConns   int
	DBConnMaxLife    time.Duration
	DBConnMaxIdle    time.Duration
	DBConnectTimeout time.Duration
	AutoMigrate      bool

	// DatabaseReplicaURLs are streaming replicas of the primary that serve the feed, profile,
	// list and search reads (none: every read goes to the primary). ReplicaMaxLag is how far
	// behind a replica may be and still serve them.
	DatabaseReplicaURLs []string
	ReplicaMaxLag       time.Duration

	JWTSecret          string
	JWTSecretGenerated bool
	JWTExpiresIn       time.Duration
	RefreshTokenTTL    time.Duration
	BcryptCost         int

	CORSOrigins    []string
	UploadDir      string
	MaxVideoMB     int
	MaxJSONBytes   int64
	TrustedProxies []string
	// BodyReadTimeout bounds how long a client may take to send a request body (JSON, or
	// anything but an upload); UploadReadTimeout does for the multipart uploads.
	BodyReadTimeout   time.Duration
	UploadReadTimeout time.Duration

	// Storage is where uploads go: StorageLocal (the disk under UploadDir, served at /uploads/)
	// or StorageS3 (a bucket, served at S3PublicBaseURL; STORAGE=s3 requires the S3 settings).
	Storage         string
	S3Endpoint      string
	S3Region        string
	S3Bucket        string
	S3AccessKey     string
	S3SecretKey     string
	S3PublicBaseURL string
	S3PathStyle     bool

	// Media pipeline (API.md, "Media processing"). MaxVideoSeconds caps an upload's
	// duration. Workers is how many media jobs this process runs at once (0: none here, a
	// `go run . worker` process does them), at most one per core. FFmpegThreads bounds the
	// threads of one ffmpeg run (1 by default: with Workers at half the cores, ffmpeg holds at
	// most half the machine); FFmpegPreset is libx264's preset for renditions.
	// MediaJobTimeout bounds one job; a job whose worker died is retried by another once it
	// has run this long and a minute more.
	MaxVideoSeconds int
	Workers         int
	FFmpegThreads   int
	FFmpegPreset    string
	MediaJobTimeout time.Duration

	// UploadSweepInterval is how often the server deletes direct uploads never registered
	// (and retries failed deletes); 0 turns the sweep off on this instance.
	UploadSweepInterval time.Duration
	// NotifyHeartbeat is how often an open notification stream sends a comment line, so
	// proxies and browsers keep the connection (NOTIFY_HEARTBEAT, API.md: 25 s).
	NotifyHeartbeat time.Duration
	// NotifyStreamBuffer is how many events a stream may have waiting before it is dropped as
	// too slow (the client then reconnects with Last-Event-ID).
	NotifyStreamBuffer int
	// PublicBaseURL is where clients reach this server (PUBLIC_BASE_URL, no trailing slash):
	// the URLs of files on its disk are rendered under it, absolute.
	PublicBaseURL string

	RateLoginPerIP           int
	RateLoginFailsPerAccount int
	RateRegisterPerIP        int

	// RedisURL, when set, makes the rate limits shared by every instance through that Redis
	// (redis://[user:password@]host:port/db or rediss:// for TLS); empty keeps them in memory.
	// It holds a password: log RedisAddr, never this.
	RedisURL string

	// ViewWindow is how long a viewer's view of a video counts once (VIEW_WINDOW, 30m); with
	// REDIS_URL the de-duplication is shared by every instance. ViewFlushInterval is how often
	// the counted views are added to the database in one statement (VIEW_FLUSH_INTERVAL, 2s;
	// a crash loses at most that long's views). ViewDedupMaxKeys bounds the in-memory
	// de-duplication (VIEW_DEDUP_MAX_KEYS): past it the oldest entries are forgotten early.
	ViewWindow        time.Duration
	ViewFlushInterval time.Duration
	ViewDedupMaxKeys  int

	// CounterFoldInterval is how often this instance merges the pending counter deltas into
	// the stored counters (COUNTER_FOLD_INTERVAL, 100ms). Counts are exact at any setting (a
	// read adds the pending deltas); a longer interval makes reads of busy rows sum more.
	CounterFoldInterval time.Duration
	// InflightRequests is how many requests without a body this instance serves at once; the
	// rest wait their turn in arrival order (middleware.Gate). 0 (the default): no limit.
	InflightRequests int

	LogLevel        string
	LogFormat       string
	ShutdownTimeout time.Duration

	// PprofAddr, when set, is the host:port of a second listener that serves net/http/pprof
	// (PPROF_ADDR; empty: off). It is never the API's listener: profiles reveal the code's
	// inner workings and a CPU profile costs a core for its duration, so it belongs on
	// loopback (127.0.0.1:6060) or a private interface.
	PprofAddr string
}

// Production reports whether the server runs with APP_ENV=production.
func (c Config) Production() bool { return c.AppEnv == EnvProduction }

// Error names the variable whose value was refused.
type Error struct {
	Var    string
	Value  string
	Reason string
}

func (e *Error) Error() string {
	if e.Value == "" {
		return fmt.Sprintf("config: %s: %s", e.Var, e.Reason)
	}
	return fmt.Sprintf("config: %s=%q: %s", e.Var, e.Value, e.Reason)
}

// FromEnvironment reads the .env file of the working folder, if there is one (variables already
// set in the environment win), then the settings from the environment. The server and the
// seeder start with it.
func FromEnvironment() (Config, error) {
	if err := godotenv.Load(); err != nil && !errors.Is(err, fs.ErrNotExist) {
		return Config{}, fmt.Errorf("cannot read .env: %w", err)
	}
	return Load(os.LookupEnv)
}

// Load reads the settings through lookup (os.LookupEnv in main, a map in tests).
// It returns every problem found, joined, not only the first.
func Load(lookup func(string) (string, bool)) (Config, error) {
	r := reader{lookup: lookup}
	c := Config{
		AppEnv:           r.oneOf("APP_ENV", EnvDevelopment, EnvDevelopment, EnvTest, EnvProduction),
		Port:             r.intRange("PORT", 8000, 1, 65535),
		DatabaseURL:      r.str("DATABASE_URL", ""),
		EmbeddedDir:      r.str("EMBEDDED_PG_DIR", ".data/postgres"),
		EmbeddedPort:     r.intRange("EMBEDDED_PG_PORT", 55432, 1, 65535),
		PGBinDir:         r.str("PG_BIN_DIR", ""),
		DBMaxOpenConns:   r.intRange("DB_MAX_OPEN_CONNS", 12, 1, 10000), // measured on 2 cores: docs/performance.md, "Issue 15"
		DBConnMaxLife:    r.duration("DB_CONN_MAX_LIFETIME", 30*time.Minute),
		DBConnMaxIdle:    r.duration("DB_CONN_MAX_IDLE_TIME", 5*time.Minute),
		DBConnectTimeout: r.duration("DB_CONNECT_TIMEOUT", 30*time.Second),
		AutoMigrate:      r.boolean("AUTO_MIGRATE", true),

		JWTSecret:       r.str("JWT_SECRET", ""),
		JWTExpiresIn:    r.positiveDuration("JWT_EXPIRES_IN", 24*time.Hour),
		RefreshTokenTTL: r.positiveDuration("REFRESH_TOKEN_TTL", 30*24*time.Hour),
		BcryptCost:      r.intRange("BCRYPT_COST", 10, 4, 31),

		CORSOrigins:    r.list("CORS_ORIGINS", []string{"*"}),
		UploadDir:      r.str("UPLOAD_DIR", "uploads"),
		MaxVideoMB:     r.intRange("MAX_VIDEO_MB", 100, 1, 10240),
		MaxJSONBytes:   int64(r.intRange("MAX_JSON_BYTES", 1<<20, 1024, 64<<20)),
		TrustedProxies: r.list("TRUSTED_PROXIES", nil),

		BodyReadTimeout:   r.positiveDuration("BODY_READ_TIMEOUT", 10*time.Second),
		UploadReadTimeout: r.positiveDuration("UPLOAD_READ_TIMEOUT", 10*time.Minute),

		UploadSweepInterval: r.duration("UPLOAD_SWEEP_INTERVAL", time.Hour),
		NotifyHeartbeat:     r.positiveDuration("NOTIFY_HEARTBEAT", 25*time.Second),
		NotifyStreamBuffer:  r.intRange("NOTIFY_STREAM_BUFFER", 64, 1, 100_000),

		MaxVideoSeconds: r.intRange("MAX_VIDEO_SECONDS", 180, 1, 86400),
		Workers:         r.intRange("WORKERS", max(1, runtime.NumCPU()/2), 0, runtime.NumCPU()),
		FFmpegThreads:   r.intRange("FFMPEG_THREADS", 1, 1, 64),
		FFmpegPreset: r.oneOf("FFMPEG_PRESET", "veryfast", "ultrafast", "superfast", "veryfast", "faster", "fast",
			"medium", "slow"),
		MediaJobTimeout: r.positiveDuration("MEDIA_JOB_TIMEOUT", 10*time.Minute),

		RateLoginPerIP:           r.intRange("RATE_LOGIN_PER_IP", 30, 0, 1_000_000),
		RateLoginFailsPerAccount: r.intRange("RATE_LOGIN_FAILS_PER_ACCOUNT", 10, 0, 1_000_000),
		RateRegisterPerIP:        r.intRange("RATE_REGISTER_PER_IP", 10, 0, 1_000_000),

		ViewWindow:        r.positiveDuration("VIEW_WINDOW", 30*time.Minute),
		ViewFlushInterval: r.positiveDuration("VIEW_FLUSH_INTERVAL", 2*time.Second),
		ViewDedupMaxKeys:  r.intRange("VIEW_DEDUP_MAX_KEYS", 250_000, 1000, 100_000_000),

		CounterFoldInterval: r.positiveDuration("COUNTER_FOLD_INTERVAL", 100*time.Millisecond),
		InflightRequests:    r.intRange("INFLIGHT_REQUESTS", 0, 0, 100_000),

		LogLevel:        r.oneOf("LOG_LEVEL", "info", "debug", "info", "warn", "error"),
		ShutdownTimeout: r.positiveDuration("SHUTDOWN_TIMEOUT", 15*time.Second),
	}
	// Idle connections default to the pool size: with fewer idle slots, a busy server closes
	// and reopens connections all the time (measured in docs/performance.md).
	c.DBMaxIdleConns = r.intRange("DB_MAX_IDLE_CONNS", c.DBMaxOpenConns, 0, 10000)
	defaultFormat := "text"
	if c.AppEnv == EnvProduction {
		defaultFormat = "json"
	}
	c.LogFormat = r.oneOf("LOG_FORMAT", defaultFormat, "text", "json")

	if c.DBMaxIdleConns > c.DBMaxOpenConns {
		r.fail("DB_MAX_IDLE_CONNS", strconv.Itoa(c.DBMaxIdleConns),
			fmt.Sprintf("must not exceed DB_MAX_OPEN_CONNS (%d)", c.DBMaxOpenConns))
	}
	c.RedisURL = r.redisURL("REDIS_URL")
	if c.ViewFlushInterval > 5*time.Second {
		// API.md: a counted view shows in views within 5 seconds.
		r.fail("VIEW_FLUSH_INTERVAL", c.ViewFlushInterval.String(), "must be at most 5s (API.md: a counted view shows within 5 seconds)")
	}
	if c.DatabaseURL != "" && !strings.HasPrefix(c.DatabaseURL, "postgres://") && !strings.HasPrefix(c.DatabaseURL, "postgresql://") {
		r.errs = append(r.errs, &Error{Var: "DATABASE_URL", Reason: "must start with postgres:// or postgresql:// (for example postgres://postgres:postgres@localhost:5432/tiktok?sslmode=disable)"})
	}

	c.PprofAddr = r.pprofAddr("PPROF_ADDR", c.Port)
	r.replicas(&c)
	c.PublicBaseURL = r.publicBaseURL(c.Port)

	c.Storage = r.oneOf("STORAGE", StorageLocal, StorageLocal, StorageS3)
	if c.Storage == StorageS3 {
		r.s3(&c)
	}

	switch {
	case c.Production() && c.JWTSecret == "":
		r.errs = append(r.errs, &Error{Var: "JWT_SECRET", Reason: "is required in production (generate one with: openssl rand -hex 32)"})
	case c.Production() && c.JWTSecret == ExampleJWTSecret:
		r.errs = append(r.errs, &Error{Var: "JWT_SECRET", Reason: "is the example value from .env.example; production needs its own secret (openssl rand -hex 32)"})
	case c.Production() && len(c.JWTSecret) < MinProductionSecretLen:
		r.errs = append(r.errs, &Error{Var: "JWT_SECRET", Reason: fmt.Sprintf("is %d bytes; production needs at least %d (openssl rand -hex 32)", len(c.JWTSecret), MinProductionSecretLen)})
	case c.JWTSecret == "":
		// Development and tests may start without a secret: tokens then last until the restart.
		c.JWTSecret = randomSecret()
		c.JWTSecretGenerated = true
	}

	if err := errors.Join(r.errs...); err != nil {
		return Config{}, err
	}
	return c, nil
}

// s3 reads the S3_* settings, which STORAGE=s3 requires.
func (r *reader) s3(c *Config) {
	required := func(name string) string {
		v, ok := r.raw(name)
		if !ok {
			r.errs = append(r.errs, &Error{Var: name, Reason: "is required with STORAGE=s3"})
		}
		return v
	}
	c.S3Endpoint = required("S3_ENDPOINT")
	c.S3Region = r.str("S3_REGION", "us-east-1")
	c.S3Bucket = required("S3_BUCKET")
	c.S3AccessKey = required("S3_ACCESS_KEY")
	c.S3SecretKey = required("S3_SECRET_KEY")
	c.S3PublicBaseURL = strings.TrimRight(required("S3_PUBLIC_BASE_URL"), "/")
	c.S3PathStyle = r.boolean("S3_PATH_STYLE", true)
	if c.S3Endpoint != "" {
		if u, err := url.Parse(c.S3Endpoint); err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" ||
			strings.Trim(u.Path, "/") != "" || u.RawQuery != "" || u.User != nil {
			r.fail("S3_ENDPOINT", c.S3Endpoint, "must be the http(s) URL of the S3 API, with no path (for example http://127.0.0.1:7070)")
		}
	}
	if c.S3Bucket != "" && !bucketName.MatchString(c.S3Bucket) {
		r.fail("S3_BUCKET", c.S3Bucket, "must be a bucket name: 3-63 lower-case letters, digits, dots and hyphens")
	}
	if c.S3PublicBaseURL != "" {
		if u, err := url.Parse(c.S3PublicBaseURL); err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" ||
			u.RawQuery != "" || u.Fragment != "" || u.User != nil {
			r.fail("S3_PUBLIC_BASE_URL", c.S3PublicBaseURL, "must be the http(s) URL clients fetch the bucket's objects from (for example http://127.0.0.1:7070/tiktok or https://cdn.example.com)")
		}
	}
}

// redisURL reads a Redis URL as go-redis parses it. A refused value is shown with its user
// information masked, and a URL that does not parse is not shown at all.
func (r *reader) redisURL(name string) string {
	v, ok := r.raw(name)
	if !ok {
		return ""
	}
	if _, err := redis.ParseURL(v); err != nil {
		reason := fmt.Sprintf("is not a Redis URL (%v)", err)
		var urlErr *url.Error
		if errors.As(err, &urlErr) {
			// url.Error quotes the URL, and its detail may quote a piece of a password
			// holding a / or a # (read as the port), so neither is shown.
			reason = "does not parse as a URL (percent-encode the characters / # ? @ : in a password)"
		}
		r.errs = append(r.errs, &Error{Var: name, Value: RedactURL(v),
			Reason: reason + "; for example redis://127.0.0.1:6379/0 or rediss://:password@host:6380/0"})
		return ""
	}
	return v
}

// RedactURL returns u with its user information masked (a password, or a lone user name,
// which may be a password written without its colon), or "" when u does not parse (it may
// then hold a password anywhere).
func RedactURL(u string) string {
	parsed, err := url.Parse(u)
	if err != nil {
		return ""
	}
	if parsed.User != nil {
		if _, hasPassword := parsed.User.Password(); hasPassword {
			parsed.User = url.UserPassword(parsed.User.Username(), "xxxxx")
		} else {
			parsed.User = url.User("xxxxx")
		}
	}
	return parsed.String()
}

// replicas reads DATABASE_REPLICA_URLS and REPLICA_MAX_LAG. A refused URL is shown with its
// password masked: configuration errors are logged.
func (r *reader) replicas(c *Config) {
	c.ReplicaMaxLag = r.positiveDuration("REPLICA_MAX_LAG", 5*time.Second)
	raw, ok := r.raw("DATABASE_REPLICA_URLS")
	if !ok {
		return
	}
	for i, part := range strings.Split(raw, ",") {
		dsn := strings.TrimSpace(part)
		if dsn == "" {
			r.errs = append(r.errs, &Error{Var: "DATABASE_REPLICA_URLS",
				Reason: fmt.Sprintf("entry %d is empty (separate the replicas' URLs with single commas)", i+1)})
			continue
		}
		if reason := checkPostgresURL(dsn); reason != "" {
			r.errs = append(r.errs, &Error{Var: "DATABASE_REPLICA_URLS", Value: maskedURL(dsn),
				Reason: fmt.Sprintf("entry %d %s", i+1, reason)})
			continue
		}
		c.DatabaseReplicaURLs = append(c.DatabaseReplicaURLs, dsn)
	}
}

// checkPostgresURL says what is wrong with a postgres:// URL, or "" when nothing is.
func checkPostgresURL(dsn string) string {
	if !strings.HasPrefix(dsn, "postgres://") && !strings.HasPrefix(dsn, "postgresql://") {
		return "must start with postgres:// or postgresql:// (for example postgres://reader:secret@replica1:5432/tiktok?sslmode=disable)"
	}
	u, err := url.Parse(dsn)
	if err != nil {
		return "is not a valid URL"
	}
	if u.Host == "" {
		return "names no host"
	}
	return ""
}

// maskedURL is dsn with its password replaced (in the user part or the query), for messages.
func maskedURL(dsn string) string {
	u, err := url.Parse(dsn)
	if err != nil {
		return "(unparseable URL)"
	}
	q := u.Query()
	if q.Has("password") {
		q.Set("password", "xxxxx")
		u.RawQuery = q.Encode()
	}
	return u.Redacted()
}

// publicBaseURL reads PUBLIC_BASE_URL, http://localhost:<PORT> by default: an http(s) URL
// with a host, maybe a path prefix (behind a proxy that strips it), no query or fragment.
func (r *reader) publicBaseURL(port int) string {
	v, ok := r.raw("PUBLIC_BASE_URL")
	if !ok {
		return "http://localhost:" + strconv.Itoa(port)
	}
	u, err := url.Parse(v)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" ||
		u.RawQuery != "" || u.ForceQuery || u.Fragment != "" || strings.Contains(v, "#") || u.User != nil {
		r.fail("PUBLIC_BASE_URL", v, "must be the http(s) URL clients reach this server at, with no query or fragment (for example https://api.example.com or http://localhost:8000)")
		return ""
	}
	return strings.TrimRight(v, "/")
}

// pprofAddr reads PPROF_ADDR: empty (off) or host:port with a port other than the API's, so
// that the profiles are never served where the API's clients connect.
func (r *reader) pprofAddr(name string, apiPort int) string {
	v, ok := r.raw(name)
	if !ok {
		return ""
	}
	_, portText, err := net.SplitHostPort(v)
	port, perr := strconv.Atoi(portText)
	switch {
	case err != nil || perr != nil || port < 1 || port > 65535:
		r.fail(name, v, "must be host:port with a port number (for example 127.0.0.1:6060; loopback keeps the profiles off the network)")
		return ""
	case port == apiPort:
		r.fail(name, v, fmt.Sprintf("must not use the API's port (%d): the profiles get their own listener", apiPort))
		return ""
	}
	return v
}

var bucketName = regexp.MustCompile(`^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$`)

func randomSecret() string {
	b := make([]byte, 32)
	_, _ = rand.Read(b) // crypto/rand.Read never fails on supported platforms
	return hex.EncodeToString(b)
}

// reader collects parse errors so that Load reports all of them at once.
type reader struct {
	lookup func(string) (string, bool)
	errs   []error
}

func (r *reader) raw(name string) (string, bool) {
	v, ok := r.lookup(name)
	v = strings.TrimSpace(v)
	return v, ok && v != ""
}

func (r *reader) fail(name, value, reason string) {
	r.errs = append(r.errs, &Error{Var: name, Value: value, Reason: reason})
}

func (r *reader) str(name, def string) string {
	if v, ok := r.raw(name); ok {
		return v
	}
	return def
}

func (r *reader) oneOf(name, def string, allowed ...string) string {
	v, ok := r.raw(name)
	if !ok {
		return def
	}
	for _, a := range allowed {
		if strings.EqualFold(v, a) {
			return a
		}
	}
	r.fail(name, v, "must be one of "+strings.Join(allowed, ", "))
	return def
}

func (r *reader) intRange(name string, def, lo, hi int) int {
	v, ok := r.raw(name)
	if !ok {
		return def
	}
	n, err := strconv.Atoi(v)
	if err != nil {
		r.fail(name, v, "is not a whole number")
		return def
	}
	if n < lo || n > hi {
		r.fail(name, v, fmt.Sprintf("must be between %d and %d", lo, hi))
		return def
	}
	return n
}

func (r *reader) duration(name string, def time.Duration) time.Duration {
	v, ok := r.raw(name)
	if !ok {
		return def
	}
	d, err := time.ParseDuration(v)
	if err != nil || d < 0 {
		r.fail(name, v, "is not a duration (examples: 30s, 15m, 24h)")
		return def
	}
	return d
}

func (r *reader) positiveDuration(name string, def time.Duration) time.Duration {
	d := r.duration(name, def)
	if d <= 0 {
		v, _ := r.raw(name)
		r.fail(name, v, "must be longer than zero")
		return def
	}
	return d
}

func (r *reader) boolean(name string, def bool) bool {
	v, ok := r.raw(name)
	if !ok {
		return def
	}
	b, err := strconv.ParseBool(v)
	if err != nil {
		r.fail(name, v, "must be true or false")
		return def
	}
	return b
}

func (r *reader) list(name string, def []string) []string {
	v, ok := r.raw(name)
	if !ok {
		return def
	}
	var out []string
	for _, part := range strings.Split(v, ",") {
		if p := strings.TrimSpace(part); p != "" {
			out = append(out, p)
		}
	}
	return out
}
