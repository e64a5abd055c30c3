// Package viewcount counts the views of videos honestly and off the request path (API.md,
// "Views and bookmarks").
//
// A view counts at most once per viewer per video per Window (30 minutes): the viewer is the
// user when logged in, otherwise the client address and user agent, and only a hash of it is
// kept. Reading a video only hands (video, viewer) to Record, which never blocks and never
// touches the database: one goroutine de-duplicates what was recorded, in memory or, with
// Redis, with SET NX EX shared by every instance, and buffers the counted views per video.
// Every FlushInterval (2 s) the buffer is added to videos.views in ONE statement (Writer). A
// counted view therefore shows within FlushInterval plus one statement; a crash loses the
// views buffered since the last flush (at most one interval's), and a clean shutdown (Close)
// writes them first.
//
// The flush runs in a goroutine of its own (one at a time), so the de-duplication keeps
// draining the queue while a batch waits on the database; a flush still running when the next
// interval comes delays that one until it ends.
//
// Limits, each chosen so that no client can make the server use unbounded memory or block a
// read:
//   - the queue between Record and the goroutine holds QueueSize entries (20 bytes each); when
//     it is full (Redis slow), Record drops the view and counts the drop
//     (views_recorded_total{result="dropped"}) rather than wait;
//   - the in-memory de-duplication holds at most MaxKeys viewer-video pairs (about 90 bytes
//     each); at the bound the oldest pair is forgotten before its window ends
//     (view_dedup_evictions_total), so under a flood of distinct viewers a real viewer may
//     count twice within 30 minutes, and memory stays bounded;
//   - when Redis does not answer (down, or slower than RedisTimeout) the de-duplication falls
//     back to this instance's memory, as the Redis rate limiter does
//     (middleware/ratelimit_redis.go), and Redis is tried again every RetryEvery: a read
//     never fails or waits because of Redis; views seen by two instances during the outage
//     may count once on each;
//   - a failed flush keeps its counts and adds them to the next one.
package viewcount

import (
	"context"
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"log/slog"
	"slices"
	"strconv"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/redis/go-redis/v9"
)

// Defaults of Options.
const (
	DefaultWindow        = 30 * time.Minute
	DefaultFlushInterval = 2 * time.Second
	DefaultMaxKeys       = 250_000
	DefaultQueueSize     = 65536
	DefaultKeyPrefix     = "tiktok:views:"
	DefaultRedisTimeout  = 150 * time.Millisecond
	DefaultRetryEvery    = time.Second
	// writeTimeout bounds one flush statement; a database slower than that keeps the counts
	// for the next flush.
	writeTimeout = 10 * time.Second
	// redisBatch is the most SET NX commands sent to Redis in one pipeline (one round trip).
	redisBatch = 512
)

// Writer adds counted views to the database: counts[i] views to video ids[i], in one
// statement (store.Videos.AddViews). ids are distinct and ascending.
type Writer interface {
	AddViews(ctx context.Context, ids, counts []int32) error
}

// Options tune a Counter; zero values take the defaults above.
type Options struct {
	Window        time.Duration
	FlushInterval time.Duration
	MaxKeys       int
	QueueSize     int
	// Redis, when set, holds the de-duplication, shared by every instance (REDIS_URL); keys
	// are KeyPrefix + a hash of (viewer, video), and expire after Window.
	Redis        *redis.Client
	KeyPrefix    string
	RedisTimeout time.Duration
	RetryEvery   time.Duration
	Log          *slog.Logger
	// Now is the clock (tests move it); time.Now by default.
	Now func() time.Time
}

// Counter is the view counter of one instance; see the package comment. Its methods may be
// called from any goroutine; a nil Counter counts nothing.
type Counter struct {
	w    Writer
	opts Options

	queue   chan view
	flushes chan chan error
	stop    chan struct{}
	done    chan struct{}
	closed  sync.Once

	// Owned by the loop goroutine.
	seen    *seenSet
	pending map[int32]int32
	// writing is set while a batch is being written; its result comes back on written.
	writing  bool
	written  chan writeResult
	down     bool
	retryAt  time.Time
	lastWarn time.Time

	recorded  *prometheus.CounterVec
	evictions prometheus.CounterFunc
	fallbacks prometheus.Counter
	flushErrs prometheus.Counter
	mu        sync.Mutex // guards evicted, read by the metric
	evicted   int64
}

type writeResult struct {
	batch map[int32]int32
	err   error
}

type view struct {
	video int32
	key   [16]byte
}

// New starts the counter of w; Close stops it.
func New(w Writer, o Options) *Counter {
	if o.Window <= 0 {
		o.Window = DefaultWindow
	}
	if o.FlushInterval <= 0 {
		o.FlushInterval = DefaultFlushInterval
	}
	if o.MaxKeys <= 0 {
		o.MaxKeys = DefaultMaxKeys
	}
	if o.QueueSize <= 0 {
		o.QueueSize = DefaultQueueSize
	}
	if o.KeyPrefix == "" {
		o.KeyPrefix = DefaultKeyPrefix
	}
	if o.RedisTimeout <= 0 {
		o.RedisTimeout = DefaultRedisTimeout
	}
	if o.RetryEvery <= 0 {
		o.RetryEvery = DefaultRetryEvery
	}
	if o.Log == nil {
		o.Log = slog.New(slog.DiscardHandler)
	}
	if o.Now == nil {
		o.Now = time.Now
	}
	c := &Counter{w: w, opts: o,
		queue: make(chan view, o.QueueSize), flushes: make(chan chan error),
		stop: make(chan struct{}), done: make(chan struct{}),
		pending: map[int32]int32{}, written: make(chan writeResult, 1),
	}
	c.seen = newSeenSet(o.MaxKeys, func() { c.mu.Lock(); c.evicted++; c.mu.Unlock() })
	c.recorded = prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "views_recorded_total",
		Help: "Video reads handed to the view counter, by result: counted, repeat (same viewer within the window) or dropped (queue full).",
	}, []string{"result"})
	c.evictions = prometheus.NewCounterFunc(prometheus.CounterOpts{
		Name: "view_dedup_evictions_total",
		Help: "Viewer-video pairs forgotten before their window ended because the in-memory de-duplication was full.",
	}, func() float64 { c.mu.Lock(); defer c.mu.Unlock(); return float64(c.evicted) })
	c.fallbacks = prometheus.NewCounter(prometheus.CounterOpts{
		Name: "view_dedup_redis_fallbacks_total",
		Help: "Batches of views de-duplicated in this instance's memory because Redis did not answer.",
	})
	c.flushErrs = prometheus.NewCounter(prometheus.CounterOpts{
		Name: "view_flush_errors_total",
		Help: "Flushes of counted views that failed (their counts are kept for the next flush).",
	})
	go c.loop()
	return c
}

// Collectors are the counter's metrics, for the /metrics registry.
func (c *Counter) Collectors() []prometheus.Collector {
	return []prometheus.Collector{c.recorded, c.evictions, c.fallbacks, c.flushErrs}
}

// UserViewer is the viewer of a logged-in user.
func UserViewer(id int32) string { return "u:" + strconv.Itoa(int(id)) }

// AnonymousViewer is the viewer of an anonymous reader: the client address and user agent.
func AnonymousViewer(clientIP, userAgent string) string {
	return "a:" + clientIP + "\x00" + userAgent
}

// Record hands one read of video by viewer (UserViewer or AnonymousViewer) to the counter. It
// never blocks: with the queue full the view is dropped (and counted as dropped).
func (c *Counter) Record(video int32, viewer string) {
	if c == nil {
		return
	}
	h := sha256.New()
	var id [4]byte
	binary.BigEndian.PutUint32(id[:], uint32(video))
	h.Write(id[:])
	h.Write([]byte(viewer))
	var v view
	v.video = video
	copy(v.key[:], h.Sum(nil))
	select {
	case c.queue <- v:
	default:
		c.recorded.WithLabelValues("dropped").Inc()
	}
}

// Flush de-duplicates every view recorded so far and writes the counted ones now.
func (c *Counter) Flush(ctx context.Context) error {
	if c == nil {
		return nil
	}
	reply := make(chan error, 1)
	select {
	case c.flushes <- reply:
	case <-c.done:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
	select {
	case err := <-reply:
		return err
	case <-ctx.Done():
		return ctx.Err()
	}
}

// Close stops the counter after writing every view recorded before it (the shutdown flush);
// views recorded after Close are dropped. It waits at most until ctx ends.
func (c *Counter) Close(ctx context.Context) error {
	if c == nil {
		return nil
	}
	c.closed.Do(func() { close(c.stop) })
	select {
	case <-c.done:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

func (c *Counter) loop() {
	defer close(c.done)
	tick := time.NewTicker(c.opts.FlushInterval)
	defer tick.Stop()
	batch := make([]view, 0, redisBatch)
	for {
		select {
		case v := <-c.queue:
			c.dedup(c.take(append(batch[:0], v)))
		case <-tick.C:
			c.startWrite()
		case res := <-c.written:
			c.finishWrite(res)
		case reply := <-c.flushes:
			c.drain(batch)
			reply <- c.writeNow()
		case <-c.stop:
			c.drain(batch)
			if err := c.writeNow(); err != nil {
				c.opts.Log.Error("views counted since the last flush are lost: the shutdown flush failed", "error", err.Error())
			}
			return
		}
	}
}

// take adds to batch what is queued now, up to redisBatch views in all.
func (c *Counter) take(batch []view) []view {
	for len(batch) < redisBatch {
		select {
		case v := <-c.queue:
			batch = append(batch, v)
		default:
			return batch
		}
	}
	return batch
}

// drain de-duplicates everything queued now.
func (c *Counter) drain(batch []view) {
	for {
		if batch = c.take(batch[:0]); len(batch) == 0 {
			return
		}
		c.dedup(batch)
	}
}

// dedup counts the views of batch that are the first of their viewer and video in the window.
// This instance's memory answers first (a pair it has seen is seen in Redis too); the rest go
// to Redis in one pipeline of SET NX EX, or, without Redis or while it does not answer, are
// decided in memory.
func (c *Counter) dedup(batch []view) {
	now := c.opts.Now()
	fresh := batch[:0:0]
	for _, v := range batch {
		if c.seen.has(v.key, now) {
			c.recorded.WithLabelValues("repeat").Inc()
			continue
		}
		fresh = append(fresh, v)
	}
	if len(fresh) == 0 {
		return
	}
	if c.opts.Redis != nil && c.useRedis(now) {
		counted, err := c.setNX(fresh)
		if err == nil {
			c.answered()
			for i, v := range fresh {
				c.seen.add(v.key, now, now.Add(c.opts.Window))
				c.count(v.video, counted[i])
			}
			return
		}
		c.failed(now, err)
	}
	if c.opts.Redis != nil {
		c.fallbacks.Inc()
	}
	for _, v := range fresh {
		// Two reads of one pair in the same batch: the second is a repeat.
		first := !c.seen.has(v.key, now)
		if first {
			c.seen.add(v.key, now, now.Add(c.opts.Window))
		}
		c.count(v.video, first)
	}
}

func (c *Counter) count(video int32, counted bool) {
	if !counted {
		c.recorded.WithLabelValues("repeat").Inc()
		return
	}
	c.recorded.WithLabelValues("counted").Inc()
	c.pending[video]++
}

// setNX asks Redis, for each view, whether its key was new (SET key 1 NX EX window), in one
// round trip.
func (c *Counter) setNX(views []view) ([]bool, error) {
	ctx, cancel := context.WithTimeout(context.Background(), c.opts.RedisTimeout)
	defer cancel()
	pipe := c.opts.Redis.Pipeline()
	cmds := make([]*redis.BoolCmd, len(views))
	for i, v := range views {
		cmds[i] = pipe.SetNX(ctx, c.opts.KeyPrefix+hex.EncodeToString(v.key[:]), 1, c.opts.Window)
	}
	if _, err := pipe.Exec(ctx); err != nil {
		return nil, err
	}
	out := make([]bool, len(views))
	for i, cmd := range cmds {
		out[i] = cmd.Val()
	}
	return out, nil
}

func (c *Counter) useRedis(now time.Time) bool {
	if !c.down {
		return true
	}
	if now.Before(c.retryAt) {
		return false
	}
	c.retryAt = now.Add(c.opts.RetryEvery)
	return true
}

func (c *Counter) answered() {
	if c.down {
		c.down = false
		c.opts.Log.Info("Redis answers again: views are de-duplicated across instances again")
	}
}

func (c *Counter) failed(now time.Time, err error) {
	c.down = true
	c.retryAt = now.Add(c.opts.RetryEvery)
	if c.lastWarn.IsZero() || now.Sub(c.lastWarn) >= time.Minute {
		c.lastWarn = now
		c.opts.Log.Warn("Redis does not answer: views are de-duplicated by each instance on its own until it does", "error", err.Error())
	}
}

// startWrite hands the pending counts to a goroutine that writes them, unless a write is
// running already (the counts then wait for the next interval).
func (c *Counter) startWrite() {
	if c.writing || len(c.pending) == 0 {
		return
	}
	batch := c.pending
	c.pending = map[int32]int32{}
	c.writing = true
	go func() { c.written <- writeResult{batch, c.write(batch)} }()
}

// finishWrite takes a write's result: failed counts go back to pending, for the next flush.
func (c *Counter) finishWrite(res writeResult) {
	c.writing = false
	if res.err == nil {
		return
	}
	for id, n := range res.batch {
		c.pending[id] += n
	}
}

// writeNow waits for a running write, then writes what is pending, before answering (Flush
// and Close).
func (c *Counter) writeNow() error {
	if c.writing {
		c.finishWrite(<-c.written)
	}
	if len(c.pending) == 0 {
		return nil
	}
	batch := c.pending
	c.pending = map[int32]int32{}
	err := c.write(batch)
	c.finishWrite(writeResult{batch, err})
	return err
}

// write adds batch's counts in one statement.
func (c *Counter) write(batch map[int32]int32) error {
	ids := make([]int32, 0, len(batch))
	for id := range batch {
		ids = append(ids, id)
	}
	slices.Sort(ids)
	counts := make([]int32, len(ids))
	for i, id := range ids {
		counts[i] = batch[id]
	}
	ctx, cancel := context.WithTimeout(context.Background(), writeTimeout)
	defer cancel()
	if err := c.w.AddViews(ctx, ids, counts); err != nil {
		c.flushErrs.Inc()
		c.opts.Log.Warn("cannot write the counted views; they are kept for the next flush", "videos", len(ids), "error", err.Error())
		return err
	}
	return nil
}
